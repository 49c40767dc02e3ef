"""MATLAB-compatible bicubic ``imresize`` in PyTorch.

DASR (Wang et al., CVPR 2021, Eq. 1) and USR-DU (Ning et al., IJCAI 2022) both define the downsampler as MATLAB's
``imresize(x, 1/s, 'bicubic')`` (antialiased Keys cubic). The benchmark ``LR_bicubic`` files were made with it, so a
bit-exact port lets tests compare against those files directly.

How MATLAB computes it (``imresize.m``, ``contributions``):

* output size ``ceil(in * scale)``; with an explicit size the scale is ``out / in``;
* Keys cubic with ``a = -0.5``; when shrinking with antialiasing the kernel is stretched, ``scale * cubic(scale * x)``
  with width ``4 / scale``;
* output pixel ``i`` (1-based) is centred on input coordinate ``u = i / scale + 0.5 * (1 - 1 / scale)`` and uses the
  taps ``floor(u - width / 2) + (0 .. ceil(width) + 1)``; each row of weights is normalised to sum 1, tap columns that
  are zero for every row are dropped;
* out-of-range taps are mirrored ("symmetric", ``[1..n, n..1]`` repeated), then the two axes are resized one after
  the other, the axis with the smaller scale first (height first on ties);
* uint8 images are resized in double precision and stored as uint8 (round half away from zero, saturate) after
  *each* 1-D pass.

``border="replicate"`` clamps taps to the edge instead, as the official DASR code does (``utils/util.py``, class
``bicubic``); results differ from MATLAB on the outer 1-2 output pixels only.
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import NamedTuple

import numpy as np
import torch

__all__ = ["imresize"]

_BORDERS = ("symmetric", "replicate")
_MAX_PERIOD = 8  # longest row period (in output pixels) served by the strided fast path


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic convolution kernel with a = -0.5, in the operation order of MATLAB's ``cubic``."""
    ax = np.abs(x)
    ax2 = ax**2
    ax3 = ax**3
    inner = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return inner + outer


class _Plan(NamedTuple):
    """How one axis is resized: output row ``i`` is ``sum_k weight[i, k] * padded[index[i, k]]``."""

    pad_index: np.ndarray  # (L,) int64: input position of each padded position (border rule applied)
    index: np.ndarray  # (out, P) int64: taps, as positions on the padded axis
    weight: np.ndarray  # (out, P) float64: normalised tap weights
    period: int  # T > 0 when rows i and i + T share weights and taps shifted by `step`; 0 otherwise
    step: int


