"""Statistics behind the USR-DU figures: Laplace vs Gaussian fits of LR residuals (paper Fig. 2) and how the learned
uncertainty theta relates to image structure (paper Fig. 6: "edges and texture areas tend to have a higher degradation
uncertainty").

All residuals are measured in 8-bit gray levels (images x 255), the unit of theta.
"""
from __future__ import annotations

import math

import torch

from srlib.usrdu.losses import image_gradient


def laplace_loglik(x: torch.Tensor, mu, b) -> torch.Tensor:
    """Element-wise log-density of the Laplace law: ``-log(2 b) - |x - mu| / b`` (b > 0, tensor or float)."""
    b = torch.as_tensor(b, dtype=x.dtype)
    return -torch.log(2 * b) - (x - mu).abs() / b


def gaussian_loglik(x: torch.Tensor, mu, sigma) -> torch.Tensor:
    """Element-wise log-density of the normal law: ``-log(sigma sqrt(2 pi)) - (x - mu)^2 / (2 sigma^2)``."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype)
    return -torch.log(sigma * math.sqrt(2 * math.pi)) - (x - mu) ** 2 / (2 * sigma ** 2)


def fit_laplace_gaussian(residual: torch.Tensor) -> dict:
    """Maximum-likelihood Laplace (median, mean absolute deviation) and Gaussian (mean, std) fits of all values of
    ``residual``, with the mean log-likelihood per value under each (higher = better fit).

    >>> r = torch.distributions.Laplace(0.0, 2.0).sample((200000,)).double()
    >>> f = fit_laplace_gaussian(r)
    >>> round(f["laplace_b"], 1), f["laplace_loglik"] > f["gaussian_loglik"]
    (2.0, True)
    """
    x = residual.flatten().double()
    mu = x.median()
    b = (x - mu).abs().mean()
    m, s = x.mean(), x.std(unbiased=False)
    return {"laplace_mu": float(mu), "laplace_b": float(b), "gaussian_mu": float(m), "gaussian_sigma": float(s),
            "laplace_loglik": float(laplace_loglik(x, mu, b).mean()),
            "gaussian_loglik": float(gaussian_loglik(x, m, s).mean())}


def gradient_magnitude(img: torch.Tensor) -> torch.Tensor:
    """Local gradient magnitude ``sqrt(dx^2 + dy^2)`` (paper Eq. 11 form), averaged over colour channels.

    ``img: (B, C, H, W)`` -> ``(B, 1, H, W)`` in the input's units.
    """
    return image_gradient(img, "l2", eps=0.0).mean(1, keepdim=True)


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> tuple:
    """Pearson and Spearman correlation of two equally sized tensors (all elements).

    >>> x = torch.arange(10.0)
    >>> [round(v, 6) for v in rank_correlation(x, x ** 3)]
    [0.908434, 1.0]
    """
    if a.numel() != b.numel():
        raise ValueError(f"sizes differ: {a.numel()} vs {b.numel()}")
    a, b = a.flatten().double(), b.flatten().double()

    def pearson(u, v):
        u, v = u - u.mean(), v - v.mean()
        return float((u * v).sum() / (u.norm() * v.norm()))

    rank = lambda t: torch.empty_like(t).scatter_(0, t.argsort(), torch.arange(t.numel(), dtype=t.dtype))  # noqa: E731
    return pearson(a, b), pearson(rank(a), rank(b))
