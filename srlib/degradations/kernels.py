"""Gaussian blur kernels and per-image blurring (the ``k`` and ``⊛`` of DASR Eq. 1).

Conventions follow the official DASR code (``utils/util.py``, see dasr-official.md section 3): a kernel is a
``size x size`` grid of offsets ``-size//2 .. size//2``; ``x`` runs along columns and ``y`` along rows; every kernel is
normalised to sum 1. The anisotropic covariance is ``Σ = R(θ) diag(λ1², λ2²) R(θ)ᵀ``: the paper calls λ1, λ2
"eigenvalues", but the code uses them as standard deviations, and so do we.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

__all__ = ["isotropic_gaussian", "anisotropic_gaussian", "blur"]


def _batch_param(value, name: str, dtype: torch.dtype, device) -> tuple[torch.Tensor, bool]:
    """A python number or 1-D tensor as a (B,) tensor; the flag says whether the input was batched."""
    if isinstance(value, torch.Tensor):
        if value.ndim != 1 or value.numel() == 0:
            raise ValueError(f"{name} must be a number or a non-empty 1-D tensor, got shape {tuple(value.shape)}")
        if not (value.is_floating_point() or value.dtype in (torch.int32, torch.int64)):
            raise TypeError(f"{name} must be real-valued, got {value.dtype}")
        return value.to(dtype=dtype, device=device if device is not None else value.device), True
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite number or a 1-D tensor, got {value!r}")
    return torch.tensor([float(value)], dtype=dtype, device=device), False


def _check_size(size) -> None:
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1 or size % 2 == 0:
        raise ValueError(f"size must be a positive odd integer, got {size!r}")


def _grid(size: int, dtype: torch.dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Offsets (x along columns, y along rows), each of shape (size, size)."""
    ax = torch.arange(size, dtype=dtype, device=device) - size // 2
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    return xx, yy


