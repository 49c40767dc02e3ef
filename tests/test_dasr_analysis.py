"""Representation analysis helpers (Figs. 3, 4, 6): crops, representations, separation score, t-SNE, Fig. 4 PSNRs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from srlib.dasr.analysis import foreign_representation_psnr, held_out_crops, representations, separation_score, tsne
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
