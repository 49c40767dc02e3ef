"""USR-DU stage 2: training ESRGAN's RRDBNet on LR images sampled from the DSN (paper Sec. 3.2, Eq. 12).

Iteration order of BasicSR's ``ESRGANModel`` (used by the official ``ESRGANModel_C_Grad``): G step, D step, then the
EMA update. Resuming, Ctrl-C and configs work as in :mod:`srlib.usrdu.dsn_training`. :func:`load_upscaler` turns a
checkpoint (srlib's or the official weights) into a plain ``lr -> sr`` callable.
"""
from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Optional

import torch

from srlib.config import from_dict, to_dict
from srlib.degradations import imresize
from srlib.runs import DeferInterrupt, RunDir, capture_rng, load_checkpoint, pick_device, progress, save_checkpoint, seed_everything
from srlib.usrdu import losses as L
from srlib.usrdu.configs import SRNTrainConfig, situation
from srlib.usrdu.discriminator import UNetDiscriminatorSN
from srlib.usrdu.dsn_training import load_dsn_checkpoint
from srlib.usrdu.evaluate import evaluate_upscaler
from srlib.usrdu.official import load_esrgan
from srlib.usrdu.rrdbnet import RRDBNet
from srlib.usrdu.sampling import CachedDegradations, SRNPairSampler
from srlib.usrdu.training_utils import adam, load_data, multistep, resume
from srlib.usrdu.vgg import VGG19Features



class Upscaler:
    """``lr (B, 3, h, w) float [0, 1] -> sr (B, 3, 4h, 4w) float [0, 1]`` with a trained RRDBNet (no gradients)."""

    scale = 4

    def __init__(self, model: RRDBNet, source: str = ""):
        self.model, self.source = model.eval(), source
        self.device = next(model.parameters()).device

    def __call__(self, lr: torch.Tensor) -> torch.Tensor:
        if lr.dim() != 4 or lr.shape[1] != 3:
            raise ValueError(f"expected lr (B, 3, h, w), got {tuple(lr.shape)}")
        with torch.no_grad():
            return self.model(lr.to(self.device)).clamp(0, 1).to(lr.device)


def load_upscaler(checkpoint, device: Optional[str] = None, use_ema: bool = True) -> Upscaler:
    """Upscaler from an srlib SRN checkpoint (EMA weights when present) or from official ESRGAN / USR-DU SRN weights
    (original or BasicSR names, see :func:`srlib.usrdu.official.load_esrgan`)."""
    state = load_checkpoint(checkpoint, map_location="cpu")
    if isinstance(state, dict) and state.get("kind") == "usrdu-srn":
        net = RRDBNet(from_dict(SRNTrainConfig, state["config"]).srn)
        key = "net_g_ema" if use_ema and state.get("net_g_ema") is not None else "net_g"
        net.load_state_dict(state[key])
        source = f"srlib usrdu-srn {checkpoint} ({key}, step {state['step']})"
    else:
        net, source = load_esrgan(state), f"official weights {checkpoint}"
    return Upscaler(net.to(pick_device(device)), source)


