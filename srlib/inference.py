"""Upscaling images of any size: tiled inference, checkpoint loading and the ``srlib upscale`` command.

**Tiling.** The LR image is cut into ``tile x tile`` tiles that overlap by ``overlap`` LR pixels; each tile is
super-resolved alone and the SR tiles are blended with weights that ramp linearly across the overlap (zero in the
outer quarter next to a cut edge, where zero padding corrupts the tile's output, one beyond). On each overlap the two
weights sum to one, so a model whose output at a pixel depends only on nearby input pixels gives the untiled result
exactly; a deep net (DASR's receptive field is wider than any practical overlap) is left with differences far below
one 8-bit level once the overlap is a few dozen pixels.

**Degradation-aware models.** A model exposing ``represent(lr)`` and ``sr_from_representation(lr, rep)`` (DASR's
:class:`~srlib.dasr.network.BlindSR`) gets its representation computed **once on the whole LR image**; only the SR net
runs per tile. (The official ``--chop`` re-encodes every quadrant, reference Sec. 7.10, so the representation would
change from tile to tile.) Any other model (e.g. USR-DU's RRDBNet) is simply called on each tile.

**Files** (:func:`upscale_file`): RGB as is; grey is replicated to RGB for the model and the SR output averaged back
to one channel, so a grey file gives a grey file; an alpha channel is upscaled with bicubic :func:`imresize` and
re-attached; a 16-bit grey PNG is processed in float and written back as 16-bit.
"""
from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np
import torch


def _tile_starts(n: int, tile: int, overlap: int) -> list:
    """Start offsets of tiles of size ``tile`` covering ``0..n`` with at least ``overlap`` shared pixels."""
    if n <= tile:
        return [0]
    return list(range(0, n - tile, tile - overlap)) + [n - tile]


def _ramp(length: int, ramp: int, lead: bool, trail: bool, device) -> torch.Tensor:
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


def _model_device(model) -> torch.device | None:
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return None


@torch.no_grad()
def upscale(model, lr: torch.Tensor, *, tile: int | None = None, overlap: int = 16,
            rep: torch.Tensor | None = None) -> torch.Tensor:
    """Super-resolve ``lr`` with ``model``, optionally tile by tile.

    Args:
        model: a DASR-like model (``represent`` + ``sr_from_representation``) or any callable
            ``(B, 3, h, w) -> (B, 3, s*h, s*w)``. Its train/eval mode is left as it is.
        lr: (B, C, h, w) float in [0, 1] (C as the model expects, 3 for srlib's models), on any device; tiles are
            moved to the model's device one at a time and the result comes back on ``lr``'s device.
        tile: tile side in LR pixels; ``None`` (or a tile at least as large as the image) runs in one piece.
        overlap: LR pixels shared by neighbouring tiles, ``0 <= overlap < tile``.
        rep: a precomputed degradation representation (B, rep_dim) for DASR-like models (default: computed from
            the whole ``lr``).

    Returns:
        (B, C, s*h, s*w) float SR image, not clamped.

    >>> toy = torch.nn.Sequential(torch.nn.Conv2d(3, 12, 1), torch.nn.PixelShuffle(2))
    >>> x = torch.rand(1, 3, 20, 30)
    >>> torch.allclose(upscale(toy, x, tile=8, overlap=4), toy(x), atol=1e-6)
    True
    """
    if not isinstance(lr, torch.Tensor) or lr.dim() != 4 or not lr.is_floating_point():
        raise ValueError(f"lr must be a (B, C, h, w) float tensor, got {getattr(lr, 'shape', type(lr))}")
    if tile is not None and not (isinstance(tile, int) and tile > 0 and 0 <= overlap < tile):
        raise ValueError(f"need an int tile > 0 and 0 <= overlap < tile, got tile={tile!r}, overlap={overlap!r}")
    dev = _model_device(model) or lr.device
    if hasattr(model, "represent") and hasattr(model, "sr_from_representation"):
        rep = model.represent(lr.to(dev)) if rep is None else rep.to(dev)  # once, on the whole image
        run = lambda x: model.sr_from_representation(x, rep)  # noqa: E731
    else:
        run = model
    b, _, h, w = lr.shape
    if tile is None or (h <= tile and w <= tile):
        return run(lr.to(dev)).to(lr.device)

    ys, xs = _tile_starts(h, tile, overlap), _tile_starts(w, tile, overlap)
    out = weight = None
    for y in ys:
        for x in xs:
            th, tw = min(tile, h), min(tile, w)
            sr = run(lr[..., y : y + th, x : x + tw].to(dev)).to(lr.device)  # (B, C, s*th, s*tw)
            s = sr.shape[-1] // tw
            if out is None:
                out = lr.new_zeros(b, sr.shape[1], s * h, s * w)
                weight = lr.new_zeros(1, 1, s * h, s * w)
            wy = _ramp(s * th, s * overlap, y > 0, y + th < h, lr.device)
            wx = _ramp(s * tw, s * overlap, x > 0, x + tw < w, lr.device)
            w2 = (wy[:, None] * wx[None, :])[None, None]
            out[..., s * y : s * (y + th), s * x : s * (x + tw)] += sr * w2
            weight[..., s * y : s * (y + th), s * x : s * (x + tw)] += w2
    return out / weight


