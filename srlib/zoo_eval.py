"""What the zoo's shipped checkpoints reach, measured one way: the numbers in ``srlib/weights/manifest.json``.

:func:`evaluate_entry` scores one shipped checkpoint on Set5 and Set14 (``$SRLIB_DATA``); ``benchmarks/bench_zoo.py``
writes its result into the manifest and ``tests/test_zoo_manifest.py`` recomputes it in CI and compares to 0.01 dB,
so a checkpoint cannot claim what it does not do.

* DASR (``srlib.dasr``): Y PSNR at x4 for the paper's Table 2 widths sigma = 0, 1.2, 2.4, 3.6 (synthetic-LR
  protocol of :func:`srlib.evaluate.evaluate_images`: MATLAB bicubic, symmetric border, noise-free), next to bicubic.
* USR-DU: the stand-in Track 1 made from the same HR images: LR = the seeded camera
  :class:`~srlib.degradations.RealWorldDegradation` (``seed=0``, the camera the ``small`` models were trained
  against, never on these images). The DSN is scored in the LR domain (its y_g against the camera's LR, next to
  bicubic downscaling, RGB, crop 4, as :func:`srlib.usrdu.train_dsn.dsn_validation`); SR networks with the USR-DU
  protocol of :func:`srlib.evaluate.evaluate_pairs` (RGB PSNR / SSIM at crop 4), plus NIQE for the GAN-trained SRN
  (the metric the paper uses where PSNR misleads), next to bicubic upscaling.
"""
from __future__ import annotations

import torch

from srlib.degradations import RealWorldDegradation, imresize
from srlib.degradations.presets import DegradationSpec
from srlib.evaluate import bicubic_upscaler, evaluate_images, evaluate_pairs, load_hr_images

__all__ = ["SETS", "SIGMAS_X4", "CAMERA_SEED", "TOLERANCE_DB", "evaluate_entry", "standin_pairs"]

#: The benchmark sets every shipped checkpoint is scored on (CI has them through ``$SRLIB_DATA``).
SETS = ("Set5", "Set14")
#: DASR Table 2's kernel widths at x4.
SIGMAS_X4 = (0.0, 1.2, 2.4, 3.6)
#: The stand-in camera of the USR-DU ``small`` profile (``DataConfig.realworld_seed``).
CAMERA_SEED = 0
#: How far a re-evaluated number may be from the manifest's (dB, and the same absolute amount for SSIM and NIQE).
TOLERANCE_DB = 0.01


def standin_pairs(images, scale: int = 4, seed: int = CAMERA_SEED) -> list:
    """``(name, camera LR, HR)`` triples: RGB HR cropped to a multiple of ``scale`` and its LR from the seeded camera
    (deterministic: the camera seeds its own noise per call)."""
    from srlib.data import modcrop, to_rgb

    cam = RealWorldDegradation(scale=scale, seed=seed)
    out = []
    for name, hr in images:
        hr = modcrop(to_rgb(hr), scale)
        out.append((name, cam(hr[None])[0], hr))
    return out


def _r(x: float) -> float:
    return round(float(x), 4)


def _dasr(path, images: list) -> dict:
    from srlib.models import load_upscaler

    up, bic = load_upscaler(path, device="cpu"), bicubic_upscaler(4)
    out = {}
    for sigma in SIGMAS_X4:
        spec = DegradationSpec(4, sigma=sigma)
        m = evaluate_images(up, images, 4, spec, with_ssim=False)["psnr"]
        b = evaluate_images(bic, images, 4, spec, with_ssim=False)["psnr"]
        out[f"sigma={sigma:g}"] = {"psnr": _r(m), "bicubic": _r(b), "gain": _r(m - b)}
    return out


def _dsn(path, images: list) -> dict:
    from srlib.metrics import psnr
    from srlib.models import load_model
    from srlib.degradations.noise import quantize

    dsn = load_model(path).model
    yg, bic = [], []
    with torch.no_grad():
        for _, lr, hr in standin_pairs(images):
            y = quantize(dsn(hr[None], feature_head=False).y_g)
            yg.append(float(psnr(y, lr[None], crop=4, y_channel=False)))
            bic.append(float(psnr(quantize(imresize(hr[None], 1 / 4)), lr[None], crop=4, y_channel=False)))
    m, b = sum(yg) / len(yg), sum(bic) / len(bic)
    return {"psnr_yg": _r(m), "psnr_bicubic": _r(b), "gain": _r(m - b)}


def _sr(path, images: list, niqe: bool) -> dict:
    from srlib.models import load_upscaler

    pairs = standin_pairs(images)
    m = evaluate_pairs(load_upscaler(path, device="cpu"), pairs, lpips=False, niqe=niqe)
    b = evaluate_pairs(bicubic_upscaler(4), pairs, lpips=False, niqe=niqe)
    out = {"psnr": _r(m["psnr"]), "ssim": _r(m["ssim"]), "bicubic_psnr": _r(b["psnr"]), "bicubic_ssim": _r(b["ssim"]),
           "gain": _r(m["psnr"] - b["psnr"])}
    if niqe:
        out.update(niqe=_r(m["niqe"]), bicubic_niqe=_r(b["niqe"]))
    return out


def evaluate_entry(name: str, path=None, data_dir=None) -> dict:
    """The metrics of shipped zoo entry ``name`` (file ``path``, default the zoo's) on each of :data:`SETS`.

    Returns ``{set: metrics}`` with the layouts described in the module docstring (floats rounded to 4 decimals).

    Raises:
        DataNotFound: Set5 / Set14 are not under ``data_dir`` (default ``$SRLIB_DATA``).
        UsageError: ``name`` is not a shipped entry this module knows how to score.
    """
    from srlib import zoo
    from srlib.errors import UsageError

    entry = zoo.entry(name)
    path = zoo.path(name) if path is None else path
    out = {}
    for dataset in SETS:
        images = load_hr_images(data_dir, dataset)
        if entry.kind == "srlib.dasr":
            out[dataset] = _dasr(path, images)
        elif entry.kind == "usrdu-dsn":
            out[dataset] = _dsn(path, images)
        elif entry.kind in ("usrdu-srn", "esrgan", "esrgan-basicsr"):
            out[dataset] = _sr(path, images, niqe="psnr-init" not in name)
        else:
            raise UsageError(f"zoo entry {name!r} ({entry.kind}) has no manifest evaluation")
    return out
