"""Sampling LR images from the learned degradation: ``y_hat = y_g + eps * theta``, eps ~ standard Laplace (Eq. 8).

Two ways to get (y_g, theta) for an HR training patch:

* **online** (official ``RRDBNet_two_vgg19``): y_g is the stored full-image DSN mean (quantised to 8 bits, as the
  official offline step writes PNGs); theta is recomputed every iteration by the frozen DSN from the *HR patch*
  (after flips), so near patch borders it sees zero padding instead of image content.
* **cached**: the DSN runs once per full HR image; y_g and log theta are stored and cropped (and flipped) together
  with the HR patch. Cheaper, and theta has no patch-border effect.

The noise is fresh at every draw (so every HR patch is paired with an unbounded number of LR samples) and comes from a
``torch.Generator`` through the inverse CDF, so runs are reproducible. Samples are neither clamped nor quantised
(official behaviour).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from srlib.data.samplers import _Sampler, augment  # _Sampler: the iterator + generator-state code of every sampler
from srlib.degradations import quantize
from srlib.usrdu.dsn import DSN

MODES = ("theta", "constant", "none")


def laplace_icdf(u: torch.Tensor) -> torch.Tensor:
    """Inverse CDF of the standard Laplace law (location 0, scale 1) for ``u`` in [0, 1).

    ``eps = -sign(u - 1/2) log(1 - 2 |u - 1/2|)``; ``u = 0`` (possible with ``torch.rand``) is nudged to stay finite.

    >>> laplace_icdf(torch.tensor([0.5, 0.75, 0.25], dtype=torch.float64)).tolist() == [0.0, 0.6931471805599453, -0.6931471805599453]
    True
    """
    w = u - 0.5
    return -torch.sign(w) * torch.log1p((-2.0 * w.abs()).clamp(min=-1.0 + 2.0 ** -53))


def standard_laplace(shape, generator: Optional[torch.Generator] = None, dtype=torch.float32,
                     device=None) -> torch.Tensor:
    """Standard Laplace noise (mean 0, variance 2) of ``shape``, drawn on the CPU in float64 from ``generator``.

    >>> g = torch.Generator().manual_seed(0)
    >>> standard_laplace((2, 3), g).shape
    torch.Size([2, 3])
    """
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    return laplace_icdf(u).to(dtype=dtype, device=device)


def sample_lr(y_g: torch.Tensor, scale01, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """One sample ``y_g + eps * scale01`` (paper Eq. 8).

    Args:
        y_g: (B, 3, h, w) float, LR mean in [0, 1] units.
        scale01: Laplace scale in [0, 1] units: a tensor broadcastable to ``y_g`` (``DSNOutput.theta01``) or a float
            (``1/255`` for Table 1 situation 2, the constant "I" of one gray level).
        generator: CPU ``torch.Generator``.

    Returns:
        (B, 3, h, w) float, unclamped.
    """
    eps = standard_laplace(y_g.shape, generator, y_g.dtype, y_g.device)
    return y_g + eps * scale01


class CachedDegradations:
    """Full-image DSN outputs for a list of HR images, cropped consistently with HR patches.

    Args:
        dsn: trained DSN (frozen here; run in eval mode under ``no_grad``).
        hr_images: list of (3, H, W) float [0, 1] tensors or (name, tensor) pairs; H, W are cropped to multiples of
            the scale.
        quantize_mean: round y_g to 8 bits (official offline step writes PNGs). Default True.

    Attributes:
        hr, y_g, log_theta: lists of (3, H, W), (3, h, w), (3, h, w) tensors (log_theta None without head B).
    """

    def __init__(self, dsn: DSN, hr_images: Sequence, quantize_mean: bool = True):
        self.dsn = dsn.eval().requires_grad_(False)
        s = dsn.cfg.scale
        self.scale = s
        self.device = next(dsn.parameters()).device  # outputs are stored on the CPU
        self.hr, self.y_g, self.log_theta = [], [], []
        for item in hr_images:
            img = item[1] if isinstance(item, (tuple, list)) else item
            img = img[:, : img.shape[1] // s * s, : img.shape[2] // s * s].float()
            with torch.no_grad():
                out = self.dsn(img[None].to(self.device), feature_head=False)
            y = out.y_g[0].cpu()
            self.hr.append(img)
            self.y_g.append(quantize(y) if quantize_mean else y)
            self.log_theta.append(None if out.log_theta is None else out.log_theta[0].cpu())

    def __len__(self) -> int:
        return len(self.hr)

    def crop(self, i: int, top: int, left: int, lr_patch: int) -> tuple:
        """HR, y_g and log theta crops of image ``i`` at LR position (top, left), LR size ``lr_patch``.

        Returns ``(hr (3, sP, sP), y_g (3, P, P), log_theta (3, P, P) or None)``.
        """
        s, p = self.scale, lr_patch
        h, w = self.y_g[i].shape[-2:]
        if not (0 <= top <= h - p and 0 <= left <= w - p):
            raise ValueError(f"crop ({top}, {left}) of size {p} does not fit the {h}x{w} LR image {i}")
        lt = self.log_theta[i]
        return (self.hr[i][:, s * top: s * (top + p), s * left: s * (left + p)],
                self.y_g[i][:, top: top + p, left: left + p],
                None if lt is None else lt[:, top: top + p, left: left + p])


class SRNPairSampler(_Sampler):
    """Infinite (LR sample, HR) training batches for the SRN.

    Args:
        cache: :class:`CachedDegradations` of the HR training images.
        lr_patch: LR patch size (official: 64).
        batch_size: pairs per batch.
        generator: ``torch.Generator`` (crops, flips and the Laplace noise all come from it).
        mode: ``"theta"`` (learned uncertainty, Eq. 8), ``"constant"`` (scale ``constant_scale``, Table 1 row 2) or
            ``"none"`` (y_hat = y_g, Table 1 row 1).
        scheme: ``"online"`` (theta from the frozen DSN on the HR patch, official) or ``"cached"``.
        constant_scale: Laplace scale in [0, 1] units for ``mode="constant"`` (default 1/255: paper's "I").
        augment_patches: random hflip / vflip / transpose, each p = 0.5 (BasicSR ``augment``, used by the official
            SRN data loader).

    Yields:
        ``(lr (B, 3, P, P), hr (B, 3, sP, sP))`` float32; lr unclamped.

    ``state_dict()`` / ``load_state_dict()`` (from :mod:`srlib.data.samplers`) save and restore the generator, so a
    resumed run draws the same patches and noise.
    """

    def __init__(self, cache: CachedDegradations, lr_patch: int, batch_size: int, generator: torch.Generator,
                 mode: str = "theta", scheme: str = "online", constant_scale: float = 1 / 255,
                 augment_patches: bool = True):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if scheme not in ("online", "cached"):
            raise ValueError(f"scheme must be 'online' or 'cached', got {scheme!r}")
        if mode == "theta" and not cache.dsn.cfg.pixel_uncertainty:
            raise ValueError("mode='theta' needs a DSN with the pixel-uncertainty head (pixel_uncertainty=True)")
        small = [i for i, y in enumerate(cache.y_g) if min(y.shape[-2:]) < lr_patch]
        if small:
            raise ValueError(f"LR means of images {small} are smaller than the {lr_patch}-pixel patch")
        self.cache, self.lr_patch, self.batch_size, self.generator = cache, lr_patch, batch_size, generator
        self.mode, self.scheme, self.constant_scale, self.augment_patches = mode, scheme, constant_scale, augment_patches

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator))

    def sample(self) -> tuple:
        hrs, means, log_thetas = [], [], []
        for _ in range(self.batch_size):
            i = self._randint(len(self.cache))
            h, w = self.cache.y_g[i].shape[-2:]
            top, left = self._randint(h - self.lr_patch + 1), self._randint(w - self.lr_patch + 1)
            crops = self.cache.crop(i, top, left, self.lr_patch)
            if self.augment_patches:
                flips = [bool(b) for b in torch.randint(2, (3,), generator=self.generator)]
                crops = tuple(None if c is None else augment(c, *flips) for c in crops)
            hrs.append(crops[0])
            means.append(crops[1])
            log_thetas.append(crops[2])
        hr, y_g = torch.stack(hrs), torch.stack(means)
        if self.mode == "none":
            return y_g, hr
        if self.mode == "constant":
            return sample_lr(y_g, self.constant_scale, self.generator), hr
        if self.scheme == "online":
            with torch.no_grad():
                theta01 = self.cache.dsn(hr.to(self.cache.device), feature_head=False).theta01.cpu()  # from HR patch
        else:
            theta01 = torch.stack(log_thetas).exp() / 255.0
        return sample_lr(y_g, theta01, self.generator), hr
