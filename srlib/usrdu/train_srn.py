"""USR-DU stage 2: training ESRGAN's RRDBNet on LR images sampled from the DSN (paper Sec. 3.2, Eq. 12).

Iteration order of BasicSR's ``ESRGANModel`` (used by the official ``ESRGANModel_C_Grad``): G step, D step, then the
EMA update. Run folder, resuming (with the config check), Ctrl-C and ``final.pt`` follow srlib's one trainer contract,
as in :mod:`srlib.usrdu.train_dsn`. To super-resolve with a trained SRN, load its checkpoint with
:func:`srlib.models.load_upscaler`.

Under ``torchrun`` (:mod:`srlib.distributed`) the generator and the discriminator are wrapped in DistributedDataParallel
as in :mod:`srlib.usrdu.train_dsn`; each rank samples ``batch_size / N`` LR patches from the DSN's cached degradations
with its own stream. The EMA reads the generator's weights, identical on every rank, so it is identical too.
"""
from __future__ import annotations

import copy
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import torch

from srlib import distributed, runs
from srlib.accel import Speed, speed_from_args
from srlib.degradations import imresize
from srlib.errors import UsageError
from srlib.evaluate import evaluate_pairs
from srlib.usrdu import losses as L
from srlib.usrdu.data import load_data
from srlib.usrdu.discriminator import UNetDiscriminatorSN
from srlib.usrdu.official import load_esrgan
from srlib.usrdu.rrdbnet import RRDBNet
from srlib.usrdu.sampling import CachedDegradations, SRNPairSampler
from srlib.usrdu.train_config import SRNTrainConfig, situation
from srlib.usrdu.train_dsn import config_from_args, load_dsn_checkpoint, stage_parser
from srlib.usrdu.vgg import VGG19Features

KIND = "usrdu-srn"
#: ``--pixel-only``: the PSNR-oriented initialisation trained on the DSN's LR samples (L1 only, no discriminator step,
#: no EMA), at 5x the SRN's learning rate as the tiny stand-in for ``RRDB_PSNR_x4.pth`` uses.
PIXEL_ONLY = dict(w_pixel=1.0, w_lowpass=0.0, w_percep=0.0, w_adv=0.0, ema_decay=0.0, lr=5e-4)
#: ``--pixel-only --profile small``: the zoo's PSNR initialisation, 9,000 iterations with the learning rate halved at
#: 4,500 and 6,750 (about 20 CPU minutes). Measured on the stand-in Track 1 (Set5 / Set14 RGB PSNR over bicubic):
#: 1,500 iterations gave -0.18 / -0.16 dB and 6,000 at a constant rate +0.27 / +0.18 dB.
SMALL_PIXEL_ONLY = dict(iters=9000, milestones=(4500, 6750), val_every=3000, save_every=500)


def _validate(net: RRDBNet, val, dev) -> dict:
    """RGB PSNR / SSIM of ``net`` on the validation pairs, in eval mode; ``net`` is left in the mode it was in."""
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            return evaluate_pairs(lambda lr: net(lr.to(dev)).clamp(0, 1).cpu(), val, lpips=False)
    finally:
        net.train(was_training)


