"""Writing an image band by band, so that a large output never exists as one float tensor.

:class:`ImageWriter` is what :func:`srlib.inference.upscale_file` hands finished SR rows to, and what
:func:`srlib.data.io.write_image` uses for whole images. PNG is encoded as the rows arrive (memory: one band); other
formats fill a preallocated ``uint8``/``uint16`` array that PIL encodes at the end. Either way the file appears only
when complete (temporary file + ``os.replace``), and OS errors become srlib's one-line
:func:`~srlib.errors.explain_os_error` messages (disk full, permission denied, read-only file system).
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from srlib.errors import explain_os_error

__all__ = ["ImageWriter", "to_uint"]


def to_uint(x: torch.Tensor, bits: int = 8) -> np.ndarray:
    """``(C, r, W)`` float in [0, 1] -> ``(r, W, C)`` uint8 (uint16 for ``bits=16``) rows for :meth:`ImageWriter.write`.

    Rounds to the nearest level in float64, as :func:`srlib.data.io.write_image` does, 64 rows at a time so the
    float64 temporaries stay small.

    >>> to_uint(torch.tensor([[[0.0, 0.5, 1.0]]])).ravel().tolist()
    [0, 128, 255]
    """
    top, dtype = (255.0, torch.uint8) if bits == 8 else (65535.0, torch.int32)
    out = np.empty((x.shape[1], x.shape[2], x.shape[0]), np.uint8 if bits == 8 else np.uint16)
    for i in range(0, x.shape[1], 64):
        q = (x[:, i : i + 64].double() * top).round().to(dtype)
        out[i : i + 64] = q.permute(1, 2, 0).cpu().numpy()
    return out


class _PNGStream:
    """A minimal PNG encoder fed row band by row band (PIL can only encode a whole image held in memory)."""

    def __init__(self, f, height: int, width: int, channels: int, bits: int):
        colour_type = {1: 0, 3: 2, 4: 6}[channels]
        self.f, self.z, self.bits = f, zlib.compressobj(6), bits  # level 6: PIL's default
        self.prev = np.zeros(width * channels * bits // 8, np.uint8)  # the row "above" the first row is zeros
        f.write(b"\x89PNG\r\n\x1a\n" + self._chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bits,
                                                                           colour_type, 0, 0, 0)))

    @staticmethod
    def _chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    def write(self, rows: np.ndarray) -> None:
        # PNG stores 16-bit samples big-endian; filters work on bytes either way.
        data = rows.astype(">u2" if self.bits == 16 else np.uint8, copy=False).reshape(rows.shape[0], -1)
        data = np.ascontiguousarray(data).view(np.uint8)
        filtered = np.empty((data.shape[0], data.shape[1] + 1), np.uint8)
        filtered[:, 0] = 2  # PNG filter "Up": each byte minus the byte above (wraps mod 256); good on photographs
        np.subtract(data, np.concatenate([self.prev[None], data[:-1]]), out=filtered[:, 1:])
        self.prev = data[-1].copy()
        self._emit(self.z.compress(filtered))

    def close(self) -> None:
        self._emit(self.z.flush())
        self.f.write(self._chunk(b"IEND", b""))

    def _emit(self, data: bytes) -> None:
        if data:
            self.f.write(self._chunk(b"IDAT", data))


class ImageWriter:
    """Write an image of known size band by band: ``with ImageWriter(path, h, w, c) as out: out.write(rows)``.

    Args:
        path: output file (an extension from :data:`srlib.data.io.IMAGE_EXTS`; call
            :func:`srlib.data.io.check_output_path` first). Missing parent folders are created.
        height, width: image size in pixels. channels: 1 (grey), 3 (RGB) or 4 (RGBA).
        bits: 8, or 16 (grey PNG or TIFF only).
        stream: encode PNG rows as they arrive (default). ``False`` buffers the image and lets PIL encode it, whose
            adaptive PNG filters give smaller files; fine for images that fit in memory anyway.

    ``write(rows)`` takes the next ``r`` rows from the top: ``(r, W, C)`` or, for grey, ``(r, W)``, ``uint8``
    (``uint16`` when ``bits=16``). Failures to write raise :class:`~srlib.errors.OutputError` or
    :class:`~srlib.errors.DiskFull`; an exception inside the ``with`` block leaves no output file.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "ramp.png"
    >>> with ImageWriter(p, 4, 3, 1) as out:
    ...     out.write(np.zeros((1, 3), np.uint8)); out.write(np.full((3, 3), 200, np.uint8))
    >>> np.asarray(Image.open(p))[:, 0].tolist()
    [0, 200, 200, 200]
    """

    def __init__(self, path, height: int, width: int, channels: int, bits: int = 8, *, stream: bool = True):
        self.path, self.shape, self.bits, self.row = Path(path), (height, width, channels), bits, 0
        self.ext = self.path.suffix.lower()
        if channels not in (1, 3, 4) or bits not in (8, 16) or (
                bits == 16 and (channels != 1 or self.ext not in (".png", ".tif", ".tiff"))):
            raise ValueError(f"cannot write {channels} channel(s) at {bits} bits as {self.ext}")
        self.stream = stream and self.ext == ".png"
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.f = self.png = self.buf = None

    def __enter__(self) -> "ImageWriter":
        h, w, c = self.shape
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.f = open(self.tmp, "wb")
            if self.stream:
                self.png = _PNGStream(self.f, h, w, c, self.bits)
        except OSError as exc:
            self._discard()
            raise explain_os_error(exc, f"writing {self.path}") from None
        if not self.stream:  # 1 or 2 bytes per value, never a float canvas
            self.buf = np.empty((h, w, c), np.uint16 if self.bits == 16 else np.uint8)
        return self

    def write(self, rows: np.ndarray) -> None:
        h, w, c = self.shape
        rows = rows.reshape(rows.shape[0], w, c)
        if self.row + rows.shape[0] > h:
            raise ValueError(f"{self.path}: more than {h} rows written")
        try:
            if self.png is not None:
                self.png.write(rows)
            else:
                self.buf[self.row : self.row + rows.shape[0]] = rows
        except OSError as exc:
            raise explain_os_error(exc, f"writing {self.path}") from None
        self.row += rows.shape[0]

    def __exit__(self, exc_type, *_) -> None:
        try:
            if exc_type is None:
                self._finish()
        finally:
            self._discard()

    def _finish(self) -> None:
        if self.row != self.shape[0]:
            raise ValueError(f"{self.path}: {self.row} of {self.shape[0]} rows written")
        try:
            if self.png is not None:
                self.png.close()
            else:
                im = Image.fromarray(self.buf[..., 0] if self.shape[2] == 1 else self.buf)
                im.save(self.f, format=Image.registered_extensions()[self.ext])
            self.f.close()
            os.replace(self.tmp, self.path)
        except OSError as exc:
            raise explain_os_error(exc, f"writing {self.path}") from None

    def _discard(self) -> None:
        self.buf = None
        if self.f is not None:
            self.f.close()
        self.tmp.unlink(missing_ok=True)  # nothing left behind after os.replace or a failure
