"""DASR speed and memory: inference of the paper-size x4 model (whole 128x128 LR, tiled 2K output) and training steps.

Usage::

    python benchmarks/bench_dasr.py [--quick] [--device cpu|cuda] [--batch N] [--repeat N] [--threads N]

Rows:

* ``infer 128x128 -> 512x512``: one LR image through the inference path (encoder + SR net), paper size, x4.
* ``infer tiled 512x512 -> 2048x2048``: the same model through :func:`srlib.inference.upscale` with 128-px tiles and a
  16-px overlap, the representation computed once on the whole LR image (``--quick``: 256x256 -> 1024x1024).
* ``train step paper``: one optimisation step of stage 2 (L1 + contrastive, batch ``--batch`` x 2 patches of 48 px,
  default 32 on GPU, 4 on CPU because the CPU is slow), data synthesis included.
* ``train step tiny``: the same at the ``tiny`` profile (what the book runs).

Peak memory: ``torch.cuda.max_memory_allocated`` on GPU; on CPU the peak growth of the process's resident set size,
sampled every 2 ms by a background thread (torch's CPU allocations are invisible to ``tracemalloc``).
The paper reports ~70 ms per Set14 image at x4 on an RTX 2080Ti (Table 3); these numbers are for your machine.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from srlib.dasr.config import DASRConfig  # noqa: E402
from srlib.dasr.network import BlindSR, parameter_report  # noqa: E402
from srlib.inference import upscale  # noqa: E402


class PeakMemory:
    """Context manager measuring peak memory growth in MiB (CUDA allocator, or sampled process RSS on CPU)."""

    def __init__(self, device: torch.device):
        self.device, self.peak_mib = device, 0.0

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
            return self
        import psutil

        self.proc, self.base, self.peak, self.stop = psutil.Process(), psutil.Process().memory_info().rss, 0, False

        def sample():
            while not self.stop:
                self.peak = max(self.peak, self.proc.memory_info().rss)
                time.sleep(0.002)

        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak_mib = (torch.cuda.max_memory_allocated() - self.base) / 2**20
        else:
            self.stop = True
            self.thread.join()
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self.peak_mib = (self.peak - self.base) / 2**20
        return False


def timed(fn, device: torch.device, repeat: int) -> tuple[float, float]:
    """(median seconds over ``repeat`` runs after one warm-up, peak memory MiB of one run)."""
    fn()
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    with PeakMemory(device) as mem:
        fn()
    times.sort()
    return times[len(times) // 2], mem.peak_mib


def train_step_fn(profile: str, batch: int, device: torch.device):
    """One stage-2 iteration of the real training code path (synthesis + forward + backward + Adam)."""
    import torch.nn.functional as F

    from srlib.dasr.network import RGB_RANGE
    from srlib.dasr.train import synthesize
    from srlib.dasr.train_config import DASRTrainConfig
    from srlib.degradations import IsoTrain

    cfg = DASRTrainConfig.for_profile(profile)
    if cfg.model.queue_size % batch:
        cfg = replace(cfg, model=replace(cfg.model, queue_size=batch * (cfg.model.queue_size // batch or 1)))
    model = BlindSR(cfg.model).to(device).train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    g = torch.Generator().manual_seed(0)
    hr = torch.rand(batch, 2, 3, cfg.patch_size * 4, cfg.patch_size * 4, generator=g).to(device)
    deg = IsoTrain(4)

    def step():
        d = deg.sample(batch, g)
        lr = synthesize(hr, d.kernels.to(device), d.noise.to(device), 4, generator=None)
        sr, logits, labels = model.forward_train(lr)
        loss = F.l1_loss(sr, hr[:, 0]) * RGB_RANGE + F.cross_entropy(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step, cfg


def machine(device: torch.device) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "none"
    return (f"{platform.platform(terse=True)}, Python {platform.python_version()}, torch {torch.__version__}\n"
            f"CPU: {cpu}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}; GPU: {gpu}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller tiled image, one repeat")
    p.add_argument("--device", default=None)
    p.add_argument("--batch", type=int, default=None, help="paper-size training batch (default 32 GPU / 4 CPU)")
    p.add_argument("--repeat", type=int, default=None)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    repeat = args.repeat or (1 if args.quick else 3)
    batch = args.batch or (32 if device.type == "cuda" else 4)
    print(machine(device))

    torch.manual_seed(0)
    model = BlindSR(DASRConfig(scale=4)).to(device).eval()
    counts = parameter_report(model)
    print(f"paper-size x4 model: {counts['inference'] / 1e6:.3f} M parameters on the inference path")
    rows = []
    with torch.no_grad():
        lr = torch.rand(1, 3, 128, 128, device=device)
        t, m = timed(lambda: model(lr), device, repeat)
        rows.append(("infer 128x128 -> 512x512 (whole)", t, m))
        side = 256 if args.quick else 512
        big = torch.rand(1, 3, side, side, device=device)
        t, m = timed(lambda: upscale(model, big, tile=128, overlap=16), device, 1)
        rows.append((f"infer tiled {side}x{side} -> {4 * side}x{4 * side} (tile 128, overlap 16)", t, m))
    from srlib.dasr.train_config import DASRTrainConfig

    tiny_batch = DASRTrainConfig.for_profile("tiny").batch_size
    for profile, b in (("paper", batch), ("tiny", tiny_batch)):
        step, cfg = train_step_fn(profile, b, device)
        t, m = timed(step, device, repeat)
        rows.append((f"train step {profile} (batch {b} x 2 x {cfg.patch_size}px)", t, m))

    width = max(len(r[0]) for r in rows)
    print(f"\n{'benchmark':<{width}}  {'time':>10}  {'peak mem':>10}")
    for name, t, m in rows:
        print(f"{name:<{width}}  {t * 1e3:8.1f}ms  {m:7.1f}MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
