"""Two-stage DASR training (paper Sec. 4.1; official ``trainer.py``), with the loop in plain sight.

Per iteration: draw B HR images x 2 crops, draw one degradation per image, synthesise the LR pair with Eq. 1, then

* **stage 1** (``epochs_encoder``): only the encoder learns, loss = L_degrad (InfoNCE through MoCo);
* **stage 2** (``epochs_sr``): the whole network, loss = L1(SR, HR) * 255 + L_degrad. The L1 is computed on [0, 1]
  images and multiplied by 255 so that it equals the official L1 on the 0-255 scale: the official 1:1 weighting of
  the two terms depends on that scale (reference Sec. 4).

One Adam optimizer over every trainable parameter (G and encoder_q) is created once; the learning rate is set from the
iteration counter (:meth:`DASRTrainConfig.lr_at`). The run follows srlib's one trainer contract (:mod:`srlib.runs`):
``out/checkpoints/last.pt`` holds weights, key encoder, queue, optimizer, sampler, iteration and every random stream,
so a run resumes exactly; Ctrl-C finishes the current iteration, saves ``last.pt`` and raises
:class:`srlib.runs.TrainingInterrupted`; ``final.pt`` is a weights-only snapshot of the finished schedule.

Under ``torchrun`` (:mod:`srlib.distributed`) each rank draws ``batch_size / N`` images with its own streams, the
network is wrapped in DistributedDataParallel, and MoCo enqueues the keys of all ranks (:func:`srlib.dasr.moco`), so
the queue grows by the global batch on every rank, as in a one-process run. Shuffle-BN is an option (``shuffle_bn``,
``--shuffle-bn``), off by default as in the official code (why it exists: :mod:`srlib.dasr.moco`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from srlib import distributed, runs
from srlib.accel import Speed, add_speed_flags, speed_from_args
from srlib.checkpoints import check_state_dict
from srlib.config import from_dict
from srlib.dasr.ablations import ABLATIONS
from srlib.dasr.config import SCALES
from srlib.dasr.moco import contrastive_accuracy
from srlib.dasr.network import RGB_RANGE, BlindSR
from srlib.dasr.train_config import SETTINGS, DASRTrainConfig
from srlib.errors import CheckpointError

#: The ``kind`` tag of srlib DASR checkpoints (read by the loaders).
KIND = "srlib.dasr"


def training_images(cfg: DASRTrainConfig) -> list:
    """HR training images of ``cfg.data`` as ``(name, (3, H, W) uint8)``: ``"builtin"``, a folder, a named corpus or
    several joined with ``+`` (see :func:`srlib.data.training.load_training_images`)."""
    from srlib.data.training import load_training_images

    return load_training_images(cfg.data)


def degradation_sampler(cfg: DASRTrainConfig):
    """The training distribution of kernels and noise levels for ``cfg.setting`` (paper Sec. 4.1)."""
    from srlib.degradations import AnisoTrain, IsoTrain

    if cfg.setting == "iso":
        return IsoTrain(cfg.model.scale, sigma_min=cfg.sigma_min, sigma_max=cfg.sigma_max,
                        kernel_size=cfg.model.kernel_size)
    return AnisoTrain(cfg.model.scale, lambda_min=cfg.lambda_min, lambda_max=cfg.lambda_max,
                      noise_max=cfg.noise_max, kernel_size=cfg.model.kernel_size)


def synthesize(hr: torch.Tensor, kernels: torch.Tensor, noise: torch.Tensor, scale: int, *,
               generator: torch.Generator | None, border: str = "replicate") -> torch.Tensor:
    """LR pairs from HR pairs: (B, 2, 3, P*s, P*s) [0, 1] -> (B, 2, 3, P, P) [0, 1] on the 8-bit grid.

    Both crops of image b get kernel ``kernels[b]`` (B, k, k) and noise level ``noise[b]`` (B,), 0-255 scale.
    """
    from srlib.degradations import degrade

    b, n = hr.shape[:2]
    flat = hr.reshape(b * n, *hr.shape[2:])
    lr = degrade(flat, kernels.repeat_interleave(n, 0), scale, noise.repeat_interleave(n, 0),
                 generator=generator, border=border)
    return lr.view(b, n, *lr.shape[1:])


class TrainForward(nn.Module):
    """The training forward of :class:`BlindSR` as a module's ``forward``, so that DistributedDataParallel (which only
    sees ``forward``) wraps it: stage 1 is the MoCo step (``contrast``), stage 2 ``forward_train``.

    Returns ``(sr or None, logits or None, labels or None)``. It owns no parameters of its own: its state is the
    model's, under the key prefix ``model.``.
    """

    def __init__(self, model: BlindSR):
        super().__init__()
        self.model = model

    def forward(self, stage: int, lr_pair: torch.Tensor, kernel: torch.Tensor, noise: torch.Tensor,
                contrastive: bool):
        if stage == 1:  # encoder only: G is not called
            _, logits, labels = self.model.contrast(lr_pair[:, 0], lr_pair[:, 1])
            return None, logits, labels
        return self.model.forward_train(lr_pair, contrastive=contrastive, kernel=kernel, noise=noise)


def train_dasr(cfg: DASRTrainConfig, out: str | Path, *, resume: bool = True, device: str | None = None,
               quiet: bool = False, callback=None, data: str = "rank", speed: Speed = Speed(),
               shuffle_bn: bool = False) -> BlindSR:
    """Train DASR as configured; write ``out/config.json``, ``out/metrics.jsonl`` and ``out/checkpoints/*.pt``.

    Args:
        cfg: the resolved training config (see :meth:`DASRTrainConfig.for_profile`).
        out: run folder. With ``resume`` and an existing ``checkpoints/last.pt`` the run continues from there.
        resume: ``False`` starts from scratch even if ``out`` holds a run (its checkpoints are deleted first).
        device: ``"cpu"``, ``"cuda"``, ... (default: CUDA if available).
        quiet: no progress bar.
        callback: optional ``callback(step, record)`` called after every iteration (``record`` = logged metrics).
        data: under torchrun, how each rank draws its share of the global batch (:data:`srlib.distributed.DATA_MODES`).
        speed: mixed precision, channels-last, compilation (:class:`srlib.accel.Speed`; default: none).
        shuffle_bn: MoCo's shuffle-BN across ranks (:mod:`srlib.dasr.moco`; no effect with one process).

    Returns:
        The trained :class:`BlindSR`, in eval mode, on ``device``.

    Raises:
        CheckpointError: ``out`` holds a checkpoint of another kind or config; the message says how to start again.
        TrainingInterrupted: after Ctrl-C, once ``last.pt`` holds the last whole iteration.
    """
    from srlib.data import DASRPatchSampler

    ctx = distributed.setup(device, data)
    dev = ctx.device
    speed = speed.check(dev)
    run = runs.RunDir(out)
    runs.seed_everything(cfg.seed)  # weight init (global torch RNG): the same on every rank
    seed = ctx.seed(cfg.seed)  # this rank's data streams; cfg.seed itself on rank 0
    kernel_gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator(dev).manual_seed(seed + 2)
    model = speed.module(BlindSR(cfg.model).to(dev))
    # --compile: the SR net and the encoders, in place; MoCo's queue bookkeeping stays eager
    speed.compile_modules(model.G, *((model.E.encoder_q, model.E.encoder_k) if not model.oracle else (model.E,)))
    if shuffle_bn and not model.oracle:
        model.E.shuffle_bn = True
    params = [p for p in model.parameters() if p.requires_grad]  # G + encoder_q (never encoder_k, MeanShift)
    optimizer = torch.optim.Adam(params, lr=cfg.lr_at(0), betas=tuple(cfg.betas))
    batch = ctx.local_batch(cfg.batch_size)  # images this rank draws (the global batch in "slice" mode)
    sampler = DASRPatchSampler(training_images(cfg), cfg.model.scale, cfg.patch_size, batch,
                               generator=torch.Generator().manual_seed(seed + 1))
    degradations = degradation_sampler(cfg)
    gens = {"kernel": kernel_gen, "noise": noise_gen}
    parts = {"model": model, "optimizer": optimizer, "sampler": sampler}  # the names of every srlib DASR last.pt
    scaler = speed.scaler(dev)
    if scaler.is_enabled():
        parts["scaler"] = scaler
    wrapped = {}

    def net_for(stage: int):
        # One DDP wrapper per stage, built when the stage starts (the previous one is dropped with its hooks). Stage 1
        # leaves G without gradients and Model 1 the projection head, so DDP must look for unused parameters there;
        # full DASR's stage 2 uses every parameter and skips that search.
        if stage not in wrapped:
            wrapped.clear()
            unused = stage == 1 or not (cfg.contrastive and cfg.model.source == "encoder")
            wrapped[stage] = ctx.wrap(TrainForward(model), find_unused_parameters=unused)
        return wrapped[stage]

    if resume:
        # Loaded on the CPU: RNG states must be CPU tensors; the model and optimizer copy theirs to ``dev``.
        step = runs.resume(run, KIND, cfg, parts, gens, rank_parts=("sampler",), ctx=ctx)
    else:
        step = 0
        if ctx.is_main:
            run.start_fresh()
    if ctx.is_main:
        run.save_config(cfg, device=str(dev), world_size=ctx.world_size, data=data, speed=speed.as_dict(),
                        shuffle_bn=shuffle_bn)

    def save(path: Path, full: bool = True) -> None:
        # last.pt: everything needed to resume (every rank takes part: their streams are gathered); snapshots
        # (stage1.pt, final.pt): the weights only. Rank 0 writes.
        state = runs.training_state(KIND, cfg, step, parts if full else {"model": model}, gens, full=full,
                                    rank_parts=("sampler",), ctx=ctx)
        if ctx.is_main:
            runs.save_checkpoint(path, state)

    model.train()
    total = cfg.total_iters
    bar = runs.progress(total=total, initial=step, desc=f"DASR {cfg.ablation} {cfg.profile}",
                        disable=quiet or not ctx.is_main)
    try:
        with runs.DeferInterrupt() as interrupt:
            while step < total:
                stage, lr = cfg.stage(step), cfg.lr_at(step)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                hr = sampler.sample().to(dev)  # (B, 2, 3, P*s, P*s) in [0, 1]
                deg = degradations.sample(batch, kernel_gen)  # one kernel + noise level per image
                kernel, noise = deg.kernels.to(dev), deg.noise.to(dev)
                lr_pair = synthesize(hr, kernel, noise, cfg.model.scale,
                                     generator=noise_gen, border=cfg.border)  # (B, 2, 3, P, P)
                hr, kernel, noise, lr_pair = (ctx.take(t) for t in (hr, kernel, noise, lr_pair))  # "slice" mode
                l1 = torch.zeros((), device=dev)
                with speed.autocast(dev):
                    sr, logits, labels = net_for(stage)(stage, lr_pair, kernel, noise, cfg.contrastive)
                    if sr is not None:
                        l1 = F.l1_loss(sr, hr[:, 0]) * RGB_RANGE  # = official L1 on the 0-255 scale
                    l_con = F.cross_entropy(logits, labels) if logits is not None else torch.zeros((), device=dev)
                    loss = l1 + l_con
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()  # DDP averages the gradients over the ranks here
                scaler.step(optimizer)
                scaler.update()
                step += 1

                record = {"step": step, "stage": stage, "loss": loss.item(), "l1": l1.item(),
                          "contrastive": l_con.item(), "lr": lr,
                          "acc": contrastive_accuracy(logits).item() if logits is not None else None}
                logged = step % cfg.log_every == 0 or step == total
                if logged or callback is not None:
                    record = ctx.mean(record)  # the mean over ranks
                if logged and ctx.is_main:
                    run.log.write(**record)
                bar.update(1)
                if step % 10 == 0:
                    bar.set_postfix(stage=stage, loss=f"{record['loss']:.3f}", refresh=False)
                if step == cfg.stage1_iters and cfg.stage1_iters:
                    save(run.snapshot("stage1"), full=False)
                if step % cfg.save_every == 0 or step == total:
                    save(run.last)
                if callback is not None:
                    callback(step, record)
                if ctx.any(interrupt.requested):  # every rank stops after the same step
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        # Raised between iterations (the deferred Ctrl-C flag, or a callback): last.pt resumes exactly.
        save(run.last)
        raise runs.TrainingInterrupted(step, run.last) from None
    finally:
        bar.close()
    if step >= total:
        save(run.final, full=False)
    return model.eval()


def model_from_checkpoint(state: dict) -> BlindSR:
    """Rebuild the :class:`BlindSR` (eval mode, CPU) of a loaded srlib DASR checkpoint dict.

    Raises:
        CheckpointError: not an srlib DASR checkpoint, a config this srlib cannot read, or weights that do not
            match the config's model (the message lists the differing keys).
    """
    if not isinstance(state, dict) or state.get("kind") != KIND:
        got = state.get("kind") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"not an srlib DASR checkpoint (kind={got!r})")
    try:
        cfg = from_dict(DASRTrainConfig, state["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"the DASR checkpoint's config cannot be read by this srlib: {exc}") from None
    model = BlindSR(cfg.model)
    check_state_dict(model, state.get("model", {}), "srlib DASR checkpoint")  # every key and shape, listed
    model.load_state_dict(state["model"])
    return model.eval()


def load_trained(path: str | Path, device: str | None = None) -> BlindSR:
    """A :class:`BlindSR` (eval mode) from a checkpoint written by :func:`train_dasr` (``last.pt``, ``final.pt`` ...).

    The file is read with :func:`srlib.runs.load_checkpoint` (tensors and plain data only, never code).
    """
    state = runs.load_checkpoint(path, map_location="cpu", what="DASR checkpoint")
    return model_from_checkpoint(state).to(runs.pick_device(device))


def cli_main(argv: list[str] | None = None) -> int:
    """``srlib train dasr --out DIR [--profile tiny|small|paper] [--setting S] [--scale N] [--ablation modelK] [--iters N]
    [--seed S] [--data DIR] [--device D] [--no-resume]``; 0 when the schedule completes, 130 after Ctrl-C."""
    p = argparse.ArgumentParser(prog="srlib train dasr", description="Train DASR (Wang et al., CVPR 2021).")
    p.add_argument("--profile", default="tiny", choices=DASRTrainConfig.PROFILES)
    p.add_argument("--setting", default="iso", choices=SETTINGS)
    p.add_argument("--scale", type=int, default=4, choices=SCALES)
    p.add_argument("--ablation", default="model4", choices=tuple(ABLATIONS), help="Table 1 row; model4 = full DASR")
    p.add_argument("--iters", type=int, default=None, help="stop after N iterations (truncates the schedule)")
    p.add_argument("--sr-iters", type=int, default=None,
                   help="resize stage 2 to about N iterations, its learning-rate halvings at the same fractions")
    p.add_argument("--seed", type=int, default=None, help="global seed (default: the profile's, 1)")
    p.add_argument("--data", default=None, help="HR training images: 'builtin', a folder, 'SunHays80', or several "
                   "joined with '+' (default: the profile's; small = builtin+SunHays80)")
    p.add_argument("--device", default=None)
    p.add_argument("--no-resume", action="store_true", help="start from scratch even if OUT has a checkpoint")
    p.add_argument("--out", required=True)
    distributed.add_data_flag(p)
    p.add_argument("--shuffle-bn", action="store_true", help="MoCo shuffle-BN across torchrun ranks (official: off)")
    add_speed_flags(p)
    args = p.parse_args(argv)
    overrides = {"max_iters": args.iters}
    if args.data is not None:
        overrides["data"] = args.data
    if args.seed is not None:
        overrides["seed"] = args.seed
    cfg = DASRTrainConfig.for_profile(args.profile, setting=args.setting, scale=args.scale, ablation=args.ablation,
                                      **overrides)
    if args.sr_iters is not None:
        cfg = cfg.scaled_sr(args.sr_iters)
    try:
        train_dasr(cfg, args.out, resume=not args.no_resume, device=args.device, data=args.data_shard,
                   speed=speed_from_args(args), shuffle_bn=args.shuffle_bn)
    except runs.TrainingInterrupted as exc:
        if distributed.world()[0] == 0:
            print(f"\n{exc}", file=sys.stderr)
        return 130
    if distributed.world()[0] == 0:
        print(f"done: {runs.RunDir(args.out).final}")
    return 0
