"""USR-DU stage 1: training the downsampling network (paper Sec. 3.1, Eq. 7), as a visible loop.

Official iteration order (``trainer_down_byol_per_vgg19_l1.py``): generate once, update D on the detached y_g, then G
against the just-updated D. The run follows srlib's one trainer contract (:mod:`srlib.runs`): ``out/config.json``
holds the resolved config, ``out/checkpoints/last.pt`` everything needed to resume bit-identically (models,
optimisers, schedulers, step, every random stream), ``out/checkpoints/final.pt`` the weights once the (possibly
``max_iters``-truncated) schedule completes. Resuming checks that the config is the same. Ctrl-C finishes the current
step, saves ``last.pt`` and raises :class:`~srlib.runs.TrainingInterrupted`.

Under ``torchrun`` (:mod:`srlib.distributed`) the DSN and the discriminator are each wrapped in DistributedDataParallel
and every rank draws ``batch_size / N`` pairs with its own stream. The discriminator's spectral-norm vectors are copied
from rank 0 once, not before every forward pass (``sync_buffers=False``): their power iteration reads only the weights,
which DDP keeps identical, so they stay identical on every rank by themselves. The G step calls the unwrapped
discriminator, whose gradients it does not need.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Callable, Optional

import torch

from srlib import distributed, runs
from srlib.accel import Speed, add_speed_flags, speed_from_args
from srlib.checkpoints import check_state_dict
from srlib.config import from_dict
from srlib.data import UnpairedSampler
from srlib.degradations import imresize, quantize
from srlib.errors import CheckpointError, UsageError
from srlib.usrdu import losses as L
from srlib.usrdu.data import load_data
from srlib.usrdu.discriminator import UNetDiscriminatorSN
from srlib.usrdu.dsn import DSN, DSNConfig
from srlib.usrdu.official import load_dsn
from srlib.usrdu.train_config import SITUATIONS, DataConfig, DSNTrainConfig
from srlib.usrdu.vgg import VGG19Features, VGGConfig

KIND = "usrdu-dsn"


def dsn_validation(dsn: DSN, val_pairs, crop: int = 4) -> dict:
    """LR-domain PSNR between quantised y_g = DSN(HR) and the real validation LR (official ``--test_visible``), next to
    the bicubic y_b. RGB, ``crop`` border pixels. Runs in eval mode and leaves ``dsn`` in the mode it was in."""
    from srlib.metrics import psnr

    dev = next(dsn.parameters()).device
    rows = {"psnr_yg": [], "psnr_bicubic": []}
    was_training = dsn.training
    dsn.eval()
    try:
        with torch.no_grad():
            for _, lr, hr in val_pairs:
                y_g = quantize(dsn(hr[None].to(dev), feature_head=False).y_g.cpu())
                rows["psnr_yg"].append(float(psnr(y_g, lr[None], crop=crop, y_channel=False)))
                rows["psnr_bicubic"].append(float(psnr(imresize(hr[None], 1 / dsn.cfg.scale), lr[None], crop=crop,
                                                       y_channel=False)))
    finally:
        dsn.train(was_training)
    return {k: sum(v) / len(v) for k, v in rows.items()}


def train_dsn(cfg: DSNTrainConfig, out, *, resume: bool = True, device: Optional[str] = None, quiet: bool = False,
              callback: Optional[Callable[[int, dict], None]] = None, data: str = "rank",
              speed: Speed = Speed()) -> DSN:
    """Train the DSN as configured, or continue the run in ``out``.

    Args:
        cfg: the resolved config (:meth:`DSNTrainConfig.for_profile`); ``cfg.seed`` and ``cfg.max_iters`` included.
        out: run folder (``config.json``, ``metrics.jsonl``, ``checkpoints/last.pt`` and ``final.pt``). With
            ``resume`` and an existing ``last.pt`` the run continues from there (same config required).
        device: ``"cpu"``, ``"cuda"``, ... (default: CUDA if available).
        quiet: no banner, no progress bar.
        callback: optional ``callback(step, record)`` after every iteration (``record``: the step's losses as floats).
        data: under torchrun, how each rank draws its share of the global batch (:data:`srlib.distributed.DATA_MODES`).
        speed: mixed precision, channels-last, compilation (:class:`srlib.accel.Speed`; default: none).

    Returns:
        The trained :class:`DSN`, in eval mode, on ``device``.

    Raises:
        CheckpointError: ``last.pt`` was written by another kind of run or another config.
        TrainingInterrupted: after Ctrl-C, once ``last.pt`` holds the last whole step.
    """
    ctx = distributed.setup(device, data)
    run, dev = runs.RunDir(out), ctx.device
    speed = speed.check(dev)
    runs.seed_everything(cfg.seed)  # weight init (global torch RNG): the same on every rank
    gen = torch.Generator().manual_seed(ctx.seed(cfg.seed))  # this rank's data stream; cfg.seed itself on rank 0
    dsn, disc = speed.module(DSN(cfg.dsn).to(dev)), speed.module(UNetDiscriminatorSN(cfg.disc).to(dev))
    vgg = speed.module(VGG19Features(cfg.vgg).to(dev))
    speed.compile_modules(dsn, disc, vgg)
    g_net = ctx.wrap(dsn)
    d_net = ctx.wrap(disc, sync_buffers=False)  # used by the D step; the G step calls ``disc``
    quiet = quiet or not ctx.is_main
    if not quiet:
        print(f"usrdu-dsn | profile {cfg.profile} | situation {cfg.situation} | seed {cfg.seed} | "
              f"VGG: {vgg.weights_source}")
    hr_imgs, lr_imgs, val = load_data(cfg.data, cfg.dsn.scale)
    sampler = UnpairedSampler(hr_imgs, lr_imgs, cfg.dsn.scale, cfg.lr_patch, ctx.local_batch(cfg.batch_size),
                              generator=gen)
    opt_g = torch.optim.Adam(dsn.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    sch_g = torch.optim.lr_scheduler.MultiStepLR(opt_g, milestones=list(cfg.milestones), gamma=cfg.gamma)
    sch_d = torch.optim.lr_scheduler.MultiStepLR(opt_d, milestones=list(cfg.milestones), gamma=cfg.gamma)
    parts = dict(dsn=dsn, disc=disc, opt_g=opt_g, opt_d=opt_d, sch_g=sch_g, sch_d=sch_d)  # the names in last.pt
    scaler_g, scaler_d = speed.scaler(dev), speed.scaler(dev)
    if scaler_g.is_enabled():
        parts.update(scaler_g=scaler_g, scaler_d=scaler_d)
    gens = {"data": gen}  # the sampler draws from ``gen``, so its state travels with the RNG states
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
        # last.pt: everything needed to resume (every rank's streams are gathered); final.pt: the DSN weights only.
        state = runs.training_state(KIND, cfg, step, parts if full else {"dsn": dsn}, gens, full=full, ctx=ctx)
        if ctx.is_main:
            runs.save_checkpoint(path, state)

    dsn.train()
    disc.train()
    total = cfg.total_iters
    bar = runs.progress(range(step, total), total=total, initial=step, desc="DSN", disable=quiet)
    try:
        with runs.DeferInterrupt() as interrupt:
            for step in bar:
                t0 = time.perf_counter()
                hr, lr_real = (ctx.take(speed.tensor(t.to(dev))) for t in next(sampler))  # (B, 3, sP, sP), (B, 3, P, P)
                y_b = imresize(hr, 1 / cfg.dsn.scale)  # MATLAB bicubic target, (B, 3, P, P)
                with speed.autocast(dev):
                    out_g = g_net(hr)

                # D step (paper Eq. 6): real LR vs detached y_g, both through the high-pass F
                disc.requires_grad_(True)
                opt_d.zero_grad(set_to_none=True)
                with speed.autocast(dev):
                    d_real = L.gan_loss(d_net(L.high_pass(lr_real)), True, cfg.gan_form)
                    d_fake = L.gan_loss(d_net(L.high_pass(out_g.y_g.detach())), False, cfg.gan_form)
                scaler_d.scale(d_real + d_fake).backward()
                scaler_d.step(opt_d)
                scaler_d.update()

                # G step (paper Eq. 7): alpha1 L_kl + alpha2 L_kl_per + alpha3 L_adv against the updated D
                disc.requires_grad_(False)
                opt_g.zero_grad(set_to_none=True)
                with speed.autocast(dev):
                    l_kl = L.pixel_kl_loss(out_g.y_g, out_g.log_theta, y_b, cfg.content)
                    with torch.no_grad():
                        feat_b = vgg(y_b)
                    l_per = L.perceptual_kl_loss(vgg(out_g.y_g), out_g.log_sigma, feat_b)
                    l_adv = L.gan_loss(disc(L.high_pass(out_g.y_g)), True, cfg.gan_form)
                    loss = cfg.alpha_kl * l_kl + cfg.alpha_per * l_per + cfg.alpha_adv * l_adv
                scaler_g.scale(loss).backward()  # DDP averages the DSN's gradients over the ranks here
                scaler_g.step(opt_g)
                scaler_g.update()
                sch_g.step()
                sch_d.step()
                step += 1  # steps completed

                logged = step % cfg.log_every == 0 or step == total
                if logged or callback is not None:  # reading the losses costs a GPU sync: not every step
                    rec = dict(step=step, loss=loss, l_kl=l_kl, l_per=l_per, l_adv=l_adv, d_real=d_real,
                               d_fake=d_fake, lr=sch_g.get_last_lr()[0], sec_per_step=time.perf_counter() - t0)
                    if out_g.log_theta is not None:
                        rec["theta_mean"] = out_g.log_theta.detach().exp().mean()
                    rec = ctx.mean({k: (v.item() if torch.is_tensor(v) else v) for k, v in rec.items()})
                    if logged and ctx.is_main:
                        run.log.write(**rec)
                    if callback is not None:
                        callback(step, rec)
                if val and step % cfg.val_every == 0 and ctx.is_main:
                    run.log.write(step=step, **dsn_validation(dsn, val))
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
    return dsn.eval()


def load_dsn_checkpoint(path, device: Optional[str] = None) -> DSN:
    """A DSN (eval mode) from an srlib DSN run (``final.pt`` / ``last.pt``) or from the authors' ``gen`` weights.

    Loads through :func:`srlib.runs.load_checkpoint` (``weights_only``: no code from the file runs).

    Raises:
        CheckpointError: not a DSN checkpoint, a config this srlib cannot rebuild, or weights that do not match it
            (:class:`~srlib.checkpoints.StateDictMismatch`, listing the keys).
    """
    state = runs.load_checkpoint(path, map_location="cpu", what="DSN checkpoint")
    kind = state.get("kind") if isinstance(state, dict) else None
    if kind == KIND:
        try:
            net = DSN(from_dict(DSNConfig, state["config"]["dsn"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path} is a USR-DU DSN checkpoint whose config this srlib cannot rebuild "
                                  f"({exc})") from None
        check_state_dict(net, state.get("dsn", {}), f"{path} (srlib USR-DU DSN)")
        net.load_state_dict(state["dsn"])
    elif kind is not None:
        raise CheckpointError(f"{path} is a {kind!r} checkpoint, not a USR-DU DSN ({KIND!r}); give the final.pt of "
                              "an srlib train usrdu-dsn run or the authors' DSN weights")
    else:
        net = load_dsn(state)
    return net.to(runs.pick_device(device)).eval()


# ---- command line (shared with srlib.usrdu.train_srn) ------------------------------------------------------------
def stage_parser(stage: str) -> argparse.ArgumentParser:
    """The flags both stages share; ``choices`` come from the config classes, never retyped."""
    p = argparse.ArgumentParser(prog=f"srlib train usrdu-{stage}",
                                description=f"Train the USR-DU {stage.upper()} (Ning et al., IJCAI 2022).")
    p.add_argument("--profile", default="tiny", choices=DSNTrainConfig.PROFILES)
    p.add_argument("--situation", type=int, default=5, choices=sorted(SITUATIONS), help="paper Table 1 row")
    p.add_argument("--iters", type=int, help="stop after N iterations (max_iters; truncates the schedule)")
    p.add_argument("--seed", type=int, default=None, help="global seed (default: the profile's, 0)")
    p.add_argument("--out", required=True, help="run folder; an interrupted run in it resumes")
    p.add_argument("--device")
    p.add_argument("--no-resume", action="store_true", help="start from scratch even if OUT has a checkpoint")
    p.add_argument("--vgg-weights", help="path to vgg19-dcbb9e9d.pth (else $SRLIB_VGG19_WEIGHTS or the hub cache)")
    p.add_argument("--hr-dir", help="HR training images (paper: DIV2K HR)")
    p.add_argument("--lr-dir", help="real LR training images (paper: NTIRE 2020 Track 1 corrupted_train_x)")
    p.add_argument("--val-hr-dir", help="validation HR images (Track 1 corrupted_valid_y)")
    p.add_argument("--val-lr-dir", help="validation LR images (Track 1 corrupted_valid_x)")
    distributed.add_data_flag(p)
    add_speed_flags(p)
    return p


def config_from_args(cls, args, **fields):
    """``cls.for_profile`` from parsed :func:`stage_parser` flags (plus ``fields``). Raises UsageError."""
    if args.profile not in ("tiny", "small") and (args.hr_dir is None or args.lr_dir is None):
        raise UsageError(f"profile {args.profile} needs --hr-dir (DIV2K HR) and --lr-dir (NTIRE 2020 Track 1 "
                         "corrupted_train_x or RealSR Canon LR); see srlib.data.registry")
    if args.iters is not None and args.iters < 1:
        raise UsageError(f"--iters must be >= 1, got {args.iters}")
    fields["max_iters"] = args.iters
    folders = (args.hr_dir, args.lr_dir, args.val_hr_dir, args.val_lr_dir)
    if any(f is not None for f in folders):  # else the profile's data (tiny, small: the built-in stand-in)
        fields["data"] = DataConfig(*folders)
    if args.seed is not None:
        fields["seed"] = args.seed
    if args.vgg_weights:  # the full-width ImageNet VGG19 (tiny's random stand-in is narrower)
        fields["vgg"] = VGGConfig(weights="imagenet", weights_path=args.vgg_weights)
    return cls.for_profile(args.profile, args.situation, **fields)


def cli_main(argv: Optional[list] = None) -> int:
    """``srlib train usrdu-dsn --profile tiny|small|paper|official [--situation 1..5] [--iters N] [--seed S] --out DIR
    [--device D] [--no-resume] [--vgg-weights F] [--hr-dir D --lr-dir D --val-hr-dir D --val-lr-dir D]``.

    Returns 0 when done, 130 after Ctrl-C (the state is saved; the same command resumes).
    """
    args = stage_parser("dsn").parse_args(argv)
    cfg = config_from_args(DSNTrainConfig, args)
    try:
        train_dsn(cfg, args.out, resume=not args.no_resume, device=args.device, data=args.data_shard,
                  speed=speed_from_args(args))
    except runs.TrainingInterrupted as exc:
        if distributed.world()[0] == 0:
            print(f"\n{exc}", file=sys.stderr)
        return 130
    if distributed.world()[0] == 0:
        print(f"done: {runs.RunDir(args.out).final}")
    return 0