class Upscaler:
    """A loaded model as a plain function ``lr (B, 3, h, w) [0, 1] -> sr (B, 3, s*h, s*w)`` (clamped to [0, 1]).

    Attributes: ``model``, ``scale``, ``tile``, ``overlap``, ``needs_rgb = True`` (grey inputs must be replicated to
    RGB first; :func:`srlib.evaluate.evaluate_images` reads this flag).
    """

    needs_rgb = True

    def __init__(self, model, scale: int, *, tile: int | None = None, overlap: int = 16):
        self.model, self.scale, self.tile, self.overlap = model, scale, tile, overlap

    def __call__(self, lr: torch.Tensor) -> torch.Tensor:
        return upscale(self.model, lr, tile=self.tile, overlap=self.overlap).clamp(0, 1)


def load_upscaler(checkpoint: str | Path, device: str | None = None, *, tile: int | None = None,
                  overlap: int = 16) -> Upscaler:
    """Load a DASR checkpoint as an :class:`Upscaler` (eval mode, on ``device``, default CUDA if available).

    Accepts checkpoints written by :func:`srlib.dasr.train.train_dasr` (``final.pt``, ``last.pt``, ...) and the
    official released DASR weights (``model_600.pt``, keys ``G.*`` + ``E.encoder_q.*``, scale read from the keys).
    """
    from srlib.checkpoints import StateDictMismatch
    from srlib.dasr.official import load_official
    from srlib.dasr.train import model_from_checkpoint
    from srlib.runs import load_checkpoint, pick_device

    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # srlib's last.pt also holds RNG states (numpy arrays): trusted, full load
        obj = load_checkpoint(path)
    if isinstance(obj, dict) and obj.get("kind") == "srlib.dasr":
        model = model_from_checkpoint(obj)
    elif isinstance(obj, dict) and any(str(k).startswith("G.") for k in obj):
        model = load_official(obj, scale=None)
    else:
        raise StateDictMismatch(f"{path} is neither an srlib DASR checkpoint nor official DASR weights "
                                "(expected a 'kind': 'srlib.dasr' entry or G.* keys)")
    if getattr(model, "oracle", False):
        raise ValueError(f"{path} is the Model 5 oracle: it needs the true kernel, not just an LR image")
    return Upscaler(model.to(pick_device(device)).eval(), model.scale, tile=tile, overlap=overlap)


def _is_16bit(path: Path) -> bool:
    from PIL import Image

    with Image.open(path) as im:
        return im.mode.startswith("I;16") or im.mode == "I"


def _write_16bit_grey(path: Path, x: torch.Tensor) -> None:
    """Write (1, H, W) float in [0, 1] as a 16-bit grey PNG (srlib.data.io writes 8-bit only)."""
    from PIL import Image

    arr = (x[0].clamp(0, 1).double() * 65535).round().cpu().numpy().astype(np.uint16)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def upscale_file(checkpoint: str | Path, in_path: str | Path, out_path: str | Path, *, tile: int | None = None,
                 overlap: int = 16, device: str | None = None) -> torch.Tensor:
    """Super-resolve an image file with a DASR checkpoint and write the result (policy in the module docstring).

    Returns the written image, (C, s*H, s*W) float in [0, 1] (C = 1 grey, 3 RGB, 4 RGBA).
    """
    from srlib.data.io import read_image_with_alpha, to_rgb, write_image
    from srlib.degradations import imresize

    upscaler = load_upscaler(checkpoint, device, tile=tile, overlap=overlap)
    colour, alpha = read_image_with_alpha(in_path)  # (C, H, W) [0, 1], alpha (1, H, W) or None
    grey = colour.shape[0] == 1
    sr = upscaler(to_rgb(colour)[None])[0]  # (3, sH, sW)
    if grey:
        sr = sr.mean(dim=0, keepdim=True)  # the model saw R=G=B; average its three outputs back to grey
    if alpha is not None:
        a = imresize(alpha[None], upscaler.scale)[0].clamp(0, 1)  # bicubic, like any non-colour plane
        sr = torch.cat([to_rgb(sr), a], dim=0)  # RGBA (grey+alpha becomes RGBA with R=G=B)
    out_path = Path(out_path)
    if grey and alpha is None and _is_16bit(Path(in_path)):
        _write_16bit_grey(out_path, sr)
    else:
        write_image(out_path, sr)
    return sr


def cli_main(argv: list[str] | None = None) -> int:
    """``srlib upscale --checkpoint C in.png out.png [--tile N] [--overlap O] [--device D]``."""
    p = argparse.ArgumentParser(prog="srlib upscale", description="Super-resolve an image with a DASR checkpoint "
                                "(srlib or official). Grey stays grey, alpha is upscaled bicubically, 16-bit grey "
                                "PNGs stay 16-bit.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--tile", type=int, default=None, help="tile side in LR pixels (default: whole image)")
    p.add_argument("--overlap", type=int, default=16, help="tile overlap in LR pixels")
    p.add_argument("--device", default=None)
    args = p.parse_args(argv)
    sr = upscale_file(args.checkpoint, args.input, args.output, tile=args.tile, overlap=args.overlap,
                      device=args.device)
    print(f"wrote {args.output} ({sr.shape[0]} channels, {sr.shape[-1]}x{sr.shape[-2]})")
    return 0
