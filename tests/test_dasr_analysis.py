"""Representation analysis helpers (Figs. 3, 4, 6): crops, representations, separation score, kernel-width probe,
blur statistics (the positive control), t-SNE, Fig. 4 PSNRs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from srlib.dasr.analysis import (
    blur_statistics,
    compare_folds,
    degraded_crops,
    foreign_representation_psnr,
    held_out_crops,
    kernel_width_probe,
    representations,
    separation_score,
    tsne,
)
from srlib.dasr.config import DASRConfig
from srlib.dasr.network import BlindSR
from srlib.degradations import isotropic_gaussian


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return BlindSR(DASRConfig.for_profile("tiny", scale=2)).eval()


def images():
    g = torch.Generator().manual_seed(0)
    return [(f"im{i}", torch.rand(3, 40, 48, generator=g)) for i in range(3)]


class TestAnalysis:
    def test_crops_and_groups(self):
        hr, groups = held_out_crops(images(), 16, 4, torch.Generator().manual_seed(0))
        assert hr.shape == (12, 3, 16, 16) and groups.tolist() == [0] * 4 + [1] * 4 + [2] * 4
        with pytest.raises(ValueError, match="smaller"):
            held_out_crops(images(), 64, 1, torch.Generator())

    def test_representations_shapes(self, model):
        hr, _ = held_out_crops(images(), 16, 2, torch.Generator().manual_seed(0))
        degs = [(isotropic_gaussian(0.5), 0.0), (isotropic_gaussian(2.0), 10.0)]
        X, y = representations(model, hr, degs, 2)
        assert X.shape == (12, model.cfg.rep_dim) and y.tolist() == [0] * 6 + [1] * 6

    def test_separation_score_chance_and_perfect(self):
        rng = np.random.default_rng(0)
        y = np.repeat(np.arange(4), 30)
        groups = np.tile(np.arange(3), 40)
        perfect, _ = separation_score(np.eye(4)[y] + 0.01 * rng.standard_normal((120, 4)), y, groups)
        noise, _ = separation_score(rng.standard_normal((120, 4)), y, groups)
        assert perfect == 1.0 and noise < 0.5
        with pytest.raises(ValueError, match="two source images"):
            separation_score(np.zeros((4, 2)), np.array([0, 1, 0, 1]), np.zeros(4))

    def test_tsne_shape(self):
        assert tsne(np.random.default_rng(0).standard_normal((20, 5))).shape == (20, 2)

    def test_foreign_representation(self, model):
        hr = torch.rand(4, 3, 24, 24, generator=torch.Generator().manual_seed(1))
        psnrs = foreign_representation_psnr(model, hr[:1], hr[1:], isotropic_gaussian(1.0), 2)
        assert len(psnrs) == 4 and all(np.isfinite(psnrs))


class TestDegradedCrops:
    def test_class_major_and_same_as_representations(self, model):
        hr, _ = held_out_crops(images(), 16, 2, torch.Generator().manual_seed(0))
        degs = [(isotropic_gaussian(0.5), 0.0), (isotropic_gaussian(2.0), 10.0)]
        lr, y = degraded_crops(hr, degs, 2, seed=3)
        assert lr.shape == (12, 3, 8, 8) and y.tolist() == [0] * 6 + [1] * 6
        X, y2 = representations(model, hr, degs, 2, seed=3)
        with torch.no_grad():
            expected = model.represent(lr).numpy()
        assert (y2 == y).all() and np.allclose(X, expected, atol=1e-5)


class TestBlurStatistics:
    def test_shape_and_monotone_in_blur(self):
        from srlib.degradations import degrade

        hr = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
        feats = [blur_statistics(degrade(hr, isotropic_gaussian(s), 2)) for s in (0.5, 1.5, 3.0)]
        assert feats[0].shape == (2, 3) and feats[0].dtype == np.float64
        for col in (0, 1):  # both ratios fall as the kernel widens
            assert (feats[0][:, col] > feats[1][:, col]).all() and (feats[1][:, col] > feats[2][:, col]).all()

    def test_flat_crop_is_finite(self):
        assert np.isfinite(blur_statistics(torch.full((1, 3, 8, 8), 0.5))).all()

    @pytest.mark.parametrize("bad", [torch.rand(3, 8, 8), torch.rand(1, 1, 8, 8), torch.rand(1, 3, 2, 8)])
    def test_bad_input(self, bad):
        with pytest.raises(ValueError, match="N, 3, h, w"):
            blur_statistics(bad)

    def test_positive_control_separates_unseen_content(self):
        """The control must do what it is for: blur features score above chance on held-out photographs."""
        from srlib.data import builtin_images

        hr, groups = held_out_crops(builtin_images("test"), 128, 6, torch.Generator().manual_seed(0))
        widths = (0.2, 1.8, 3.4)
        lr, y = degraded_crops(hr, [(isotropic_gaussian(s), 0.0) for s in widths], 4)
        g = np.tile(groups.numpy(), len(widths))
        X = blur_statistics(lr)
        score, folds = separation_score(X, y, g)
        assert score > 1 / len(widths) + 0.15, folds
        assert kernel_width_probe(X, np.asarray(widths)[y], g)["r2"] > 0.3


class TestKernelWidthProbe:
    @staticmethod
    def data():
        sigmas = np.repeat([0.2, 1.0, 1.8, 2.6, 3.4], 24)
        groups = np.tile(np.arange(3), 40)
        return sigmas, groups

    def test_informative_column_gives_r2_near_one(self):
        rng = np.random.default_rng(0)
        sigmas, groups = self.data()
        X = np.c_[rng.standard_normal((120, 4)), sigmas + 0.05 * rng.standard_normal(120)]
        p = kernel_width_probe(X, sigmas, groups)
        assert p["r2"] > 0.98 and p["mae"] < 0.1
        assert abs(p["baseline_r2"]) < 1e-9 and p["baseline_mae"] == pytest.approx(0.96)  # mean |sigma - 1.8|
        assert p["r2_folds"].shape == p["mae_folds"].shape == p["alpha_folds"].shape == (3,)
        assert p["predictions"].shape == (120,) and np.abs(p["predictions"] - sigmas).mean() == pytest.approx(
            p["mae"], rel=1e-6)  # equal folds: the mean of fold MAEs is the MAE of the out-of-fold predictions

    def test_pure_noise_is_no_better_than_a_constant(self):
        rng = np.random.default_rng(1)
        sigmas, groups = self.data()
        p = kernel_width_probe(rng.standard_normal((120, 8)), sigmas, groups)
        assert p["r2"] <= 0.05 and compare_folds(p["r2_folds"], p["baseline_r2_folds"]) != "above"

    def test_content_only_feature_does_not_leak_across_groups(self):
        """A feature that identifies the source image cannot predict sigma on an unseen image."""
        rng = np.random.default_rng(2)
        sigmas, groups = self.data()
        p = kernel_width_probe(np.eye(3)[groups] + 0.01 * rng.standard_normal((120, 3)), sigmas, groups)
        assert p["r2"] <= 0.05

    def test_two_groups_fall_back_to_leave_one_row_out(self):
        rng = np.random.default_rng(3)
        sigmas = np.repeat([0.5, 1.5, 2.5], 20)
        groups = np.tile(np.arange(2), 30)
        p = kernel_width_probe(np.c_[sigmas + 0.05 * rng.standard_normal(60)], sigmas, groups)
        assert p["r2"] > 0.98 and p["r2_folds"].shape == (2,)

    def test_bad_input(self):
        with pytest.raises(ValueError, match="two source images"):
            kernel_width_probe(np.zeros((4, 2)), np.arange(4.0), np.zeros(4))
        with pytest.raises(ValueError, match=r"\(N, d\)"):
            kernel_width_probe(np.zeros(4), np.arange(4.0), np.arange(4))


class TestCompareFolds:
    def test_verdicts(self):
        assert compare_folds([0.3, 0.4], 0.2) == "above"
        assert compare_folds([0.3, 0.2], 0.2) == "at"
        assert compare_folds([0.1, 0.15], 0.2) == "below"
        assert compare_folds([0.5, 0.5], [0.4, 0.6]) == "at"
        with pytest.raises(ValueError, match="at least one fold"):
            compare_folds([], 0.2)
