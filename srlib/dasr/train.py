"""Two-stage DASR training (paper Sec. 4.1; official ``trainer.py``), with the loop in plain sight.

Per iteration: draw B HR images x 2 crops, draw one degradation per image, synthesise the LR pair with Eq. 1, then

* **stage 1** (``epochs_encoder``): only the encoder learns, loss = L_degrad (InfoNCE through MoCo);
* **stage 2** (``epochs_sr``): the whole network, loss = L1(SR, HR) * 255 + L_degrad. The L1 is computed on [0, 1]
  images and multiplied by 255 so that it equals the official L1 on the 0-255 scale: the official 1:1 weighting of
  the two terms depends on that scale (reference Sec. 4).

One Adam optimizer over every trainable parameter (G and encoder_q) is created once; the learning rate is set from the
iteration counter (:meth:`DASRTrainConfig.lr_at`). Runs resume exactly from ``out/checkpoints/last.pt``: weights, key
encoder, queue, optimizer, iteration, sampler and every random stream are saved. Ctrl-C finishes the current iteration,
saves ``last.pt`` and re-raises ``KeyboardInterrupt``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from srlib.config import from_dict, to_dict
from srlib.dasr.moco import contrastive_accuracy
from srlib.dasr.network import RGB_RANGE, BlindSR
from srlib.dasr.train_config import DASRTrainConfig
from srlib.runs import DeferInterrupt, RunDir, capture_rng, load_checkpoint, pick_device, progress, restore_rng, save_checkpoint, seed_everything

#: Fields that may change between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("max_iters", "log_every", "save_every")


def training_images(cfg: DASRTrainConfig) -> list:
    """HR training images: ``(name, (3, H, W) float [0, 1])`` from the built-in split or ``(3, H, W)`` uint8 from a
    folder (uint8 keeps DF2K in 1/4 of the memory)."""
    from srlib.data import FolderDataset, builtin_images, to_rgb

    if cfg.data == "builtin":
        return builtin_images("train")
    ds = FolderDataset(cfg.data)
    return [(item["name"], (to_rgb(item["image"]) * 255).round().to(torch.uint8)) for item in ds]


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


def _check_resumable(saved: dict, cfg: DASRTrainConfig) -> None:
    now = {k: v for k, v in to_dict(cfg).items() if k not in RESUMABLE_CHANGES}
    then = {k: v for k, v in saved.items() if k not in RESUMABLE_CHANGES}
    if now != then:
        diff = sorted(k for k in set(now) | set(then) if now.get(k) != then.get(k))
        raise ValueError(f"cannot resume: the checkpoint was written with a different config (fields {diff}); "
                         "use another --out or resume=False")


def train_dasr(cfg: DASRTrainConfig, out: str | Path, *, resume: bool = True, device: str | None = None,
               callback=None, quiet: bool = False) -> BlindSR:
    """Train DASR as configured; write ``out/config.json``, ``out/metrics.jsonl`` and ``out/checkpoints/*.pt``.

    Args:
        cfg: the resolved training config (see :meth:`DASRTrainConfig.profile_config`).
        out: run folder. With ``resume`` and an existing ``checkpoints/last.pt`` the run continues from there.
        device: ``"cpu"``, ``"cuda"``, ... (default: CUDA if available).
        callback: optional ``callback(step, record)`` called after every iteration (``record`` = logged metrics).
        quiet: no progress bar.

    Returns:
        The trained :class:`BlindSR`, in eval mode, on ``device``.
    """
    from srlib.data import DASRPatchSampler

    dev = pick_device(device)
    run = RunDir(out)
    kernel_gen = seed_everything(cfg.seed)  # also seeds weight init (global torch RNG)
    noise_gen = torch.Generator(dev).manual_seed(cfg.seed + 2)
    model = BlindSR(cfg.model).to(dev)
    params = [p for p in model.parameters() if p.requires_grad]  # G + encoder_q (never encoder_k, MeanShift)
    optimizer = torch.optim.Adam(params, lr=cfg.lr_at(0), betas=tuple(cfg.betas))
    sampler = DASRPatchSampler(training_images(cfg), cfg.model.scale, cfg.patch_size, cfg.batch_size,
                               generator=torch.Generator().manual_seed(cfg.seed + 1))
    degradations = degradation_sampler(cfg)
    gens = {"kernel": kernel_gen, "noise": noise_gen}

    step = 0
    if resume and run.has_checkpoint():
        state = load_checkpoint(run.last, map_location=dev)
        _check_resumable(state["config"], cfg)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        sampler.load_state_dict(state["sampler"])
        restore_rng(state["rng"], gens)
        step = state["step"]
        run.log.truncate_after(step)
    elif run.log.path.exists():
        run.log.truncate_after(0)
    run.save_config(cfg, device=str(dev))

    def save(path: Path, full: bool = True) -> None:
        state = {"kind": "srlib.dasr", "config": to_dict(cfg), "step": step, "model": model.state_dict()}
        if full:  # everything needed to resume; snapshots stay weights-only (loadable with weights_only=True)
            state.update(optimizer=optimizer.state_dict(), sampler=sampler.state_dict(), rng=capture_rng(gens))
        save_checkpoint(path, state)

    model.train()
    total = cfg.total_iters
    bar = progress(total=total, initial=step, desc=f"DASR {cfg.ablation} {cfg.profile}", disable=quiet)
    try:
        with DeferInterrupt() as interrupt:
            while step < total:
                stage, lr = cfg.stage(step), cfg.lr_at(step)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                hr = sampler.sample().to(dev)  # (B, 2, 3, P*s, P*s) in [0, 1]
                deg = degradations.sample(cfg.batch_size, kernel_gen)  # one kernel + noise level per image
                lr_pair = synthesize(hr, deg.kernels.to(dev), deg.noise.to(dev), cfg.model.scale,
                                     generator=noise_gen, border=cfg.border)  # (B, 2, 3, P, P)
                l1 = torch.zeros((), device=dev)
                if stage == 1:  # encoder only: G is not called
                    _, logits, labels = model.contrast(lr_pair[:, 0], lr_pair[:, 1])
                else:
                    sr, logits, labels = model.forward_train(lr_pair, contrastive=cfg.contrastive,
                                                             kernel=deg.kernels.to(dev), noise=deg.noise.to(dev))
                    l1 = F.l1_loss(sr, hr[:, 0]) * RGB_RANGE  # = official L1 on the 0-255 scale
                l_con = F.cross_entropy(logits, labels) if logits is not None else torch.zeros((), device=dev)
                loss = l1 + l_con
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1

                record = {"step": step, "stage": stage, "loss": loss.item(), "l1": l1.item(),
                          "contrastive": l_con.item(), "lr": lr,
                          "acc": contrastive_accuracy(logits).item() if logits is not None else None}
                if step % cfg.log_every == 0 or step == total:
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
                if interrupt.requested:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        save(run.last)  # iteration boundary: resuming continues exactly
        bar.close()
        raise
    bar.close()
    if step >= total:
        save(run.snapshot("final"), full=False)
    return model.eval()


def model_from_checkpoint(state: dict) -> BlindSR:
    """Rebuild the :class:`BlindSR` (eval mode, CPU) of a loaded srlib DASR checkpoint dict."""
    if not isinstance(state, dict) or state.get("kind") != "srlib.dasr":
        raise ValueError(f"not an srlib DASR checkpoint (kind={getattr(state, 'get', lambda k: None)('kind')!r})")
    cfg = from_dict(DASRTrainConfig, state["config"])
    model = BlindSR(cfg.model)
    model.load_state_dict(state["model"])  # strict: every key and shape must match the config's model
    return model.eval()


def load_trained(path: str | Path, device: str | None = None) -> BlindSR:
    """A :class:`BlindSR` (eval mode) from a checkpoint written by :func:`train_dasr` (``last.pt``, ``final.pt`` ...)."""
    return model_from_checkpoint(load_checkpoint(path, map_location="cpu")).to(pick_device(device))


def cli_main(argv: list[str] | None = None) -> int:
    """``srlib train dasr --profile tiny|paper [--setting iso|aniso] [--scale N] [--ablation modelK] [--iters N]
    [--seed S] [--data DIR] [--device D] [--no-resume] --out DIR``."""
    p = argparse.ArgumentParser(prog="srlib train dasr", description="Train DASR (Wang et al., CVPR 2021).")
    p.add_argument("--profile", default="tiny", choices=("tiny", "paper"))
    p.add_argument("--setting", default="iso", choices=("iso", "aniso"))
    p.add_argument("--scale", type=int, default=4, choices=(2, 3, 4))
    p.add_argument("--ablation", default="model4", choices=[f"model{i}" for i in range(1, 6)])
    p.add_argument("--iters", type=int, default=None, help="stop after N iterations (truncates the schedule)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", default="builtin", help="folder of HR training images (default: built-in split)")
    p.add_argument("--device", default=None)
    p.add_argument("--no-resume", action="store_true", help="start from scratch even if OUT has a checkpoint")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    cfg = DASRTrainConfig.profile_config(args.profile, setting=args.setting, scale=args.scale,
                                         ablation=args.ablation, seed=args.seed, data=args.data,
                                         max_iters=args.iters)
    try:
        train_dasr(cfg, args.out, resume=not args.no_resume, device=args.device)
    except KeyboardInterrupt:
        print(f"\ninterrupted: state saved to {RunDir(args.out).last}; run the same command again to resume")
        return 130
    print(f"done: {Path(args.out) / 'checkpoints' / 'final.pt'}")
    return 0
