"""Random HR patch batches for training: DASR's two-crops-per-image batches and USR-DU's unpaired HR/LR batches.

Both samplers are infinite iterators driven by one ``torch.Generator``: the same seed gives the same batches, and
``state_dict()`` / ``load_state_dict()`` save and restore the generator so a resumed run continues the same stream.

Augmentation (EDSR / DASR ``common.augment``): per image, horizontal flip, vertical flip and transpose, each with
p = 0.5, in that order. Crop offsets are uniform over *all* valid positions ``0 .. H - P`` inclusive; the official
code draws ``randrange(0, H - P)``, which never picks the last one and crashes when a side equals the patch size
(reference §7.7). Crops are cut from the original image and then augmented, which gives exactly the same patch as
augmenting the whole image first (tested) without copying large images.

Images can be kept as ``uint8`` tensors (4x less memory than float32, worth it for DIV2K/Flickr2K); batches are
always float32 in ``[0, 1]``.
"""

from typing import Sequence, Union

import torch

__all__ = ["augment", "DASRPatchSampler", "UnpairedSampler"]


def augment(x: torch.Tensor, hflip: bool, vflip: bool, transpose: bool) -> torch.Tensor:
    """Flip left-right, then up-down, then swap H and W of ``(..., H, W)`` as requested (the reference ordering)."""
    if hflip:
        x = x.flip(-1)
    if vflip:
        x = x.flip(-2)
    if transpose:
        x = x.transpose(-1, -2)
    return x


def _make_generator(generator: Union[torch.Generator, int]) -> torch.Generator:
    if isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, int) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(generator)
    raise TypeError(f"generator must be a torch.Generator or an int seed, got {type(generator).__name__}")


def _image_list(images: Sequence, what: str, min_side: int) -> list:
    """Tensors, (name, tensor) pairs or {"image": tensor} dicts -> list of (C, H, W) uint8/float tensors, checked."""
    out = []
    for i, item in enumerate(images):
        img = item["image"] if isinstance(item, dict) else item[1] if isinstance(item, (tuple, list)) else item
        if not torch.is_tensor(img) or img.dim() != 3 or not (img.dtype == torch.uint8 or img.is_floating_point()):
            raise ValueError(f"{what} image {i} must be a (C, H, W) uint8 or float tensor, "
                             f"got {getattr(img, 'dtype', type(img))} {tuple(getattr(img, 'shape', ()))}")
        if min(img.shape[-2:]) < min_side:
            raise ValueError(f"{what} image {i} is {img.shape[-2]}x{img.shape[-1]}, smaller than the "
                             f"{min_side}x{min_side} patch (both sides must fit, since transposes swap them)")
        if out and img.shape[0] != out[0].shape[0]:
            raise ValueError(f"{what} images mix {out[0].shape[0]} and {img.shape[0]} channels; convert grey ones with "
                             f"srlib.data.to_rgb first")
        out.append(img)
    if not out:
        raise ValueError(f"no {what} images given")
    return out


def _to_float(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float32) / 255.0 if x.dtype == torch.uint8 else x.to(torch.float32)


class _PatchSource:
    """Draws (image, augmentation, crops) from a list of images with a shared generator."""

    def __init__(self, images: list, generator: torch.Generator):
        self.images, self.generator = images, generator

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator))

    def draw(self, size: int, n_crops: int) -> list:
        """One random image, one random augmentation, ``n_crops`` independent crops: list of (C, size, size) float."""
        img = self.images[self._randint(len(self.images))]
        hflip, vflip, transpose = (bool(b) for b in torch.randint(2, (3,), generator=self.generator))
        h, w = img.shape[-2:]
        ha, wa = (w, h) if transpose else (h, w)  # size of the augmented image
        crops = []
        for _ in range(n_crops):
            y, x = self._randint(ha - size + 1), self._randint(wa - size + 1)
            # Map the crop window of the augmented image back to the original one.
            yb, xb = (x, y) if transpose else (y, x)
            yi = h - yb - size if vflip else yb
            xi = w - xb - size if hflip else xb
            patch = img[:, yi:yi + size, xi:xi + size]
            crops.append(_to_float(augment(patch, hflip, vflip, transpose)))
        return crops


