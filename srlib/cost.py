"""What one super-resolution costs: seconds per image and the peak memory the inference itself adds.

Each measurement runs in a fresh Python process (``python -m srlib.cost``), so one method's allocations cannot hide
or inflate another's and the peak belongs to that method alone. On the CPU the peak is the resident-set high-water
mark (Linux ``VmHWM``, reset after the model is loaded) minus the resident set before the first image: the memory the
forward pass adds. On a GPU it is ``torch.cuda.max_memory_allocated`` during the forward passes.

>>> r = inference_cost("bicubic", size=32, repeats=1)
>>> r["method"], r["output"], r["seconds"] > 0
('bicubic', [1, 3, 128, 128], True)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from srlib.errors import UsageError

__all__ = ["inference_cost"]


def _rss_kib(field: str) -> int | None:
    """``VmRSS`` / ``VmHWM`` of this process in KiB (Linux), else ``None``."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset this process's ``VmHWM`` to its current RSS (Linux >= 4.0); ``False`` where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _measure(method: str, size: int, scale: int, repeats: int, threads: int, device: str) -> dict:
    """Run inside the child process: load ``method``, upscale a seeded ``size`` x ``size`` LR ``repeats`` times."""
    import torch

    from srlib.evaluate import bicubic_upscaler
    from srlib.models import load_upscaler

    torch.set_num_threads(threads)
    if method == "bicubic":
        up = bicubic_upscaler(scale)
    else:
        up = load_upscaler(method, device)
    lr = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    cuda = device.startswith("cuda")
    if cuda:
        lr = lr.to(device)
    with torch.no_grad():
        up(lr)  # warm-up (allocator, lazy init)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        exact = _reset_peak()
        base = _rss_kib("VmRSS")
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            sr = up(lr)
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    if cuda:
        peak_mib = torch.cuda.max_memory_allocated() / 2**20
    else:
        hwm = _rss_kib("VmHWM")
        peak_mib = (hwm - base) / 1024 if (exact and hwm is not None and base is not None) else None
    return {"method": method, "device": device, "threads": threads, "input": [1, 3, size, size],
            "output": list(sr.shape), "seconds": sorted(times)[len(times) // 2], "peak_mib": peak_mib}


def inference_cost(method: str, *, size: int = 128, scale: int = 4, repeats: int = 3, threads: int = 1,
                   device: str = "cpu", timeout: float = 600) -> dict:
    """Median seconds and added peak memory of upscaling one ``size`` x ``size`` RGB image with ``method``.

    Args:
        method: ``"bicubic"`` or any checkpoint :func:`srlib.models.load_upscaler` takes (``"zoo:NAME"``, a path).
        size: LR side in pixels.
        scale: SR factor of the bicubic baseline (a checkpoint brings its own).
        repeats: timed runs after one warm-up; the median is reported.
        threads: torch CPU threads.
        device: ``"cpu"`` or ``"cuda"``.
        timeout: seconds before the child process is stopped.

    Returns:
        ``{"method", "device", "threads", "input", "output", "seconds", "peak_mib"}``; ``peak_mib`` is ``None`` where
        the peak cannot be isolated (a CPU without Linux ``/proc``).

    Raises:
        UsageError: bad ``size``/``repeats``/``threads``, or the child process failed (its last error line is quoted).
    """
    for name, v in (("size", size), ("repeats", repeats), ("threads", threads), ("scale", scale)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise UsageError(f"{name} must be a positive integer, got {v!r}")
    args = json.dumps([method, size, scale, repeats, threads, device])
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run([sys.executable, "-m", "srlib.cost", args], capture_output=True, text=True,
                          timeout=timeout, env=env)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"measuring {method!r} failed: {last}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    from srlib.errors import SrlibError

    try:
        print(json.dumps(_measure(*json.loads(sys.argv[1]))))
    except SrlibError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
