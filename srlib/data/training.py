"""Training corpora named in configs: ``"builtin"``, a folder, a named corpus (``"SunHays80"``), or several joined
with ``+`` (``"builtin+SunHays80"``, the ``small`` profiles' data).

A config stores the *name*, not a path, so a checkpoint trained on one machine records data another machine can find:
named corpora are looked up under ``$SRLIB_DATA/train/NAME``, ``$SRLIB_DATA/NAME``, ``data/train/NAME`` and
``data/NAME``; ``srlib data SunHays80`` downloads the same files and verifies each one by its git blob id.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from srlib.errors import DataNotFound

__all__ = ["TRAINING_CORPORA", "find_corpus", "training_sources", "load_training_images"]

#: Named training corpora: name -> one line for error messages.
TRAINING_CORPORA = {
    "SunHays80": "80 natural photographs (Sun and Hays, ICCP 2012), 9.6 MB of JPEG; `srlib data SunHays80` fetches "
                 "them from majedelhelou/denoising_datasets and verifies every file by its git blob id",
}


def find_corpus(name: str) -> Path:
    """The folder of the named training corpus.

    Raises:
        DataNotFound: not under any of the searched folders; the message lists them and says how to fetch it.
    """
    roots = [Path(r) for r in (os.environ.get("SRLIB_DATA"), "data") if r]
    candidates = [root / sub / name for root in roots for sub in ("train", "")]
    for cand in candidates:
        if cand.is_dir() and any(cand.iterdir()):
            return cand
    looked = ", ".join(str(c) for c in candidates)
    raise DataNotFound(f"training corpus {name!r} not found (looked in {looked}); get it with "
                       f"`srlib data {name} --root data` or point $SRLIB_DATA at a folder holding train/{name}")


def training_sources(spec: str) -> list[str]:
    """The parts of a data spec: ``"builtin+SunHays80"`` -> ``["builtin", "SunHays80"]``."""
    parts = [p.strip() for p in str(spec).split("+")]
    if not all(parts):
        raise DataNotFound(f"training data {spec!r} has an empty part")
    return parts


def load_training_images(spec: str) -> list:
    """HR training images of ``spec``: ``(name, (3, H, W) uint8)`` (uint8 keeps a large corpus in 1/4 of the memory).

    Each part is ``"builtin"`` (srlib's built-in train split), a name of :data:`TRAINING_CORPORA`, or a folder.
    """
    from srlib.data import FolderDataset, builtin_images, to_rgb

    out = []
    for part in training_sources(spec):
        if part == "builtin":
            out += [(n, (x * 255).round().to(torch.uint8)) for n, x in builtin_images("train")]
            continue
        folder = find_corpus(part) if part in TRAINING_CORPORA else Path(part)
        if not folder.is_dir():
            raise DataNotFound(f"training data folder {folder} does not exist")
        out += [(f"{part}/{item['name']}", (to_rgb(item["image"]) * 255).round().to(torch.uint8))
                for item in FolderDataset(folder)]
    return out
