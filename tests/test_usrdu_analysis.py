"""Fits and correlations used by the USR-DU chapters, against scipy."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from srlib.usrdu import analysis as A


def test_logliks_match_scipy():
    x = torch.linspace(-5, 5, 11, dtype=torch.float64)
    assert np.allclose(A.laplace_loglik(x, 0.5, 2.0).numpy(), stats.laplace.logpdf(x.numpy(), 0.5, 2.0))
    assert np.allclose(A.gaussian_loglik(x, -1.0, 3.0).numpy(), stats.norm.logpdf(x.numpy(), -1.0, 3.0))


def test_fit_prefers_the_true_family():
    g = torch.Generator().manual_seed(0)
    normal = torch.randn(100_000, generator=g, dtype=torch.float64) * 3
    f = A.fit_laplace_gaussian(normal)
    assert f["gaussian_loglik"] > f["laplace_loglik"] and abs(f["gaussian_sigma"] - 3) < 0.05
    # the Gaussian MLE log-likelihood has the closed form -log(sigma sqrt(2 pi e))
    assert math.isclose(f["gaussian_loglik"], -math.log(f["gaussian_sigma"] * math.sqrt(2 * math.pi * math.e)),
                        rel_tol=1e-9)
    lap = torch.distributions.Laplace(1.0, 0.5).sample((100_000,)).double()
    f = A.fit_laplace_gaussian(lap)
    assert f["laplace_loglik"] > f["gaussian_loglik"] and abs(f["laplace_mu"] - 1) < 0.02
    assert math.isclose(f["laplace_loglik"], -math.log(2 * math.e * f["laplace_b"]), rel_tol=1e-9)


def test_gradient_magnitude_and_correlations():
    ramp = (3 * torch.arange(6.0)[None, :] + 4 * torch.arange(5.0)[:, None]).expand(1, 3, 5, 6)
    assert torch.allclose(A.gradient_magnitude(ramp)[..., :-1, :-1], torch.tensor(5.0))
    a = torch.rand(500, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    b = a ** 2 + 0.1 * torch.rand(500, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    p, s = A.rank_correlation(a, b)
    assert math.isclose(p, stats.pearsonr(a, b)[0], rel_tol=1e-9)
    assert math.isclose(s, stats.spearmanr(a, b)[0], rel_tol=1e-9)
    with pytest.raises(ValueError, match="sizes"):
        A.rank_correlation(a, b[:-1])
