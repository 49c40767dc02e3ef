"""Reading and writing images as ``(C, H, W)`` float32 tensors in ``[0, 1]``, and checking outputs before work.

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
CMYK, YCbCr, RGBX         converted to RGB by PIL (for CMYK with PIL's plain formula, ignoring any colour profile):
                          a CMYK JPEG from a print workflow is still a photograph the user wants upscaled.
RGBA / grey+alpha (LA)    ``alpha="error"`` (default): ``InputError``, because models take RGB and dropping alpha
                          changes what the picture shows. ``alpha="drop"`` keeps the colour channels (not composited).
                          :func:`read_image_with_alpha` returns ``(image, alpha)`` with alpha ``(1, H, W)`` or None.
anything else (``F``, …)  :class:`~srlib.errors.InputError` naming the mode.
========================  ===========================================================================================

EXIF orientation tags are ignored: pixels are returned as stored, as the official loaders do. Every failure to read
is an :class:`~srlib.errors.InputError` with a one-line message (never a PIL traceback).

Writing: :data:`IMAGE_EXTS` is the one list of image extensions srlib reads from folders and writes.
:func:`check_output_path` rejects an output before any work (unknown extension, the input itself, a folder that
cannot be written); :func:`write_image` and :class:`ImageWriter` write through a temporary file and ``os.replace``,
so a failed write leaves no half-written image, and explain disk-full or permission errors
(:func:`srlib.errors.explain_os_error`). :class:`ImageWriter` takes finished rows one band at a time and streams PNGs,
so a large output never has to exist as a float tensor.
"""

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from srlib.data.writer import ImageWriter, to_uint
from srlib.errors import InputError, OutputError

__all__ = ["IMAGE_EXTS", "ImageNotFound", "read_image", "read_image_with_alpha", "check_output_path", "write_image",
           "ImageWriter", "to_rgb", "modcrop"]

#: Image file extensions srlib reads from folders and writes (lower case, with the dot).
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
#: Formats that cannot store an alpha channel.
_NO_ALPHA = (".jpg", ".jpeg")
_ALPHA_CHOICES = ("error", "drop")
_TO_RGB = {"CMYK": "RGB", "YCbCr": "RGB", "RGBX": "RGB", "RGBa": "RGBA", "La": "LA", "P": None, "PA": "RGBA"}


class ImageNotFound(InputError, FileNotFoundError):
    """No image file at the given path (an :class:`~srlib.errors.InputError` that is also a ``FileNotFoundError``)."""


def _open(path) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise ImageNotFound(f"{path} is a folder, not an image file" if path.is_dir() else f"no image file at {path}")
    try:
        im = Image.open(path)
        # The raw mode is only visible before decoding: "RGB;16B" etc. means PIL will drop the low byte.
        rawmodes = [str(t[-1]) for t in (im.tile or [])]
        im.load()
    except Exception as err:  # PIL raises several types (UnidentifiedImageError, OSError, SyntaxError, bombs)
        reason = (str(err).splitlines() or [type(err).__name__])[0]  # one line, not PIL's traceback
        reason = "empty file" if path.stat().st_size == 0 else reason
        raise InputError(f"cannot decode {path} as an image: {reason}") from None
    if im.mode in ("RGB", "RGBA", "LA") and any(";16" in r for r in rawmodes):
        warnings.warn(f"{path}: 16-bit {im.mode} PNG; PIL decodes it at 8 bits per channel", stacklevel=3)
    return im


def _decode(im: Image.Image, path) -> tuple:
    """PIL image -> (colour (C, H, W) float32 in [0, 1], alpha (1, H, W) or None)."""
    if im.mode in _TO_RGB:
        im = im.convert(_TO_RGB[im.mode] or ("RGBA" if "transparency" in im.info else "RGB"))
    elif im.mode == "1":
        im = im.convert("L")
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im).astype(np.float64)
        if arr.min() < 0 or arr.max() > 65535:
            raise InputError(f"{path}: 32-bit integer image with values outside 0..65535 is not supported")
        return torch.from_numpy(arr[None] / 65535.0).to(torch.float32), None
    if im.mode not in ("L", "LA", "RGB", "RGBA"):
        raise InputError(f"{path}: unsupported image mode {im.mode!r}; convert it to RGB or grey first")
    # uint8 -> float32 directly (k / 255 rounds to the same float32 as through float64: its bits never sit on a tie).
    arr = torch.from_numpy(np.array(im, dtype=np.uint8))
    arr = (arr[None] if arr.dim() == 2 else arr.permute(2, 0, 1)).contiguous()  # (C, H, W) uint8
    x = arr.to(torch.float32).div_(255.0)
    return (x[:-1], x[-1:]) if im.mode in ("LA", "RGBA") else (x, None)


