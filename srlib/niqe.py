"""NIQE, the no-reference "naturalness" score (Mittal, Soundararajan and Bovik, IEEE SPL 2013), as MATLAB computes it.

USR-DU reports NIQE where no ground truth exists (NTIRE 2020 Track 2); the authors compute it with BasicSR's
``calculate_niqe(img, crop_border, convert_to='y')``, which follows MATLAB's ``niqe``. Lower is more natural.

The recipe, step by step (each step is a choice that moves the number, so none is left implicit):

1. Luma: MATLAB ``rgb2ycbcr`` Y on the 0-255 scale (16-235), **rounded** to integers; grey images are used as they
   are. Optionally ``crop`` border pixels are removed.
2. The image is cut to a whole number of 96x96 blocks (the remainder at the right and bottom is dropped).
3. For two scales (the image, then MATLAB-exact bicubic ``imresize`` by 0.5 with antialiasing, computed on [0, 1]):
   MSCN coefficients ``(I - mu) / (sigma + 1)`` with a 7x7 Gaussian window (``mode='nearest'`` borders), then per
   block (96 px at scale 1, 48 px at scale 2) 18 features: an AGGD fit of the coefficients (shape, mean of the two
   scales) and, for the four neighbour products (right, down, both diagonals, taken with wrap-around shifts), an AGGD
   fit each (shape, mean, left scale, right scale).
4. AGGD fits match moments on the shape grid 0.2:0.001:10 (9,801 values, nearest ratio wins), as MATLAB does.
5. The 36 features per block give a multivariate Gaussian (mean over blocks ignoring NaNs, covariance over blocks
   without NaNs); NIQE is ``sqrt((mu_p - mu)^T pinv((C_p + C) / 2) (mu_p - mu))`` against the pristine model.

The pristine model (``mu_pris_param`` (1, 36), ``cov_pris_param`` (36, 36), ``gaussian_window`` (7, 7)) is MATLAB's,
as redistributed by BasicSR under Apache-2.0; srlib ships it in ``srlib/assets/niqe_pris_params.npz`` (see
``srlib/assets/NOTICE.md``) so that NIQE works offline on a fresh machine.
"""
from __future__ import annotations

import hashlib
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import convolve
from scipy.special import gamma as gamma_fn

from srlib.errors import InputError

PRISTINE_PATH = Path(__file__).parent / "assets" / "niqe_pris_params.npz"
PRISTINE_SHA256 = "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"
BLOCK = 96

#: MATLAB's shape grid for the (A)GGD moment matching and the moment ratio each shape gives.
_SHAPES = np.arange(0.2, 10.001, 0.001)
_RATIOS = gamma_fn(2 / _SHAPES) ** 2 / (gamma_fn(1 / _SHAPES) * gamma_fn(3 / _SHAPES))


@lru_cache(maxsize=1)
def pristine_model() -> tuple:
    """``(mu (36,), cov (36, 36), window (7, 7))`` float64 from the shipped file, checked against its sha256."""
    data = PRISTINE_PATH.read_bytes()
    if hashlib.sha256(data).hexdigest() != PRISTINE_SHA256:
        raise RuntimeError(f"{PRISTINE_PATH} does not have the expected sha256 {PRISTINE_SHA256}; reinstall srlib")
    with np.load(PRISTINE_PATH, allow_pickle=False) as z:
        return z["mu_pris_param"][0].astype(np.float64), z["cov_pris_param"].astype(np.float64), \
            z["gaussian_window"].astype(np.float64)


def aggd_fit(x: np.ndarray) -> tuple:
    """Asymmetric generalised Gaussian fit by moment matching: ``(shape, left_scale, right_scale)``.

    >>> rng = np.random.default_rng(0)
    >>> round(aggd_fit(rng.standard_normal(200_000))[0], 1)  # a Gaussian has shape 2
    2.0
    """
    x = x.ravel()
    left = math.sqrt(np.mean(x[x < 0] ** 2))
    right = math.sqrt(np.mean(x[x > 0] ** 2))
    g = left / right
    r = np.mean(np.abs(x)) ** 2 / np.mean(x ** 2)
    r_norm = r * (g ** 3 + 1) * (g + 1) / (g ** 2 + 1) ** 2
    shape = float(_SHAPES[np.argmin((_RATIOS - r_norm) ** 2)])
    k = math.sqrt(gamma_fn(1 / shape) / gamma_fn(3 / shape))
    return shape, left * k, right * k


