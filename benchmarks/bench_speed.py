"""Speed options against srlib's plain eager path, interleaved in one run: inference, training step, processes.

Usage::

    python benchmarks/bench_speed.py [--device cpu|cuda] [--rounds N] [--lr-side 128] [--batch B] [--skip-ddp]
                                     [--skip-psnr] [--json OUT]

Every variant of a section is timed once per round, the variants taking turns (round 1: A B C, round 2: A B C, ...),
so that a load that comes and goes on a shared machine hits all of them alike; the table gives the median over rounds
and the ratio to the section's baseline (< 1 = faster). The baseline is srlib's plain eager path, which runs at the
authors' speed (the computation is the same, bit for bit). Sections:

1. **DASR x4 inference**, paper size, one LR image of ``--lr-side`` px: eager ``no_grad`` (baseline), ``inference_mode``,
   ``torch.compile`` (its compilation timed apart), channels-last, and autocast bf16 where the device has native bf16
   (fp16 too on CUDA). The largest
   output difference to the baseline is printed beside each.
2. **DASR training step**, paper size, ``--batch`` images x 2 patches of 48 px (stage 2: L1 + contrastive, synthesis
   included): eager (baseline), compiled, channels-last, and autocast (bf16 where the device has it, fp16 on CUDA).
3. **AMP and PSNR**: Set5 x4 (sigma 1.2) through the zoo's small DASR in fp32 and under bf16 autocast: the Y-PSNR
   change (needs ``SRLIB_DATA`` or ``data/`` with Set5; skipped otherwise).
4. **Processes**: seconds per iteration of each trainer (DASR, USR-DU DSN, USR-DU SRN) at paper width, one process vs
   two gloo processes (``torchrun``) on the same global batch. On a GPU the two processes share it: a smoke test of the
   code path, not a speed-up. USR-DU's paper profile needs the ImageNet VGG19; a random VGG19 of the same width stands
   in (same arithmetic, so the same time).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402

from bench_dasr import machine  # noqa: E402
from srlib.accel import cpu_has_bf16  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def interleaved(variants: dict, rounds: int, device) -> dict:
    """{name: median seconds}: each callable once per round, in turn, after one untimed warm-up call each."""
    for fn in variants.values():
        fn()
    times = {k: [] for k in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            sync(device)
            t = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def table(title: str, medians: dict, base: str, notes: dict | None = None) -> list:
    print(f"\n{title}")
    width = max(len(k) for k in medians)
    rows = []
    for name, t in medians.items():
        ratio = t / medians[base]
        note = (notes or {}).get(name, "")
        print(f"  {name:<{width}}  {t * 1e3:9.1f} ms  {ratio:5.2f}x  {note}")
        rows.append({"variant": name, "seconds": t, "ratio": ratio, "note": note})
    return rows


def inference_section(device, side: int, rounds: int) -> list:
    from srlib.dasr.config import DASRConfig
    from srlib.dasr.network import BlindSR

    torch.manual_seed(0)
    model = BlindSR(DASRConfig(scale=4)).to(device).eval()
    lr = torch.rand(1, 3, side, side, device=device)
    with torch.no_grad():
        ref = model(lr)
    cl_model = BlindSR(DASRConfig(scale=4)).to(device).eval()
    cl_model.load_state_dict(model.state_dict())
    cl_model = cl_model.to(memory_format=torch.channels_last)
    lr_cl = lr.contiguous(memory_format=torch.channels_last)
    from srlib.accel import compile_for_inference

    compiled = BlindSR(DASRConfig(scale=4)).to(device).eval()
    compiled.load_state_dict(model.state_dict())
    t0 = time.perf_counter()
    compile_for_inference(compiled)  # what srlib upscale --compile does: G and the encoder, in place
    with torch.inference_mode():
        compiled(lr)
    sync(device)
    compile_s = time.perf_counter() - t0
    outs = {}

    def run(name, fn, ctx):
        def call():
            with ctx():
                outs[name] = fn()
        return call

    variants = {
        "eager no_grad (baseline)": run("eager no_grad (baseline)", lambda: model(lr), torch.no_grad),
        "inference_mode": run("inference_mode", lambda: model(lr), torch.inference_mode),
        "torch.compile": run("torch.compile", lambda: compiled(lr), torch.inference_mode),
        "channels_last": run("channels_last", lambda: cl_model(lr_cl), torch.inference_mode),
    }
    amp = (["bf16"] if device.type == "cuda" or cpu_has_bf16() else []) + (["fp16"] if device.type == "cuda" else [])
    for mode in amp:
        dtype = torch.bfloat16 if mode == "bf16" else torch.float16

        def ctx(dtype=dtype):
            import contextlib

            stack = contextlib.ExitStack()
            stack.enter_context(torch.inference_mode())
            stack.enter_context(torch.autocast(device.type, dtype=dtype))
            return stack
        variants[f"autocast {mode}"] = run(f"autocast {mode}", lambda: model(lr), ctx)
    med = interleaved(variants, rounds, device)
    notes = {k: f"max |diff| {float((outs[k].float() - ref).abs().max()) * 255:.2g} gray levels" for k in variants}
    notes["torch.compile"] += f"; compiling took {compile_s:.1f} s"
    return table(f"1. DASR x4 inference, paper size, LR {side}x{side}, device {device}", med,
                 "eager no_grad (baseline)", notes)


def train_step_fn(batch: int, device, *, compile_: bool = False, channels_last: bool = False, amp: str | None = None):
    """One stage-2 iteration of the training code path (synthesis + forward + backward + Adam), paper size."""
    import torch.nn.functional as F

    from srlib.accel import Speed
    from srlib.dasr.network import RGB_RANGE, BlindSR
    from srlib.dasr.train import TrainForward, synthesize
    from srlib.dasr.train_config import DASRTrainConfig
    from srlib.degradations import IsoTrain

    cfg = DASRTrainConfig.for_profile("paper")
    cfg = replace(cfg, model=replace(cfg.model, queue_size=batch * (cfg.model.queue_size // batch)))
    speed = Speed(amp=amp, channels_last=channels_last, compile=compile_)
    torch.manual_seed(0)
    model = speed.module(BlindSR(cfg.model).to(device).train())
    speed.compile_modules(model.G, model.E.encoder_q, model.E.encoder_k)  # as srlib.dasr.train does
    net = TrainForward(model)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    scaler = speed.scaler(device)
    g = torch.Generator().manual_seed(0)
    hr = torch.rand(batch, 2, 3, cfg.patch_size * 4, cfg.patch_size * 4, generator=g).to(device)
    deg = IsoTrain(4)

    def step():
        d = deg.sample(batch, g)
        kernel, noise = d.kernels.to(device), d.noise.to(device)
        lr = synthesize(hr, kernel, noise, 4, generator=None)
        with speed.autocast(device):
            sr, logits, labels = net(2, lr, kernel, noise, True)
            loss = F.l1_loss(sr, hr[:, 0]) * RGB_RANGE + F.cross_entropy(logits, labels)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    return step


def training_section(device, batch: int, rounds: int) -> list:
    variants = {"eager (baseline)": train_step_fn(batch, device)}
    t0 = time.perf_counter()
    compiled = train_step_fn(batch, device, compile_=True)
    compiled()  # compilation (forward and backward graphs)
    compile_s = time.perf_counter() - t0
    variants["torch.compile"] = compiled
    variants["channels_last"] = train_step_fn(batch, device, channels_last=True)
    if device.type == "cuda" or cpu_has_bf16():
        variants["autocast bf16"] = train_step_fn(batch, device, amp="bf16")
        variants["bf16 + channels_last"] = train_step_fn(batch, device, amp="bf16", channels_last=True)
    if device.type == "cuda":
        variants["autocast fp16 + GradScaler"] = train_step_fn(batch, device, amp="fp16")
    med = interleaved(variants, rounds, device)
    return table(f"2. DASR training step, paper size, batch {batch} x 2 x 48 px, device {device}", med,
                 "eager (baseline)", {"torch.compile": f"compiling took {compile_s:.1f} s"})


def psnr_section(device) -> list:
    from srlib import zoo
    from srlib.data import modcrop
    from srlib.degradations import degrade, isotropic_gaussian
    from srlib.env import data_root
    from srlib.evaluate import load_hr_images
    from srlib.metrics import psnr

    root = data_root()
    if root is None:
        print("\n3. AMP and PSNR: skipped (no benchmark/Set5 under SRLIB_DATA or data/)")
        return []
    model = zoo.load("dasr-small-x4-model4").model.to(device).eval()
    values = {"fp32": [], "bf16": []}
    for _, hr in load_hr_images(root, "Set5"):
        hr = modcrop(hr, 4)[None]
        lr = degrade(hr, isotropic_gaussian(1.2), 4).to(device)
        with torch.inference_mode():
            sr32 = model(lr).clamp(0, 1).cpu()
            with torch.autocast(device.type, dtype=torch.bfloat16):
                sr16 = model(lr).float().clamp(0, 1).cpu()
        values["fp32"].append(float(psnr(sr32, hr, crop=4, y_channel=True)))
        values["bf16"].append(float(psnr(sr16, hr, crop=4, y_channel=True)))
    a, b = (statistics.mean(v) for v in values.values())
    print(f"\n3. AMP and PSNR: zoo dasr-small-x4-model4, Set5 x4, sigma 1.2, Y-PSNR on {device}: fp32 {a:.4f} dB, "
          f"bf16 autocast {b:.4f} dB, change {b - a:+.4f} dB")
    return [{"fp32_db": a, "bf16_db": b, "change_db": b - a, "device": str(device)}]


# ---- section 4: one process vs two ---------------------------------------------------------------------------------
def _trainer_job(kind: str, out: Path, iters: int, batch: int, device: str) -> float:
    """Train ``kind`` at paper width for ``iters`` iterations; seconds per iteration over the last half."""
    from srlib.dasr.train import train_dasr
    from srlib.dasr.train_config import DASRTrainConfig
    from srlib.usrdu.train_config import DSNTrainConfig, SRNTrainConfig
    from srlib.usrdu.train_dsn import train_dsn
    from srlib.usrdu.train_srn import train_srn
    from srlib.usrdu.vgg import VGGConfig

    stamps = []

    def callback(step, record):
        stamps.append(time.perf_counter())

    common = dict(quiet=True, device=device, callback=callback, resume=False)
    vgg = VGGConfig(weights="random")  # the ImageNet VGG19's width and arithmetic, random weights
    if kind == "dasr":  # stage 2 (joint), the longer stage
        cfg = DASRTrainConfig.for_profile("paper", batch_size=batch, max_iters=iters)
        cfg = replace(cfg, epochs_encoder=0, model=replace(cfg.model, queue_size=batch * (8192 // batch)))
        train_dasr(cfg, out, **common)
    elif kind == "dsn":
        train_dsn(replace(DSNTrainConfig.for_profile("paper", 5, batch_size=batch, max_iters=iters,
                                                     val_every=10**9), vgg=vgg, data=_tiny_data()), out, **common)
    else:
        dsn_out = out.parent / (out.name + "_dsn")
        dsn_cfg = replace(DSNTrainConfig.for_profile("paper", 5, max_iters=1, batch_size=batch), vgg=vgg,
                          data=_tiny_data())
        train_dsn(dsn_cfg, dsn_out, quiet=True, device=device, resume=False)
        cfg = SRNTrainConfig.for_profile("paper", 5, batch_size=batch, max_iters=iters, val_every=10**9,
                                         dsn_checkpoint=str(dsn_out / "checkpoints" / "final.pt"))
        train_srn(replace(cfg, vgg=vgg, data=_tiny_data()), out, **common)
    half = stamps[len(stamps) // 2:]
    return (half[-1] - half[0]) / max(len(half) - 1, 1)


def _tiny_data():
    from srlib.usrdu.train_config import DSNTrainConfig

    return DSNTrainConfig.for_profile("tiny", 5).data  # the built-in stand-in images (no DIV2K needed)


def worker(args) -> int:
    import torch.distributed as dist

    sec = _trainer_job(args.worker, Path(args.out), args.iters, args.batch, args.device)
    rank = dist.get_rank() if dist.is_initialized() else 0
    if rank == 0:
        Path(args.out, "sec_per_iter.json").write_text(json.dumps(sec))
    return 0


def processes_section(device, batch: int, iters: int) -> list:
    rows = []
    print(f"\n4. Seconds per iteration at paper width, global batch {batch}, {iters} iterations (mean over the last "
          f"half), device {device}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("dasr", "dsn", "srn"):
            res = {}
            for n in (1, 2):
                out = Path(tmp) / f"{kind}{n}"
                cmd = [sys.executable] + (["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}"]
                                          if n > 1 else []) + [
                    __file__, "--worker", kind, "--out", str(out), "--iters", str(iters), "--batch", str(batch),
                    "--device", str(device)]
                env = dict(os.environ)
                if n > 1:
                    env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 2) // n))
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if proc.returncode:
                    print(proc.stdout[-2000:], proc.stderr[-2000:])
                    raise SystemExit(f"{kind} with {n} process(es) failed")
                res[n] = json.loads((out / "sec_per_iter.json").read_text())
            ratio = res[2] / res[1]
            print(f"  {kind:<5} 1 process {res[1]:.3f} s/it   2 gloo processes {res[2]:.3f} s/it   ratio {ratio:.2f}x")
            rows.append({"trainer": kind, "one": res[1], "two": res[2], "ratio": ratio})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default=None)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--lr-side", type=int, default=128)
    p.add_argument("--batch", type=int, default=None, help="training batch (default 32 on CUDA, 4 on the CPU)")
    p.add_argument("--iters", type=int, default=None, help="section 4: iterations per run (default 40 CUDA, 8 CPU)")
    p.add_argument("--skip-ddp", action="store_true")
    p.add_argument("--skip-psnr", action="store_true")
    p.add_argument("--only", choices=("1", "2", "3", "4"), action="append", help="run only these sections")
    p.add_argument("--json", help="write every row here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    args.batch = args.batch or (32 if device.type == "cuda" else 4)
    args.iters = args.iters or (40 if device.type == "cuda" else 8)
    if args.worker:
        return worker(args)
    only = set(args.only or "1234")
    print(machine(device))
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    report = {"machine": machine(device)}
    if "1" in only:
        report["inference"] = inference_section(device, args.lr_side, args.rounds)
    if "2" in only:
        report["training"] = training_section(device, args.batch, max(3, args.rounds // 2))
    if "3" in only and not args.skip_psnr:
        report["amp_psnr"] = psnr_section(device)
    if "4" in only and not args.skip_ddp:
        report["processes"] = processes_section(device, args.batch, args.iters)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
