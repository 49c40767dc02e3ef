"""Scoring USR-DU the way the paper and the official code do: RGB PSNR / SSIM with a 4-pixel border crop, LPIPS.

* PSNR / SSIM: BasicSR ``calculate_psnr`` / ``calculate_ssim`` with ``test_y_channel: false`` and ``crop_border: 4``
  on 8-bit images (srlib.metrics with ``y_channel=False``, ``quantize=True``).
* LPIPS: AlexNet, linear calibration v0.1 (official ``PerceptualLoss(model='net-lin', net='alex')``), only when
  :func:`srlib.metrics.lpips_available` says the ImageNet AlexNet weights are on this machine; otherwise the
  string ``"unavailable"`` is reported, never a number from a random backbone.
* NIQE (used for NTIRE Track 2): not implemented; it needs the pristine-image model parameters
  (``niqe_pris_params.npz`` in BasicSR) that are not available offline, and the official ``niqe.py`` is missing from
  the repository, so it is reported as missing.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from srlib import metrics

NIQE_STATUS = "missing: needs BasicSR's niqe_pris_params.npz (pristine MVG model), not available offline"


def evaluate_upscaler(upscaler: Callable[[torch.Tensor], torch.Tensor], pairs: Sequence, crop: int = 4,
                      lpips: bool = True) -> dict:
    """Score ``upscaler`` on paired validation images.

    Args:
        upscaler: ``lr (1, 3, h, w) [0, 1] -> sr (1, 3, s h, s w) [0, 1]``.
        pairs: ``(name, lr (3, h, w), hr (3, s h, s w))`` float [0, 1] triples.
        crop: border pixels removed before scoring (paper/code: 4).
        lpips: compute LPIPS when its weights are available.

    Returns:
        ``{"psnr", "ssim": mean floats, "lpips": mean float or "unavailable", "niqe": status string,
        "per_image": [{"name", "psnr", "ssim"[, "lpips"]}]}``.

    >>> hr = torch.rand(3, 32, 32)
    >>> lr = torch.nn.functional.avg_pool2d(hr[None], 4)[0]
    >>> up = lambda x: torch.nn.functional.interpolate(x, scale_factor=4, mode="nearest")
    >>> r = evaluate_upscaler(up, [("x", lr, hr)], lpips=False)
    >>> sorted(r), r["lpips"]
    (['lpips', 'niqe', 'per_image', 'psnr', 'ssim'], 'unavailable')
    """
    use_lpips = lpips and metrics.lpips_available()
    lp = metrics.LPIPS() if use_lpips else None
    rows = []
    for name, lr, hr in pairs:
        sr = upscaler(lr[None])[0]
        if sr.shape != hr.shape:
            raise ValueError(f"{name}: SR {tuple(sr.shape)} vs HR {tuple(hr.shape)}; modcrop the HR to the scale")
        row = {"name": name,
               "psnr": float(metrics.psnr(sr, hr, crop=crop, y_channel=False)),
               "ssim": float(metrics.ssim(sr, hr, crop=crop, y_channel=False))}
        if lp is not None:
            q = lambda t: (t.clamp(0, 1) * 255).round()[None, :, crop:-crop, crop:-crop] / 255  # noqa: E731  uint8 as code
            row["lpips"] = float(lp(q(sr), q(hr)))
        rows.append(row)
    mean = lambda k: sum(r[k] for r in rows) / len(rows)  # noqa: E731
    return {"psnr": mean("psnr"), "ssim": mean("ssim"), "lpips": mean("lpips") if lp is not None else "unavailable",
            "niqe": NIQE_STATUS, "per_image": rows}
