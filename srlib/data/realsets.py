"""Real-world test sets that bring their own LR images: NTIRE 2020 Track 1 and Track 2 validation, RealSR version 3.

USR-DU's Tables 2 and 3 are measured on them. None ships with srlib (each needs a registration or a drive link; see
``srlib data -h``). :func:`find_real_sets` looks for them under the data roots in the folder layout of
:data:`srlib.data.registry.DATASETS` and returns, for each set it finds, a :class:`RealPairs`: the pairs are read one
at a time, so a whole set is never held in memory.

* ``NTIRE2020 Track 1``: ``NTIRE2020_Track1/Corrupted-va-x/<n>.png`` (LR) with ``Corrupted-va-y/<n>.png`` (HR),
  paired by file name. Scored with PSNR, SSIM, LPIPS and NIQE.
* ``NTIRE2020 Track 2``: ``NTIRE2020_Track2/DPEDiphone-va/*.png``: smartphone LR without ground truth (NIQE only).
* ``RealSR x4``: ``RealSR(V3)/{Canon,Nikon}/Test/4/<scene>_LR4.png`` with ``<scene>_HR.png``. Version 3 is the one
  whose LR is smaller than its HR; versions 1 and 2 store both at the HR size and are refused with a message.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from srlib.data.io import IMAGE_EXTS, modcrop, read_image
from srlib.errors import InputError

__all__ = ["RealPairs", "find_real_sets", "score_real_set", "REAL_SETS"]

#: The sets :func:`find_real_sets` knows, in the order chapters show them.
REAL_SETS = ("NTIRE2020 Track 1", "NTIRE2020 Track 2", "RealSR x4")


class RealPairs(Sequence):
    """``(name, lr (3, h, w), hr (3, s h, s w) or None)`` triples read from files on access.

    The HR image is cropped to ``scale`` times the LR size (the LR of these sets is the HR's size divided by the scale,
    rounded down). An HR smaller than that, or an LR as large as its HR, raises :class:`~srlib.errors.InputError`.
    """

    def __init__(self, files: Iterable[tuple[str, Path, Path | None]], scale: int = 4):
        self.files = list(files)
        self.scale = scale

    def __len__(self) -> int:
        return len(self.files)

    @property
    def paired(self) -> bool:
        """Whether the set has ground truth (every item has an HR file)."""
        return bool(self.files) and all(hr is not None for _, _, hr in self.files)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return RealPairs(self.files[i], self.scale)
        name, lr_path, hr_path = self.files[i]
        lr = read_image(lr_path, alpha="drop")
        if lr.shape[0] == 1:
            lr = lr.expand(3, -1, -1)
        if hr_path is None:
            return name, lr, None
        hr = read_image(hr_path, alpha="drop")
        if hr.shape[0] == 1:
            hr = hr.expand(3, -1, -1)
        s = self.scale
        h, w = lr.shape[-2:]
        if hr.shape[-2:] == lr.shape[-2:]:
            raise InputError(f"{lr_path.name} has the size of its HR image {hr_path.name}: this is an LR stored at the "
                             "HR size (RealSR versions 1 and 2); use RealSR version 3, whose LR is smaller")
        if hr.shape[-2] < s * h or hr.shape[-1] < s * w:
            raise InputError(f"{hr_path.name} is {hr.shape[-1]}x{hr.shape[-2]}, smaller than x{s} its LR "
                             f"{lr_path.name} ({w}x{h})")
        return name, lr, modcrop(hr, s)[:, : s * h, : s * w]


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)


def _ntire1(root: Path) -> list:
    lr_dir, hr_dir = root / "NTIRE2020_Track1" / "Corrupted-va-x", root / "NTIRE2020_Track1" / "Corrupted-va-y"
    if not (lr_dir.is_dir() and hr_dir.is_dir()):
        return []
    hr = {p.stem: p for p in _images(hr_dir)}
    return [(p.stem, p, hr[p.stem]) for p in _images(lr_dir) if p.stem in hr]


def _ntire2(root: Path) -> list:
    lr_dir = root / "NTIRE2020_Track2" / "DPEDiphone-va"
    return [(p.stem, p, None) for p in _images(lr_dir)] if lr_dir.is_dir() else []


def _realsr(root: Path, scale: int) -> list:
    out = []
    for camera in ("Canon", "Nikon"):
        folder = root / "RealSR(V3)" / camera / "Test" / str(scale)
        if not folder.is_dir():
            continue
        files = {p.name: p for p in _images(folder)}
        for name, p in sorted(files.items()):
            stem = p.stem
            if stem.endswith(f"_LR{scale}"):
                hr = files.get(stem[: -len(f"_LR{scale}")] + "_HR" + p.suffix)
                if hr is not None:
                    out.append((stem[: -len(f"_LR{scale}")], p, hr))
    return out


def find_real_sets(roots: Iterable | None = None, scale: int = 4) -> dict[str, RealPairs]:
    """The real-world test sets present under ``roots`` (default: ``$SRLIB_DATA`` and ``./data``), by name.

    A set missing from every root is simply absent from the result; the first root that holds a set wins. RealSR is
    looked up at ``scale``; the NTIRE 2020 tracks are x4 only, so they are left out at any other scale.

    >>> import tempfile
    >>> find_real_sets([tempfile.mkdtemp()])
    {}
    """
    if roots is None:
        roots = [r for r in (os.environ.get("SRLIB_DATA"), "data") if r]
    found: dict[str, RealPairs] = {}
    for root in map(Path, roots):
        if not root.is_dir():
            continue
        lists = {"NTIRE2020 Track 1": _ntire1(root), "NTIRE2020 Track 2": _ntire2(root)} if scale == 4 else {}
        lists[f"RealSR x{scale}"] = _realsr(root, scale)
        for name, files in lists.items():
            if files and name not in found:
                found[name] = RealPairs(files, scale)
    return {k: found[k] for k in sorted(found, key=lambda k: REAL_SETS.index(k) if k in REAL_SETS else 99)}


def score_real_set(upscalers: dict, pairs: RealPairs, *, crop: int = 4) -> dict[str, dict]:
    """Score each upscaler on a real-world set with USR-DU's protocol.

    A set with ground truth gets RGB PSNR and SSIM at ``crop``, LPIPS (the string ``"unavailable"`` without the real
    AlexNet weights) and NIQE; a set without it (NTIRE 2020 Track 2) gets NIQE only.

    Args:
        upscalers: ``{label: lr (1, 3, h, w) -> sr (1, 3, s h, s w)}``.
        pairs: a :class:`RealPairs` (or any sequence of ``(name, lr, hr or None)`` with a ``paired`` attribute).
        crop: border pixels left out of every metric (USR-DU: 4).

    Returns:
        ``{label: {"PSNR", "SSIM", "LPIPS", "NIQE"}}`` (means), or ``{label: {"NIQE"}}`` for an unpaired set.
    """
    import torch

    from srlib.evaluate import evaluate_pairs
    from srlib.niqe import niqe

    out = {}
    for label, up in upscalers.items():
        if pairs.paired:
            r = evaluate_pairs(up, pairs, crop=crop, niqe=True)
            out[label] = {"PSNR": r["psnr"], "SSIM": r["ssim"], "LPIPS": r["lpips"], "NIQE": r["niqe"]}
        else:
            scores = []
            for _, lr, _ in pairs:
                with torch.no_grad():
                    scores.append(niqe(up(lr[None])[0].clamp(0, 1), crop=crop))
            out[label] = {"NIQE": sum(scores) / len(scores)}
    return out
