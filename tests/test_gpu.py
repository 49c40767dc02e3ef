"""CUDA paths: mixed precision in every trainer and in inference, and two torchrun ranks sharing one GPU.

Marked ``gpu``: deselected by default, run by ``pytest -m gpu`` (``make gpu-smoke`` does), skipped without CUDA
(tests/conftest.py).
"""
from __future__ import annotations

import pytest
import torch

import ddp_jobs
from srlib.runs import RunDir, load_checkpoint

pytestmark = pytest.mark.gpu  # tests/conftest.py skips these without CUDA


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_every_trainer_trains_under_amp(tmp_path, amp):
    speed = {"amp": amp, "channels_last": True}
    net = ddp_jobs.run_job({"kind": "dasr", "out": str(tmp_path / "dasr"), "device": "cuda", "speed": speed})
    assert all(torch.isfinite(p).all() for p in net.parameters())
    ddp_jobs.run_job({"kind": "dsn", "out": str(tmp_path / "dsn"), "device": "cuda", "speed": speed})
    srn = ddp_jobs.run_job({"kind": "srn", "out": str(tmp_path / "srn"), "device": "cuda", "speed": speed,
                            "dsn_checkpoint": str(RunDir(tmp_path / "dsn").final)})
    assert all(torch.isfinite(p).all() for p in srn.parameters())
    last = load_checkpoint(RunDir(tmp_path / "dsn").last)
    assert ("scaler_g" in last) == (amp == "fp16")


def test_bf16_inference_stays_within_a_hundredth_of_a_db():
    from srlib import zoo
    from srlib.data import builtin_images
    from srlib.degradations import degrade, isotropic_gaussian
    from srlib.inference import upscale
    from srlib.metrics import psnr

    model = zoo.load("dasr-small-x4-model4").model.cuda().eval()
    changes = []
    for _, hr in list(builtin_images("test"))[:3]:
        hr = hr[None, :, : hr.shape[1] // 4 * 4, : hr.shape[2] // 4 * 4]
        lr = degrade(hr, isotropic_gaussian(1.2), 4)
        a = psnr(upscale(model, lr).clamp(0, 1), hr, crop=4)
        b = psnr(upscale(model, lr, amp="bf16").clamp(0, 1), hr, crop=4)
        changes.append(float(b - a))
    assert abs(sum(changes) / len(changes)) < 0.01, changes


def test_two_ranks_share_one_gpu(tmp_path):
    from test_distributed import ranks, torchrun

    torchrun([{"kind": "dasr", "out": str(tmp_path / "dasr"), "device": "cuda"}], tmp_path)
    r0, r1 = ranks(tmp_path / "dasr")
    assert all(torch.equal(r0[k], r1[k]) for k in r0 if "running_" not in k)