def read_image(path, *, alpha: str = "error") -> torch.Tensor:
    """Read an image file (see the module docstring for the policy per kind of file).

    Args:
        path: file path (PNG, JPEG, BMP, TIFF, ... anything PIL reads).
        alpha: what to do with an alpha channel: ``"error"`` (default) or ``"drop"``.

    Returns:
        ``(C, H, W)`` float32 in ``[0, 1]``, ``C`` = 1 (grey) or 3 (RGB).

    Raises:
        ImageNotFound: no such file (an ``InputError`` and a ``FileNotFoundError``).
        InputError: not decodable (empty, truncated, not an image), unsupported mode, or an alpha channel with
            ``alpha="error"``.

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
        raise InputError(f"{path} has an alpha channel; pass alpha='drop' to keep only the colour channels, or use "
                         f"read_image_with_alpha() to get the alpha separately")
    return colour


def read_image_with_alpha(path) -> tuple:
    """Read an image and its alpha channel separately.

    Returns:
        ``(image, alpha)``: image ``(C, H, W)`` float32 in ``[0, 1]`` (C = 1 or 3, colour not composited), alpha
        ``(1, H, W)`` float32 in ``[0, 1]`` or ``None`` when the file has none. Raises like :func:`read_image`.
    """
    return _decode(_open(path), path)


def check_output_path(path, overwrite: bool = False, inputs=(), *, channels: int | None = None) -> Path:
    """Check, before any work, that an image can be written to ``path``; return it resolved.

    Args:
        path: the output file; its extension picks the format and must be one of :data:`IMAGE_EXTS`.
        overwrite: allow ``path`` to be one of ``inputs`` (replacing a source image is refused by default).
        inputs: the input files of the job.
        channels: channels to be written, when known (4 = RGBA, which JPEG cannot store).

    Raises:
        OutputError: unknown extension, alpha for a format without alpha, ``path`` is an input (without
            ``overwrite``) or a folder, or its folder cannot be created or written (permission, read-only).

    >>> check_output_path("out.xyz")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    srlib.errors.OutputError: unknown output extension '.xyz' in out.xyz; use one of .png .jpg .jpeg .bmp .tif ...
    """
    p = Path(path).expanduser()
    ext = p.suffix.lower()
    if ext not in IMAGE_EXTS or ext not in Image.registered_extensions():
        raise OutputError(f"unknown output extension {ext or '(none)'!r} in {path}; use one of {' '.join(IMAGE_EXTS)}")
    if channels == 4 and ext in _NO_ALPHA:
        raise OutputError(f"{path}: {ext} cannot store the alpha channel of the image; write .png or .webp instead")
    out = p.resolve()
    for src in inputs:
        src = Path(src).expanduser().resolve()
        same = src == out or (src.exists() and out.exists() and os.path.samefile(src, out))
        if same and not overwrite:
            raise OutputError(f"output {path} is the input image; choose another output name (or allow overwriting "
                              f"the input: overwrite=True, --overwrite)")
    if out.is_dir():
        raise OutputError(f"output {path} is a folder; give a file name such as {p / 'out.png'}")
    if out.exists() and not os.access(out, os.W_OK):
        raise OutputError(f"permission denied: cannot overwrite {path}")
    folder = out.parent
    while not folder.exists():  # the nearest existing ancestor decides whether the folders can be created
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"cannot create the folder {out.parent}: {folder} is a file")
    if not os.access(folder, os.W_OK | os.X_OK):
        readonly = hasattr(os, "statvfs") and os.statvfs(folder).f_flag & os.ST_RDONLY
        raise OutputError(f"{'read-only file system' if readonly else 'permission denied'}: cannot write to {folder}")
    return out


def write_image(path, x: torch.Tensor) -> None:
    """Write a ``(C, H, W)`` float image in ``[0, 1]`` as an 8-bit file (rounded to the nearest level).

    Args:
        path: destination; the format follows the extension (one of :data:`IMAGE_EXTS`; use PNG for lossless
            output). Parent folders are created.
        x: ``(C, H, W)`` float in ``[0, 1]``, C = 1 (grey), 3 (RGB) or 4 (RGBA). Clamp SR outputs yourself first
            (``x.clamp(0, 1)``): out-of-range values are an error, not clipped.

    Raises:
        OutputError: unknown extension or unwritable destination (checked before anything is written);
            DiskFull when the disk fills.
    """
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise TypeError(f"write_image expects a float tensor in [0, 1], got {getattr(x, 'dtype', type(x))}")
    if x.dim() != 3 or x.shape[0] not in (1, 3, 4):
        raise ValueError(f"write_image expects (C, H, W) with C in {{1, 3, 4}}, got shape {tuple(x.shape)}")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"write_image expects values in [0, 1], got [{x.min().item():.4g}, {x.max().item():.4g}]; "
                         f"clamp first")
    path = check_output_path(path, overwrite=True, channels=x.shape[0])
    arr = to_uint(x.detach().cpu())  # (H, W, C) uint8, rounded to the nearest level
    with ImageWriter(path, *arr.shape, stream=False) as out:  # PIL's PNG encoder: adaptive filters, smaller files
        out.write(arr)


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
