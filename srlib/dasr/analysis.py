"""Studying degradation representations (paper Sec. 4.2-4.3, Figs. 3, 4 and 6) with numbers, not only pictures.

* :func:`held_out_crops` + :func:`representations`: representations of many image contents under a list of test
  degradations (Fig. 3 uses B100 under several kernel widths; Fig. 6 anisotropic kernels and noise levels).
* :func:`separation_score`: how well the degradation classes separate **on unseen image content**: a k-nearest-
  neighbour classifier is cross-validated with folds grouped by source image, so every test point comes from an image
  whose content the classifier never saw. Chance level is 1 / number of classes. This is the number printed beside
  each t-SNE picture (:func:`tsne`), which by itself can look convincing or not depending on its perplexity.
* :func:`kernel_width_probe`: a supervised probe of the same representation: ridge regression of the kernel width,
  cross-validated on unseen content like :func:`separation_score`, beside a constant predictor. It asks whether the
  width can be *read out* linearly, even where nearest neighbours are dominated by content.
* :func:`blur_statistics`: three hand-made blur features of an LR crop, the positive control of both measures: a
  feature that does carry the blur must score above chance on the same split.
* :func:`degraded_crops`: the LR crops behind :func:`representations`, for features computed without a model.
* :func:`compare_folds`: "above" / "at" / "below" a reference, judged fold by fold, for prose computed from numbers.
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


def degraded_crops(hr: torch.Tensor, degradations: Sequence, scale: int, *, seed: int = 0,
                   border: str = "symmetric") -> tuple:
    """LR crops of every HR crop under every degradation, class-major (the inputs :func:`representations` encodes).

    Args:
        hr: (N, 3, H, W) float [0, 1] HR crops, H and W multiples of ``scale``.
        degradations: ``(kernel (k, k) or None, noise level 0-255)`` pairs, one class each.
        scale: SR factor of the degradation.
        seed: noise seed (class i uses ``seed + i``).
        border: bicubic border rule of the downsampler.

    Returns:
        ``(lr (N * D, 3, H / scale, W / scale) float [0, 1] on the 8-bit grid, labels (N * D,) class index)``.
    """
    from srlib.degradations import degrade

    lrs, labels = [], []
    for i, (kernel, noise) in enumerate(degradations):
        lrs.append(degrade(hr, kernel, scale, noise, generator=torch.Generator().manual_seed(seed + i), border=border))
        labels.append(np.full(len(hr), i))
    return torch.cat(lrs), np.concatenate(labels)


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
    was_training = model.training
    model.eval()
    lr, labels = degraded_crops(hr, degradations, scale, seed=seed, border=border)
    n = len(hr)
    feats = [model.represent(lr[i : i + n]).float().cpu() for i in range(0, len(lr), n)]  # one class per batch
    model.train(was_training)
    return torch.cat(feats).numpy(), labels


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


def blur_statistics(lr: torch.Tensor) -> np.ndarray:
    """Three hand-made blur features of each LR crop: the positive control of :func:`separation_score`.

    On the luma ``Y = (R + G + B) / 3`` of each crop, with ``v`` its variance, ``g`` the mean squared finite-difference
    gradient (horizontal plus vertical) and ``l`` the mean squared 4-neighbour Laplacian (both over the valid region):
    ``[log(g / v), log(l / g), log(v)]``. Blur removes high frequencies first, so both ratios fall as the kernel
    widens; ``log v`` keeps the contrast, which the ratios divide out. No learning is involved.

    Args:
        lr: (N, 3, h, w) float LR crops in [0, 1], h, w >= 3.

    Returns:
        (N, 3) float64 numpy array, columns ``log(g/v)``, ``log(l/g)``, ``log(v)`` (a small epsilon keeps flat crops
        finite).

    >>> x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> smooth = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    >>> f = blur_statistics(torch.cat([x, smooth]))
    >>> f.shape, bool(f[1, 0] < f[0, 0]), bool(f[1, 1] < f[0, 1])
    ((2, 3), True, True)
    """
    if not isinstance(lr, torch.Tensor) or lr.dim() != 4 or lr.shape[1] != 3 or min(lr.shape[-2:]) < 3:
        raise ValueError(f"lr must be a (N, 3, h, w) tensor with h, w >= 3, got "
                         f"{tuple(lr.shape) if isinstance(lr, torch.Tensor) else type(lr).__name__}")
    eps = 1e-12  # flat crops: keep the logs finite
    y = lr.double().mean(dim=1)  # (N, h, w)
    v = y.var(dim=(-2, -1), unbiased=False)
    dx, dy = y[:, :, 1:] - y[:, :, :-1], y[:, 1:, :] - y[:, :-1, :]
    g = dx.pow(2).mean(dim=(-2, -1)) + dy.pow(2).mean(dim=(-2, -1))
    lap = (y[:, 1:-1, :-2] + y[:, 1:-1, 2:] + y[:, :-2, 1:-1] + y[:, 2:, 1:-1] - 4 * y[:, 1:-1, 1:-1])
    lap_e = lap.pow(2).mean(dim=(-2, -1))
    return torch.stack([torch.log((g + eps) / (v + eps)), torch.log((lap_e + eps) / (g + eps)), torch.log(v + eps)],
                       dim=1).numpy()


def kernel_width_probe(X: np.ndarray, sigmas: np.ndarray, groups: np.ndarray,
                       alphas: Sequence = tuple(10.0 ** np.arange(-2, 6))) -> dict:
    """Supervised probe of the kernel width on a frozen representation, cross-validated on unseen content.

    Inside each fold the features are standardised and a ridge regression predicts the kernel width. Folds are grouped
    by source image (``GroupKFold``, as :func:`separation_score`), so every test crop shows content the probe never
    saw. The ridge penalty is chosen among ``alphas`` by a second, inner ``GroupKFold`` over the training images only
    (leave-one-out over rows would let crops of the same image vouch for each other and pick a penalty that memorises
    content). A very large penalty shrinks the probe towards a constant, so the probe can always fall back to the
    baseline: a constant predictor (the training-fold mean width), scored on the same folds. Its R^2 is 0 when every
    fold holds every width equally often, so the probe is informative only above it.

    Args:
        X: (N, d) features (e.g. from :func:`representations` or :func:`blur_statistics`).
        sigmas: (N,) kernel width of each row (e.g. ``np.asarray(widths)[labels]``).
        groups: (N,) source-image index of each row; at least two distinct values (three for the inner search;
            with two, the largest penalty whose leave-one-out error is within 1 % of the best is used).
        alphas: ridge penalties to choose from (on standardised features).

    Returns:
        dict with ``r2`` and ``mae`` (means over folds; MAE in the units of ``sigmas``), ``r2_folds``, ``mae_folds``
        (numpy arrays), ``baseline_r2``, ``baseline_mae``, ``baseline_r2_folds``, ``baseline_mae_folds`` (the constant
        predictor), ``alpha_folds`` (the penalty chosen in each fold) and ``predictions`` ((N,) out-of-fold
        predictions).

    >>> rng = np.random.default_rng(0)
    >>> s = np.repeat([0.5, 1.5, 2.5], 20); g = np.tile(np.arange(4), 15)
    >>> X = np.c_[s + 0.05 * rng.standard_normal(60), rng.standard_normal((60, 2))]
    >>> p = kernel_width_probe(X, s, g)
    >>> round(p["r2"], 2), round(abs(p["baseline_r2"]), 2)
    (1.0, 0.0)
    """
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_absolute_error, r2_score
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, sigmas, groups = np.asarray(X, dtype=np.float64), np.asarray(sigmas, dtype=np.float64), np.asarray(groups)
    if X.ndim != 2 or sigmas.shape != (len(X),) or groups.shape != (len(X),):
        raise ValueError(f"X must be (N, d) with sigmas and groups (N,), got {X.shape}, {sigmas.shape}, {groups.shape}")
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError("need crops from at least two source images to test on unseen content")
    alphas = sorted(float(a) for a in alphas)

    def fit(alpha, rows):
        return make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(X[rows], sigmas[rows])

    def inner_error(alpha, rows):
        """Mean squared error of ``alpha`` on unseen images inside ``rows`` (leave-one-out rows with one image)."""
        inner_groups = len(np.unique(groups[rows]))
        if inner_groups >= 2:
            splits = GroupKFold(min(inner_groups, 5)).split(rows, groups=groups[rows])
        else:
            splits = ((np.delete(np.arange(len(rows)), i), np.array([i])) for i in range(len(rows)))
        errors = [np.mean((fit(alpha, rows[tr]).predict(X[rows[te]]) - sigmas[rows[te]]) ** 2) for tr, te in splits]
        return float(np.mean(errors))

    r2, mae, base_r2, base_mae, chosen = [], [], [], [], []
    predictions = np.empty(len(X))
    for train, test in GroupKFold(min(n_groups, 5)).split(X, sigmas, groups):
        errors = np.array([inner_error(a, train) for a in alphas])
        if len(np.unique(groups[train])) >= 2:
            alpha = alphas[int(np.argmin(errors))]
        else:  # leave-one-out rows share content: prefer the strongest penalty that is nearly as good
            alpha = max(a for a, e in zip(alphas, errors) if e <= 1.01 * errors.min())
        pred = fit(alpha, train).predict(X[test])
        const = np.full(len(test), sigmas[train].mean())
        predictions[test] = pred
        r2.append(r2_score(sigmas[test], pred))
        mae.append(mean_absolute_error(sigmas[test], pred))
        base_r2.append(r2_score(sigmas[test], const))
        base_mae.append(mean_absolute_error(sigmas[test], const))
        chosen.append(alpha)
    r2, mae, base_r2, base_mae = map(np.asarray, (r2, mae, base_r2, base_mae))
    return {"r2": float(r2.mean()), "mae": float(mae.mean()), "r2_folds": r2, "mae_folds": mae,
            "baseline_r2": float(base_r2.mean()), "baseline_mae": float(base_mae.mean()),
            "baseline_r2_folds": base_r2, "baseline_mae_folds": base_mae, "alpha_folds": np.asarray(chosen),
            "predictions": predictions}


def compare_folds(folds: Sequence, reference) -> str:
    """``"above"`` if every fold beats ``reference``, ``"below"`` if every fold is under it, else ``"at"``.

    A deliberately strict reading of a few cross-validation folds (each one an unseen source image): one mean above
    chance is not enough when a fold falls at or below it. ``reference`` is a number (e.g. chance, 1 / n_classes) or a
    sequence of per-fold references (e.g. a baseline scored on the same folds).

    >>> compare_folds([0.31, 0.28, 0.35], 0.2), compare_folds([0.31, 0.18, 0.25], 0.2), compare_folds([0.1, 0.15], 0.2)
    ('above', 'at', 'below')
    """
    diff = np.asarray(folds, dtype=float) - np.asarray(reference, dtype=float)
    if diff.size == 0:
        raise ValueError("need at least one fold")
    return "above" if (diff > 0).all() else "below" if (diff < 0).all() else "at"


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
