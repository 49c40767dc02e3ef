"""Tests of kernels, blur, noise, the DASR pipeline, presets and the stand-in real-world degradation."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from srlib.degradations import (
    TEST_PRESETS,
    AnisoTrain,
    DegradationSpec,
    IsoTrain,
    RealWorldDegradation,
    add_gaussian_noise,
    anisotropic_gaussian,
    blur,
    degrade,
    imresize,
    isotropic_gaussian,
    kernel_from_spec,
    presets,
    quantize,
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _axis_std(k: torch.Tensor) -> tuple[float, float]:
    """Empirical standard deviation of a kernel along x (columns) and y (rows)."""
    size = k.shape[-1]
    ax = torch.arange(size, dtype=torch.float64) - size // 2
    k = k.double()
    return float((k.sum(0) * ax**2).sum().sqrt()), float((k.sum(1) * ax**2).sum().sqrt())


# --------------------------------------------------------------------------------------------------------------------
# Kernels


class TestIsotropicGaussian:
    def test_sum_symmetry_dtype(self):
        k = isotropic_gaussian(1.7)
        assert k.shape == (21, 21) and k.dtype == torch.float32
        assert abs(k.sum().item() - 1) < 1e-6
        assert torch.equal(k, k.t()) and torch.equal(k, k.flip(0)) and torch.equal(k, k.flip(1))
        assert k.argmax().item() == 10 * 21 + 10

    def test_matches_formula_and_width(self):
        k = isotropic_gaussian(2.0, size=41, dtype=torch.float64)
        sx, sy = _axis_std(k)
        assert abs(sx - 2.0) < 1e-6 and abs(sy - 2.0) < 1e-6  # 41 px: truncation negligible
        assert k.dtype == torch.float64

    def test_sigma_zero_is_delta(self):
        k = isotropic_gaussian(0.0, size=7)
        expected = torch.zeros(7, 7)
        expected[3, 3] = 1
        assert torch.equal(k, expected)

    def test_batched_equals_looped(self):
        sig = torch.tensor([0.0, 0.2, 1.0, 3.9])
        batched = isotropic_gaussian(sig)
        assert batched.shape == (4, 21, 21)
        for i, s in enumerate(sig.tolist()):
            assert torch.allclose(batched[i], isotropic_gaussian(s), atol=1e-7)

    @pytest.mark.parametrize("kwargs", [{"sigma": -1.0}, {"sigma": 1.0, "size": 20}, {"sigma": 1.0, "size": 0}])
    def test_bad_values(self, kwargs):
        with pytest.raises(ValueError):
            isotropic_gaussian(**kwargs)

    def test_bad_types(self):
        with pytest.raises(ValueError):
            isotropic_gaussian(torch.ones(2, 2))
        with pytest.raises(TypeError):
            isotropic_gaussian("1.0")


class TestAnisotropicGaussian:
    def test_covariance_lambdas_are_stds(self):
        # dasr-official.md section 3: θ = 0, λ1 = 0.5, λ2 = 3 gives std 0.46 along x and 2.99 along y.
        sx, sy = _axis_std(anisotropic_gaussian(0.5, 3.0, 0.0))
        assert abs(sx - 0.46) < 0.01 and abs(sy - 2.99) < 0.01

    def test_sum_and_centro_symmetry(self):
        k = anisotropic_gaussian(3.0, 0.7, 0.6)
        assert abs(k.sum().item() - 1) < 1e-6
        assert torch.allclose(k, k.flip(0, 1), atol=1e-9)
        assert not torch.allclose(k, k.t(), atol=1e-4)  # rotated, elongated: not symmetric about the diagonal

    def test_rotation(self):
        k0 = anisotropic_gaussian(2.5, 0.5, 0.0, dtype=torch.float64)
        assert torch.allclose(anisotropic_gaussian(2.5, 0.5, math.pi / 2, dtype=torch.float64), k0.t(), atol=1e-12)
        assert torch.allclose(anisotropic_gaussian(2.5, 0.5, math.pi, dtype=torch.float64), k0, atol=1e-12)
        assert torch.allclose(anisotropic_gaussian(0.5, 2.5, 0.0, dtype=torch.float64), k0.t(), atol=1e-12)

    def test_equal_lambdas_give_isotropic(self):
        k = anisotropic_gaussian(1.3, 1.3, 0.8, dtype=torch.float64)
        assert torch.allclose(k, isotropic_gaussian(1.3, dtype=torch.float64), atol=1e-12)

    def test_batched_equals_looped(self):
        l1 = torch.tensor([0.2, 1.0, 4.0])
        l2 = torch.tensor([4.0, 0.5, 2.0])
        th = torch.tensor([0.0, 1.0, 3.0])
        batched = anisotropic_gaussian(l1, l2, th)
        assert batched.shape == (3, 21, 21)
        for i in range(3):
            single = anisotropic_gaussian(l1[i].item(), l2[i].item(), th[i].item())
            assert torch.allclose(batched[i], single, atol=1e-7)
        assert anisotropic_gaussian(l1, 1.0, 0.0).shape == (3, 21, 21)  # numbers broadcast

    def test_bad_inputs(self):
        with pytest.raises(ValueError):
            anisotropic_gaussian(0.0, 1.0, 0.0)
        with pytest.raises(ValueError):
            anisotropic_gaussian(torch.ones(2), torch.ones(3), 0.0)
        with pytest.raises(ValueError):
            anisotropic_gaussian(1.0, 1.0, 0.0, size=4)


class TestBlur:
    def test_delta_is_identity(self):
        x = torch.rand(2, 3, 16, 20, generator=_gen())
        assert torch.equal(blur(x, isotropic_gaussian(0.0, size=21)), x)

    def test_matches_scipy_true_convolution_with_reflect_padding(self):
        x = torch.rand(1, 2, 15, 17, dtype=torch.float64, generator=_gen(1))
        k = torch.rand(5, 5, dtype=torch.float64, generator=_gen(2))  # not symmetric: checks the flip
        out = blur(x, k)
        for c in range(2):
            # torch "reflect" (no edge repeat) is scipy's "mirror"
            expected = ndimage.convolve(x[0, c].numpy(), k.numpy(), mode="mirror")
            np.testing.assert_allclose(out[0, c].numpy(), expected, atol=1e-12)

    def test_batched_equals_looped_and_shape(self):
        x = torch.rand(3, 3, 24, 24, generator=_gen(3))
        kernels = isotropic_gaussian(torch.tensor([0.5, 1.5, 3.0]))
        out = blur(x, kernels)
        assert out.shape == x.shape
        for i in range(3):
            assert torch.allclose(out[i : i + 1], blur(x[i : i + 1], kernels[i]), atol=1e-6)

    def test_preserves_constant_image(self):
        x = torch.full((2, 3, 24, 24), 0.3)
        assert torch.allclose(blur(x, anisotropic_gaussian(torch.tensor([3.0, 0.4]), 1.0, 0.3)), x, atol=1e-6)

    def test_gradcheck(self):
        x = torch.rand(2, 1, 6, 7, dtype=torch.float64, requires_grad=True)
        k = torch.rand(2, 3, 3, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(blur, (x, k))

    def test_bad_inputs(self):
        x = torch.rand(2, 3, 16, 16)
        with pytest.raises(ValueError):
            blur(x[0], isotropic_gaussian(1.0, size=5))
        with pytest.raises(ValueError):
            blur(x, isotropic_gaussian(torch.ones(3), size=5))  # batch mismatch
        with pytest.raises(ValueError):
            blur(x, torch.ones(4, 4) / 16)  # even size
        with pytest.raises(ValueError, match="too small"):
            blur(torch.rand(1, 1, 8, 8), isotropic_gaussian(1.0))
        with pytest.raises(TypeError):
            blur(x.to(torch.uint8), isotropic_gaussian(1.0, size=5))


# --------------------------------------------------------------------------------------------------------------------
# Noise


class TestNoise:
    def test_level_is_on_255_scale_and_per_channel(self):
        x = torch.full((1, 3, 128, 128), 0.5)
        n = (add_gaussian_noise(x, 15.0, generator=_gen()) - x) * 255
        assert abs(n.std().item() - 15) < 0.3 and abs(n.mean().item()) < 0.3
        corr = torch.corrcoef(n[0].reshape(3, -1))
        assert (corr - torch.eye(3)).abs().max() < 0.05  # independent channels ("colour" noise)

    def test_per_image_levels(self):
        x = torch.zeros(3, 3, 64, 64)
        n = add_gaussian_noise(x, torch.tensor([0.0, 5.0, 20.0]), generator=_gen()) * 255
        assert n[0].abs().max() == 0
        assert abs(n[1].std().item() - 5) < 0.2 and abs(n[2].std().item() - 20) < 0.8

    def test_reproducible(self):
        x = torch.rand(2, 3, 8, 8, generator=_gen())
        a = add_gaussian_noise(x, 10.0, generator=_gen(5))
        assert torch.equal(a, add_gaussian_noise(x, 10.0, generator=_gen(5)))
        assert not torch.equal(a, add_gaussian_noise(x, 10.0, generator=_gen(6)))

    def test_bad_inputs(self):
        x = torch.zeros(2, 3, 4, 4)
        with pytest.raises(ValueError):
            add_gaussian_noise(x, -1.0)
        with pytest.raises(ValueError):
            add_gaussian_noise(x, torch.ones(3))
        with pytest.raises(TypeError):
            add_gaussian_noise(x.to(torch.uint8), 1.0)

    def test_quantize(self):
        x = torch.rand(2, 3, 16, 16, generator=_gen()) * 1.4 - 0.2
        q = quantize(x)
        assert torch.equal(q, quantize(q))  # idempotent
        assert q.min() >= 0 and q.max() <= 1
        levels = q * 255
        assert torch.allclose(levels, levels.round(), atol=1e-4)
        inside = (x >= 0) & (x <= 1)
        assert (q - x)[inside].abs().max() <= 0.5 / 255 + 1e-6
        with pytest.raises(TypeError):
            quantize(torch.zeros(2, dtype=torch.uint8))


# --------------------------------------------------------------------------------------------------------------------
# Pipeline (DASR Eq. 1)


class TestDegrade:
    def test_composition(self):
        hr = torch.rand(2, 3, 48, 36, generator=_gen())
        k = isotropic_gaussian(torch.tensor([1.0, 2.5]))
        lr = degrade(hr, k, 3, noise=torch.tensor([0.0, 10.0]), generator=_gen(7))
        clean = imresize(blur(hr, k), 1 / 3)
        expected = quantize(add_gaussian_noise(clean, torch.tensor([0.0, 10.0]), generator=_gen(7)))
        assert lr.shape == (2, 3, 16, 12) and torch.equal(lr, expected)
        assert torch.equal(lr[0], quantize(clean[0]))  # level 0: no noise on that image

    def test_no_blur_no_noise_is_quantised_bicubic(self):
        hr = torch.rand(1, 3, 32, 32, generator=_gen())
        assert torch.equal(degrade(hr, None, 4), quantize(imresize(hr, 0.25)))
        assert torch.equal(degrade(hr, isotropic_gaussian(0.0), 4), degrade(hr, None, 4))
        lr = degrade(hr, None, 4, quantise=False)
        assert torch.equal(lr, imresize(hr, 0.25))

    def test_border_option_and_reproducibility(self):
        hr = torch.rand(1, 3, 32, 32, generator=_gen())
        k = anisotropic_gaussian(2.0, 0.5, 0.3)
        a = degrade(hr, k, 4, noise=5.0, generator=_gen(1), border="replicate")
        assert torch.equal(a, degrade(hr, k, 4, noise=5.0, generator=_gen(1), border="replicate"))
        assert not torch.equal(a, degrade(hr, k, 4, noise=5.0, generator=_gen(1)))

    def test_differentiable_without_quantisation(self):
        hr = torch.rand(1, 1, 8, 8, dtype=torch.float64, requires_grad=True)
        k = isotropic_gaussian(1.0, size=3, dtype=torch.float64)
        assert torch.autograd.gradcheck(lambda t: degrade(t, k, 2, quantise=False), (hr,))

    def test_bad_inputs(self):
        hr = torch.rand(1, 3, 30, 32)
        with pytest.raises(ValueError, match="modcrop"):
            degrade(hr, None, 4)
        with pytest.raises(ValueError):
            degrade(hr[0], None, 2)
        with pytest.raises(ValueError):
            degrade(hr, None, 1.5)
        with pytest.raises(ValueError):
            degrade(hr, None, 2, noise=-1.0)
        with pytest.raises(TypeError):
            degrade((hr * 255).to(torch.uint8), None, 2)


# --------------------------------------------------------------------------------------------------------------------
# Presets


class TestPresets:
    @pytest.mark.parametrize("scale, sigma_max", [(2, 2.0), (3, 3.0), (4, 4.0)])
    def test_iso_ranges_follow_the_paper(self, scale, sigma_max):
        preset = IsoTrain(scale)
        assert (preset.sigma_min, preset.sigma_max, preset.kernel_size) == (0.2, sigma_max, 21)
        batch = preset.sample(256, _gen())
        sigma = batch.params["sigma"]
        assert sigma.min() >= 0.2 and sigma.max() <= sigma_max and sigma.max() > 0.9 * sigma_max
        assert batch.kernels.shape == (256, 21, 21) and torch.equal(batch.noise, torch.zeros(256))
        assert torch.allclose(batch.kernels[:3], isotropic_gaussian(sigma[:3]))

    def test_aniso_ranges_and_kernels(self):
        preset = AnisoTrain()
        batch = preset.sample(512, _gen())
        p = batch.params
        for name, low, high in [("lambda1", 0.2, 4.0), ("lambda2", 0.2, 4.0), ("theta", 0, math.pi), ("noise", 0, 25)]:
            assert p[name].min() >= low and p[name].max() <= high and p[name].max() > 0.95 * high
        assert torch.equal(batch.noise, p["noise"]) and batch.noise.shape == (512,)
        expected = anisotropic_gaussian(p["lambda1"][:4], p["lambda2"][:4], p["theta"][:4])
        assert torch.allclose(batch.kernels[:4], expected)
        assert not torch.allclose(p["lambda1"], p["lambda2"])  # drawn independently

    def test_sampling_is_reproducible_and_frozen(self):
        a, b = AnisoTrain().sample(4, _gen(3)), AnisoTrain().sample(4, _gen(3))
        assert torch.equal(a.kernels, b.kernels) and torch.equal(a.noise, b.noise)
        with pytest.raises(dataclasses.FrozenInstanceError):
            IsoTrain(4).sigma_max = 1.0

    def test_bad_presets(self):
        with pytest.raises(ValueError):
            IsoTrain(8)
        assert IsoTrain(8, sigma_max=5.0).sigma_max == 5.0
        with pytest.raises(ValueError):
            AnisoTrain(lambda_min=0.0)
        with pytest.raises(ValueError):
            IsoTrain(4).sample(0)

    def test_test_grids_match_the_paper(self):
        sigmas = {name: [s.sigma for s in grid.specs] for name, grid in TEST_PRESETS.items() if name != "table3"}
        assert sigmas == {
            "table1": [0.2, 1.0, 1.8, 2.6, 3.4],
            "table2_x2": [0.0, 0.6, 1.2, 1.8],
            "table2_x3": [0.0, 0.8, 1.6, 2.4],
            "table2_x4": [0.0, 1.2, 2.4, 3.6],
        }
        assert [s.scale for s in presets.test_grid("table2_x3").specs] == [3] * 4
        assert presets.test_grid("table1").datasets == ("Set14",)
        table3 = presets.test_grid("table3").specs
        assert len(table3) == 27 and {s.noise for s in table3} == {0.0, 5.0, 10.0}
        assert len(presets.TABLE3_KERNELS) == 9
        assert [(s.lambda1, s.lambda2, s.theta_deg) for s in table3[9:18]] == list(presets.TABLE3_KERNELS)
        assert (table3[0].lambda1, table3[0].lambda2, table3[0].theta_deg) == (2.0, 0.2, 0)
        assert (table3[-1].lambda1, table3[-1].lambda2, table3[-1].theta_deg, table3[-1].noise) == (4.0, 4.0, 180, 10.0)
        with pytest.raises(ValueError, match="table1"):
            presets.test_grid("table9")

    def test_kernel_from_spec(self):
        assert torch.equal(kernel_from_spec(DegradationSpec(4, sigma=0.0)), isotropic_gaussian(0.0))
        k90 = kernel_from_spec(DegradationSpec(4, lambda1=3.5, lambda2=2.0, theta_deg=90), dtype=torch.float64)
        k0 = anisotropic_gaussian(3.5, 2.0, 0.0, dtype=torch.float64)
        assert torch.allclose(k90, k0.t(), atol=1e-12)  # degrees are converted to radians
        spec = DegradationSpec(4, lambda1=2.0, lambda2=0.2, theta_deg=0, noise=5)
        assert spec.label == "x4 l1=2 l2=0.2 theta=0 noise=5"
        with pytest.raises(ValueError):
            DegradationSpec(4)
        with pytest.raises(ValueError):
            DegradationSpec(4, sigma=1.0, lambda1=1.0)
        with pytest.raises(ValueError):
            DegradationSpec(4, lambda1=1.0, lambda2=1.0)
        with pytest.raises(TypeError):
            kernel_from_spec({"sigma": 1.0})


# --------------------------------------------------------------------------------------------------------------------
# Stand-in real-world degradation


class TestRealWorld:
    def test_shape_grid_and_determinism(self):
        deg = RealWorldDegradation(scale=4, seed=0)
        hr = torch.rand(2, 3, 64, 48, generator=_gen())
        lr = deg(hr)
        assert lr.shape == (2, 3, 16, 12) and lr.dtype == hr.dtype
        assert lr.min() >= 0 and lr.max() <= 1
        assert torch.allclose(lr * 255, (lr * 255).round(), atol=1e-4)
        assert torch.equal(lr, deg(hr))
        assert torch.equal(deg(hr, generator=_gen(1)), deg(hr, generator=_gen(1)))
        assert not torch.equal(deg(hr, generator=_gen(1)), deg(hr, generator=_gen(2)))

    def test_is_noisy_and_blurred(self):
        deg = RealWorldDegradation(scale=2, seed=1)
        flat = torch.full((1, 3, 64, 64), 0.5)
        residual = (deg(flat) - 0.5) * 255
        assert 3 < residual.std().item() < 15  # signal-dependent noise survives JPEG
        hr = torch.rand(1, 3, 64, 64, generator=_gen())
        clean = quantize(imresize(hr, 0.5))
        assert (deg(hr) - clean).abs().mean() > 0.02

    def test_seed_sets_the_hidden_kernel(self):
        a, b = RealWorldDegradation(seed=0), RealWorldDegradation(seed=1)
        assert (a.lambda1, a.theta) != (b.lambda1, b.theta)
        assert a == RealWorldDegradation(seed=0)
        assert abs(a.kernel.sum().item() - 1) < 1e-6
        assert 0.8 <= a.lambda1 <= 2.0 and 0.4 <= a.lambda2 <= 1.2

    def test_grey_and_bad_inputs(self):
        deg = RealWorldDegradation(scale=4)
        assert deg(torch.rand(1, 1, 32, 32)).shape == (1, 1, 8, 8)
        with pytest.raises(ValueError):
            deg(torch.rand(1, 2, 32, 32))
        with pytest.raises(ValueError, match="modcrop"):
            deg(torch.rand(1, 3, 30, 32))
        with pytest.raises(ValueError):
            RealWorldDegradation(jpeg_quality=0)
