"""Upscaling images of any size: tiled inference in bounded memory, the one :class:`Upscaler`, and image files.

**Tiling.** The LR image is cut into ``tile x tile`` tiles that overlap by ``overlap`` LR pixels; each tile is
super-resolved alone and the SR tiles are blended with weights that ramp linearly across the overlap (zero in the
outer quarter next to a cut edge, where zero padding corrupts the tile's output, one beyond). On each overlap the two
weights sum to one, so a model whose output at a pixel depends only on nearby input pixels gives the untiled result
exactly; a deep net (DASR's receptive field is wider than any practical overlap) is left with differences far below
one 8-bit level once the overlap is a few dozen pixels.

**Bounded memory.** Tiles run one band (row of tiles) at a time. A tile's weight is a row ramp times a column ramp,
so the image's blend weights are two 1-D vectors and the only 2-D buffer is one band's weighted sum. Rows that no
later band touches are finished and handed on (:func:`iter_bands`): :func:`upscale` gathers them into a tensor,
:func:`upscale_file` streams them to the file as 8-bit, so its memory grows with the tile and the image width, not
with the output's area, and it shows a progress bar over tiles with an ETA.

**Degradation-aware models.** A model exposing ``represent(lr)`` and ``sr_from_representation(lr, rep)`` (DASR's
:class:`~srlib.dasr.network.BlindSR`) gets its representation computed **once for the whole LR image**; only the SR
net runs per tile. (The official ``--chop`` re-encodes every quadrant, reference Sec. 7.10, so the representation
would change from tile to tile.) For an image larger than :data:`REP_TILE` the encoder trunk runs piece by piece with
enough context that its feature map is the whole-image one, and the pooled mean is the same number. Any other model
(e.g. USR-DU's RRDBNet) is simply called on each tile.

**Inputs** are checked once per call (:func:`srlib.checks.check_image`): ``(B, C, h, w)`` float in ``[0, 1]`` (1e-6
slack), no NaN/Inf, not empty. float16, bfloat16 and float64 are **converted to float32**; results are float32.
The model's train/eval mode is never changed, and no gradients are recorded.

**Files** (:func:`upscale_file`): RGB as is; grey is replicated to RGB for the model and the SR output averaged back
to one channel, so a grey file gives a grey file; an alpha channel is upscaled with bicubic :func:`imresize` and
re-attached; a 16-bit grey PNG (or TIFF) is processed in float and written back as 16-bit.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator, NamedTuple

import torch
from torch import nn

from srlib.checks import check_image
from srlib.errors import UsageError

__all__ = ["REP_TILE", "AUTO_TILE", "upscale", "iter_bands", "Upscaler", "upscale_file", "Written"]

#: Side (LR pixels) of the pieces the DASR encoder sees when the representation of a larger image is computed.
REP_TILE = 512
#: Context (LR pixels) around each encoder piece: more than the trunk's receptive-field radius (11 px for six 3x3
#: convs, two of stride 2) and a multiple of its total stride 4, so the pieces' feature maps tile the whole map.
REP_HALO = 16
#: Tile side used by :func:`upscale_file` when the upscaler has none and the image is larger (bounded memory).
AUTO_TILE = 512
#: Output rows handed on at a time by the tiled path (a multiple of the scale is used).
ROWS = 256


def _tile_starts(n: int, tile: int, overlap: int) -> list:
    """Start offsets of tiles of size ``tile`` covering ``0..n`` with at least ``overlap`` shared pixels."""
    if n <= tile:
        return [0]
    return list(range(0, n - tile, tile - overlap)) + [n - tile]


def _ramp(length: int, ramp: int, lead: bool, trail: bool, device=None) -> torch.Tensor:
    """1-D blending weights: ``lead``/``trail`` ramps over ``ramp`` pixels at a side that touches another tile."""
    w = torch.ones(length, device=device)
    if ramp > 0:
        dead = ramp // 4  # outer quarter: the pixels most affected by the tile's zero padding
        i = torch.arange(ramp, device=device, dtype=torch.float32)
        up = ((i - dead + 0.5) / (ramp - 2 * dead)).clamp(0, 1)
        if lead:
            w[:ramp] = torch.minimum(w[:ramp], up)
        if trail:
            w[-ramp:] = torch.minimum(w[-ramp:], up.flip(0))
    return w


def _check_tiling(tile, overlap) -> None:
    if tile is not None and not (isinstance(tile, int) and not isinstance(tile, bool) and tile > 0
                                 and isinstance(overlap, int) and 0 <= overlap < tile):
        raise UsageError(f"need an int tile > 0 and 0 <= overlap < tile, got tile={tile!r}, overlap={overlap!r}")


def _device_dtype(model, fallback: torch.device) -> tuple:
    try:
        p = next(model.parameters())
        return p.device, (p.dtype if p.is_floating_point() else torch.float32)
    except (AttributeError, StopIteration):
        return fallback, torch.float32


def _progress(total: int, desc: str, enabled: bool):
    from srlib.runs import progress

    return progress(total=total, desc=desc, unit="tile", disable=not enabled, leave=enabled)


def _representation(model, lr: torch.Tensor, dev, dtype, show: bool) -> torch.Tensor:
    """DASR's whole-image representation (B, rep_dim), in memory bounded by :data:`REP_TILE`."""
    from srlib.dasr.network import RGB_RANGE  # what BlindSR.represent scales by before its encoder

    trunk = getattr(getattr(getattr(model, "E", None), "encoder_q", None), "E", None)
    h, w = lr.shape[-2:]
    if (max(h, w) <= REP_TILE or not isinstance(trunk, nn.Sequential) or not isinstance(trunk[-1], nn.AdaptiveAvgPool2d)
            or trunk.training or getattr(model, "oracle", False)):  # train-mode BN pools batch statistics: not local
        return model.represent(lr.to(dev, dtype))
    if lr.shape[1] != 3:
        raise ValueError(f"lr must be (B, 3, h, w) RGB, got shape {tuple(lr.shape)}")
    total, cells = 0.0, math.ceil(h / 4) * math.ceil(w / 4)  # the trunk's output grid (two stride-2 convs)
    pieces = [(y, x) for y in range(0, h, REP_TILE) for x in range(0, w, REP_TILE)]
    with _progress(len(pieces), "representation", show) as bar:
        for y, x in pieces:  # core [y, y1) x [x, x1), both starts multiples of 4, read with REP_HALO of context
            y1, x1 = min(y + REP_TILE, h), min(x + REP_TILE, w)
            ya, xa = max(y - REP_HALO, 0), max(x - REP_HALO, 0)
            piece = lr[..., ya : min(y1 + REP_HALO, h), xa : min(x1 + REP_HALO, w)].to(dev, dtype)
            f = trunk[:-1](piece * RGB_RANGE)  # (B, rep_dim, ~h'/4, ~w'/4)
            i0, j0 = (y - ya) // 4, (x - xa) // 4
            f = f[..., i0 : i0 + math.ceil(y1 / 4) - y // 4, j0 : j0 + math.ceil(x1 / 4) - x // 4]
            total = total + f.sum(dim=(2, 3))
            bar.update(1)
    return (total / cells).to(dtype)


@torch.no_grad()  # on a generator, torch sets the mode around each step only
def iter_bands(model, lr: torch.Tensor, *, tile: int | None = None, overlap: int = 16,
               rep: torch.Tensor | None = None, progress: bool = False, amp: str | None = None) -> Iterator[tuple]:
    """Super-resolve ``lr`` band by band; yield finished output rows top to bottom (no input check, no clamp).

    Args: as :func:`upscale` (``lr`` already checked, float32); ``progress`` shows a bar over tiles; ``amp``
        (``"bf16"``/``"fp16"``) runs the network under autocast (:class:`srlib.accel.Speed`), tile by tile, so the
        caller's code between two bands never runs under it.

    Yields:
        ``(row, sr_rows)``: the first output row and ``(B, C, r, s*w)`` float32 rows on ``lr``'s device. Without
        tiling there is one piece, the whole output. With tiling, ``r`` is a multiple of ``s`` and at most
        ``max(s, ROWS)``, and the largest buffer held is one band, ``(B, C, s * tile, s * w)``.
    """
    from srlib.accel import Speed

    dev, dtype = _device_dtype(model, lr.device)
    speed = Speed(amp=amp)
    if hasattr(model, "represent") and hasattr(model, "sr_from_representation"):
        if rep is None:
            with speed.autocast(dev):
                rep = _representation(model, lr, dev, dtype, progress)
        rep = rep.to(dev, dtype)
        net = lambda x: model.sr_from_representation(x, rep)  # noqa: E731
    else:
        net = model

    def run(x):
        with speed.autocast(dev):
            return net(x)
    b, _, h, w = lr.shape
    if tile is None or (h <= tile and w <= tile):
        yield 0, run(lr.to(dev, dtype)).to(lr.device, torch.float32)
        return
    ys, xs = _tile_starts(h, tile, overlap), _tile_starts(w, tile, overlap)
    th, tw = min(tile, h), min(tile, w)
    band = None
    with _progress(len(ys) * len(xs), "tiles", progress) as bar:
        for i, y in enumerate(ys):
            for x in xs:
                sr = run(lr[..., y : y + th, x : x + tw].to(dev, dtype)).to(lr.device, torch.float32)
                if band is None:  # first tile: now the scale and channels are known
                    s = sr.shape[-1] // tw
                    if sr.shape[-2:] != (s * th, s * tw):
                        raise ValueError(f"model maps a {th}x{tw} tile to {tuple(sr.shape[-2:])}: no integer scale")
                    ramp = lambda n, lead, trail: _ramp(s * n, s * overlap, lead, trail, lr.device)  # noqa: E731
                    wy_all, wx_all = lr.new_zeros(s * h), lr.new_zeros(s * w)  # blend weights are separable
                    for y_ in ys:
                        wy_all[s * y_ : s * (y_ + th)] += ramp(th, y_ > 0, y_ + th < h)
                    for x_ in xs:
                        wx_all[s * x_ : s * (x_ + tw)] += ramp(tw, x_ > 0, x_ + tw < w)
                    band = lr.new_zeros(b, sr.shape[1], s * th, s * w)  # rows [s*y, s*(y+th)) of this band
                if x == xs[0]:
                    wy = ramp(th, y > 0, y + th < h)
                wx = ramp(tw, x > 0, x + tw < w)
                band[..., s * x : s * (x + tw)] += sr * (wy[:, None] * wx[None, :])
                bar.update(1)
            end = ys[i + 1] if i + 1 < len(ys) else h  # rows above the next band are final
            done, step = s * (end - y), s * max(1, ROWS // s)
            for r in range(0, done, step):  # in slices, so that the normalised copy stays small
                r1 = min(r + step, done)
                yield s * y + r, band[:, :, r:r1] / (wy_all[s * y + r : s * y + r1, None] * wx_all[None, :])
            if i + 1 < len(ys):  # shift the rows the next band shares up to the top, zero the rest
                keep = band[:, :, done:].clone()
                band.zero_()
                band[:, :, : keep.shape[2]] = keep


def _gather(bands: Iterator[tuple], lr: torch.Tensor) -> torch.Tensor:
    """Collect :func:`iter_bands` output into one (B, C, s*h, s*w) tensor."""
    out = None
    for row, rows in bands:
        if out is None:
            height = rows.shape[-1] // lr.shape[-1] * lr.shape[-2]
            if rows.shape[2] == height:  # untiled: the one band is the result
                out = rows
                continue
            out = rows.new_empty(*rows.shape[:2], height, rows.shape[3])
        out[:, :, row : row + rows.shape[2]] = rows
    return out


@torch.no_grad()
def upscale(model, lr: torch.Tensor, *, tile: int | None = None, overlap: int = 16,
            rep: torch.Tensor | None = None, progress: bool = False, amp: str | None = None) -> torch.Tensor:
    """Super-resolve ``lr`` with ``model``, optionally tile by tile.

    Args:
        model: a DASR-like model (``represent`` + ``sr_from_representation``) or any callable
            ``(B, C, h, w) -> (B, C, s*h, s*w)``. Its train/eval mode is left as it is.
        lr: (B, C, h, w) float in [0, 1] (C as the model expects, 3 for srlib's models), on any device; tiles are
            moved to the model's device (and dtype) one at a time and the result comes back on ``lr``'s device.
            float16/bfloat16/float64 are converted to float32; NaN/Inf, values outside [0, 1] and empty input
            raise :class:`~srlib.errors.InputError`.
        tile: tile side in LR pixels; ``None`` (or a tile at least as large as the image) runs in one piece.
        overlap: LR pixels shared by neighbouring tiles, ``0 <= overlap < tile``.
        rep: a precomputed degradation representation (B, rep_dim) for DASR-like models (default: computed from
            the whole ``lr``).
        progress: show a progress bar over tiles.
        amp: ``"bf16"`` or ``"fp16"`` to run the network under autocast (see :class:`srlib.accel.Speed`).

    Returns:
        (B, C, s*h, s*w) float32 SR image, not clamped. For outputs too large for memory use :func:`upscale_file`.

    >>> toy = torch.nn.Sequential(torch.nn.Conv2d(3, 12, 1), torch.nn.PixelShuffle(2))
    >>> x = torch.rand(1, 3, 20, 30)
    >>> torch.allclose(upscale(toy, x, tile=8, overlap=4), toy(x), atol=1e-6)
    True
    """
    lr = check_image(lr, "lr")
    _check_tiling(tile, overlap)
    return _gather(iter_bands(model, lr, tile=tile, overlap=overlap, rep=rep, progress=progress, amp=amp), lr)


class Upscaler:
    """A model as a plain function ``lr (B, 3, h, w) float in [0, 1] -> sr (B, 3, s*h, s*w) float32 in [0, 1]``.

    Calls run without gradients and never switch the model's train/eval mode (put it in eval mode yourself, as
    :func:`srlib.models.load_upscaler` does). Inputs are checked once per call (see :func:`upscale`; 3 channels).

    Attributes: ``model``, ``scale``, ``tile``, ``overlap``, ``amp`` (autocast mode or ``None``), ``needs_rgb = True``
    (grey inputs must be replicated to RGB first; :func:`srlib.evaluate.evaluate_images` reads this flag).
    """

    needs_rgb = True

    def __init__(self, model, scale: int, *, tile: int | None = None, overlap: int = 16, amp: str | None = None):
        from srlib.accel import Speed

        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise UsageError(f"scale must be a positive int, got {scale!r}")
        _check_tiling(tile, overlap)
        Speed(amp=amp)  # checks the mode's name
        self.model, self.scale, self.tile, self.overlap, self.amp = model, scale, tile, overlap, amp

    def __repr__(self) -> str:
        return f"Upscaler({type(self.model).__name__}, scale={self.scale}, tile={self.tile}, overlap={self.overlap})"

    def bands(self, lr: torch.Tensor, *, tile: int | None = None, progress: bool = False) -> Iterator[tuple]:
        """:func:`iter_bands` for this model (``tile`` overrides ``self.tile``), rows clamped to [0, 1]. ``lr`` must
        already be checked (:func:`srlib.checks.check_image`); this is the streaming form of a call."""
        tile = self.tile if tile is None else tile
        _check_tiling(tile, self.overlap)
        for row, rows in iter_bands(self.model, lr, tile=tile, overlap=self.overlap, progress=progress, amp=self.amp):
            if rows.shape[-1] != self.scale * lr.shape[-1]:
                raise ValueError(f"the model upscales x{rows.shape[-1] / lr.shape[-1]:g}, not x{self.scale}")
            yield row, rows.clamp_(0, 1)

    def __call__(self, lr: torch.Tensor) -> torch.Tensor:
        lr = check_image(lr, "lr", channels=3)
        return _gather(self.bands(lr), lr)


class Written(NamedTuple):
    """What :func:`upscale_file` wrote."""

    path: Path
    width: int
    height: int
    channels: int
    bits: int


def _alpha_rows(alpha: torch.Tensor, s: int, r0: int, r1: int) -> torch.Tensor:
    """Output rows ``[r0, r1)`` (multiples of ``s``) of the bicubic x``s`` alpha (1, H, W), from LR rows with 4 of
    context (the bicubic kernel reaches 2): equal to those rows of ``imresize(alpha, s)``."""
    from srlib.degradations import imresize

    lo, hi = r0 // s, r1 // s
    a, b = max(lo - 4, 0), min(hi + 4, alpha.shape[1])
    return imresize(alpha[None, :, a:b], s)[0, :, s * (lo - a) : s * (hi - a)].clamp_(0, 1)


def _is_16bit(path) -> bool:
    from PIL import Image

    with Image.open(path) as im:  # the header only
        return im.mode.startswith("I;16") or im.mode == "I"


def upscale_file(upscaler: Upscaler, in_path, out_path, *, overwrite: bool = False,
                 progress: bool | None = None) -> Written:
    """Super-resolve an image file and write the result (policies in the module docstring), in bounded memory.

    Everything that can be checked is checked before any super-resolution: the output extension, the output is
    not the input (unless ``overwrite``), its folder can be created and written
    (:func:`srlib.data.io.check_output_path`), the input exists and decodes. Rows are written as they are
    finished, as 8-bit (16-bit for 16-bit grey into PNG/TIFF); PNG is streamed. Without ``upscaler.tile``, images
    larger than :data:`AUTO_TILE` LR pixels are tiled with that size, so memory never grows with the output's area.

    Args:
        upscaler: an :class:`Upscaler` (e.g. from :func:`srlib.models.load_upscaler`).
        in_path, out_path: image files; the output format follows the extension.
        overwrite: allow ``out_path`` to be ``in_path``.
        progress: progress bar over tiles; ``None`` shows it when there is more than one tile.

    Returns:
        :class:`Written` ``(path, width, height, channels, bits)``.

    Raises:
        InputError: missing, empty, corrupt or unsupported input. OutputError / DiskFull: see above, or writing fails
        (no file is left behind).
    """
    from srlib.data.io import check_output_path, read_image_with_alpha, to_rgb
    from srlib.data.writer import ImageWriter, to_uint

    out = check_output_path(out_path, overwrite, inputs=(in_path,))  # before reading a possibly huge input
    colour, alpha = read_image_with_alpha(in_path)  # (C, H, W) [0, 1], alpha (1, H, W) or None
    grey, (h, w), s = colour.shape[0] == 1, colour.shape[-2:], upscaler.scale
    channels = 4 if alpha is not None else 1 if grey else 3
    check_output_path(out_path, overwrite, inputs=(in_path,), channels=channels)  # e.g. alpha into a JPEG
    deep = grey and alpha is None and out.suffix.lower() in (".png", ".tif", ".tiff") and _is_16bit(in_path)
    bits = 16 if deep else 8
    lr = check_image(to_rgb(colour)[None], str(in_path), channels=3)
    tile = upscaler.tile or (AUTO_TILE if max(h, w) > AUTO_TILE else None)
    n_tiles = len(_tile_starts(h, tile, upscaler.overlap)) * len(_tile_starts(w, tile, upscaler.overlap)) if tile else 1
    with ImageWriter(out, s * h, s * w, channels, bits) as sink:
        for row, rows in upscaler.bands(lr, tile=tile, progress=n_tiles > 1 if progress is None else progress):
            x = rows[0]  # (3, r, s*w) in [0, 1]
            if grey:
                x = x.mean(dim=0, keepdim=True)  # the model saw R=G=B; average its three outputs back to grey
            if alpha is not None:  # RGBA (grey+alpha becomes RGBA with R=G=B)
                x = torch.cat([to_rgb(x), _alpha_rows(alpha, s, row, row + x.shape[1])], dim=0)
            sink.write(to_uint(x, bits))
    return Written(out, s * w, s * h, channels, bits)