def train_srn(cfg: SRNTrainConfig, out, *, resume: bool = True, device: Optional[str] = None, quiet: bool = False,
              callback: Optional[Callable[[int, dict], None]] = None, data: str = "rank",
              speed: Speed = Speed()) -> RRDBNet:
    """Train the SRN on LR images sampled from a trained DSN (``cfg.dsn_checkpoint``), or continue the run in ``out``.

    Args and files as in :func:`srlib.usrdu.train_dsn.train_dsn`; ``final.pt`` holds ``net_g`` (and ``net_g_ema``).

    Returns:
        The trained :class:`RRDBNet` (the EMA weights when ``cfg.ema_decay > 0``, else the generator), in eval mode,
        on ``device``: ``lr (B, 3, h, w) [0, 1] -> sr (B, 3, 4h, 4w)`` (unclamped).

    Raises:
        UsageError: ``cfg.dsn_checkpoint`` is not set.
        CheckpointError: a DSN or init checkpoint that cannot be read; ``last.pt`` of another kind or config.
        TrainingInterrupted: after Ctrl-C, once ``last.pt`` holds the last whole step.
    """
    if cfg.dsn_checkpoint is None:
        raise UsageError("SRNTrainConfig.dsn_checkpoint is required: train the DSN first (srlib train usrdu-dsn)")
    ctx = distributed.setup(device, data)
    run, dev, sit = runs.RunDir(out), ctx.device, situation(cfg.situation)
    speed = speed.check(dev)
    runs.seed_everything(cfg.seed)  # weight init (global torch RNG): the same on every rank
    gen = torch.Generator().manual_seed(ctx.seed(cfg.seed))  # this rank's data stream; cfg.seed itself on rank 0
    net_g, disc = RRDBNet(cfg.srn).to(dev), UNetDiscriminatorSN(cfg.disc).to(dev)
    if cfg.init_checkpoint:  # code: ESRGAN's PSNR-oriented RRDB_PSNR_x4.pth, strict
        net_g.load_state_dict(load_esrgan(cfg.init_checkpoint).state_dict())
    net_ema = copy.deepcopy(net_g).requires_grad_(False) if cfg.ema_decay > 0 else None
    vgg = speed.module(VGG19Features(cfg.vgg).to(dev))
    net_g, disc = speed.module(net_g), speed.module(disc)
    speed.compile_modules(net_g, disc, vgg)
    g_net = ctx.wrap(net_g)
    d_net = ctx.wrap(disc, sync_buffers=False)  # used by the D step; the G step calls ``disc``
    dsn = load_dsn_checkpoint(cfg.dsn_checkpoint, device=str(dev))
    quiet = quiet or not ctx.is_main
    if not quiet:
        print(f"usrdu-srn | profile {cfg.profile} | situation {sit.number} ({sit.label}) | seed {cfg.seed} | "
              f"VGG: {vgg.weights_source} | init: {cfg.init_checkpoint or 'random'}")
    hr_imgs, _, val = load_data(cfg.data, 4)
    cache = CachedDegradations(dsn, hr_imgs, quantize_mean=True)  # official: y_g stored as 8-bit PNG once
    sampler = SRNPairSampler(cache, cfg.lr_patch, ctx.local_batch(cfg.batch_size), gen, mode=sit.sampling,
                             scheme=cfg.scheme,
                             constant_scale=cfg.constant_scale)
    d_in = (lambda t: L.image_gradient(t, cfg.gradient_norm)) if sit.gradient_d else (lambda t: t)  # noqa: E731
    opt_g = torch.optim.Adam(net_g.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    sch_g = torch.optim.lr_scheduler.MultiStepLR(opt_g, milestones=list(cfg.milestones), gamma=cfg.gamma)
    sch_d = torch.optim.lr_scheduler.MultiStepLR(opt_d, milestones=list(cfg.milestones), gamma=cfg.gamma)
    parts = dict(net_g=net_g, disc=disc, opt_g=opt_g, opt_d=opt_d, sch_g=sch_g, sch_d=sch_d)  # the names in last.pt
    weights = {"net_g": net_g}  # what final.pt keeps
    if net_ema is not None:
        parts["net_g_ema"] = weights["net_g_ema"] = net_ema
    scaler_g, scaler_d = speed.scaler(dev), speed.scaler(dev)
    if scaler_g.is_enabled():
        parts.update(scaler_g=scaler_g, scaler_d=scaler_d)
    gens = {"data": gen}  # crops, flips and the Laplace noise all come from ``gen``
    if resume:  # checks kind and config; restores parts and RNG states (this rank's)
        step = runs.resume(run, KIND, cfg, parts, gens, ctx=ctx)
    else:
        step = 0
        if ctx.is_main:
            run.start_fresh()
    if ctx.is_main:
        run.save_config(cfg, stage=KIND, device=str(dev), world_size=ctx.world_size, data=data,
                        speed=speed.as_dict())

    def save(path, full: bool = True) -> None:
        # last.pt: everything needed to resume (every rank's streams are gathered); final.pt: the generator weights
        # (raw and EMA) only.
        state = runs.training_state(KIND, cfg, step, parts if full else weights, gens, full=full, ctx=ctx)
        if ctx.is_main:
            runs.save_checkpoint(path, state)

    net_g.train()
    disc.train()
    total = cfg.total_iters
    bar = runs.progress(range(step, total), total=total, initial=step, desc="SRN", disable=quiet)
    try:
        with runs.DeferInterrupt() as interrupt:
            for step in bar:
                t0 = time.perf_counter()
                # y_g + eps * theta (B, 3, P, P); HR (B, 3, 4P, 4P)
                lr_hat, hr = (ctx.take(speed.tensor(t.to(dev))) for t in next(sampler))
                with speed.autocast(dev):
                    sr = g_net(lr_hat)

                # G step (paper Eq. 12): beta1 L1 (+ code's low-pass L1) + beta2 perceptual + beta3 adversarial (Eq. 9)
                disc.requires_grad_(False)
                opt_g.zero_grad(set_to_none=True)
                with speed.autocast(dev):
                    l_pix = L.l1_loss(sr, hr)
                    l_low = L.lowpass_l1_loss(sr, hr) if cfg.w_lowpass else torch.zeros((), device=dev)
                    l_per = L.perceptual_l1_loss(vgg, sr, hr) if cfg.w_percep else torch.zeros((), device=dev)
                    l_adv = L.gan_loss(disc(d_in(sr)), True, "logits") if cfg.w_adv else torch.zeros((), device=dev)
                    loss = cfg.w_pixel * l_pix + cfg.w_lowpass * l_low + cfg.w_percep * l_per + cfg.w_adv * l_adv
                scaler_g.scale(loss).backward()  # DDP averages the generator's gradients over the ranks here
                scaler_g.step(opt_g)
                scaler_g.update()

                # D step (paper Eq. 10): G(HR) real, G(SR) fake; none in a pixel-only (PSNR-oriented) run
                d_real = d_fake = torch.zeros((), device=dev)
                if cfg.w_adv:
                    disc.requires_grad_(True)
                    opt_d.zero_grad(set_to_none=True)
                    with speed.autocast(dev):
                        d_real = L.gan_loss(d_net(d_in(hr)), True, "logits")
                    scaler_d.scale(d_real).backward()
                    with speed.autocast(dev):
                        d_fake = L.gan_loss(d_net(d_in(sr.detach())), False, "logits")
                    scaler_d.scale(d_fake).backward()
                    scaler_d.step(opt_d)
                    scaler_d.update()
                    sch_d.step()
                sch_g.step()
                if net_ema is not None:  # paper: EMA of the generator weights
                    with torch.no_grad():
                        for pe, p in zip(net_ema.parameters(), net_g.parameters()):
                            pe.mul_(cfg.ema_decay).add_(p, alpha=1 - cfg.ema_decay)
                step += 1

                logged = step % cfg.log_every == 0 or step == total
                if logged or callback is not None:  # reading the losses costs a GPU sync: not every step
                    rec = dict(step=step, loss=loss, l_pix=l_pix, l_low=l_low, l_per=l_per, l_adv=l_adv,
                               d_real=d_real, d_fake=d_fake, lr=sch_g.get_last_lr()[0],
                               sec_per_step=time.perf_counter() - t0)
                    rec = ctx.mean({k: (v.item() if torch.is_tensor(v) else v) for k, v in rec.items()})
                    if logged and ctx.is_main:
                        run.log.write(**rec)
                    if callback is not None:
                        callback(step, rec)
                if val and step % cfg.val_every == 0 and ctx.is_main:
                    res = _validate(net_ema if net_ema is not None else net_g, val, dev)
                    run.log.write(step=step, val_psnr=res["psnr"], val_ssim=res["ssim"])
                if step % cfg.save_every == 0 or step == total:
                    save(run.last)
                if ctx.any(interrupt.requested):  # every rank stops after the same step
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        # Raised between steps (the deferred Ctrl-C flag, or a callback): last.pt holds whole steps.
        save(run.last)
        raise runs.TrainingInterrupted(step, run.last) from None
    finally:
        bar.close()
    if step >= total:  # the (possibly max_iters-truncated) schedule is complete: weights-only snapshot
        save(run.final, full=False)
    return (net_ema if net_ema is not None else net_g).eval()


def pretrain_psnr(cfg: SRNTrainConfig, path, *, iters: int, lr: float = 5e-4, batch_size: int = 8,
                  quiet: bool = False) -> Path:
    """A PSNR-oriented RRDBNet trained with L1 on bicubic pairs (HR patch, MATLAB-bicubic LR), saved as an
    ESRGAN-named state dict at ``path`` for ``SRNTrainConfig.init_checkpoint``. ``cfg`` gives the network, the data,
    the patch size, Adam's betas and the seed.

    This stands in for ``RRDB_PSNR_x4.pth``, the ESRGAN model the official SRN starts from, when that file is not
    available (the tiny profile). Skipped if ``path`` exists.
    """
    path = Path(path)
    if path.is_file():
        return path
    from srlib.data import DASRPatchSampler

    gen = runs.seed_everything(cfg.seed)
    net = RRDBNet(cfg.srn)
    hr_imgs, _, _ = load_data(cfg.data, 4)
    sampler = DASRPatchSampler(hr_imgs, 4, cfg.lr_patch, batch_size, generator=gen)
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=tuple(cfg.betas))
    for _ in runs.progress(range(iters), desc="PSNR init", disable=quiet):
        hr = next(sampler)[:, 0]  # (B, 3, 4P, 4P), one crop per image
        loss = L.l1_loss(net(imresize(hr, 0.25)), hr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    runs.save_checkpoint(path, net.state_dict())
    return path


def cli_main(argv: Optional[list] = None) -> int:
    """``srlib train usrdu-srn --dsn-checkpoint C [--init-checkpoint RRDB_PSNR_x4.pth]`` plus the flags of
    ``srlib train usrdu-dsn`` (profile, situation, iters, seed, out, device, no-resume, VGG weights, data folders).

    Returns 0 when done, 130 after Ctrl-C (the state is saved; the same command resumes).
    """
    p = stage_parser("srn")
    p.add_argument("--dsn-checkpoint", required=True, help="srlib DSN final.pt or the authors' gen weights")
    p.add_argument("--init-checkpoint", help="RRDB_PSNR_x4.pth (official init), or an srlib SRN run's final.pt; "
                   "default: random init")
    p.add_argument("--pixel-only", action="store_true",
                   help="PSNR-oriented training (L1 only, no discriminator): the initialisation an SRN starts from")
    args = p.parse_args(argv)
    extra = {**PIXEL_ONLY, **(SMALL_PIXEL_ONLY if args.profile == "small" else {})} if args.pixel_only else {}
    cfg = config_from_args(SRNTrainConfig, args, dsn_checkpoint=args.dsn_checkpoint,
                           init_checkpoint=args.init_checkpoint, **extra)
    try:
        train_srn(cfg, args.out, resume=not args.no_resume, device=args.device, data=args.data_shard,
                  speed=speed_from_args(args))
    except runs.TrainingInterrupted as exc:
        if distributed.world()[0] == 0:
            print(f"\n{exc}", file=sys.stderr)
        return 130
    if distributed.world()[0] == 0:
        print(f"done: {runs.RunDir(args.out).final}")
    return 0
