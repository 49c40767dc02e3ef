"""Map-style datasets: a folder of images, and a benchmark that synthesises LR on the fly (DASR test protocol, §5).

Both are ordinary ``torch.utils.data.Dataset`` objects returning dicts, so a ``DataLoader(batch_size=1)`` works.
"""

from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import torch

from srlib.data.io import IMAGE_EXTS, modcrop, read_image, to_rgb

__all__ = ["IMAGE_EXTS", "FolderDataset", "BenchmarkDataset"]


class FolderDataset(torch.utils.data.Dataset):
    """Every image file directly inside ``root`` (not recursive), sorted by file name.

    Args:
        root: folder of images.
        exts: file extensions to keep (case-insensitive, with the dot).
        alpha: passed to :func:`~srlib.data.io.read_image` (``"error"`` or ``"drop"``).

    Items are ``{"name": file stem, "image": (C, H, W) float32 in [0, 1]}`` (C = 1 for grey files, 3 for RGB),
    read from disk on each access.
    """

    def __init__(self, root, exts: Sequence[str] = IMAGE_EXTS, *, alpha: str = "error"):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder {self.root} does not exist")
        exts = tuple(e.lower() for e in exts)
        self.paths = sorted(p for p in self.root.iterdir() if p.is_file() and p.suffix.lower() in exts)
        if not self.paths:
            raise FileNotFoundError(f"no image files with extensions {exts} in {self.root}")
        self.alpha = alpha

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        path = self.paths[index]
        return {"name": path.stem, "image": read_image(path, alpha=self.alpha)}


def _named_images(hr) -> list:
    """Folder path, FolderDataset, or a sequence of tensors / (name, tensor) pairs -> list of (name, tensor)."""
    if isinstance(hr, (str, Path)):
        hr = FolderDataset(hr)
    if isinstance(hr, FolderDataset):
        return [(item["name"], item["image"]) for item in hr]
    out = []
    for i, item in enumerate(hr):
        name, img = (item if isinstance(item, (tuple, list)) else (f"{i:04d}", item))
        if not torch.is_tensor(img) or img.dim() != 3 or img.shape[0] not in (1, 3) or not img.is_floating_point():
            raise ValueError(f"HR image {name!r} must be a (1|3, H, W) float tensor in [0, 1], "
                             f"got {getattr(img, 'dtype', type(img))} {tuple(getattr(img, 'shape', ()))}")
        out.append((str(name), img))
    if not out:
        raise ValueError("no HR images given")
    return out


class BenchmarkDataset(torch.utils.data.Dataset):
    """HR images with LR synthesised on the fly by one fixed degradation (DASR's test protocol, reference §5).

    Each HR image is cropped top-left to a multiple of ``scale`` (as the official test code), then degraded. The
    randomness (noise) of image ``i`` comes from ``torch.Generator().manual_seed(seed + i)``, so an item is the same
    whenever and in whatever order it is read (the official code seeds once per run instead).

    Args:
        hr: a folder path, a :class:`FolderDataset`, or a sequence of ``(name, (C, H, W) float in [0, 1])`` pairs
            (e.g. :func:`~srlib.data.builtin.builtin_images`) or bare tensors (named ``0000``, ``0001``, ...).
        scale: integer SR factor.
        degradation: optional callable ``f(hr, generator) -> lr`` with hr ``(1, C, H, W)`` float in ``[0, 1]`` and
            lr ``(1, C, H // scale, W // scale)``. Give either this or ``kernel`` / ``noise``.
        kernel: ``(k, k)`` blur kernel for :func:`srlib.degradations.degrade`; None means no blur (pure bicubic).
        noise: Gaussian noise level on the 0-255 scale for :func:`srlib.degradations.degrade`.
        seed: base seed.
        rgb: replicate grey HR images to RGB *before* degrading (what a model that takes RGB needs; DASR's test code
            does this). With False, grey images stay 1-channel and the item's ``grey`` flag tells the caller; score
            them on their grey values to match the published tables.
        border: border mode of the bicubic downsampler (``"symmetric"`` = MATLAB, ``"replicate"`` = official DASR).

    Items: ``{"name": str, "hr": (C, H', W'), "lr": (C, H'/s, W'/s), "grey": bool}``, float32 in ``[0, 1]``, with
    ``H' = H - H % scale``.
    """

    def __init__(self, hr, scale: int, degradation: Optional[Callable] = None, *, kernel: Optional[torch.Tensor] = None,
                 noise: float = 0.0, seed: int = 1, rgb: bool = False, border: str = "symmetric"):
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
            raise ValueError(f"scale must be a positive int, got {scale!r}")
        if degradation is not None and (kernel is not None or noise):
            raise ValueError("give either degradation= or kernel=/noise=, not both")
        if degradation is not None and not callable(degradation):
            raise TypeError(f"degradation must be callable, got {type(degradation).__name__}")
        if noise < 0:
            raise ValueError(f"noise must be >= 0, got {noise}")
        self.images = _named_images(hr)
        self.scale, self.degradation, self.kernel, self.noise = scale, degradation, kernel, float(noise)
        self.seed, self.rgb, self.border = int(seed), bool(rgb), border

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self.images):
            raise IndexError(f"index {index} out of range for {len(self.images)} images")
        name, hr = self.images[index]
        grey = hr.shape[0] == 1
        hr = modcrop(to_rgb(hr) if self.rgb else hr, self.scale)
        gen = torch.Generator().manual_seed(self.seed + index)
        if self.degradation is not None:
            lr = self.degradation(hr[None], gen)
        else:
            from srlib.degradations import degrade  # imported on use: keeps `import srlib.data` light

            lr = degrade(hr[None], self.kernel, self.scale, noise=self.noise, generator=gen, border=self.border)
        expected = (1, hr.shape[0], hr.shape[1] // self.scale, hr.shape[2] // self.scale)
        if tuple(lr.shape) != expected:
            raise ValueError(f"degradation returned {tuple(lr.shape)} for {name!r}, expected {expected}")
        return {"name": name, "hr": hr, "lr": lr[0], "grey": grey}
