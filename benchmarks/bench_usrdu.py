"""Time USR-DU at paper size: one DSN training step, one SRN training step, and inference of both networks.

Usage:
    python benchmarks/bench_usrdu.py [--quick] [--batch N] [--lr-patch P] [--repeats R] [--device cpu|cuda]

Paper sizes: DSN 9.4 M parameters on 16 HR patches of 256x256; SRN = ESRGAN RRDBNet 23 blocks (16.7 M) on 16 LR
patches of 64x64 with a U-Net SN discriminator and VGG19 conv5_4 perceptual loss. On a CPU that is slow, so
``--quick`` uses batch 2 and LR patch 32 (HR 128) with the same networks; the printed table says which was used.
Timing only: the VGG weights are random (declared), which does not change the cost.
"""
from __future__ import annotations

import argparse
import platform
import time

import torch

from srlib.degradations import imresize
from srlib.usrdu import losses as L
from srlib.usrdu.discriminator import UNetDiscriminatorSN
from srlib.usrdu.dsn import DSN
from srlib.usrdu.rrdbnet import RRDBNet
from srlib.usrdu.vgg import VGG19Features, VGGConfig


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (f"{platform.platform(terse=True)} | CPU {cpu} | torch threads {torch.get_num_threads()} | "
            f"GPU {gpu} | torch {torch.__version__}")


def timed(fn, repeats: int, device) -> float:
    fn()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / repeats


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="batch 2, LR patch 32 (for CPUs)")
    p.add_argument("--batch", type=int)
    p.add_argument("--lr-patch", type=int)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args(argv)
    batch = a.batch or (2 if a.quick else 16)
    lp = a.lr_patch or (32 if a.quick else 64)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    dsn, d = DSN().to(dev), UNetDiscriminatorSN().to(dev)
    srn, d_sr = RRDBNet().to(dev), UNetDiscriminatorSN().to(dev)
    vgg = VGG19Features(VGGConfig(weights="random")).to(dev)
    hr = torch.rand(batch, 3, 4 * lp, 4 * lp, device=dev)
    lr = torch.rand(batch, 3, lp, lp, device=dev)
    opt = torch.optim.Adam(list(dsn.parameters()) + list(d.parameters()), 1e-4)
    opt_sr = torch.optim.Adam(list(srn.parameters()) + list(d_sr.parameters()), 1e-4)

    def dsn_step():  # same work as train_dsn: D step + G step with pixel KL, perceptual KL and GAN terms
        opt.zero_grad()
        o = dsn(hr)
        y_b = imresize(hr, 0.25)
        (L.gan_loss(d(L.high_pass(lr)), True, "sigmoid") + L.gan_loss(d(L.high_pass(o.y_g.detach())), False,
                                                                         "sigmoid")).backward()
        with torch.no_grad():
            fb = vgg(y_b)
        loss = (L.pixel_kl_loss(o.y_g, o.log_theta, y_b) + 0.01 * L.perceptual_kl_loss(vgg(o.y_g), o.log_sigma, fb)
                + 0.01 * L.gan_loss(d(L.high_pass(o.y_g)), True, "sigmoid"))
        loss.backward()
        opt.step()

    def srn_step():  # same work as train_srn: G step (L1 + low-pass L1 + VGG + GAN on G(SR)) then D step
        opt_sr.zero_grad()
        sr = srn(lr)
        loss = (L.l1_loss(sr, hr) + L.lowpass_l1_loss(sr, hr) + L.perceptual_l1_loss(vgg, sr, hr)
                + 0.1 * L.gan_loss(d_sr(L.image_gradient(sr)), True))
        loss.backward()
        (L.gan_loss(d_sr(L.image_gradient(hr)), True) + L.gan_loss(d_sr(L.image_gradient(sr.detach())), False)
         ).backward()
        opt_sr.step()

    def dsn_infer():
        with torch.no_grad():
            dsn(hr[:1], feature_head=False)

    def srn_infer():
        with torch.no_grad():
            srn(lr[:1])

    rows = [("DSN train step", f"batch {batch}, HR {4 * lp}x{4 * lp}", timed(dsn_step, a.repeats, dev)),
            ("SRN train step", f"batch {batch}, LR {lp}x{lp}", timed(srn_step, a.repeats, dev)),
            ("DSN inference", f"1 HR {4 * lp}x{4 * lp} (mean + theta)", timed(dsn_infer, a.repeats, dev)),
            ("SRN inference", f"1 LR {lp}x{lp} -> {4 * lp}x{4 * lp}", timed(srn_infer, a.repeats, dev))]
    print(f"machine: {machine()}")
    print(f"device: {dev}; paper sizes (DSN 9,409,361 / RRDBNet 16,697,987 / U-Net D 4,376,897 parameters); "
          f"{'--quick' if a.quick else 'paper batch'}; {a.repeats} repeats after 1 warm-up")
    print(f"{'what':16s} {'input':34s} {'seconds':>9s}")
    for what, inp, sec in rows:
        print(f"{what:16s} {inp:34s} {sec:9.3f}")


if __name__ == "__main__":
    main()