@functools.lru_cache(maxsize=256)
def _plan(in_len: int, out_len: int, scale: float, antialias: bool, border: str) -> _Plan:
    """Tap positions and weights of one axis, computed in float64 exactly as MATLAB's ``contributions``."""
    if scale < 1 and antialias:
        width = 4.0 / scale

        def kernel(t):
            return scale * _cubic(scale * t)

    else:
        width = 4.0
        kernel = _cubic
    pos = np.arange(1, out_len + 1, dtype=np.float64)
    u = pos / scale + 0.5 * (1 - 1 / scale)  # centre of each output pixel in 1-based input coordinates
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    index = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based raw tap positions
    weight = kernel(u[:, None] - index)
    weight = weight / np.sum(weight, axis=1, keepdims=True)
    keep = np.any(weight != 0, axis=0)  # MATLAB drops tap columns that are zero for every row
    weight, index = weight[:, keep], index[:, keep].astype(np.int64) - 1  # now 0-based

    lo, hi = int(index.min()), int(index.max())
    raw = np.arange(lo, hi + 1)
    if border == "symmetric":
        mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
        pad_index = mirror[np.mod(raw, 2 * in_len)]
    else:  # "replicate": the official DASR code clamps taps to the edge (dasr-official.md, section 3)
        pad_index = np.clip(raw, 0, in_len - 1)
    index = index - lo

    period, step = 0, 0
    for t in range(1, min(_MAX_PERIOD, out_len // 2) + 1):
        if out_len % t:
            continue
        shift = index[t:] - index[:-t]
        # Exact equality only: the fast path must give bit-identical results (uint8 rounding relies on it).
        if np.all(shift == shift[0, 0]) and np.array_equal(weight[t:], weight[:-t]):
            period, step = t, int(shift[0, 0])
            break
    return _Plan(pad_index, index, weight, period, step)


@functools.lru_cache(maxsize=256)
def _tensors(plan_key: tuple, dtype: torch.dtype, device: torch.device):
    """The plan of ``plan_key`` as tensors on ``device``; cached so repeated calls allocate nothing new."""
    plan = _plan(*plan_key)
    pad_index = torch.as_tensor(plan.pad_index, dtype=torch.long, device=device)
    index = torch.as_tensor(plan.index, dtype=torch.long, device=device)
    weight = torch.as_tensor(plan.weight, dtype=dtype, device=device)
    return plan, pad_index, index.t().contiguous(), weight.t().contiguous()


def _resize_axis(x: torch.Tensor, dim: int, plan_key: tuple) -> torch.Tensor:
    """Resize ``x`` along ``dim`` (-2 or -1) with the cached plan; pure torch ops, so differentiable."""
    plan, pad_index, index_t, weight_t = _tensors(plan_key, x.dtype, x.device)
    padded = x.index_select(dim, pad_index)
    out_len, taps = plan.index.shape
    # Taps are accumulated one at a time, in MATLAB's order, so that rounding matches MATLAB for uint8 input.
    if plan.period:
        # Fast path (integer factors and other periodic grids): each tap of each phase is a strided view.
        period, step = plan.period, plan.step
        count = out_len // period
        phases = []
        for t in range(period):
            acc = None
            for k in range(taps):
                start = int(plan.index[t, k])
                view = [slice(None)] * padded.ndim
                view[dim] = slice(start, start + step * (count - 1) + 1, step)
                term = padded[tuple(view)] * weight_t[k, t]
                acc = term if acc is None else acc + term
            phases.append(acc)
        if period == 1:
            return phases[0]
        return torch.stack(phases, dim=dim).flatten(dim - 1, dim)  # interleave: output t + period * m
    acc = None
    for k in range(taps):
        w = weight_t[k] if dim == -1 else weight_t[k].unsqueeze(-1)
        term = padded.index_select(dim, index_t[k]) * w
        acc = term if acc is None else acc + term
    return acc


def _as_pair(value, name: str) -> tuple:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be a number or a pair (h, w), got {value!r}")
        return tuple(value)
    return (value, value)


def _resolve(in_hw: tuple, scale, size) -> tuple:
    """Per-axis (scale, output length), following MATLAB's rules."""
    if (scale is None) == (size is None):
        raise ValueError("give exactly one of `scale` or `size`")
    if scale is not None:
        scales = _as_pair(scale, "scale")
        for s in scales:
            if isinstance(s, bool) or not isinstance(s, numbers.Real) or not math.isfinite(s) or s <= 0:
                raise ValueError(f"scale must be a finite positive number, got {scale!r}")
        scales = tuple(float(s) for s in scales)
        outs = tuple(int(math.ceil(n * s)) for n, s in zip(in_hw, scales))
    else:
        outs = _as_pair(size, "size")
        for n in outs:
            if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n <= 0:
                raise ValueError(f"size must hold two positive integers, got {size!r}")
        outs = tuple(int(n) for n in outs)
        scales = tuple(o / n for o, n in zip(outs, in_hw))
    return scales, outs


def imresize(
    x: torch.Tensor, scale=None, *, size=None, antialias: bool = True, border: str = "symmetric"
) -> torch.Tensor:
    """Resize images with bicubic interpolation exactly as MATLAB's ``imresize(x, scale, 'bicubic')``.

    Args:
        x: images, shape (B, C, H, W), (C, H, W) or (H, W). Either a floating tensor (any range, any float dtype and
            device; the result is neither clamped nor rounded) or a uint8 tensor in [0, 255] (the result is uint8,
            bit-identical to MATLAB: each 1-D pass is rounded and saturated to uint8).
        scale: resize factor, a positive number or a pair (scale_h, scale_w). The output size is
            ``ceil(H * scale_h), ceil(W * scale_w)``.
        size: output size (h, w) instead of ``scale``; then the factors are ``h / H`` and ``w / W``.
        antialias: when shrinking, widen the kernel to ``4 / scale`` taps-wide (MATLAB's default ``true``).
        border: ``"symmetric"`` mirrors out-of-range taps (MATLAB); ``"replicate"`` clamps them to the edge (the
            official DASR code).

    Returns:
        The resized images, shape (..., h, w), same dtype and device as ``x``. Float input stays differentiable.

    Raises:
        TypeError: ``x`` is not a tensor or has an integer dtype other than uint8.
        ValueError: wrong number of dimensions, empty image, bad ``scale`` / ``size``, or unknown ``border``.

    Example:
        >>> ramp = torch.arange(64, dtype=torch.float64).view(8, 8)
        >>> imresize(ramp, 1 / 4)  # MATLAB: [[12.3838, 16.6318], [46.3682, 50.6162]]
        tensor([[12.3838, 16.6318],
                [46.3682, 50.6162]], dtype=torch.float64)
        >>> imresize(torch.zeros(2, 3, 10, 12), size=(5, 7)).shape
        torch.Size([2, 3, 5, 7])
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"x must have shape (B, C, H, W), (C, H, W) or (H, W), got {tuple(x.shape)}")
    if x.dtype != torch.uint8 and not x.is_floating_point():
        raise TypeError(f"x must be a floating-point or uint8 tensor, got {x.dtype}")
    if border not in _BORDERS:
        raise ValueError(f"border must be one of {_BORDERS}, got {border!r}")
    in_hw = tuple(x.shape[-2:])
    if min(in_hw) == 0:
        raise ValueError(f"cannot resize an empty image of size {in_hw}")
    scales, outs = _resolve(in_hw, scale, size)

    # MATLAB resizes the axis with the smaller scale first (a stable sort, so height first on ties).
    axes = [(-2, 0), (-1, 1)]
    if scales[1] < scales[0]:
        axes.reverse()

    if x.dtype == torch.uint8:
        y = x.to(torch.float64)  # MATLAB works in double and stores each pass as uint8
        for dim, a in axes:
            y = _resize_axis(y, dim, (in_hw[a], outs[a], scales[a], bool(antialias), border))
            y = torch.floor(y + 0.5).clamp_(0, 255)  # round half away from zero (values < 0 saturate to 0 anyway)
        return y.to(torch.uint8)

    work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x  # half types: accumulate in float32
    for dim, a in axes:
        work = _resize_axis(work, dim, (in_hw[a], outs[a], scales[a], bool(antialias), border))
    return work.to(x.dtype)