class _Sampler:
    generator: torch.Generator

    def __iter__(self):
        return self

    def __next__(self):
        return self.sample()

    def state_dict(self) -> dict:
        """The generator state (a uint8 tensor), enough to resume the same stream of batches."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


class DASRPatchSampler(_Sampler):
    """DASR training batches (reference §3): B random images, each augmented once and cropped twice.

    The two crops of one image share its (unknown) degradation, which DASR's contrastive encoder uses as the
    positive pair.

    Args:
        images: HR images: ``(C, H, W)`` uint8 or float ``[0, 1]`` tensors, ``(name, tensor)`` pairs or
            ``{"image": tensor}`` dicts, all with the same C and both sides >= ``patch_size * scale``.
        scale: SR factor; HR patches are ``patch_size * scale`` pixels wide.
        patch_size: LR patch size (48 in the paper).
        batch_size: images per batch (32 in the paper); each yields 2 patches.
        generator: ``torch.Generator`` or int seed.

    Yields:
        ``(B, 2, C, P*s, P*s)`` float32 in ``[0, 1]``.

    Example:
        >>> s = DASRPatchSampler([torch.rand(3, 20, 30)], scale=2, patch_size=4, batch_size=5, generator=0)
        >>> next(s).shape
        torch.Size([5, 2, 3, 8, 8])
    """

    def __init__(self, images: Sequence, scale: int, patch_size: int = 48, batch_size: int = 32,
                 generator: Union[torch.Generator, int] = 0):
        for name, v in (("scale", scale), ("patch_size", patch_size), ("batch_size", batch_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        self.scale, self.patch_size, self.batch_size = scale, patch_size, batch_size
        self.hr_patch = patch_size * scale
        self.generator = _make_generator(generator)
        self._source = _PatchSource(_image_list(images, "HR", self.hr_patch), self.generator)

    def sample(self) -> torch.Tensor:
        """One batch ``(B, 2, C, P*s, P*s)`` float32 in ``[0, 1]``."""
        return torch.stack([torch.stack(self._source.draw(self.hr_patch, 2)) for _ in range(self.batch_size)])


class UnpairedSampler(_Sampler):
    """Unpaired batches for USR-DU: HR patches and LR patches from unrelated, independently drawn images.

    Each HR and each LR patch gets its own random image, augmentation and crop (same augmentation scheme as
    :class:`DASRPatchSampler`).

    Args:
        hr_images: HR images (as in :class:`DASRPatchSampler`), both sides >= ``lr_patch * scale``.
        lr_images: real LR images, same channel count, both sides >= ``lr_patch``.
        scale: SR factor.
        lr_patch: LR patch size (64 in the USR-DU configs); HR patches are ``lr_patch * scale``.
        batch_size: patches of each kind per batch.
        generator: ``torch.Generator`` or int seed.

    Yields:
        ``(hr, lr)``: ``(B, C, P*s, P*s)`` and ``(B, C, P, P)`` float32 in ``[0, 1]`` (C = 3 for RGB data).

    Example:
        >>> s = UnpairedSampler([torch.rand(3, 16, 16)], [torch.rand(3, 5, 6)], scale=4, lr_patch=4, batch_size=2)
        >>> [tuple(t.shape) for t in next(s)]
        [(2, 3, 16, 16), (2, 3, 4, 4)]
    """

    def __init__(self, hr_images: Sequence, lr_images: Sequence, scale: int, lr_patch: int = 64,
                 batch_size: int = 16, generator: Union[torch.Generator, int] = 0):
        for name, v in (("scale", scale), ("lr_patch", lr_patch), ("batch_size", batch_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        self.scale, self.lr_patch, self.batch_size = scale, lr_patch, batch_size
        self.generator = _make_generator(generator)
        hr = _image_list(hr_images, "HR", lr_patch * scale)
        lr = _image_list(lr_images, "LR", lr_patch)
        if hr[0].shape[0] != lr[0].shape[0]:
            raise ValueError(f"HR images have {hr[0].shape[0]} channels but LR images have {lr[0].shape[0]}")
        self._hr, self._lr = _PatchSource(hr, self.generator), _PatchSource(lr, self.generator)

    def sample(self) -> tuple:
        """One batch ``(hr (B, C, P*s, P*s), lr (B, C, P, P))`` float32 in ``[0, 1]``."""
        hr, lr = [], []
        for _ in range(self.batch_size):
            hr += self._hr.draw(self.lr_patch * self.scale, 1)
            lr += self._lr.draw(self.lr_patch, 1)
        return torch.stack(hr), torch.stack(lr)