def train_srn(cfg: SRNTrainConfig, out, *, seed: int = 0, device: Optional[str] = None,
              max_steps: Optional[int] = None, quiet: bool = False) -> Path:
    """Train (or resume) the SRN on LR images sampled from a trained DSN; returns ``final.pt`` (or ``last.pt``)."""
    if cfg.dsn_checkpoint is None:
        raise ValueError("SRNTrainConfig.dsn_checkpoint is required: train the DSN first (srlib train usrdu-dsn)")
    run, dev, sit = RunDir(out), pick_device(device), situation(cfg.situation)
    run.save_config(cfg, seed=seed, stage="usrdu-srn")
    gen = seed_everything(seed)
    net_g, disc = RRDBNet(cfg.srn).to(dev), UNetDiscriminatorSN(cfg.disc).to(dev)
    if cfg.init_checkpoint:  # code: ESRGAN's PSNR-oriented RRDB_PSNR_x4.pth, strict
        net_g.load_state_dict(load_esrgan(cfg.init_checkpoint).state_dict())
    net_ema = copy.deepcopy(net_g).requires_grad_(False) if cfg.ema_decay > 0 else None
    vgg = VGG19Features(cfg.vgg).to(dev)
    dsn = load_dsn_checkpoint(cfg.dsn_checkpoint, device=str(dev))
    if not quiet:
        print(f"usrdu-srn | profile {cfg.profile} | situation {sit.number} ({sit.label}) | seed {seed} | "
              f"VGG: {vgg.weights_source} | init: {cfg.init_checkpoint or 'random'}")
    hr_imgs, _, val = load_data(cfg.data, 4)
    cache = CachedDegradations(dsn, hr_imgs, quantize_mean=True)  # official: y_g stored as 8-bit PNG once
    sampler = SRNPairSampler(cache, cfg.lr_patch, cfg.batch_size, gen, mode=sit.sampling, scheme=cfg.scheme,
                             constant_scale=cfg.constant_scale)
    d_in = (lambda t: L.image_gradient(t, cfg.gradient_norm)) if sit.gradient_d else (lambda t: t)  # noqa: E731
    opt_g, opt_d = adam(net_g.parameters(), cfg.lr, cfg.betas), adam(disc.parameters(), cfg.lr, cfg.betas)
    sch_g, sch_d = multistep(opt_g, cfg), multistep(opt_d, cfg)
    parts = dict(net_g=net_g, disc=disc, opt_g=opt_g, opt_d=opt_d, sch_g=sch_g, sch_d=sch_d)
    if net_ema is not None:
        parts["net_g_ema"] = net_ema
    step = resume(run, parts, {"data": gen}, dev)
    stop = min(cfg.iters, max_steps or cfg.iters)

    def save(path, full=True):
        models = parts if full else {k: parts[k] for k in ("net_g", "net_g_ema") if k in parts}
        save_checkpoint(path, {"kind": "usrdu-srn", "config": to_dict(cfg), "seed": seed, "step": step,
                               **({"rng": capture_rng({"data": gen})} if full else {}),
                               **{k: v.state_dict() for k, v in models.items()}})

    bar = progress(range(step, stop), total=stop, initial=step, desc="SRN", disable=quiet)
    with DeferInterrupt() as interrupt:
        for step in bar:
            t0 = time.perf_counter()
            lr_hat, hr = (t.to(dev) for t in next(sampler))  # y_g + eps * theta (B, 3, P, P); HR (B, 3, 4P, 4P)
            sr = net_g(lr_hat)

            # G step (paper Eq. 12): beta1 L1 (+ code's low-pass L1) + beta2 perceptual + beta3 adversarial (Eq. 9)
            disc.requires_grad_(False)
            opt_g.zero_grad(set_to_none=True)
            l_pix = L.l1_loss(sr, hr)
            l_low = L.lowpass_l1_loss(sr, hr) if cfg.w_lowpass else torch.zeros((), device=dev)
            l_per = L.perceptual_l1_loss(vgg, sr, hr) if cfg.w_percep else torch.zeros((), device=dev)
            l_adv = L.gan_loss(disc(d_in(sr)), True, "logits")
            loss = cfg.w_pixel * l_pix + cfg.w_lowpass * l_low + cfg.w_percep * l_per + cfg.w_adv * l_adv
            loss.backward()
            opt_g.step()

            # D step (paper Eq. 10): G(HR) real, G(SR) fake
            disc.requires_grad_(True)
            opt_d.zero_grad(set_to_none=True)
            d_real = L.gan_loss(disc(d_in(hr)), True, "logits")
            d_real.backward()
            d_fake = L.gan_loss(disc(d_in(sr.detach())), False, "logits")
            d_fake.backward()
            opt_d.step()
            sch_g.step()
            sch_d.step()
            if net_ema is not None:  # paper: EMA of the generator weights
                with torch.no_grad():
                    for pe, p in zip(net_ema.parameters(), net_g.parameters()):
                        pe.mul_(cfg.ema_decay).add_(p, alpha=1 - cfg.ema_decay)
            step += 1

            if step % cfg.log_every == 0 or step == stop:
                run.log.write(step=step, loss=loss, l_pix=l_pix, l_low=l_low, l_per=l_per, l_adv=l_adv,
                              d_real=d_real, d_fake=d_fake, lr=sch_g.get_last_lr()[0],
                              sec_per_step=time.perf_counter() - t0)
            if val and step % cfg.val_every == 0:
                res = evaluate_upscaler(Upscaler(net_ema if net_ema is not None else net_g), val, lpips=False)
                net_g.train()  # Upscaler switched it to eval mode (no BN/dropout in RRDBNet, but keep the contract)
                run.log.write(step=step, val_psnr=res["psnr"], val_ssim=res["ssim"])
            if step % cfg.save_every == 0 or interrupt.requested:
                save(run.last)
            if interrupt.requested:
                raise KeyboardInterrupt(f"stopped after step {step}; resume with the same out dir")
    save(run.last)
    if step < cfg.iters:
        return run.last
    final = run.snapshot("final")
    save(final, full=False)
    return final


def pretrain_psnr(cfg: SRNTrainConfig, path, *, iters: int, lr: float = 5e-4, batch_size: int = 8,
                  seed: int = 0, quiet: bool = False) -> Path:
    """A PSNR-oriented RRDBNet trained with L1 on bicubic pairs (HR patch, MATLAB-bicubic LR), saved as an
    ESRGAN-named state dict at ``path`` for ``SRNTrainConfig.init_checkpoint``.

    This stands in for ``RRDB_PSNR_x4.pth``, the ESRGAN model the official SRN starts from, when that file is not
    available (the tiny profile). Skipped if ``path`` exists.
    """
    path = Path(path)
    if path.is_file():
        return path
    from srlib.data import DASRPatchSampler

    gen = seed_everything(seed)
    net = RRDBNet(cfg.srn)
    hr_imgs, _, _ = load_data(cfg.data, 4)
    sampler = DASRPatchSampler(hr_imgs, 4, cfg.lr_patch, batch_size, generator=gen)
    opt = adam(net.parameters(), lr, cfg.betas)
    for _ in progress(range(iters), desc="PSNR init", disable=quiet):
        hr = next(sampler)[:, 0]  # (B, 3, 4P, 4P), one crop per image
        loss = L.l1_loss(net(imresize(hr, 0.25)), hr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, net.state_dict())
    return path
