"""Smoke test of the paper profile on one GPU (``make gpu-smoke``): does every path run, how fast, how much memory.

Usage::

    python tools/gpu_smoke.py [--device cuda|cpu] [--size paper|reduced] [--iters N] [--chapter-iters N]
                              [--skip trainers,ddp,pytest,chapters] [--out DIR]

Four steps, each timed, each reported as ok or failed with its one-line reason (one failure does not stop the others):

1. **trainers**: DASR (half stage 1, half stage 2), the USR-DU DSN and the SRN for ``--iters`` iterations each at
   ``--size`` (``paper``: the published widths, batches and patches), printing iterations per second and peak GPU
   memory; on CUDA, DASR again under ``--amp bf16`` and with ``--channels-last``. USR-DU's paper profile needs DIV2K,
   NTIRE 2020 and the ImageNet VGG19; a smoke run takes the built-in stand-in images and a random VGG19 of the same
   width (the same arithmetic, so the same speed and memory).
2. **ddp**: ``torchrun --nproc_per_node 2 -m srlib train dasr`` on the one device (two ranks share one GPU through
   gloo: a test of the code path, not a speed-up).
3. **pytest**: ``pytest -m gpu`` (the tests that need CUDA; they skip without it).
4. **chapters**: every chapter under papermill at ``--size`` with ``$SRLIB_SMOKE_ITERS`` = ``--chapter-iters``, which
   caps every training schedule the chapters build; run folders and notebooks go to ``--out``, never to ``runs/``.

``--size reduced`` (the default off CUDA) runs the same steps at the ``tiny`` profile, to check the script itself on a
CPU. The summary goes to the console and to ``OUT/smoke.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402


def peak_reset(device):
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def peak_mib(device):
    if device.type != "cuda":
        return None
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**20


def timed_training(train, device) -> dict:
    """Run ``train(callback)``; iterations per second over the second half of the iterations, peak memory."""
    stamps = []
    peak_reset(device)
    t0 = time.perf_counter()
    train(lambda step, record: stamps.append(time.perf_counter()))
    half = stamps[len(stamps) // 2:]
    its = (len(half) - 1) / (half[-1] - half[0]) if len(half) > 1 else float("nan")
    return {"iters": len(stamps), "it_per_s": its, "peak_gpu_mib": peak_mib(device), "wall_s": time.perf_counter() - t0}


def trainers(args, device, out: Path) -> list:
    from srlib.accel import Speed
    from srlib.dasr.train import train_dasr
    from srlib.dasr.train_config import DASRTrainConfig
    from srlib.usrdu.train_config import DSNTrainConfig, SRNTrainConfig
    from srlib.usrdu.train_dsn import train_dsn
    from srlib.usrdu.train_srn import train_srn
    from srlib.usrdu.vgg import VGGConfig

    profile = "paper" if args.size == "paper" else "tiny"
    n = args.iters
    stand_in = DSNTrainConfig.for_profile("tiny", 5).data  # built-in images instead of DIV2K / NTIRE 2020
    vgg = VGGConfig(weights="random") if profile == "paper" else VGGConfig(weights="random", width_div=8)
    common = dict(quiet=True, device=str(device), resume=False)
    # one "epoch" of n/2 iterations per stage, so that both stages run (the learning rates stay the profile's)
    dasr_cfg = replace(DASRTrainConfig.for_profile(profile), iters_per_epoch=max(1, n // 2), epochs_encoder=1,
                       epochs_sr=1, lr_decay_encoder=1, lr_decay_sr=1, max_iters=None)
    runs = [("dasr", lambda cb, s=Speed(): train_dasr(dasr_cfg, out / "dasr", callback=cb, speed=s, **common))]
    if device.type == "cuda":
        for label, s in (("dasr --amp bf16", Speed(amp="bf16")), ("dasr --channels-last", Speed(channels_last=True)),
                         ("dasr --amp bf16 --channels-last", Speed(amp="bf16", channels_last=True))):
            runs.append((label, lambda cb, s=s: train_dasr(dasr_cfg, out / "dasr_speed", callback=cb, speed=s,
                                                           **common)))
    dsn_cfg = replace(DSNTrainConfig.for_profile(profile, 5, max_iters=n, val_every=10**9), vgg=vgg, data=stand_in)
    runs.append(("usrdu-dsn", lambda cb: train_dsn(dsn_cfg, out / "dsn", callback=cb, **common)))
    srn_cfg = replace(SRNTrainConfig.for_profile(profile, 5, max_iters=n, val_every=10**9,
                                                 dsn_checkpoint=str(out / "dsn" / "checkpoints" / "final.pt")),
                      vgg=vgg, data=stand_in)
    runs.append(("usrdu-srn", lambda cb: train_srn(srn_cfg, out / "srn", callback=cb, **common)))
    rows = []
    for name, train in runs:
        row = {"step": "trainers", "name": f"{name} ({profile})"}
        try:
            row.update(timed_training(train, device), ok=True)
        except Exception as exc:  # report and go on with the other trainers
            row.update(ok=False, error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
            traceback.print_exc()
        rows.append(row)
        report(row)
    return rows


def ddp(args, device, out: Path) -> list:
    profile = "paper" if args.size == "paper" else "tiny"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "srlib", "train",
           "dasr", "--profile", profile, "--iters", str(args.iters), "--device", str(device), "--out",
           str(out / "ddp_dasr")]
    return [run_command("ddp", f"torchrun 2 ranks dasr ({profile}, one {device.type} device)", cmd, args.timeout)]


def pytest_gpu(args, device, out: Path) -> list:
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", str(ROOT / "tests"), "-p", "no:cacheprovider"]
    return [run_command("pytest", "pytest -m gpu", cmd, args.timeout)]


def chapters(args, device, out: Path) -> list:
    import papermill
    from tools.run_book import chapters_from_toc

    profile = "paper" if args.size == "paper" else "tiny"
    env = {**os.environ, "SRLIB_SMOKE_ITERS": str(args.chapter_iters), "SRLIB_PROFILE": profile}
    rows = []
    for src in chapters_from_toc(ROOT / "_toc.yml"):
        if args.chapters and not any(src.stem.startswith(c) for c in args.chapters.split(",")):
            continue
        nb = out / "chapters" / (src.stem + ".ipynb")
        params = {"profile": profile}
        if "\nout_dir = " in src.read_text():
            params["out_dir"] = str(out / "chapter_runs" / src.stem)
        code = (f"import jupytext, papermill; nb = jupytext.read({str(src)!r}); jupytext.write(nb, {str(nb)!r}); "
                f"papermill.execute_notebook({str(nb)!r}, {str(nb)!r}, parameters={params!r}, kernel_name='python3', "
                f"cwd={str(ROOT)!r}, progress_bar=False)")
        nb.parent.mkdir(parents=True, exist_ok=True)
        rows.append(run_command("chapters", src.stem, [sys.executable, "-c", code], args.timeout, env=env))
    del papermill
    return rows


def run_command(step: str, name: str, cmd: list, timeout: float, env=None) -> dict:
    row = {"step": step, "name": name}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
        text = (proc.stdout + proc.stderr).strip().splitlines()
        row.update(ok=proc.returncode == 0, wall_s=time.perf_counter() - t0)
        if proc.returncode == 0:
            if step == "pytest":  # its summary line
                row["last_line"] = next((ln for ln in reversed(text) if ln.strip()), "")[:300]
        else:
            errors = [ln for ln in text if "Error" in ln or "error:" in ln]
            row["error"] = (errors[-1] if errors else (text[-1] if text else f"exit {proc.returncode}"))[:300]
    except subprocess.TimeoutExpired:
        row.update(ok=False, wall_s=time.perf_counter() - t0, error=f"timed out after {timeout:.0f} s")
    report(row)
    return row


def report(row: dict) -> None:
    status = "ok " if row.get("ok") else "FAIL"
    extra = ""
    if "it_per_s" in row:
        mem = f", peak GPU {row['peak_gpu_mib']:.0f} MiB" if row.get("peak_gpu_mib") is not None else ""
        extra = f"{row['it_per_s']:.2f} it/s over {row['iters']} iterations{mem}"
    if "error" in row:
        extra += ("; " if extra else "") + row["error"]
    elif "last_line" in row:
        extra += row["last_line"]
    print(f"[{status}] {row['step']:<8} {row['name']:<42} {row.get('wall_s', 0):6.1f} s  {extra}", flush=True)


STEPS = {"trainers": trainers, "ddp": ddp, "pytest": pytest_gpu, "chapters": chapters}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default=None)
    p.add_argument("--size", choices=("paper", "reduced"), default=None,
                   help="paper (default on CUDA) or reduced (tiny profile; default elsewhere)")
    p.add_argument("--iters", type=int, default=None, help="training iterations per trainer (default 200 paper, 20 "
                   "reduced)")
    p.add_argument("--chapter-iters", type=int, default=20, help="$SRLIB_SMOKE_ITERS for the chapters")
    p.add_argument("--chapters", default="", help="only these chapters, e.g. 05,06 (default: all)")
    p.add_argument("--timeout", type=float, default=600, help="seconds allowed to each command")
    p.add_argument("--skip", default="", help="comma-separated steps to skip: " + ",".join(STEPS))
    p.add_argument("--out", default=None, help="folder for runs, notebooks and smoke.json (default: a temp folder)")
    args = p.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    args.size = args.size or ("paper" if device.type == "cuda" else "reduced")
    args.iters = args.iters or (200 if args.size == "paper" else 20)
    out = Path(args.out or tempfile.mkdtemp(prefix="srlib-smoke-"))
    out.mkdir(parents=True, exist_ok=True)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "none"
    print(f"srlib GPU smoke | device {device} ({gpu}) | size {args.size} | torch {torch.__version__} | out {out}")
    skip = {s for s in args.skip.split(",") if s}
    rows, t0 = [], time.perf_counter()
    for name, step in STEPS.items():
        if name not in skip:
            rows += step(args, device, out)
    total = time.perf_counter() - t0
    failed = [r for r in rows if not r.get("ok")]
    summary = {"device": str(device), "gpu": gpu, "size": args.size, "torch": torch.__version__, "total_s": total,
               "rows": rows}
    (out / "smoke.json").write_text(json.dumps(summary, indent=2))
    print(f"\n{len(rows) - len(failed)} passed, {len(failed)} failed in {total:.0f} s; details in {out / 'smoke.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
