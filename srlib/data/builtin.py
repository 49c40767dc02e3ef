"""The built-in corpus: colour photographs that ship inside the scikit-image wheel (no download, ever).

scikit-image installs a few sample images in ``skimage/data/`` and fetches the rest on demand with pooch; only the
former are used here, read straight from the package folder. The corpus is the nine *RGB photographs* among them
(synthetic images such as ``color``, ``logo``, ``chessboard_RGB`` are left out, and so are the grey photographs
``camera``, ``coins``, ``moon``, ... so that every image is genuinely RGB):

============================  =========  ============  =====================================================
file                          size WxH   split         content
============================  =========  ============  =====================================================
``hubble_deep_field.jpg``     1000x872   train         Hubble deep-field galaxies (JPEG)
``ihc.png``                   512x512    train         immunohistochemistry microscopy
``motorcycle_left.png``       741x500    train         motorcycle (Middlebury stereo, left view)
``motorcycle_right.png``      741x500    train         the right view of the same scene
``retina.jpg``                1411x1411  train         retina fundus photograph (JPEG)
``rocket.jpg``                427x640    train         rocket on the launch pad (JPEG)
``astronaut.png``             512x512    test          portrait of astronaut Eileen Collins
``chelsea.png``               451x300    test          Chelsea the cat
``coffee.png``                600x400    test          cup of coffee
============================  =========  ============  =====================================================

The split is fixed (6 train / 3 test): the test images are the three everyday photographs with faces, fur and
smooth surfaces that SR papers like to show; the two stereo views of the motorcycle are near-duplicates and therefore
both stay in train, so nothing leaks into test. Order is the table's order within each split. Every image is 8-bit,
so the tensors lie on the 8-bit grid.
"""

from pathlib import Path

from srlib.data.io import read_image

__all__ = ["BUILTIN_SPLITS", "builtin_names", "builtin_images", "builtin_path"]

BUILTIN_SPLITS = {
    "train": ("hubble_deep_field", "ihc", "motorcycle_left", "motorcycle_right", "retina", "rocket"),
    "test": ("astronaut", "chelsea", "coffee"),
}
_FILES = {
    "hubble_deep_field": "hubble_deep_field.jpg", "ihc": "ihc.png", "motorcycle_left": "motorcycle_left.png",
    "motorcycle_right": "motorcycle_right.png", "retina": "retina.jpg", "rocket": "rocket.jpg",
    "astronaut": "astronaut.png", "chelsea": "chelsea.png", "coffee": "coffee.png",
}


def _check_split(split: str) -> tuple:
    if split == "all":
        return BUILTIN_SPLITS["train"] + BUILTIN_SPLITS["test"]
    if split not in BUILTIN_SPLITS:
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    return BUILTIN_SPLITS[split]


def builtin_names(split: str = "train") -> list:
    """Names of the built-in images of ``split`` (``"train"``, ``"test"`` or ``"all"``), in a fixed order.

    Example:
        >>> builtin_names("test")
        ['astronaut', 'chelsea', 'coffee']
    """
    return list(_check_split(split))


def builtin_path(name: str) -> Path:
    """Path of one built-in image inside the installed scikit-image package."""
    if name not in _FILES:
        raise ValueError(f"unknown built-in image {name!r}; known: {sorted(_FILES)}")
    import skimage  # imported here so that `import srlib.data` stays cheap

    path = Path(skimage.__file__).parent / "data" / _FILES[name]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: this scikit-image ({skimage.__version__}) does not ship "
                                f"{_FILES[name]} in its wheel; srlib never downloads it. Reinstall scikit-image>=0.22.")
    return path


def builtin_images(split: str = "train") -> list:
    """The built-in photographs of ``split``, read from the scikit-image package folder.

    Args:
        split: ``"train"`` (6 images), ``"test"`` (3 images) or ``"all"``.

    Returns:
        list of ``(name, image)`` with image ``(3, H, W)`` float32 in ``[0, 1]`` (on the 8-bit grid).

    Example:
        >>> [(n, tuple(x.shape)) for n, x in builtin_images("test")]
        [('astronaut', (3, 512, 512)), ('chelsea', (3, 300, 451)), ('coffee', (3, 400, 600))]
    """
    out = []
    for name in _check_split(split):
        x = read_image(builtin_path(name))
        if x.shape[0] != 3:  # guards the table above against a future scikit-image changing a file
            raise ValueError(f"built-in image {name} has {x.shape[0]} channels, expected 3")
        out.append((name, x.contiguous()))
    return out

