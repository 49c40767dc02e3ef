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


def _outs(seed=0, n=2, size=16):
    """Synthetic dsn_outputs-style records: real LR = y_g + Laplace noise of a known per-pixel scale."""
    g = torch.Generator().manual_seed(seed)
    outs = {}
    for i in range(n):
        y_b = torch.rand(3, size, size, generator=g, dtype=torch.float64)
        theta = 0.5 + 4 * torch.rand(3, size, size, generator=g, dtype=torch.float64)  # gray levels
        u = torch.rand(3, size, size, generator=g, dtype=torch.float64) - 0.5
        eps = -torch.sign(u) * torch.log1p(-2 * u.abs())  # standard Laplace by the inverse CDF
        y_g = y_b + 0.01
        outs[f"im{i}"] = dict(hr=None, real=y_g + eps * theta / 255, y_b=y_b, y_g=y_g, theta=theta)
    return outs


def test_likelihood_rows_prefer_the_true_per_pixel_scale():
    rows = A.likelihood_rows(_outs())
    assert set(rows) == {"gaussian_yb", "laplace_yb", "laplace_yg", "theta_yg", "b_yg"}
    assert rows["theta_yg"] > rows["laplace_yg"]  # the data were drawn with exactly these per-pixel scales
    outs = _outs()
    res = torch.cat([((v["real"] - v["y_g"]) * 255).flatten() for v in outs.values()])
    th = torch.cat([v["theta"].flatten() for v in outs.values()])
    expected = np.mean(stats.laplace.logpdf(res.numpy(), 0.0, th.numpy()))
    assert math.isclose(rows["theta_yg"], expected, rel_tol=1e-9)


def test_theta_structure_follows_the_gradient():
    y_b = torch.zeros(3, 12, 12, dtype=torch.float64)
    y_b[:, :, 6:] = 1.0  # one vertical edge
    theta = 1 + A.gradient_magnitude(y_b[None])[0].expand(3, -1, -1) * 255  # theta grows with the gradient
    s = A.theta_structure({"edge": dict(y_b=y_b, theta=theta)})
    assert s["n"] == 144 and math.isclose(s["pearson"], 1.0) and s["spearman"] > 0.99
    assert s["theta_min"] == 1.0 and s["theta_max"] > 200
    # Poisson-Gaussian noise: theta = std of the noise, which grows with the signal -> rank correlation 1
    y = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = A.theta_structure({"x": dict(y_b=y, theta=255 * (2e-3 * y + (2 / 255) ** 2).sqrt())})
    assert math.isclose(s["spearman_brightness"], 1.0) and s["pearson_brightness"] > 0.9


def test_dsn_outputs_shapes_units_and_mode():
    from srlib.usrdu.dsn import DSN, DSNConfig

    torch.manual_seed(0)
    dsn = DSN(DSNConfig.for_profile("tiny")).train()
    hr = torch.rand(3, 32, 32)
    outs = A.dsn_outputs(dsn, [("a", torch.rand(3, 8, 8), hr)])
    v = outs["a"]
    assert dsn.training  # restored
    assert v["y_g"].shape == v["y_b"].shape == v["theta"].shape == (3, 8, 8)
    assert torch.equal(v["y_g"], (v["y_g"] * 255).round() / 255) and v["theta"].min() >= math.exp(-1) - 1e-6
    no_theta = DSN(DSNConfig.for_profile("tiny", pixel_uncertainty=False, feature_uncertainty=False))
    assert A.dsn_outputs(no_theta, [("a", torch.rand(3, 8, 8), hr)])["a"]["theta"] is None


def test_sentences_agree_with_the_printed_numbers():
    # a gap is computed from the values as printed (rounded), never from the unrounded ones
    assert A.compare(30.005, 29.994) == {"a": 30.0, "b": 29.99, "gap": 0.01, "sign": 1, "better": True}
    assert A.compare(5.2, 4.9, digits=1, higher_is_better=False)["better"] is False
    assert A.compare(2.0, 2.004)["better"] is None
    assert A.gap_phrase(27.56, 29.08) == "1.52 dB lower than"
    closer = A.gap_phrase(29.08, 27.56, more="closer to the real LR", less="further")
    assert closer == "1.52 dB closer to the real LR than"
    assert A.gap_phrase(3.0, 3.004) == "equal (to 2 decimals) to"
    # 0.0999 prints as 0.100
    words = [A.correlation_phrase(r) for r in (0.1, 0.0999, 0.0994, -0.3)]
    assert words == ["positive", "positive", "negligible", "negative"]


def test_run_summary_reads_the_checkpoint(tmp_path):
    from srlib import runs
    from srlib.usrdu.train_config import SRNTrainConfig

    cfg = SRNTrainConfig.for_profile("tiny", 5, seed=3)
    runs.save_checkpoint(tmp_path / "final.pt", runs.training_state("usrdu-srn", cfg, 42, {}, full=False))
    line = A.run_summary(tmp_path / "final.pt")
    assert "profile tiny" in line and "situation 5" in line and "42 iterations" in line and "seed 3" in line
    assert f"adversarial {cfg.w_adv:g}" in line and f"{cfg.gradient_norm} norm" in line
    runs.save_checkpoint(tmp_path / "bare.pt", {"conv_first.weight": torch.zeros(1)})
    assert A.run_summary(tmp_path / "bare.pt") == ""


def test_zoo_missing_and_lpips_note():
    assert A.zoo_missing([]) == []
    assert "no zoo entry" in A.zoo_missing(["no-such-entry"])[0]
    assert "SRLIB_ALEXNET_WEIGHTS" in A.lpips_unavailable_reason()
