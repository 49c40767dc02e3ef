"""Reading and writing images as ``(C, H, W)`` float32 tensors in ``[0, 1]``.

One policy per kind of file (PIL decodes; nothing is converted silently):

========================  ===========================================================================================
stored as                 :func:`read_image` returns
========================  ===========================================================================================
8-bit RGB                 ``(3, H, W)``, values ``/ 255``
8-bit grey (``L``)        ``(1, H, W)``, values ``/ 255``. Grey stays grey: call :func:`to_rgb` where a model needs
                          RGB, so the caller states the replication (the published tables score grey as grey).
16-bit grey PNG           ``(1, H, W)``, values ``/ 65535``, kept as float (not rounded to 8 bits here). Note that the
                          metrics and the degradation pipeline work on an 8-bit grid downstream (``quantize=True``).
16-bit RGB(A) PNG         PIL can only decode it at 8 bits per channel: read as 8-bit RGB(A), with a warning.
palette (``P``)           expanded to RGB (``(3, H, W)``); a palette with transparency is treated as RGBA.
1-bit (``1``)             grey ``(1, H, W)`` with values 0 or 1.
RGBA / grey+alpha (LA)    ``alpha="error"`` (default): ``ValueError``, because models take RGB and dropping alpha
                          changes what the picture shows. ``alpha="drop"`` keeps the colour channels (not composited).
                          :func:`read_image_with_alpha` returns ``(image, alpha)`` with alpha ``(1, H, W)`` or None.
anything else (CMYK, ...) ``ValueError`` naming the mode.
========================  ===========================================================================================

EXIF orientation tags are ignored: pixels are returned as stored, as the official loaders do.
"""

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

__all__ = ["read_image", "read_image_with_alpha", "write_image", "to_rgb", "modcrop"]

_ALPHA_CHOICES = ("error", "drop")


def _open(path) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image file at {path}")
    try:
        im = Image.open(path)
        # The raw mode is only visible before decoding: "RGB;16B" etc. means PIL will drop the low byte.
        rawmodes = [str(t[-1]) for t in (im.tile or [])]
        im.load()
    except Exception as err:  # PIL raises several types (UnidentifiedImageError, OSError, SyntaxError)
        raise ValueError(f"cannot decode {path} as an image: {err}") from err
    if im.mode in ("RGB", "RGBA", "LA") and any(";16" in r for r in rawmodes):
        warnings.warn(f"{path}: 16-bit {im.mode} PNG; PIL decodes it at 8 bits per channel", stacklevel=3)
    return im


def _decode(im: Image.Image, path) -> tuple:
    """PIL image -> (colour (C, H, W) float32 in [0, 1], alpha (1, H, W) or None)."""
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode == "PA":
        im = im.convert("RGBA")
    elif im.mode == "1":
        im = im.convert("L")
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im).astype(np.float64)
        if arr.min() < 0 or arr.max() > 65535:
            raise ValueError(f"{path}: 32-bit integer image with values outside 0..65535 is not supported")
        colour, alpha = arr[None] / 65535.0, None
    elif im.mode in ("L", "LA", "RGB", "RGBA"):
        arr = np.asarray(im).astype(np.float64) / 255.0
        arr = arr[..., None] if arr.ndim == 2 else arr
        arr = arr.transpose(2, 0, 1)  # (H, W, C) -> (C, H, W)
        has_alpha = im.mode in ("LA", "RGBA")
        colour, alpha = (arr[:-1], arr[-1:]) if has_alpha else (arr, None)
    else:
        raise ValueError(f"{path}: unsupported image mode {im.mode!r}; convert it to RGB or grey first")
    to_t = lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a)).to(torch.float32)  # noqa: E731
    return to_t(colour), to_t(alpha)