def isotropic_gaussian(sigma, size: int = 21, *, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Isotropic Gaussian kernel ``k ∝ exp(-(x² + y²) / (2σ²))``, normalised to sum 1.

    Args:
        sigma: kernel width σ ≥ 0 in HR pixels; a number, or a (B,) tensor for one kernel per image. σ = 0 gives a
            delta kernel (no blur), which DASR uses for the "bicubic only" columns of Table 2.
        size: side of the square kernel, a positive odd integer (DASR: 21).
        dtype: floating dtype of the result.
        device: device of the result (default: that of ``sigma`` if it is a tensor, else CPU).

    Returns:
        Kernel of shape (size, size), or (B, size, size) for tensor ``sigma``; non-negative, each sums to 1.

    Example:
        >>> k = isotropic_gaussian(1.2, size=21)
        >>> k.shape, round(k.sum().item(), 6)
        (torch.Size([21, 21]), 1.0)
        >>> isotropic_gaussian(torch.tensor([0.0, 2.0]), size=5).shape
        torch.Size([2, 5, 5])
    """
    _check_size(size)
    sig, batched = _batch_param(sigma, "sigma", dtype, device)
    if (sig < 0).any():
        raise ValueError("sigma must be >= 0")
    xx, yy = _grid(size, dtype, sig.device)
    s2 = (2 * sig**2).clamp_min(torch.finfo(dtype).tiny).view(-1, 1, 1)  # σ = 0 is replaced by a delta below
    k = torch.exp(-(xx**2 + yy**2) / s2)
    k = k / k.sum(dim=(-2, -1), keepdim=True)
    delta = ((xx == 0) & (yy == 0)).to(dtype)
    k = torch.where((sig == 0).view(-1, 1, 1), delta, k)
    return k if batched else k[0]


def anisotropic_gaussian(
    lambda1, lambda2, theta, size: int = 21, *, dtype: torch.dtype = torch.float32, device=None
) -> torch.Tensor:
    """Anisotropic Gaussian kernel ``k ∝ exp(-½ pᵀ Σ⁻¹ p)``, ``Σ = R(θ) diag(λ1², λ2²) R(θ)ᵀ``, sum 1.

    ``p = (x, y)`` with x along columns and y along rows; ``R(θ) = [[cos θ, -sin θ], [sin θ, cos θ]]``. At θ = 0 the
    standard deviation is λ1 along x and λ2 along y.

    Args:
        lambda1: standard deviation along the rotated x axis (> 0); a number or (B,) tensor. DASR trains with
            U(0.2, 4).
        lambda2: standard deviation along the rotated y axis (> 0); a number or (B,) tensor.
        theta: rotation angle in radians (DASR: U(0, π) in training, degrees on its test command line).
        size: side of the square kernel, a positive odd integer (DASR: 21).
        dtype: floating dtype of the result.
        device: device of the result (default: that of a tensor argument, else CPU).

    Returns:
        Kernel of shape (size, size), or (B, size, size) if any argument is a (B,) tensor; sums to 1.

    Example:
        >>> k = anisotropic_gaussian(0.5, 3.0, 0.0, size=21)
        >>> bool(k[10].sum() < k[:, 10].sum())  # wide along y (rows): the central row holds little mass
        True
        >>> anisotropic_gaussian(torch.tensor([1.0, 2.0]), 0.5, math.pi / 4, size=7).shape
        torch.Size([2, 7, 7])
    """
    _check_size(size)
    if device is None:
        device = next((v.device for v in (lambda1, lambda2, theta) if isinstance(v, torch.Tensor)), None)
    l1, b1 = _batch_param(lambda1, "lambda1", dtype, device)
    l2, b2 = _batch_param(lambda2, "lambda2", dtype, device)
    th, b3 = _batch_param(theta, "theta", dtype, device)
    if (l1 <= 0).any() or (l2 <= 0).any():
        raise ValueError("lambda1 and lambda2 must be > 0 (they are standard deviations)")
    try:
        l1, l2, th = torch.broadcast_tensors(l1, l2, th)
    except RuntimeError:
        raise ValueError("lambda1, lambda2 and theta must have the same length B") from None
    xx, yy = _grid(size, dtype, l1.device)
    c, s = torch.cos(th).view(-1, 1, 1), torch.sin(th).view(-1, 1, 1)
    # Rᵀ p: coordinates along the kernel's own axes; Σ⁻¹ = R diag(1/λ1², 1/λ2²) Rᵀ.
    a = c * xx + s * yy
    b = -s * xx + c * yy
    k = torch.exp(-0.5 * (a**2 / l1.view(-1, 1, 1) ** 2 + b**2 / l2.view(-1, 1, 1) ** 2))
    k = k / k.sum(dim=(-2, -1), keepdim=True)
    return k if (b1 or b2 or b3) else k[0]


def blur(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Convolve each image with its own kernel (all channels alike), reflect-padded to keep the size.

    This is DASR's ``BatchBlur``: reflection padding of ``k // 2`` and a grouped convolution. The kernel is flipped,
    so this is a true convolution; for the centro-symmetric Gaussians used here it equals the official correlation.

    Args:
        x: images, (B, C, H, W) float, any range; H and W must exceed ``k // 2`` (reflection padding).
        kernels: (k, k) shared by the batch, or (B, k, k) one per image; k odd. Cast to ``x``'s dtype and device.

    Returns:
        Blurred images, (B, C, H, W), same dtype as ``x``; differentiable w.r.t. both inputs.

    Example:
        >>> x = torch.rand(2, 3, 16, 16)
        >>> torch.allclose(blur(x, isotropic_gaussian(0.0, size=5)), x)  # delta kernel: identity
        True
        >>> blur(x, isotropic_gaussian(torch.tensor([0.5, 2.0]), size=5)).shape
        torch.Size([2, 3, 16, 16])
    """
    if not isinstance(x, torch.Tensor) or not isinstance(kernels, torch.Tensor):
        raise TypeError("x and kernels must be torch tensors")
    if x.ndim != 4:
        raise ValueError(f"x must have shape (B, C, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    b, c, h, w = x.shape
    if kernels.ndim == 2:
        kernels = kernels.unsqueeze(0).expand(b, -1, -1)
    if kernels.ndim != 3 or kernels.shape[0] != b or kernels.shape[1] != kernels.shape[2]:
        raise ValueError(f"kernels must have shape (k, k) or (B={b}, k, k), got {tuple(kernels.shape)}")
    k = kernels.shape[-1]
    if k % 2 == 0:
        raise ValueError(f"kernel size must be odd, got {k}")
    pad = k // 2
    if pad >= min(h, w):
        raise ValueError(f"image {h}x{w} is too small for reflect padding of {pad} (kernel {k}x{k})")
    weight = kernels.to(dtype=x.dtype, device=x.device).flip(-2, -1)
    weight = weight.repeat_interleave(c, dim=0).unsqueeze(1)  # (B*C, 1, k, k): one filter per (image, channel)
    padded = F.pad(x.reshape(1, b * c, h, w), (pad, pad, pad, pad), mode="reflect")
    return F.conv2d(padded, weight, groups=b * c).view(b, c, h, w)
