"""Tests for srlib.metrics: golden values from hand computation, closed forms, scikit-image and the published
bicubic table (Set5 / Set14, needs $SRLIB_DATA)."""

import math
import os
from pathlib import Path

import pytest
import torch

from srlib.metrics import LPIPS, WeightsUnavailableError, alexnet_weights_path, lpips_available, psnr, rgb_to_y, ssim

C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def smooth_image(c=3, h=40, w=48, seed=0):
    """A random image with some spatial structure, on the 8-bit grid, (C, H, W) in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, c, h // 4, w // 4, generator=g, dtype=torch.float64)
    x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)[0]
    return (x * 255).round() / 255


class TestRgbToY:
    def test_golden(self):
        x = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0]).view(2, 3, 1, 1).transpose(0, 1).reshape(3, 1, 2)
        # pixel 0 = pure red, pixel 1 = (0, 1, 1): MATLAB rgb2ycbcr gives 16 + 65.481 and 16 + 128.553 + 24.966
        y = rgb_to_y(x) * 255
        assert y.shape == (1, 1, 2)
        assert torch.allclose(y.flatten(), torch.tensor([81.481, 169.519]), atol=1e-4)

    def test_range_and_batch(self):
        assert rgb_to_y(torch.zeros(2, 3, 4, 4)).shape == (2, 1, 4, 4)
        assert rgb_to_y(torch.zeros(3, 1, 1)).item() == pytest.approx(16 / 255)
        assert rgb_to_y(torch.ones(3, 1, 1)).item() == pytest.approx(235 / 255)

    def test_bad_input(self):
        with pytest.raises(ValueError, match="3, H, W"):
            rgb_to_y(torch.zeros(1, 4, 4))
        with pytest.raises(TypeError):
            rgb_to_y(torch.zeros(3, 4, 4, dtype=torch.uint8))


class TestPSNR:
    def test_identical_is_inf(self):
        x = smooth_image()
        out = psnr(x, x)
        assert out.shape == (1,) and out.dtype == torch.float64 and math.isinf(out.item())

    def test_hand_computed_grey(self):
        hr = torch.zeros(1, 4, 4)
        sr = hr.clone()
        sr[0, 1, 2] = 10 / 255  # MSE = 100 / 16
        assert psnr(sr, hr).item() == pytest.approx(10 * math.log10(255 ** 2 / 6.25), abs=1e-9)

    def test_hand_computed_rgb_and_y(self):
        hr = torch.zeros(3, 4, 4)
        sr = hr.clone()
        sr[0, 0, 0] = 51 / 255  # red off by 51 levels in one pixel
        dy = 65.481 * 51 / 255  # its effect on MATLAB Y (0-255 scale)
        assert psnr(sr, hr).item() == pytest.approx(10 * math.log10(255 ** 2 / (dy ** 2 / 16)), abs=1e-9)
        assert psnr(sr, hr, y_channel=False).item() == pytest.approx(10 * math.log10(255 ** 2 / (51 ** 2 / 48)),
                                                                     abs=1e-9)

    def test_batch_is_per_image(self):
        hr = torch.zeros(2, 1, 4, 4)
        sr = hr.clone()
        sr[1, 0, 0, 0] = 10 / 255
        out = psnr(sr, hr)
        assert out.shape == (2,) and math.isinf(out[0].item()) and out[1].item() == pytest.approx(40.17200343523835)

    def test_crop_removes_border(self):
        hr = smooth_image()
        sr = hr.clone()
        sr[:, :2, :] = 0.0
        sr[:, :, -2:] = 1.0
        assert math.isinf(psnr(sr, hr, crop=2).item())
        assert not math.isinf(psnr(sr, hr, crop=1).item())

    def test_quantize(self):
        hr = smooth_image()
        sr = hr + 0.4 / 255  # below half a grey level: rounds back to hr
        assert math.isinf(psnr(sr, hr).item())
        dy = 0.4 * (65.481 + 128.553 + 24.966) / 255  # the same shift on all of R, G, B moves Y by 219/255 of it
        assert psnr(sr, hr, quantize=False).item() == pytest.approx(10 * math.log10(255 ** 2 / dy ** 2), abs=1e-6)
        # quantize also clamps an overshooting SR output, as the official test code does
        assert math.isinf(psnr(torch.full((1, 8, 8), 1.2), torch.ones(1, 8, 8)).item())

    def test_grey_is_scored_as_grey(self):
        # A grey image's luma is its grey value. Replicating it to RGB and applying rgb2ycbcr would compress the
        # range to 219/255 of it, i.e. add 20 log10(255 / 219) dB: the Set14 'bridge' pitfall of data/README.md.
        hr, sr = smooth_image(c=1, seed=6), smooth_image(c=1, seed=7)
        grey = psnr(sr, hr).item()
        rgb = lambda t: t.expand(3, -1, -1)  # noqa: E731
        assert psnr(rgb(sr), rgb(hr), y_channel=False).item() == pytest.approx(grey, abs=1e-9)
        assert psnr(rgb(sr), rgb(hr)).item() == pytest.approx(grey + 20 * math.log10(255 / 219), abs=1e-9)

    def test_bad_input(self):
        x = torch.rand(3, 8, 8)
        with pytest.raises(ValueError, match="shapes differ"):
            psnr(x, torch.rand(3, 8, 9))
        with pytest.raises(TypeError, match="uint8"):
            psnr((x * 255).to(torch.uint8), x)
        with pytest.raises(ValueError, match="C in"):
            psnr(torch.rand(4, 8, 8), torch.rand(4, 8, 8))
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            psnr(x * 255, x)
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            psnr(x, x * 255)
        with pytest.raises(ValueError, match="crop"):
            psnr(x, x, crop=4)


class TestSSIM:
    def test_identical_is_one(self):
        x = smooth_image(c=3)
        assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-12)
        assert ssim(x, x, y_channel=False).item() == pytest.approx(1.0, abs=1e-12)

    def test_constant_shift_closed_form(self):
        # Constant images: sigma terms vanish, SSIM = (2ab + C1) / (a^2 + b^2 + C1) with a, b on the 0-255 scale.
        a, b = 100.0, 130.0
        hr, sr = torch.full((1, 16, 20), a / 255), torch.full((1, 16, 20), b / 255)
        expected = (2 * a * b + C1) / (a * a + b * b + C1)
        assert ssim(sr, hr).item() == pytest.approx(expected, abs=1e-12)

    def test_shift_of_textured_image_closed_form(self):
        # Adding a constant c leaves (co)variances unchanged: each window's SSIM is the luminance term only.
        hr = (smooth_image(c=1, seed=3) * 127).round() / 255  # on the 8-bit grid, so quantize changes nothing
        c = 40.0
        sr = hr + c / 255
        import torch.nn.functional as F
        from srlib.metrics import _gaussian_window
        g = _gaussian_window()
        mu = F.conv2d(hr[None].double() * 255, torch.outer(g, g).view(1, 1, 11, 11))  # the 2-D window, directly
        expected = ((2 * mu * (mu + c) + C1) / (mu ** 2 + (mu + c) ** 2 + C1)).mean().item()
        assert ssim(sr, hr).item() == pytest.approx(expected, abs=1e-12)

    def test_matches_scikit_image(self):
        from skimage.metrics import structural_similarity

        hr = smooth_image(c=1, h=48, w=56, seed=1)
        sr = (hr + 0.08 * smooth_image(c=1, h=48, w=56, seed=2) - 0.04).clamp(0, 1)
        ours = ssim(sr, hr).item()
        # skimage filters with 'same' (reflect) padding, but averages the map only after cropping (win_size - 1) / 2
        # = 5 pixels per side, which is exactly the 'valid' region: the two means coincide.
        s255 = lambda t: (t.clamp(0, 1) * 255).round()[0].numpy()  # noqa: E731
        ref, smap = structural_similarity(s255(sr), s255(hr), gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False, data_range=255, full=True)
        assert ours == pytest.approx(ref, abs=1e-10)
        assert ours == pytest.approx(smap[5:-5, 5:-5].mean(), abs=1e-10)

    def test_rgb_is_mean_of_channels(self):
        hr, sr = smooth_image(seed=4), smooth_image(seed=5)
        per_channel = [ssim(sr[i:i + 1], hr[i:i + 1]).item() for i in range(3)]
        assert ssim(sr, hr, y_channel=False).item() == pytest.approx(sum(per_channel) / 3, abs=1e-12)

    def test_shapes_and_errors(self):
        x = torch.rand(2, 3, 24, 24)
        assert ssim(x, x.flip(-1)).shape == (2,)
        with pytest.raises(ValueError, match="11x11"):
            ssim(torch.rand(1, 20, 20), torch.rand(1, 20, 20), crop=5)


# ----------------------------------------------------------------------------------- the published bicubic table
PUBLISHED_BICUBIC = {  # data/README.md (and DASR Table 2, sigma = 0): Y channel, crop = scale
    ("Set5", 2): (33.66, 0.9299), ("Set5", 3): (30.39, 0.8682), ("Set5", 4): (28.42, 0.8104),
    ("Set14", 2): (30.24, 0.8688), ("Set14", 3): (27.55, 0.7742), ("Set14", 4): (26.00, 0.7027),
}


def _benchmark_root() -> Path:
    root = os.environ.get("SRLIB_DATA")
    if not root:
        pytest.skip("SRLIB_DATA is not set: the published-table test needs benchmark/Set5 and benchmark/Set14")
    path = Path(root) / "benchmark"
    if not path.is_dir():
        pytest.skip(f"SRLIB_DATA={root} has no benchmark/ folder")
    return path


def bicubic_scores(root: Path, dataset: str, scale: int) -> tuple:
    """Mean Y-PSNR / SSIM of MATLAB-bicubic up-sampling of the distributed LR_bicubic images.

    Measured (srlib, this protocol), PSNR / SSIM: Set5 x2 33.6734 / 0.93029, x3 30.4033 / 0.86891,
    x4 28.4290 / 0.81114; Set14 x2 30.2302 / 0.86905, x3 27.5367 / 0.77447, x4 25.9940 / 0.70292.
    """
    from srlib.data.io import modcrop, read_image
    from srlib.degradations import imresize

    hr_dir = root / dataset / "HR"
    if not hr_dir.is_dir():
        pytest.skip(f"{hr_dir} is missing")
    p, s = [], []
    for hr_path in sorted(hr_dir.glob("*.png")):
        hr = modcrop(read_image(hr_path), scale)  # bridge stays 1-channel: scored on its grey values
        lr = read_image(root / dataset / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png")
        # MATLAB's path: uint8 in, uint8 out, each 1-D pass rounded to uint8. (Float in, quantised once at the end,
        # differs by up to 2 grey levels in ~20% of pixels and lands 0.001-0.005 dB higher; both are within tolerance.)
        lr8 = (lr * 255).round().to(torch.uint8)
        sr = imresize(lr8[None], scale).to(torch.float32) / 255
        assert sr.shape[1:] == hr.shape, hr_path.name
        p.append(psnr(sr, hr[None], crop=scale).item())
        s.append(ssim(sr, hr[None], crop=scale).item())
    return sum(p) / len(p), sum(s) / len(s)


@pytest.mark.parametrize("dataset,scale", sorted(PUBLISHED_BICUBIC))
def test_published_bicubic_table(dataset, scale):
    root = _benchmark_root()
    mean_psnr, mean_ssim = bicubic_scores(root, dataset, scale)
    ref_psnr, ref_ssim = PUBLISHED_BICUBIC[(dataset, scale)]
    print(f"{dataset} x{scale}: {mean_psnr:.4f} / {mean_ssim:.5f} (published {ref_psnr} / {ref_ssim})")
    assert mean_psnr == pytest.approx(ref_psnr, abs=0.02)
    assert mean_ssim == pytest.approx(ref_ssim, abs=0.001)


# --------------------------------------------------------------------------------------------------------- LPIPS
@pytest.fixture(scope="module")
def fake_weights(tmp_path_factory):
    """A randomly initialised torchvision AlexNet saved under the official file name: right keys and shapes,
    meaningless values. Only the loading path is tested with it; the distances it gives mean nothing."""
    import torchvision

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("hub") / "alexnet-owt-7be5be79.pth"
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)
    return path


class TestLPIPS:
    def test_missing_weights_raise(self, tmp_path, monkeypatch):
        monkeypatch.delenv("SRLIB_ALEXNET_WEIGHTS", raising=False)
        monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
        expected = tmp_path / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
        assert alexnet_weights_path() == expected
        assert not lpips_available()
        with pytest.raises(WeightsUnavailableError) as info:
            LPIPS()
        msg = str(info.value)
        assert str(expected) in msg and "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in msg
        assert "SRLIB_ALEXNET_WEIGHTS" in msg
        assert issubclass(WeightsUnavailableError, RuntimeError)

    def test_env_var_is_used(self, tmp_path, monkeypatch):
        monkeypatch.setenv("SRLIB_ALEXNET_WEIGHTS", str(tmp_path / "w.pth"))
        assert alexnet_weights_path() == tmp_path / "w.pth"
        with pytest.raises(WeightsUnavailableError, match="w.pth"):
            LPIPS()

    def test_loading_path_with_fake_weights(self, fake_weights):
        metric = LPIPS(fake_weights, check_hash=False)
        assert lpips_available(fake_weights)
        # the backbone holds exactly the file's tensors
        state = torch.load(fake_weights, weights_only=True)
        assert torch.equal(metric.net.net.slice1[0].weight, state["features.0.weight"])
        assert torch.equal(getattr(metric.net.net.slice5, "10").bias, state["features.10.bias"])
        x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
        d = metric(x, x.flip(-1))  # the value is meaningless with fake weights; only shape and sanity are checked
        assert d.shape == (2,) and torch.isfinite(d).all() and (d >= 0).all()
        assert torch.allclose(metric(x, x), torch.zeros(2), atol=1e-6)

    def test_hash_and_layout_are_checked(self, fake_weights, tmp_path):
        with pytest.raises(WeightsUnavailableError, match="sha256"):
            LPIPS(fake_weights)
        state = torch.load(fake_weights, weights_only=True)
        del state["features.3.weight"]
        broken = tmp_path / "broken.pth"
        torch.save(state, broken)
        with pytest.raises(WeightsUnavailableError, match="features.3.weight"):
            LPIPS(broken, check_hash=False)

    def test_bad_input(self, fake_weights):
        metric = LPIPS(fake_weights, check_hash=False)
        with pytest.raises(ValueError, match="B, 3, H, W"):
            metric(torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32))
