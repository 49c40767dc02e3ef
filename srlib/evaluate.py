"""Benchmark evaluation: degrade HR images with a fixed degradation, super-resolve, and score PSNR / SSIM.

This is the engine behind ``srlib evaluate``. The protocol follows the DASR test code (reference §5): HR is cropped
top-left to a multiple of the scale, LR is synthesised with a fixed kernel (and noise, seeded per image), the SR output
is quantised to 8 bits, and PSNR / SSIM are computed on the Y channel with ``scale`` pixels cropped from every border.
USR-DU's protocol (RGB, 4-pixel crop) is available with ``y_channel=False, crop=4``.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from srlib.data.io import modcrop, read_image
from srlib.degradations import degrade, imresize
from srlib.degradations.kernels import anisotropic_gaussian, isotropic_gaussian
from srlib.degradations.noise import quantize
from srlib.metrics import psnr, ssim

IMAGE_EXTS = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff")


@dataclass(frozen=True)
class FixedDegradation:
    """One fixed test degradation: an isotropic (``sigma``) or anisotropic (``lambda1, lambda2, theta_deg``) Gaussian
    kernel, 21x21, plus Gaussian noise ``noise`` on the 0-255 scale. ``sigma=0`` means no blur (pure bicubic)."""

    sigma: float = 0.0
    lambda1: float | None = None
    lambda2: float | None = None
    theta_deg: float = 0.0
    noise: float = 0.0

    def __post_init__(self):
        if (self.lambda1 is None) != (self.lambda2 is None):
            raise ValueError("give both lambda1 and lambda2 for an anisotropic kernel")
        if self.sigma < 0 or self.noise < 0:
            raise ValueError(f"sigma and noise must be >= 0, got sigma={self.sigma}, noise={self.noise}")

    @property
    def anisotropic(self) -> bool:
        return self.lambda1 is not None

    def kernel(self) -> torch.Tensor | None:
        """The (21, 21) float32 kernel, or ``None`` for no blur."""
        if self.anisotropic:
            return anisotropic_gaussian(self.lambda1, self.lambda2, math.radians(self.theta_deg))
        if self.sigma == 0:
            return None
        return isotropic_gaussian(self.sigma)

    def label(self) -> str:
        base = (f"aniso(l1={self.lambda1}, l2={self.lambda2}, theta={self.theta_deg} deg)" if self.anisotropic
                else f"iso(sigma={self.sigma})")
        return base + (f" + noise {self.noise}" if self.noise else "")


def find_hr_folder(data_dir: str | Path, dataset: str) -> Path:
    """Locate the HR images of ``dataset`` under ``data_dir``.

    Accepted layouts: ``DIR/benchmark/NAME/HR``, ``DIR/NAME/HR``, ``DIR/NAME`` (a flat folder of images).
    """
    data_dir = Path(data_dir)
    for cand in (data_dir / "benchmark" / dataset / "HR", data_dir / dataset / "HR", data_dir / dataset):
        if cand.is_dir() and any(p.suffix.lower() in IMAGE_EXTS for p in cand.iterdir()):
            return cand
    raise FileNotFoundError(
        f"no HR images for {dataset!r} under {data_dir} (looked for benchmark/{dataset}/HR, {dataset}/HR and "
        f"{dataset}/). Download it with `make data DATASETS={dataset}` or place the PNGs there by hand."
    )


def load_hr_images(data_dir: str | Path | None, dataset: str) -> list[tuple[str, torch.Tensor]]:
    """HR images as ``(name, (C, H, W) float32 in [0, 1])``; ``dataset="builtin"`` uses the built-in test split."""
    if dataset in ("builtin", "builtin-test"):
        from srlib.data.builtin import builtin_images

        return list(builtin_images("test"))
    if data_dir is None:
        raise ValueError(f"dataset {dataset!r} needs --data-dir")
    folder = find_hr_folder(data_dir, dataset)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    return [(p.stem, read_image(p)) for p in files]


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """``[0, 1]`` floats to ``uint8`` (round half to even, clamp), as :func:`srlib.degradations.noise.quantize`."""
    return (x * 255).round().clamp(0, 255).to(torch.uint8)


def bicubic_upscaler(scale: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """The bicubic baseline: MATLAB ``imresize(uint8 LR, scale)`` (works on any number of channels).

    The LR is put on the 8-bit grid and resized as ``uint8``, so MATLAB's intermediate rounding after the first 1-D pass
    is reproduced, as in the scripts that made the published bicubic tables.
    """

    def run(lr: torch.Tensor) -> torch.Tensor:
        return imresize(to_uint8(lr), scale).float() / 255

    run.needs_rgb = False
    return run


def evaluate_images(
    upscaler: Callable[[torch.Tensor], torch.Tensor],
    images: Sequence[tuple[str, torch.Tensor]],
    scale: int,
    degradation: FixedDegradation,
    *,
    seed: int = 1,
    border: str = "symmetric",
    y_channel: bool = True,
    crop: int | None = None,
    with_ssim: bool = True,
) -> dict:
    """Score ``upscaler`` on ``images`` under one fixed degradation.

    Args:
        upscaler: maps LR ``(1, C, h, w)`` in [0, 1] to SR ``(1, C, h*s, w*s)``. If it has ``needs_rgb=True``, grey
            images are replicated to RGB before it and the SR output is averaged back to one channel (so grey images
            are still scored on their grey values, as the published tables do).
        images: ``(name, (C, H, W) float in [0, 1])`` HR images; they are cropped to a multiple of ``scale``.
        scale: integer SR factor.
        degradation: the fixed kernel and noise level.
        seed: noise seed; image ``i`` uses ``seed + i`` (the official test seeds once; per-image seeds make each
            number independent of the set's order).
        border: ``"symmetric"`` (MATLAB) or ``"replicate"`` (official DASR code) border handling in the downsampler.
        y_channel: score on Y (DASR protocol) or on RGB (USR-DU protocol).
        crop: border pixels cropped before scoring; default ``scale``.
        with_ssim: also compute SSIM (about half the scoring time); ``None`` is reported when skipped.

    Returns:
        ``{"per_image": [{"name", "psnr", "ssim"}...], "psnr": mean, "ssim": mean}``.
    """
    crop = scale if crop is None else crop
    kernel = degradation.kernel()
    needs_rgb = getattr(upscaler, "needs_rgb", True)
    rows = []
    for i, (name, hr) in enumerate(images):
        hr = modcrop(hr, scale)[None]
        gen = torch.Generator().manual_seed(seed + i)
        if kernel is None and degradation.noise == 0 and border == "symmetric":
            # sigma = 0, no noise: plain bicubic degradation. Resize the 8-bit HR as uint8, exactly as MATLAB made the
            # distributed LR_bicubic files (srlib reproduces them bit for bit); the float path of `degrade` rounds
            # only once and can differ by one grey level on a few pixels.
            lr = imresize(to_uint8(hr), 1 / scale).float() / 255
        else:
            lr = degrade(hr, kernel, scale, noise=degradation.noise, generator=gen, border=border)
        grey = hr.shape[1] == 1
        with torch.no_grad():
            sr = upscaler(lr.expand(-1, 3, -1, -1) if (grey and needs_rgb) else lr)
        if grey and sr.shape[1] == 3:
            sr = sr.mean(dim=1, keepdim=True)
        sr = quantize(sr)
        rows.append({
            "name": name,
            "psnr": float(psnr(sr, hr, crop=crop, y_channel=y_channel)[0]),
            "ssim": float(ssim(sr, hr, crop=crop, y_channel=y_channel)[0]) if with_ssim else None,
        })
    return {
        "per_image": rows,
        "psnr": sum(r["psnr"] for r in rows) / len(rows),
        "ssim": sum(r["ssim"] for r in rows) / len(rows) if with_ssim else None,
    }


def evaluate(
    method: str,
    *,
    dataset: str,
    scale: int,
    degradation: FixedDegradation,
    data_dir: str | Path | None = None,
    checkpoint: str | Path | None = None,
    seed: int = 1,
    border: str = "symmetric",
    y_channel: bool = True,
    crop: int | None = None,
    device: str | None = None,
    json_out: str | Path | None = None,
) -> dict:
    """Evaluate ``method`` (``bicubic``, ``dasr`` or ``usrdu``) on a benchmark; optionally write the result as JSON."""
    if scale not in (2, 3, 4):
        raise ValueError(f"scale must be 2, 3 or 4, got {scale}")
    if method == "bicubic":
        upscaler = bicubic_upscaler(scale)
    elif method in ("dasr", "usrdu"):
        if checkpoint is None:
            raise ValueError(f"--method {method} needs --checkpoint")
        if method == "dasr":
            from srlib.inference import load_upscaler
        else:
            from srlib.usrdu.train import load_upscaler
        upscaler = load_upscaler(checkpoint, device=device)
    else:
        raise ValueError(f"unknown method {method!r}; expected bicubic, dasr or usrdu")
    images = load_hr_images(data_dir, dataset)
    result = evaluate_images(upscaler, images, scale, degradation, seed=seed, border=border,
                             y_channel=y_channel, crop=crop)
    result = {
        "method": method, "dataset": dataset, "scale": scale, "degradation": asdict(degradation),
        "degradation_label": degradation.label(), "seed": seed, "border": border,
        "channel": "Y" if y_channel else "RGB", "crop": scale if crop is None else crop,
        "checkpoint": str(checkpoint) if checkpoint else None, **result,
    }
    if json_out:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(json.dumps(result, indent=2))
    return result
