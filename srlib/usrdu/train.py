"""USR-DU training: the DSN (stage 1) and the SRN on sampled LR images (stage 2), with visible loops.

Both loops follow the official iteration order. DSN (``trainer_down_byol_per_vgg19_l1.py``): generate once, update
D on the detached y_g, then G against the just-updated D. SRN (BasicSR ``ESRGANModel``): G step, then D step, then
EMA. Everything needed to resume bit-identically is in ``out/checkpoints/last.pt``: models, EMA, discriminators,
optimisers, schedulers, the step and every random stream. Ctrl-C finishes the current step, saves ``last.pt`` and
re-raises ``KeyboardInterrupt``. ``out/config.json`` holds the resolved config; checkpoints embed it too.

CLI (forwarded by ``srlib train usrdu-dsn|usrdu-srn``), see :func:`cli_main`.
"""
from __future__ import annotations

import argparse
import copy
import functools
import signal
import time
from pathlib import Path
from typing import Optional

import torch

from srlib.config import from_dict, to_dict
from srlib.data import FolderDataset, UnpairedSampler, builtin_images, modcrop
from srlib.degradations import RealWorldDegradation, imresize, quantize
from srlib.runs import (RunDir, capture_rng, load_checkpoint, pick_device, progress, restore_rng, save_checkpoint,
                        seed_everything)
from srlib.usrdu import losses as L
from srlib.usrdu.configs import (PAPER_TABLE1, SITUATIONS, DataConfig, DSNTrainConfig, SRNTrainConfig,  # noqa: F401
                                 situation)
from srlib.usrdu.discriminator import UNetDiscriminatorSN
from srlib.usrdu.dsn import DSN, DSNConfig
from srlib.usrdu.evaluate import evaluate_upscaler
from srlib.usrdu.official import load_dsn, load_esrgan
from srlib.usrdu.rrdbnet import RRDBNet, RRDBNetConfig
from srlib.usrdu.sampling import CachedDegradations, SRNPairSampler
from srlib.usrdu.vgg import VGG19Features


# ----------------------------------------------------------------------------------------------------------- data


@functools.lru_cache(maxsize=4)
def _builtin_data(scale: int, seed: int) -> tuple:
    train = builtin_images("train")
    half = len(train) // 2
    deg = RealWorldDegradation(scale=scale, seed=seed)
    hr = [(n, modcrop(x, scale)) for n, x in train[:half]]
    lr = [(n, deg(modcrop(x, scale)[None])[0]) for n, x in train[half:]]
    val = [(n, deg(modcrop(x, scale)[None])[0], modcrop(x, scale)) for n, x in builtin_images("test")]
    return hr, lr, val


def load_data(cfg: DataConfig, scale: int) -> tuple:
    """``(hr_images, real_lr_images, val_pairs)``: lists of ``(name, (3, H, W) float [0, 1])`` and
    ``(name, lr, hr)`` triples (see :class:`~srlib.usrdu.configs.DataConfig`)."""
    folders = (cfg.hr_dir, cfg.lr_dir, cfg.val_hr_dir, cfg.val_lr_dir)
    if all(f is None for f in folders):
        return _builtin_data(scale, cfg.realworld_seed)
    if cfg.hr_dir is None or cfg.lr_dir is None:
        raise ValueError("give both hr_dir (e.g. DIV2K HR) and lr_dir (e.g. NTIRE 2020 Track 1 corrupted_train_x)")
    read = lambda d: [(it["name"], it["image"]) for it in FolderDataset(d)]  # noqa: E731
    hr = [(n, modcrop(x, scale)) for n, x in read(cfg.hr_dir)]
    lr = read(cfg.lr_dir)
    val = []
    if cfg.val_hr_dir and cfg.val_lr_dir:
        vh, vl = read(cfg.val_hr_dir), read(cfg.val_lr_dir)
        if len(vh) != len(vl):
            raise ValueError(f"{len(vh)} validation HR images but {len(vl)} LR images")
        val = [(nh, xl, modcrop(xh, scale)[:, : scale * xl.shape[1], : scale * xl.shape[2]])
               for (nh, xh), (_, xl) in zip(vh, vl)]
    return hr, lr, val


class _DeferInterrupt:
    """Turn Ctrl-C into a flag checked between steps, so ``last.pt`` always holds whole steps."""

    def __enter__(self):
        self.requested, self._old = False, None
        try:
            self._old = signal.signal(signal.SIGINT, self._flag)
        except ValueError:  # not the main thread: a plain KeyboardInterrupt then
            pass
        return self

    def _flag(self, *_):
        self.requested = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _adam(params, lr, betas):
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas))


def _sched(opt, cfg):
    return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.gamma)


