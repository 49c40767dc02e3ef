"""The data of both USR-DU stages: unpaired HR and real-LR training images, paired validation images.

:func:`load_data` reads the folders of a :class:`~srlib.usrdu.train_config.DataConfig`, or, when no folder is given,
builds the book's stand-in for NTIRE 2020 Track 1 from the built-in photographs (cached per process, so the DSN and
SRN runs of a chapter share it).
"""
from __future__ import annotations

import functools
from pathlib import Path

from srlib.data import FolderDataset, builtin_images, modcrop
from srlib.degradations import RealWorldDegradation
from srlib.errors import DataNotFound, UsageError
from srlib.usrdu.train_config import DataConfig


@functools.lru_cache(maxsize=4)
def _builtin_data(scale: int, seed: int, corpus: str | None = None) -> tuple:
    """Stand-in Track 1: HR = first half of the built-in train split, "real" LR = the other half through a seeded
    camera (no LR image is a view of an HR training image), validation = the test split through the same camera.
    A named ``corpus`` is split the same way and added to both training lists."""
    deg = RealWorldDegradation(scale=scale, seed=seed)
    hr, lr = [], []
    sources = [builtin_images("train")]
    if corpus is not None:
        from srlib.data.training import load_training_images

        sources.append([(n, x.float() / 255) for n, x in load_training_images(corpus)])
    for train in sources:
        half = len(train) // 2
        hr += [(n, modcrop(x, scale)) for n, x in train[:half]]
        lr += [(n, deg(modcrop(x, scale)[None])[0]) for n, x in train[half:]]
    val = [(n, deg(modcrop(x, scale)[None])[0], modcrop(x, scale)) for n, x in builtin_images("test")]
    return hr, lr, val


def _read_folder(folder: str, what: str) -> list:
    """``[(name, (C, H, W) float [0, 1])]`` of every image in ``folder``; DataNotFound if it is missing or empty."""
    if not Path(folder).is_dir():
        raise DataNotFound(f"{what} folder {folder} does not exist (see `srlib data -h` for the data sets)")
    try:
        return [(it["name"], it["image"]) for it in FolderDataset(folder)]
    except FileNotFoundError as exc:  # an existing folder without images
        raise DataNotFound(str(exc)) from None


def load_data(cfg: DataConfig, scale: int) -> tuple:
    """Training and validation images of a USR-DU run.

    Args:
        cfg: the folders (``None`` everywhere: the built-in stand-in data, see :class:`DataConfig`).
        scale: SR factor; HR images are cropped to multiples of it.

    Returns:
        ``(hr_images, real_lr_images, val_pairs)``: lists of ``(name, (3, H, W) float32 [0, 1])`` pairs and of
        ``(name, lr (3, h, w), hr (3, scale h, scale w))`` triples (empty without validation folders).

    Raises:
        UsageError: only one of ``hr_dir`` and ``lr_dir`` is given.
        DataNotFound: a folder is missing or holds no images.

    >>> hr, lr, val = load_data(DataConfig(), 4)
    >>> len(hr), len(lr), [tuple(t.shape) for t in val[0][1:]]
    (3, 3, [(3, 128, 128), (3, 512, 512)])
    """
    folders = (cfg.hr_dir, cfg.lr_dir, cfg.val_hr_dir, cfg.val_lr_dir)
    if all(f is None for f in folders):
        return _builtin_data(scale, cfg.realworld_seed, cfg.corpus)
    if cfg.hr_dir is None or cfg.lr_dir is None:
        raise UsageError("give both hr_dir (e.g. DIV2K HR) and lr_dir (e.g. NTIRE 2020 Track 1 corrupted_train_x)")
    hr = [(n, modcrop(x, scale)) for n, x in _read_folder(cfg.hr_dir, "HR training")]
    lr = _read_folder(cfg.lr_dir, "real LR training")
    val = []
    if cfg.val_hr_dir and cfg.val_lr_dir:
        vh, vl = _read_folder(cfg.val_hr_dir, "validation HR"), _read_folder(cfg.val_lr_dir, "validation LR")
        if len(vh) != len(vl):
            raise UsageError(f"{len(vh)} validation HR images but {len(vl)} LR images")
        val = [(nh, xl, modcrop(xh, scale)[:, : scale * xl.shape[1], : scale * xl.shape[2]])
               for (nh, xh), (_, xl) in zip(vh, vl)]
    return hr, lr, val
