"""NIQE against MATLAB's golden value, and its behaviour on degraded real images."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from srlib.data.builtin import builtin_images
from srlib.degradations import blur, isotropic_gaussian
from srlib.errors import InputError
from srlib.niqe import PRISTINE_SHA256, aggd_fit, niqe, niqe_of_luma, pristine_model

DATA = os.environ.get("SRLIB_DATA")
BABOON = Path(DATA or "/nonexistent") / "niqe" / "baboon.png"
MATLAB_BABOON = 5.72957338  # MATLAB R2021a niqe on the Y channel, as recorded in BasicSR's niqe.py


@pytest.mark.skipif(not BABOON.is_file(), reason="needs SRLIB_DATA/niqe/baboon.png (set SRLIB_DATA)")
def test_matches_matlab_on_baboon():
    from srlib.data.io import read_image

    assert niqe(read_image(BABOON)) == pytest.approx(MATLAB_BABOON, abs=1e-3)


@pytest.mark.skipif(not DATA, reason="needs SRLIB_DATA for the redistributed parameter file")
def test_shipped_parameters_equal_the_reference_file():
    ref = np.load(Path(DATA) / "niqe" / "niqe_pris_params.npz")
    mu, cov, window = pristine_model()
    np.testing.assert_array_equal(mu, ref["mu_pris_param"][0])
    np.testing.assert_array_equal(cov, ref["cov_pris_param"])
    np.testing.assert_array_equal(window, ref["gaussian_window"])


def test_pristine_model_shapes_and_checksum():
    mu, cov, window = pristine_model()
    assert mu.shape == (36,) and cov.shape == (36, 36) and window.shape == (7, 7)
    assert window.sum() == pytest.approx(1.0)
    assert len(PRISTINE_SHA256) == 64


@pytest.fixture(scope="module")
def photo():
    name, img = builtin_images("test")[0]
    return img[:, :288, :288]


def test_blur_raises_niqe(photo):
    sharp = niqe(photo)
    blurred = blur(photo[None], isotropic_gaussian(2.5))[0].clamp(0, 1)
    assert niqe(blurred) > sharp + 1.0


def test_noise_raises_niqe(photo):
    sharp = niqe(photo)
    noisy = (photo + 0.1 * torch.randn(photo.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert niqe(noisy) > sharp + 1.0


def test_uint8_float_and_grey_agree(photo):
    u8 = (photo * 255).round().to(torch.uint8)
    assert niqe(u8) == pytest.approx(niqe(u8.float() / 255), abs=1e-9)
    grey = photo.mean(0, keepdim=True)
    assert niqe(grey) == pytest.approx(niqe(grey[0]), abs=1e-12)


def test_aggd_fit_recovers_laplace_shape():
    x = np.random.default_rng(0).laplace(size=400_000)
    shape, left, right = aggd_fit(x)
    assert shape == pytest.approx(1.0, abs=0.05) and left == pytest.approx(right, rel=0.02)


@pytest.mark.parametrize("bad, match", [
    (torch.rand(3, 64, 200), "96x96"),
    (torch.rand(3, 100, 150), "two"),
    (torch.rand(2, 3, 128, 128), "one"),
    (torch.full((3, 128, 128), float("nan")), "NaN"),
])
def test_bad_inputs(bad, match):
    with pytest.raises(InputError, match=match):
        niqe(bad)


def test_crop_removes_the_border(photo):
    y = (photo.mean(0) * 255).round().double().numpy()
    assert niqe(photo.mean(0, keepdim=True), crop=4) == pytest.approx(niqe_of_luma(y[4:-4, 4:-4]), abs=1e-12)
