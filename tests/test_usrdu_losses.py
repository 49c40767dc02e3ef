"""USR-DU losses against closed forms, numerical integration and float64 gradcheck."""
import math

import numpy as np
import pytest
import torch
from scipy import integrate, optimize

from srlib.usrdu import losses as L


def rand64(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


class TestGaussian:
    def test_kernel_marginals_match_official_numbers(self):
        assert np.allclose(L.gaussian_kernel(5).sum(0).numpy(), [0.02691, 0.23337, 0.47944, 0.23337, 0.02691], atol=1e-5)
        assert np.allclose(L.gaussian_kernel(9).sum(0).numpy()[:5], [0.00761, 0.03607, 0.10959, 0.21344, 0.26656],
                           atol=1e-5)
        assert math.isclose(float(L.gaussian_kernel(9, torch.float64).sum()), 1.0, rel_tol=1e-12)

    def test_blur_paddings(self):
        x = rand64(1, 2, 12, 10)
        assert L.gaussian_blur(x, 5, "valid").shape == (1, 2, 8, 6)
        assert L.gaussian_blur(x, 5, "zeros").shape == x.shape
        with pytest.raises(ValueError, match="padding"):
            L.gaussian_blur(x, 5, "same")

    def test_high_pass_removes_a_constant(self):
        x = rand64(1, 3, 12, 12)
        assert torch.allclose(L.high_pass(torch.full_like(x, 0.3), padding="reflect"), torch.full_like(x, 0.5))
        y0, y1 = L.high_pass(x), L.high_pass(x + 0.25)  # zero padding: only the 2-pixel border sees the shift
        assert torch.allclose(y0[..., 2:-2, 2:-2], y1[..., 2:-2, 2:-2])
        assert not torch.allclose(y0[..., :2, :], y1[..., :2, :])

    def test_high_pass_gradcheck(self):
        assert torch.autograd.gradcheck(L.high_pass, (rand64(1, 1, 6, 6).requires_grad_(),))


class TestGradientOperator:
    def ramp(self, a=2.0, b=-3.0):
        i = torch.arange(6, dtype=torch.float64)[:, None]
        j = torch.arange(7, dtype=torch.float64)[None, :]
        return (a * i + b * j).expand(1, 3, 6, 7)

    def test_ramp_l1_and_l2(self):
        g1, g2 = L.image_gradient(self.ramp(), "l1"), L.image_gradient(self.ramp(), "l2", eps=0.0)
        assert torch.allclose(g1[..., :-1, :-1], torch.tensor(5.0, dtype=torch.float64))
        assert torch.allclose(g2[..., :-1, :-1], torch.tensor(math.sqrt(13.0), dtype=torch.float64))
        assert torch.allclose(g1[..., :-1, -1], torch.tensor(2.0, dtype=torch.float64))  # last column: dx = 0
        assert torch.allclose(g1[..., -1, :-1], torch.tensor(3.0, dtype=torch.float64))  # last row: dy = 0
        assert float(g1[0, 0, -1, -1]) == 0.0

    def test_constant_has_zero_gradient_and_channels_are_separate(self):
        x = torch.zeros(1, 3, 5, 5)
        x[:, 1] = torch.arange(5.0)
        g = L.image_gradient(x)
        assert g.shape == x.shape and float(g[:, 0].abs().max()) == 0 and float(g[:, 1, 0, 0]) == 1.0

    @pytest.mark.parametrize("norm", ["l1", "l2"])
    def test_gradcheck(self, norm):
        assert torch.autograd.gradcheck(lambda t: L.image_gradient(t, norm), (rand64(1, 2, 5, 6).requires_grad_(),))

    def test_bad_norm(self):
        with pytest.raises(ValueError, match="Eq. 11"):
            L.image_gradient(torch.zeros(1, 1, 2, 2), "l3")


class TestLaplaceKL:
    def test_zero_only_at_equal_laws(self):
        assert float(L.laplace_kl(torch.zeros(1), torch.zeros(1))) == 0.0
        d = torch.linspace(-3, 3, 13)[:, None]
        lb = torch.linspace(-1, 2, 7)[None, :]  # includes log b = 0
        kl = L.laplace_kl(d, lb)
        assert (kl >= -1e-7).all() and float(kl.min()) == 0.0
        assert (kl == 0).nonzero().tolist() == [[6, 2]]  # d = 0 and b = 1 only

    @pytest.mark.parametrize("d, b", [(0.0, 2.0), (1.5, 1.0), (-2.0, 0.5), (3.0, 4.0)])
    def test_matches_numerical_kl(self, d, b):
        p = lambda x: math.exp(-abs(x) / b) / (2 * b)  # noqa: E731  L(0, b)
        log_q = lambda x: -abs(x + d) - math.log(2)  # noqa: E731  L(-d, 1): residual mu - m = d
        log_p = lambda x: -abs(x) / b - math.log(2 * b)  # noqa: E731
        f = lambda x: p(x) * (log_p(x) - log_q(x))  # noqa: E731
        cuts = sorted({0.0, -d})
        edges = [-np.inf, *cuts, np.inf]  # split at the kinks so quad sees smooth pieces
        kl = sum(integrate.quad(f, a, c, epsabs=1e-13, epsrel=1e-12)[0] for a, c in zip(edges[:-1], edges[1:]))
        got = float(L.laplace_kl(torch.tensor(d, dtype=torch.float64), torch.tensor(math.log(b), dtype=torch.float64)))
        assert math.isclose(got, kl, rel_tol=1e-7, abs_tol=1e-10)

    @pytest.mark.parametrize("d", [0.0, 0.5, 2.0, 10.0])
    def test_optimal_scale(self, d):
        # independent: the stationarity condition solved by scipy, and the loss minimised by gradient descent
        if d > 0:
            root = optimize.brentq(lambda b: math.exp(-d / b) * (1 + d / b) - 1 / b, 1e-3, 1e3)
            assert math.isclose(L.kl_optimal_scale(d), root, rel_tol=1e-8)
        y_b = torch.zeros(1, 3, 4, 4, dtype=torch.float64)
        y_g = torch.full_like(y_b, d / 255)
        v = torch.zeros_like(y_b, requires_grad=True)
        opt = torch.optim.LBFGS([v], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = L.pixel_kl_loss(y_g, v, y_b, content="l1") * 255 * v.numel()  # undo the mean and the /255
            loss.backward()
            return loss
        opt.step(closure)
        assert torch.allclose(v.detach().exp(), torch.tensor(L.kl_optimal_scale(d), dtype=torch.float64), rtol=1e-5)
        # not the Laplace NLL minimiser b = d (except where they cross): the KL keeps b >= 1 gray level
        assert float(v.detach().exp().min()) >= 1.0 - 1e-6

    def test_optimal_scale_rejects_negative(self):
        with pytest.raises(ValueError):
            L.kl_optimal_scale(-1.0)


class TestPixelKL:
    def test_zero_at_target(self):
        y = rand64(2, 3, 10, 10)
        for content in ("l1", "lowpass_l1"):
            assert float(L.pixel_kl_loss(y, torch.zeros_like(y), y, content)) == 0.0

    def test_closed_form_constant_residual(self):
        y_b = rand64(1, 3, 9, 9) * 0.5
        d, v = 4.0, 1.3  # gray levels, log theta
        y_g = y_b + d / 255
        theta = math.exp(v)
        expected = (d + theta * math.exp(-d / theta) - v - 1) / 255
        for content in ("l1", "lowpass_l1"):  # a constant residual survives the unit-sum low-pass unchanged
            got = float(L.pixel_kl_loss(y_g, torch.full_like(y_g, v), y_b, content))
            assert math.isclose(got, expected, rel_tol=1e-9)

    def test_lowpass_ignores_high_frequency_residual(self):
        y_b = torch.full((1, 3, 12, 12), 0.5, dtype=torch.float64)
        checker = ((torch.arange(12)[:, None] + torch.arange(12)[None, :]) % 2 * 2.0 - 1.0).double()
        y_g = y_b + checker * (8 / 255)
        assert L.pixel_kl_loss(y_g, None, y_b, "lowpass_l1") < 0.1 * L.pixel_kl_loss(y_g, None, y_b, "l1")
        assert math.isclose(float(L.pixel_kl_loss(y_g, None, y_b, "l1")), 8 / 255, rel_tol=1e-9)

    @pytest.mark.parametrize("content", ["l1", "lowpass_l1"])
    def test_gradcheck(self, content):
        y_g, v, y_b = rand64(1, 1, 6, 6, seed=1), rand64(1, 1, 6, 6, seed=2) - 0.5, rand64(1, 1, 6, 6, seed=3)
        f = lambda a, b: L.pixel_kl_loss(a, b, y_b, content)  # noqa: E731
        assert torch.autograd.gradcheck(f, (y_g.requires_grad_(), v.requires_grad_()))

    def test_errors(self):
        with pytest.raises(ValueError, match="same shape"):
            L.pixel_kl_loss(torch.zeros(1, 3, 4, 4), None, torch.zeros(1, 3, 4, 5))
        with pytest.raises(ValueError, match="content"):
            L.pixel_kl_loss(torch.zeros(1, 3, 8, 8), None, torch.zeros(1, 3, 8, 8), "l2")


class TestPerceptualKL:
    def test_eq3_and_eq4_values(self):
        fb = rand64(2, 4, 3, 3)
        fg = fb + 0.02
        assert math.isclose(float(L.perceptual_kl_loss(fg, None, fb)), 0.5 * 0.02, rel_tol=1e-9)  # 127.5 / 255
        D, u = 127.5 * 0.02, 0.7
        s = math.exp(u)
        expected = (D + s * math.exp(-D / s) - u - 1) / 255
        got = float(L.perceptual_kl_loss(fg, torch.full_like(fg, u), fb))
        assert math.isclose(got, expected, rel_tol=1e-9)
        assert float(L.perceptual_kl_loss(fb, torch.zeros_like(fb), fb)) == 0.0

    def test_gradcheck(self):
        fg, u, fb = rand64(1, 3, 2, 2, seed=4), rand64(1, 3, 2, 2, seed=5), rand64(1, 3, 2, 2, seed=6)
        f = lambda a, b: L.perceptual_kl_loss(a, b, fb)  # noqa: E731
        assert torch.autograd.gradcheck(f, (fg.requires_grad_(), u.requires_grad_()))

    def test_shape_errors(self):
        with pytest.raises(ValueError, match="head C"):
            L.perceptual_kl_loss(torch.zeros(1, 8, 2, 2), torch.zeros(1, 4, 2, 2), torch.zeros(1, 8, 2, 2))
        with pytest.raises(ValueError, match="feature shapes"):
            L.perceptual_kl_loss(torch.zeros(1, 8, 2, 2), None, torch.zeros(1, 8, 1, 2))


class TestGANAndESRGAN:
    def test_gan_closed_form(self):
        z = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64)
        for form in ("logits", "sigmoid"):
            assert math.isclose(float(L.gan_loss(z, True, form)), float(torch.log1p(torch.exp(-z)).mean()), rel_tol=1e-9)
            assert math.isclose(float(L.gan_loss(z, False, form)), float(torch.log1p(torch.exp(z)).mean()), rel_tol=1e-9)

    def test_sigmoid_form_saturates_like_the_official_dsn(self):
        z = torch.tensor([-200.0])
        assert math.isclose(float(L.gan_loss(z, True, "logits")), 200.0, rel_tol=1e-6)
        assert float(L.gan_loss(z, True, "sigmoid")) == 100.0  # binary_cross_entropy clamps log at -100

    @pytest.mark.parametrize("form", ["logits", "sigmoid"])
    def test_gan_gradcheck(self, form):
        z = (rand64(1, 1, 4, 4) * 4 - 2).requires_grad_()
        assert torch.autograd.gradcheck(lambda t: L.gan_loss(t, True, form) + L.gan_loss(t, False, form), (z,))

    def test_content_losses(self):
        hr = rand64(1, 3, 12, 12)
        assert math.isclose(float(L.l1_loss(hr + 0.1, hr)), 0.1, rel_tol=1e-9)
        assert float(L.lowpass_l1_loss(hr, hr)) == 0.0
        sr = rand64(1, 3, 12, 12, seed=9).requires_grad_()
        assert torch.autograd.gradcheck(lambda t: L.lowpass_l1_loss(t, hr) + L.l1_loss(t, hr), (sr,))
        with pytest.raises(ValueError, match="same shape"):
            L.l1_loss(hr, hr[..., :-1])
        with pytest.raises(ValueError, match="form"):
            L.gan_loss(hr, True, "hinge")

    def test_perceptual_l1_uses_frozen_features(self):
        from srlib.usrdu.vgg import VGG19Features, VGGConfig

        vgg = VGG19Features(VGGConfig(weights="random", width_div=16))
        hr = torch.rand(1, 3, 32, 32)
        sr = hr.clone().requires_grad_()
        assert float(L.perceptual_l1_loss(vgg, sr, hr)) == 0.0
        loss = L.perceptual_l1_loss(vgg, (sr + 0.1 * torch.randn_like(sr)).clamp(0, 1), hr)
        loss.backward()
        assert loss > 0 and sr.grad is not None and all(p.grad is None for p in vgg.parameters())
