"""USR-DU training entry points: both stages, the Table 1 situations and the command line.

* :func:`train_dsn` (:mod:`srlib.usrdu.dsn_training`): stage 1, the downsampling network.
* :func:`train_srn`, :func:`pretrain_psnr`, :func:`load_upscaler` (:mod:`srlib.usrdu.srn_training`): stage 2.
* :class:`DSNTrainConfig`, :class:`SRNTrainConfig`, ``SITUATIONS``, ``PAPER_TABLE1`` (:mod:`srlib.usrdu.configs`).
* :func:`cli_main`: ``srlib train usrdu-dsn|usrdu-srn`` (the top-level CLI forwards its arguments here).
"""
from __future__ import annotations

import argparse
import dataclasses

from srlib.usrdu.configs import (PAPER_TABLE1, SITUATIONS, DataConfig, DSNTrainConfig, SRNTrainConfig,
                                 situation)
from srlib.usrdu.dsn_training import dsn_validation, load_dsn_checkpoint, train_dsn
from srlib.usrdu.srn_training import Upscaler, load_upscaler, pretrain_psnr, train_srn
from srlib.usrdu.training_utils import load_data

__all__ = ["PAPER_TABLE1", "SITUATIONS", "DataConfig", "DSNTrainConfig", "SRNTrainConfig", "situation",
           "dsn_validation", "load_dsn_checkpoint", "train_dsn", "Upscaler", "load_upscaler", "pretrain_psnr",
           "train_srn", "load_data", "cli_main"]


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
    cfg = dataclasses.replace(cfg, **over)
    fn = train_dsn if stage == "dsn" else train_srn
    path = fn(cfg, a.out, seed=a.seed, device=a.device)
    print(f"saved {path}")
    return 0
