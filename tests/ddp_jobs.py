"""Training jobs that tests/test_distributed.py runs under ``torchrun`` (one process per rank, gloo on the CPU).

``python -m torch.distributed.run --standalone --nproc_per_node N tests/ddp_jobs.py SPEC.json``: SPEC holds a list of
jobs, run one after the other in the same processes. Each job trains one of srlib's trainers into ``job["out"]`` and
every rank then saves what the tests compare into ``out/rank<r>.pt``: the trained network's state dict (DASR: with the
MoCo queue). The same config builders serve the one-process runs the tests compare with.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import replace

import torch

from srlib.dasr.config import DASRConfig
from srlib.dasr.ablations import ablation_config
from srlib.dasr.train import train_dasr
from srlib.dasr.train_config import DASRTrainConfig
from srlib.usrdu.discriminator import UNetDConfig
from srlib.usrdu.dsn import DSNConfig
from srlib.usrdu.rrdbnet import RRDBNetConfig
from srlib.usrdu.train_config import SITUATIONS, DSNTrainConfig, SRNTrainConfig
from srlib.usrdu.train_dsn import train_dsn
from srlib.usrdu.train_srn import train_srn
from srlib.usrdu.vgg import VGGConfig


def dasr_cfg(ablation: str = "model4", **kw) -> DASRTrainConfig:
    """A micro DASR run: 4 images x 2 patches of 8 px (global batch), 3 stage-1 (full DASR) and 3 stage-2 iterations."""
    base = dict(batch_size=4, patch_size=8, iters_per_epoch=3, epochs_encoder=1, epochs_sr=1, log_every=1,
                save_every=2, lr_decay_encoder=1, lr_decay_sr=1)
    base.update(kw)
    cfg = DASRTrainConfig.for_profile("tiny", ablation=ablation, scale=2)
    if not cfg.contrastive:  # Models 1 and 5 have no encoder-only stage: 3 joint iterations
        base["epochs_encoder"] = 0
    model = DASRConfig.for_profile("tiny", scale=2, n_feats=8, n_groups=1, n_blocks=1, enc_widths=(4, 8, 8),
                                   queue_size=16)
    return replace(cfg, model=ablation_config(ablation, model), **base)


def dsn_cfg(**kw) -> DSNTrainConfig:
    s = SITUATIONS[5]
    dsn = DSNConfig(n_feats=8, n_res_blocks=1, pixel_uncertainty=s.pixel_uncertainty,
                    feature_uncertainty=s.feature_uncertainty, sigma_widths=(4, 8, 8, 16))
    kw = {"batch_size": 4, "lr_patch": 16, "iters": 4, "log_every": 1, "val_every": 100, "save_every": 100,
          "dsn": dsn, "vgg": VGGConfig(weights="random", width_div=32), "disc": UNetDConfig(num_feat=4), **kw}
    return DSNTrainConfig.for_profile("tiny", 5, **kw)


def srn_cfg(dsn_checkpoint, **kw) -> SRNTrainConfig:
    kw = {"ema_decay": 0.9, "srn": RRDBNetConfig(nf=8, nb=1, gc=4), "vgg": VGGConfig(weights="random", width_div=32),
          "disc": UNetDConfig(num_feat=4), "batch_size": 4, "lr_patch": 8, "iters": 4, "log_every": 1,
          "val_every": 100, "save_every": 100, **kw}
    return SRNTrainConfig.for_profile("tiny", 5, dsn_checkpoint=str(dsn_checkpoint), **kw)


def run_job(job: dict):
    """Train ``job`` (kind, out, data, cfg overrides, optional device, slow_after, speed) and return the network."""
    from srlib.accel import Speed

    kind, overrides, device = job["kind"], dict(job.get("cfg", {})), job.get("device", "cpu")
    slow_after = job.get("slow_after")

    def callback(step, record):  # gives a test time to kill the run; changes no number
        if slow_after is not None and step > slow_after:
            time.sleep(0.5)

    common = dict(quiet=True, device=device, data=job.get("data", "rank"), resume=job.get("resume", True),
                  callback=callback if slow_after is not None else None, speed=Speed(**job.get("speed", {})))
    if kind == "dasr":
        return train_dasr(dasr_cfg(**overrides), job["out"], shuffle_bn=job.get("shuffle_bn", False), **common)
    if kind == "dsn":
        return train_dsn(dsn_cfg(**overrides), job["out"], **common)
    if kind == "srn":
        return train_srn(srn_cfg(job["dsn_checkpoint"], **overrides), job["out"], **common)
    raise ValueError(kind)


def main(spec_path: str) -> None:
    import torch.distributed as dist

    for job in json.loads(open(spec_path).read()):
        net = run_job(job)
        rank = dist.get_rank() if dist.is_initialized() else 0
        torch.save({k: v.detach().cpu().clone() for k, v in net.state_dict().items()}, f"{job['out']}/rank{rank}.pt")
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