def read_image(path, *, alpha: str = "error") -> torch.Tensor:
    """Read an image file (see the module docstring for the policy per kind of file).

    Args:
        path: file path (PNG, JPEG, BMP, TIFF, ... anything PIL reads).
        alpha: what to do with an alpha channel: ``"error"`` (default) or ``"drop"``.

    Returns:
        ``(C, H, W)`` float32 in ``[0, 1]``, ``C`` = 1 (grey) or 3 (RGB).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not decodable, unsupported mode, or an alpha channel with ``alpha="error"``.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x.png")
        >>> write_image(p, torch.full((3, 2, 4), 0.5))
        >>> x = read_image(p)
        >>> x.shape, x.dtype, round(x[0, 0, 0].item() * 255)
        (torch.Size([3, 2, 4]), torch.float32, 128)
    """
    if alpha not in _ALPHA_CHOICES:
        raise ValueError(f"alpha must be one of {_ALPHA_CHOICES}, got {alpha!r}")
    colour, a = _decode(_open(path), path)
    if a is not None and alpha == "error":
        raise ValueError(f"{path} has an alpha channel; pass alpha='drop' to keep only the colour channels, or use "
                         f"read_image_with_alpha() to get the alpha separately")
    return colour


def read_image_with_alpha(path) -> tuple:
    """Read an image and its alpha channel separately.

    Returns:
        ``(image, alpha)``: image ``(C, H, W)`` float32 in ``[0, 1]`` (C = 1 or 3, colour not composited), alpha
        ``(1, H, W)`` float32 in ``[0, 1]`` or ``None`` when the file has none.
    """
    return _decode(_open(path), path)


def write_image(path, x: torch.Tensor) -> None:
    """Write a ``(C, H, W)`` float image in ``[0, 1]`` as an 8-bit file (rounded to the nearest level).

    Args:
        path: destination; the format follows the extension (use PNG for lossless output). Parent folders are created.
        x: ``(C, H, W)`` float in ``[0, 1]``, C = 1 (grey), 3 (RGB) or 4 (RGBA). Clamp SR outputs yourself first
            (``x.clamp(0, 1)``): out-of-range values are an error, not clipped.
    """
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise TypeError(f"write_image expects a float tensor in [0, 1], got {getattr(x, 'dtype', type(x))}")
    if x.dim() != 3 or x.shape[0] not in (1, 3, 4):
        raise ValueError(f"write_image expects (C, H, W) with C in {{1, 3, 4}}, got shape {tuple(x.shape)}")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"write_image expects values in [0, 1], got [{x.min().item():.4g}, {x.max().item():.4g}]; "
                         f"clamp first")
    arr = (x.detach().cpu().to(torch.float64) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[x.shape[0]]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr[..., 0] if mode == "L" else arr, mode=mode).save(path)


def to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Replicate a grey image to three channels; RGB input is returned unchanged.

    Args:
        x: ``(1, H, W)`` / ``(B, 1, H, W)`` grey, or ``(3, H, W)`` / ``(B, 3, H, W)`` RGB.

    Returns:
        ``(3, H, W)`` or ``(B, 3, H, W)``, same dtype (a copy for grey input).

    Example:
        >>> to_rgb(torch.zeros(1, 4, 5)).shape
        torch.Size([3, 4, 5])
    """
    if not torch.is_tensor(x) or x.dim() not in (3, 4) or x.shape[-3] not in (1, 3):
        raise ValueError(f"to_rgb expects (1|3, H, W) or (B, 1|3, H, W), got {tuple(getattr(x, 'shape', ()))}")
    if x.shape[-3] == 3:
        return x
    return x.repeat_interleave(3, dim=-3)


def modcrop(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop the bottom/right so that height and width are multiples of ``scale`` (top-left anchored, as MATLAB's
    ``modcrop`` and the official test code).

    Args:
        x: ``(..., H, W)`` tensor of any dtype.
        scale: positive int.

    Returns:
        ``(..., H - H % scale, W - W % scale)``, a view of ``x``.

    Example:
        >>> modcrop(torch.zeros(3, 10, 7), 4).shape
        torch.Size([3, 8, 4])
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive int, got {scale!r}")
    if not torch.is_tensor(x) or x.dim() < 2:
        raise ValueError(f"modcrop expects a tensor (..., H, W), got {type(x).__name__}")
    h, w = x.shape[-2:]
    if h < scale or w < scale:
        raise ValueError(f"image {h}x{w} is smaller than the scale {scale}")
    return x[..., : h - h % scale, : w - w % scale]
