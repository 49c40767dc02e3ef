"""Plumbing shared by the two USR-DU training loops: data, optimisers, resuming, deferred Ctrl-C."""
from __future__ import annotations

import functools

import torch

from srlib.data import FolderDataset, builtin_images, modcrop
from srlib.degradations import RealWorldDegradation
from srlib.runs import RunDir, load_checkpoint, restore_rng
from srlib.usrdu.configs import DataConfig


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


def adam(params, lr, betas):
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas))


def multistep(opt, cfg):
    return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.gamma)


def resume(run: RunDir, parts: dict, generators: dict, dev) -> int:
    if not run.has_checkpoint():
        return 0
    state = load_checkpoint(run.last, map_location=dev)
    for k, v in parts.items():
        v.load_state_dict(state[k])
    restore_rng(state["rng"], generators)
    run.log.truncate_after(state["step"])
    return state["step"]
