"""USR-DU stage 1: training the downsampling network (paper Sec. 3.1, Eq. 7), as a visible loop.

Official iteration order (``trainer_down_byol_per_vgg19_l1.py``): generate once, update D on the detached y_g, then G
against the just-updated D. ``out/checkpoints/last.pt`` holds everything needed to resume bit-identically (models,
optimisers, schedulers, step, every random stream); Ctrl-C finishes the current step, saves it and re-raises
``KeyboardInterrupt``. ``out/config.json`` holds the resolved config, and checkpoints embed it too.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import torch

from srlib.config import from_dict, to_dict
from srlib.data import UnpairedSampler
from srlib.degradations import imresize, quantize
from srlib.runs import DeferInterrupt, RunDir, capture_rng, load_checkpoint, pick_device, progress, save_checkpoint, seed_everything
from srlib.usrdu import losses as L
from srlib.usrdu.configs import DSNTrainConfig
from srlib.usrdu.discriminator import UNetDiscriminatorSN
from srlib.usrdu.dsn import DSN
from srlib.usrdu.official import load_dsn
from srlib.usrdu.training_utils import adam, load_data, multistep, resume
from srlib.usrdu.vgg import VGG19Features



def dsn_validation(dsn: DSN, val_pairs, crop: int = 4) -> dict:
    """LR-domain PSNR between quantised y_g = DSN(HR) and the real validation LR (official ``--test_visible``), next to
    the bicubic y_b. RGB, ``crop`` border pixels."""
    from srlib.metrics import psnr

    dev = next(dsn.parameters()).device
    rows = {"psnr_yg": [], "psnr_bicubic": []}
    with torch.no_grad():
        for _, lr, hr in val_pairs:
            y_g = quantize(dsn(hr[None].to(dev), feature_head=False).y_g.cpu())
            rows["psnr_yg"].append(float(psnr(y_g, lr[None], crop=crop, y_channel=False)))
            rows["psnr_bicubic"].append(float(psnr(imresize(hr[None], 1 / dsn.cfg.scale), lr[None], crop=crop,
                                                   y_channel=False)))
    return {k: sum(v) / len(v) for k, v in rows.items()}


def train_dsn(cfg: DSNTrainConfig, out, *, seed: int = 0, device: Optional[str] = None,
              max_steps: Optional[int] = None, quiet: bool = False) -> Path:
    """Train (or resume) the DSN; returns the path of ``final.pt`` (or ``last.pt`` when stopped at ``max_steps``)."""
    run, dev = RunDir(out), pick_device(device)
    run.save_config(cfg, seed=seed, stage="usrdu-dsn")
    gen = seed_everything(seed)
    dsn, disc = DSN(cfg.dsn).to(dev), UNetDiscriminatorSN(cfg.disc).to(dev)
    vgg = VGG19Features(cfg.vgg).to(dev)
    if not quiet:
        print(f"usrdu-dsn | profile {cfg.profile} | situation {cfg.situation} | seed {seed} | VGG: {vgg.weights_source}")
    hr_imgs, lr_imgs, val = load_data(cfg.data, cfg.dsn.scale)
    sampler = UnpairedSampler(hr_imgs, lr_imgs, cfg.dsn.scale, cfg.lr_patch, cfg.batch_size, generator=gen)
    opt_g, opt_d = adam(dsn.parameters(), cfg.lr, cfg.betas), adam(disc.parameters(), cfg.lr, cfg.betas)
    sch_g, sch_d = multistep(opt_g, cfg), multistep(opt_d, cfg)
    parts = dict(dsn=dsn, disc=disc, opt_g=opt_g, opt_d=opt_d, sch_g=sch_g, sch_d=sch_d)
    step = resume(run, parts, {"data": gen}, dev)
    stop = min(cfg.iters, max_steps or cfg.iters)

    def save(path):
        save_checkpoint(path, {"kind": "usrdu-dsn", "config": to_dict(cfg), "seed": seed, "step": step,
                               "rng": capture_rng({"data": gen}), **{k: v.state_dict() for k, v in parts.items()}})

    bar = progress(range(step, stop), total=stop, initial=step, desc="DSN", disable=quiet)
    with DeferInterrupt() as interrupt:
        for step in bar:
            t0 = time.perf_counter()
            hr, lr_real = (t.to(dev) for t in next(sampler))  # (B, 3, sP, sP), (B, 3, P, P)
            y_b = imresize(hr, 1 / cfg.dsn.scale)  # MATLAB bicubic target, (B, 3, P, P)
            out_g = dsn(hr)

            # D step (paper Eq. 6): real LR vs detached y_g, both through the high-pass F
            disc.requires_grad_(True)
            opt_d.zero_grad(set_to_none=True)
            d_real = L.gan_loss(disc(L.high_pass(lr_real)), True, cfg.gan_form)
            d_fake = L.gan_loss(disc(L.high_pass(out_g.y_g.detach())), False, cfg.gan_form)
            (d_real + d_fake).backward()
            opt_d.step()

            # G step (paper Eq. 7): alpha1 L_kl + alpha2 L_kl_per + alpha3 L_adv against the updated D
            disc.requires_grad_(False)
            opt_g.zero_grad(set_to_none=True)
            l_kl = L.pixel_kl_loss(out_g.y_g, out_g.log_theta, y_b, cfg.content)
            with torch.no_grad():
                feat_b = vgg(y_b)
            l_per = L.perceptual_kl_loss(vgg(out_g.y_g), out_g.log_sigma, feat_b)
            l_adv = L.gan_loss(disc(L.high_pass(out_g.y_g)), True, cfg.gan_form)
            loss = cfg.alpha_kl * l_kl + cfg.alpha_per * l_per + cfg.alpha_adv * l_adv
            loss.backward()
            opt_g.step()
            sch_g.step()
            sch_d.step()
            step += 1  # steps completed

            if step % cfg.log_every == 0 or step == stop:
                rec = dict(step=step, loss=loss, l_kl=l_kl, l_per=l_per, l_adv=l_adv, d_real=d_real, d_fake=d_fake,
                           lr=sch_g.get_last_lr()[0], sec_per_step=time.perf_counter() - t0)
                if out_g.log_theta is not None:
                    rec["theta_mean"] = out_g.log_theta.detach().exp().mean()
                run.log.write(**rec)
            if val and step % cfg.val_every == 0:
                dsn.eval()
                run.log.write(step=step, **dsn_validation(dsn, val))
                dsn.train()
            if step % cfg.save_every == 0 or interrupt.requested:
                save(run.last)
            if interrupt.requested:
                raise KeyboardInterrupt(f"stopped after step {step}; resume with the same out dir")
    save(run.last)
    if step < cfg.iters:
        return run.last
    final = run.snapshot("final")
    save_checkpoint(final, {"kind": "usrdu-dsn", "config": to_dict(cfg), "seed": seed, "step": step,
                            "dsn": dsn.state_dict()})
    return final


def load_dsn_checkpoint(path, device: Optional[str] = None) -> DSN:
    """A DSN from an srlib DSN run (``final.pt`` / ``last.pt``) or from the authors' ``gen`` weights; eval mode."""
    state = load_checkpoint(path, map_location="cpu")
    if isinstance(state, dict) and state.get("kind") == "usrdu-dsn":
        cfg = from_dict(DSNTrainConfig, state["config"]).dsn
        net = DSN(cfg)
        net.load_state_dict(state["dsn"])
    else:
        net = load_dsn(state)
    return net.to(pick_device(device)).eval()