# ------------------------------------------------------------------------------------------------------------ DSN


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
    opt_g, opt_d = _adam(dsn.parameters(), cfg.lr, cfg.betas), _adam(disc.parameters(), cfg.lr, cfg.betas)
    sch_g, sch_d = _sched(opt_g, cfg), _sched(opt_d, cfg)
    parts = dict(dsn=dsn, disc=disc, opt_g=opt_g, opt_d=opt_d, sch_g=sch_g, sch_d=sch_d)
    step = _resume(run, parts, {"data": gen}, dev)
    stop = min(cfg.iters, max_steps or cfg.iters)

    def save(path):
        save_checkpoint(path, {"kind": "usrdu-dsn", "config": to_dict(cfg), "seed": seed, "step": step,
                               "rng": capture_rng({"data": gen}), **{k: v.state_dict() for k, v in parts.items()}})

    bar = progress(range(step, stop), total=stop, initial=step, desc="DSN", disable=quiet)
    with _DeferInterrupt() as interrupt:
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


def _resume(run: RunDir, parts: dict, generators: dict, dev) -> int:
    if not run.has_checkpoint():
        return 0
    state = load_checkpoint(run.last, map_location=dev)
    for k, v in parts.items():
        v.load_state_dict(state[k])
    restore_rng(state["rng"], generators)
    run.log.truncate_after(state["step"])
    return state["step"]


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


# ------------------------------------------------------------------------------------------------------------ SRN


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
    opt_g, opt_d = _adam(net_g.parameters(), cfg.lr, cfg.betas), _adam(disc.parameters(), cfg.lr, cfg.betas)
    sch_g, sch_d = _sched(opt_g, cfg), _sched(opt_d, cfg)
    parts = dict(net_g=net_g, disc=disc, opt_g=opt_g, opt_d=opt_d, sch_g=sch_g, sch_d=sch_d)
    if net_ema is not None:
        parts["net_g_ema"] = net_ema
    step = _resume(run, parts, {"data": gen}, dev)
    stop = min(cfg.iters, max_steps or cfg.iters)

    def save(path, full=True):
        models = parts if full else {k: parts[k] for k in ("net_g", "net_g_ema") if k in parts}
        save_checkpoint(path, {"kind": "usrdu-srn", "config": to_dict(cfg), "seed": seed, "step": step,
                               **({"rng": capture_rng({"data": gen})} if full else {}),
                               **{k: v.state_dict() for k, v in models.items()}})

    bar = progress(range(step, stop), total=stop, initial=step, desc="SRN", disable=quiet)
    with _DeferInterrupt() as interrupt:
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
                res = evaluate_upscaler(Upscaler(copy.deepcopy(net_ema or net_g)), val, lpips=False)
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


# ------------------------------------------------------------------------------------------------------------ CLI


def cli_main(argv, stage: str) -> int:
    """``srlib train usrdu-dsn|usrdu-srn --profile tiny|paper|official [--situation 1..5] [--iters N] [--seed S]
    --out DIR [--dsn-checkpoint C] [--hr-dir D --lr-dir D --val-hr-dir D --val-lr-dir D] [--vgg-weights F]``."""
    if stage not in ("dsn", "srn"):
        raise ValueError(f"stage must be 'dsn' or 'srn', got {stage!r}")
    p = argparse.ArgumentParser(prog=f"srlib train usrdu-{stage}", description=f"Train the USR-DU {stage.upper()}.")
    p.add_argument("--profile", default="tiny", choices=("tiny", "paper", "official"))
    p.add_argument("--situation", type=int, default=5, choices=sorted(SITUATIONS), help="paper Table 1 row")
    p.add_argument("--iters", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--device")
    p.add_argument("--vgg-weights", help="path to vgg19-dcbb9e9d.pth (else $SRLIB_VGG19_WEIGHTS or the hub cache)")
    for name in ("hr-dir", "lr-dir", "val-hr-dir", "val-lr-dir"):
        p.add_argument(f"--{name}")
    if stage == "srn":
        p.add_argument("--dsn-checkpoint", required=True, help="srlib DSN final.pt or the authors' gen weights")
        p.add_argument("--init-checkpoint", help="RRDB_PSNR_x4.pth (official init)")
    a = p.parse_args(argv)
    cls = DSNTrainConfig if stage == "dsn" else SRNTrainConfig
    cfg = cls.for_profile(a.profile, a.situation)
    data = DataConfig(a.hr_dir, a.lr_dir, a.val_hr_dir, a.val_lr_dir, cfg.data.realworld_seed)
    if a.profile != "tiny" and (a.hr_dir is None or a.lr_dir is None):
        p.error("profile paper/official needs --hr-dir (DIV2K HR) and --lr-dir (NTIRE 2020 Track 1 corrupted_train_x "
                "or RealSR Canon LR); see srlib.data.registry")
    over = dict(data=data)
    if a.iters:
        over["iters"] = a.iters
    if a.vgg_weights:
        over["vgg"] = type(cfg.vgg)(weights="imagenet", weights_path=a.vgg_weights)
    if stage == "srn":
        over.update(dsn_checkpoint=a.dsn_checkpoint, init_checkpoint=a.init_checkpoint)
    cfg = type(cfg)(**{**{f: getattr(cfg, f) for f in cfg.__dataclass_fields__}, **over})
    fn = train_dsn if stage == "dsn" else train_srn
    path = fn(cfg, a.out, seed=a.seed, device=a.device)
    print(f"saved {path}")
    return 0
