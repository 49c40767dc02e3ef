"""The DASR degradation model, Eq. 1 of Wang et al. (CVPR 2021): ``LR = (HR ⊛ k)↓s + n``, then 8-bit rounding.

Order of operations as in the official code (``utils/util.py``, ``SRMDPreprocessing``): blur with reflection padding,
bicubic downsampling with antialiasing, additive Gaussian noise, ``round`` and ``clamp``.
"""

from __future__ import annotations

import numbers

import torch

from .imresize import imresize
from .kernels import blur
from .noise import add_gaussian_noise, quantize

__all__ = ["degrade"]


def degrade(
    hr: torch.Tensor,
    kernel: torch.Tensor | None,
    scale: int,
    noise=0.0,
    *,
    generator: torch.Generator | None = None,
    border: str = "symmetric",
    quantise: bool = True,
) -> torch.Tensor:
    """Synthesise LR images, ``LR = quantise(imresize(HR ⊛ k, 1/s) + n)`` (DASR Eq. 1).

    Args:
        hr: HR images, (B, C, H, W) float in [0, 1]; H and W must be multiples of ``scale`` (modcrop first).
        kernel: blur kernel(s): ``None`` for no blur (bicubic degradation), (k, k) shared, or (B, k, k) per image.
        scale: integer downscaling factor s ≥ 1.
        noise: Gaussian noise standard deviation on the 0-255 scale: a number or a (B,) tensor (one per image).
            0 adds nothing.
        generator: ``torch.Generator`` on ``hr``'s device for the noise.
        border: bicubic border rule, ``"symmetric"`` (MATLAB) or ``"replicate"`` (official DASR code).
        quantise: round to the 8-bit grid at the end, as the official code always does. Set ``False`` to keep a
            differentiable float LR.

    Returns:
        LR images, (B, C, H / s, W / s), dtype of ``hr``; in [0, 1] on the 8-bit grid when ``quantise``.

    Raises:
        ValueError: bad shape, a size not divisible by ``scale``, or a negative noise level.

    Example:
        >>> from srlib.degradations import isotropic_gaussian
        >>> hr = torch.rand(2, 3, 48, 48, generator=torch.Generator().manual_seed(0))
        >>> lr = degrade(hr, isotropic_gaussian(1.2), 4, noise=5.0, generator=torch.Generator().manual_seed(1))
        >>> lr.shape, bool(torch.equal(lr, torch.round(lr * 255) / 255))
        (torch.Size([2, 3, 12, 12]), True)
    """
    if not isinstance(hr, torch.Tensor) or not hr.is_floating_point():
        raise TypeError("hr must be a floating-point torch tensor in [0, 1]")
    if hr.ndim != 4:
        raise ValueError(f"hr must have shape (B, C, H, W), got {tuple(hr.shape)}")
    if isinstance(scale, bool) or not isinstance(scale, numbers.Integral) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(
            f"HR size {h}x{w} is not divisible by scale {scale}; modcrop it first to {h - h % scale}x{w - w % scale}"
        )
    x = hr if kernel is None else blur(hr, kernel)
    # DASR downsamples with its own MATLAB-style bicubic (antialiased); srlib uses the MATLAB-exact port.
    lr = imresize(x, 1 / scale, antialias=True, border=border)
    has_noise = bool((noise != 0).any()) if isinstance(noise, torch.Tensor) else noise != 0  # negatives raise below
    if has_noise:
        lr = add_gaussian_noise(lr, noise, generator=generator)  # after downsampling, as in the official code
    return quantize(lr) if quantise else lr