def block_features(block: np.ndarray) -> list:
    """The 18 NIQE features of one block of MSCN coefficients (see the module docstring, step 3)."""
    shape, left, right = aggd_fit(block)
    feats = [shape, (left + right) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        shape, left, right = aggd_fit(block * np.roll(block, shift, axis=(0, 1)))
        mean = (right - left) * gamma_fn(2 / shape) / gamma_fn(1 / shape)
        feats += [shape, mean, left, right]
    return feats


def niqe_of_luma(y: np.ndarray) -> float:
    """NIQE of a luma image ``(H, W)`` float on the 0-255 scale (already rounded, if MATLAB parity is wanted).

    Raises:
        InputError: the image holds fewer than two 96x96 blocks.
    """
    mu_p, cov_p, window = pristine_model()
    h, w = y.shape
    nh, nw = h // BLOCK, w // BLOCK
    if nh < 1 or nw < 1 or nh * nw < 2:  # the block covariance needs two blocks
        raise InputError(f"NIQE needs at least two {BLOCK}x{BLOCK} blocks ({BLOCK}x{2 * BLOCK} pixels), got {h}x{w}")
    img = y[: nh * BLOCK, : nw * BLOCK].astype(np.float64)
    per_scale = []
    for scale in (1, 2):
        mu = convolve(img, window, mode="nearest")
        sigma = np.sqrt(np.abs(convolve(img * img, window, mode="nearest") - mu * mu))
        mscn = (img - mu) / (sigma + 1)
        b = BLOCK // scale
        per_scale.append(np.array([block_features(mscn[i * b:(i + 1) * b, j * b:(j + 1) * b])
                                   for i in range(nh) for j in range(nw)]))
        if scale == 1:
            from srlib.degradations import imresize

            half = imresize(torch.from_numpy(img / 255.0)[None, None], 0.5, antialias=True)
            img = half[0, 0].numpy() * 255.0
    feats = np.concatenate(per_scale, axis=1)  # (blocks, 36)
    mu = np.nanmean(feats, axis=0)
    cov = np.cov(feats[~np.isnan(feats).any(axis=1)], rowvar=False)
    d = mu_p - mu
    return float(np.sqrt(d @ np.linalg.pinv((cov_p + cov) / 2) @ d))


def niqe(img: torch.Tensor, *, crop: int = 0) -> float:
    """NIQE of one image as BasicSR's ``calculate_niqe(..., convert_to='y')`` and MATLAB's ``niqe`` compute it.

    Args:
        img: ``(3, H, W)`` RGB or ``(1, H, W)`` / ``(H, W)`` grey, uint8 or float in [0, 1]. A float image is first
            put on the 8-bit grid (clamped, ``round(255 x)``), as an SR output is saved and scored as an 8-bit file.
            At least two 96x96 blocks after ``crop``.
        crop: border pixels removed from every side before scoring.

    Returns:
        The NIQE score (lower = more natural).

    >>> import srlib.data.builtin as b
    >>> 2 < niqe(b.builtin_images("test")[0][1]) < 12
    True
    """
    from srlib.metrics import rgb_to_y

    if not isinstance(img, torch.Tensor) or img.dim() not in (2, 3) or (img.dim() == 3 and img.shape[0] not in (1, 3)):
        raise InputError(f"NIQE takes one (3, H, W) or (1, H, W) image, got {getattr(img, 'shape', type(img))}")
    if img.dtype != torch.uint8:
        bad = int((~torch.isfinite(img)).sum())
        if bad:
            raise InputError(f"NIQE input has {bad} NaN/Inf values")
        img = (img.double().clamp(0, 1) * 255).round()  # the 8-bit image that would be saved and scored
    x = img.double() / 255  # exact multiples of 1/255: float and uint8 inputs give the same luma
    if x.dim() == 2:
        x = x[None]
    y = (rgb_to_y(x[None])[0, 0] * 255) if x.shape[0] == 3 else x[0] * 255
    y = y.round()  # MATLAB parity: NIQE is computed on the integer luma
    if crop:
        y = y[crop:-crop, crop:-crop]
    return niqe_of_luma(y.numpy())
