"""Input checks for srlib's public entry points: run once per call, at the door, never inside a forward pass.

A value check (NaN, range) needs the tensor's values on the host, which is a device synchronisation on a GPU. Model
``forward`` methods therefore check only what the tensor's metadata tells for free (shape, dtype); the functions
here are called by the entry points that take images from a user (:class:`srlib.inference.Upscaler`,
:func:`srlib.inference.upscale`, :func:`srlib.inference.upscale_file`) and cost one synchronisation per call.
"""
from __future__ import annotations

import torch

from srlib.errors import InputError

__all__ = ["RANGE_TOL", "check_image"]

#: Slack of the [0, 1] range check: float32 rounding of ``k / 255`` stays inside [0, 1], so anything beyond this
#: is a wrong scale (0-255, [-1, 1]) or an unclamped intermediate result, not rounding.
RANGE_TOL = 1e-6

#: Float dtypes converted to float32 (the dtype of srlib's models) instead of being refused.
CONVERTED_DTYPES = (torch.float16, torch.bfloat16, torch.float64)


def check_image(x, name: str = "x", *, channels: int | None = None, range01: bool = True,
                tol: float = RANGE_TOL) -> torch.Tensor:
    """Check an image batch at a public entry point and return it as float32.

    Args:
        x: ``(B, C, H, W)`` float tensor, any device. float32 is used as is; float16, bfloat16 and float64 are
            **converted to float32** (after the checks, so a float64 value too large for float32 is reported, not
            turned into Inf). Integer, bool and complex tensors are refused: an 8-bit image needs ``x.float() / 255``.
        name: the argument's name, for the messages.
        channels: required ``C`` (e.g. 3 for srlib's RGB models); ``None`` accepts any.
        range01: require values in ``[0, 1]``, with ``tol`` slack on both sides.
        tol: the slack of the range check (default :data:`RANGE_TOL`).

    Returns:
        ``x`` as float32 (the same tensor when it already is float32), same shape and device.

    Raises:
        InputError: not a 4-D float tensor, an empty batch or image, wrong channel count, NaN or Inf values (the
            message gives the number of pixels affected), or values outside ``[0, 1]``.

    >>> check_image(torch.full((1, 3, 2, 2), 0.5, dtype=torch.float64)).dtype
    torch.float32
    >>> bad = torch.zeros(1, 3, 4, 4); bad[0, :, 1, 2] = float("nan")
    >>> check_image(bad, "lr")
    Traceback (most recent call last):
    ...
    srlib.errors.InputError: lr has NaN or Inf values in 1 of 16 pixels; fix or mask them first
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        got = f"shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise InputError(f"{name} must be a (B, C, H, W) float tensor, got {got}")
    if not x.is_floating_point():
        hint = " (an 8-bit image? use x.float() / 255)" if x.dtype == torch.uint8 else ""
        raise InputError(f"{name} must be a float tensor in [0, 1], got dtype {x.dtype}{hint}")
    if channels is not None and x.shape[1] != channels:
        what = "RGB, " if channels == 3 else ""
        raise InputError(f"{name} must have {channels} channels ({what}(B, {channels}, H, W)), got shape "
                         f"{tuple(x.shape)}")
    if x.numel() == 0:
        raise InputError(f"{name} is empty: shape {tuple(x.shape)} (need B, H, W >= 1)")
    # One host transfer for all three numbers: a single synchronisation on a GPU.
    finite = torch.isfinite(x)
    bad_pixels = (~finite).any(dim=1).sum()
    lo, hi = torch.aminmax(x)
    bad, lo, hi = torch.stack([bad_pixels.double(), lo.double(), hi.double()]).tolist()
    if bad:
        total = x.shape[0] * x.shape[2] * x.shape[3]
        raise InputError(f"{name} has NaN or Inf values in {int(bad)} of {total} pixels; fix or mask them first")
    if range01 and (lo < -tol or hi > 1 + tol):
        hint = "; a [0, 255] image? divide by 255" if hi > 2 and lo >= -tol else ""
        hint = "; a [-1, 1] image? use (x + 1) / 2" if lo < -tol and hi <= 1 + tol else hint
        raise InputError(f"{name} must be in [0, 1] (tolerance {tol:g}), got values in [{lo:.6g}, {hi:.6g}]{hint}")
    return x.to(torch.float32)
