"""Studying degradation representations (paper Sec. 4.2-4.3, Figs. 3, 4 and 6) with numbers, not only pictures.

* :func:`held_out_crops` + :func:`representations`: representations of many image contents under a list of test
  degradations (Fig. 3 uses B100 under several kernel widths; Fig. 6 anisotropic kernels and noise levels).
* :func:`separation_score`: how well the degradation classes separate **on unseen image content**: a k-nearest-
  neighbour classifier is cross-validated with folds grouped by source image, so every test point comes from an image
  whose content the classifier never saw. Chance level is 1 / number of classes. This is the number printed beside
  each t-SNE picture (:func:`tsne`), which by itself can look convincing or not depending on its perplexity.
* :func:`foreign_representation_psnr`: Fig. 4, SR of one LR image with representations taken from other images that
  share its degradation (content invariance).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from srlib.dasr.network import BlindSR


def held_out_crops(images: Sequence, size: int, per_image: int, generator: torch.Generator) -> tuple:
    """Random ``size x size`` HR crops of each image.

    Args:
        images: ``(name, (3, H, W) float [0, 1])`` pairs, e.g. ``srlib.data.builtin_images("test")``.
        size: crop side in HR pixels (a multiple of the SR scale).
        per_image: crops per image.
        generator: CPU ``torch.Generator`` for the crop positions.

    Returns:
        ``(hr (N, 3, size, size) float [0, 1], groups (N,) int64 index of the source image)``.
    """
    crops, groups = [], []
    for g, (name, img) in enumerate(images):
        h, w = img.shape[-2:]
        if min(h, w) < size:
            raise ValueError(f"image {name} ({h}x{w}) is smaller than the {size}px crop")
        for _ in range(per_image):
            y = int(torch.randint(h - size + 1, (1,), generator=generator))
            x = int(torch.randint(w - size + 1, (1,), generator=generator))
            crops.append(img[:, y : y + size, x : x + size])
            groups.append(g)
    return torch.stack(crops), torch.tensor(groups)


@torch.no_grad()
def representations(model: BlindSR, hr: torch.Tensor, degradations: Sequence, scale: int, *, seed: int = 0,
                    border: str = "symmetric") -> tuple:
    """Degradation representations of every crop under every degradation.

    Args:
        model: a trained :class:`BlindSR` (its encoder is used in eval mode, as at test time).
        hr: (N, 3, H, W) float [0, 1] HR crops, H and W multiples of ``scale``.
        degradations: ``(kernel (k, k) or None, noise level 0-255)`` pairs, one class each.
        scale: SR factor of the degradation.
        seed: noise seed (class i uses ``seed + i``).
        border: bicubic border rule of the downsampler.

    Returns:
        ``(X (N * D, rep_dim) float32 numpy, labels (N * D,) class index)``; rows are class-major.
    """
    from srlib.degradations import degrade

    was_training = model.training
    model.eval()
    feats, labels = [], []
    for i, (kernel, noise) in enumerate(degradations):
        lr = degrade(hr, kernel, scale, noise, generator=torch.Generator().manual_seed(seed + i), border=border)
        feats.append(model.represent(lr).float().cpu())
        labels.append(np.full(len(hr), i))
    model.train(was_training)
    return torch.cat(feats).numpy(), np.concatenate(labels)


def separation_score(X: np.ndarray, labels: np.ndarray, groups: np.ndarray, k: int = 5) -> tuple:
    """kNN accuracy of the degradation classes on unseen content (folds grouped by source image).

    Features are standardised inside each fold. Returns ``(mean accuracy, per-fold accuracies)``; chance is
    ``1 / n_classes``.

    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 30); X = y[:, None] + 0.1 * rng.standard_normal((60, 3))
    >>> round(separation_score(X, y, np.tile(np.arange(3), 20))[0], 2)
    1.0
    """
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError("need crops from at least two source images to test on unseen content")
    clf = make_pipeline(StandardScaler(), KNeighborsClassifier(k))
    scores = cross_val_score(clf, X, labels, groups=groups, cv=GroupKFold(min(n_groups, 5)))
    return float(scores.mean()), scores


def tsne(X: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE embedding (scikit-learn, PCA init) of standardised features: (N, d) -> (N, 2)."""
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    perplexity = min(perplexity, (len(X) - 1) / 3)
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(StandardScaler().fit_transform(X))


@torch.no_grad()
def foreign_representation_psnr(model: BlindSR, hr_target: torch.Tensor, hr_others: torch.Tensor,
                                kernel: torch.Tensor, scale: int, *, crop: int | None = None) -> list:
    """Fig. 4: PSNR of SR(I_1) using the representation of I_1 itself and of each other image I_i (same kernel).

    Args:
        hr_target: (1, 3, H, W) HR image giving I_1 (float [0, 1], H, W multiples of ``scale``).
        hr_others: (M, 3, H', W') HR images giving I_2 .. I_{M+1}.
        kernel: (k, k) blur kernel shared by all of them (noise-free).

    Returns:
        ``M + 1`` Y-channel PSNRs (dB, ``scale`` pixels cropped), the first with I_1's own representation.
    """
    from srlib.degradations import degrade
    from srlib.degradations.noise import quantize
    from srlib.metrics import psnr

    model.eval()
    lr1 = degrade(hr_target, kernel, scale)
    reps = [model.represent(lr1)] + [model.represent(degrade(h[None], kernel, scale)) for h in hr_others]
    out = []
    for rep in reps:
        sr = quantize(model.sr_from_representation(lr1, rep).clamp(0, 1))
        out.append(float(psnr(sr, hr_target, crop=scale if crop is None else crop, y_channel=True)[0]))
    return out
