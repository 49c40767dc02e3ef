"""Additive Gaussian noise and 8-bit quantisation (the ``n`` of DASR Eq. 1 and the final rounding).

The official DASR code works on the 0-255 scale; srlib keeps images in [0, 1] and expresses noise levels on the
0-255 scale, as the paper does ("noise level 5, 10, 25").
"""

from __future__ import annotations

import math
import numbers

import torch

__all__ = ["add_gaussian_noise", "quantize"]


def add_gaussian_noise(x: torch.Tensor, level, generator: torch.Generator | None = None) -> torch.Tensor:
    """Add i.i.d. Gaussian noise of standard deviation ``level / 255`` to every pixel and channel.

    As in the official DASR code the noise is independent per channel ("colour" noise) and is not clipped here
    (quantise afterwards).

    Args:
        x: images, float, nominally in [0, 1]; any shape for a scalar ``level``, (B, ...) for a tensor ``level``.
        level: noise standard deviation(s) on the 0-255 scale, ≥ 0: a number, or a (B,) tensor (one per image).
        generator: ``torch.Generator`` on ``x``'s device, for reproducible noise.

    Returns:
        ``x + n``, same shape and dtype as ``x``; values may leave [0, 1].

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = add_gaussian_noise(torch.full((1, 3, 64, 64), 0.5), 10.0, generator=g)
        >>> round((y - 0.5).std().item() * 255)
        10
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError("x must be a floating-point torch tensor")
    if isinstance(level, torch.Tensor):
        if level.ndim != 1 or x.ndim < 1 or level.shape[0] != x.shape[0]:
            raise ValueError(f"level must be a number or a (B,) tensor with B = {x.shape[0] if x.ndim else '?'}, "
                             f"got shape {tuple(level.shape)}")
        if (level < 0).any():
            raise ValueError("noise level must be >= 0")
        sigma = level.to(dtype=x.dtype, device=x.device).view(-1, *([1] * (x.ndim - 1))) / 255.0
    else:
        if isinstance(level, bool) or not isinstance(level, numbers.Real) or not math.isfinite(level) or level < 0:
            raise ValueError(f"noise level must be a finite number >= 0, got {level!r}")
        sigma = float(level) / 255.0
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return x + noise * sigma


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Map [0, 1] floats to the 8-bit grid: ``clamp(round(255 x), 0, 255) / 255``.

    This is the final step of the official DASR degradation (``round`` then ``clamp`` on the 0-255 scale), so
    synthetic LR images hold the values an 8-bit PNG could store. ``torch.round`` rounds halves to even, as the
    official code does. The gradient is zero almost everywhere.

    Args:
        x: float tensor of any shape, nominally in [0, 1].

    Returns:
        Same shape and dtype, values in {0, 1/255, ..., 1}.

    Example:
        >>> quantize(torch.tensor([-0.1, 0.5, 0.2, 1.3])) * 255
        tensor([  0., 128.,  51., 255.])
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError("x must be a floating-point torch tensor")
    return torch.round(x * 255).clamp_(0, 255) / 255
