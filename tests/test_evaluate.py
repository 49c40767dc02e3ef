"""srlib.evaluate and the `srlib evaluate` command line: protocol, published numbers, bad input."""
import json
import os
from pathlib import Path

import pytest
import torch

from srlib.cli import main as cli_main
from srlib.evaluate import FixedDegradation, bicubic_upscaler, evaluate, evaluate_images, find_hr_folder

DATA = os.environ.get("SRLIB_DATA")
needs_data = pytest.mark.skipif(
    not DATA or not (Path(DATA) / "benchmark" / "Set5" / "HR").is_dir(),
    reason="SRLIB_DATA is not set or has no benchmark/Set5/HR (CI sets it to ../shared/data)",
)

# data/README.md: published bicubic baselines (Y PSNR / SSIM, scale pixels cropped).
PUBLISHED = {("Set5", 2): (33.66, 0.9299), ("Set5", 3): (30.39, 0.8682), ("Set5", 4): (28.42, 0.8104),
             ("Set14", 2): (30.24, 0.8688), ("Set14", 3): (27.55, 0.7742), ("Set14", 4): (26.00, 0.7027)}


class TestFixedDegradation:
    def test_no_blur_has_no_kernel(self):
        assert FixedDegradation(sigma=0).kernel() is None

    def test_kernels(self):
        assert FixedDegradation(sigma=1.2).kernel().shape == (21, 21)
        k = FixedDegradation(lambda1=2.0, lambda2=0.2, theta_deg=0).kernel()
        assert k.shape == (21, 21) and abs(float(k.sum()) - 1) < 1e-5

    def test_bad_input(self):
        with pytest.raises(ValueError):
            FixedDegradation(lambda1=1.0)
        with pytest.raises(ValueError):
            FixedDegradation(sigma=-1)


class TestEvaluateImages:
    def test_perfect_upscaler_scores_infinite(self):
        hr = torch.rand(3, 24, 24)
        hr = (hr * 255).round() / 255
        # An "upscaler" that knows the answer: PSNR is infinite and SSIM is 1.
        oracle = lambda lr: hr[None]  # noqa: E731
        res = evaluate_images(oracle, [("x", hr)], 4, FixedDegradation(sigma=0))
        assert res["psnr"] == float("inf") and abs(res["ssim"] - 1) < 1e-12

    def test_grey_image_scored_as_grey(self):
        hr = torch.rand(1, 40, 40)
        res = evaluate_images(bicubic_upscaler(2), [("g", hr)], 2, FixedDegradation(sigma=1.0), with_ssim=False)
        assert res["ssim"] is None and 5 < res["psnr"] < 60

    def test_rgb_method_on_grey_image(self):
        calls = []

        def up(lr):
            calls.append(lr.shape[1])
            return torch.nn.functional.interpolate(lr, scale_factor=2, mode="nearest")

        up.needs_rgb = True
        evaluate_images(up, [("g", torch.rand(1, 20, 20))], 2, FixedDegradation(sigma=0))
        assert calls == [3]

    def test_noise_is_seeded(self):
        imgs = [("a", torch.rand(3, 32, 32))]
        deg = FixedDegradation(sigma=0.8, noise=10)
        a = evaluate_images(bicubic_upscaler(2), imgs, 2, deg, seed=3)["psnr"]
        b = evaluate_images(bicubic_upscaler(2), imgs, 2, deg, seed=3)["psnr"]
        c = evaluate_images(bicubic_upscaler(2), imgs, 2, deg, seed=4)["psnr"]
        assert a == b and a != c


class TestCLI:
    def test_missing_dataset_is_a_clear_error(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="make data"):
            find_hr_folder(tmp_path, "Set5")

    def test_unknown_method(self):
        with pytest.raises(ValueError, match="unknown method"):
            evaluate("nope", dataset="builtin", scale=4, degradation=FixedDegradation())

    def test_dasr_needs_checkpoint(self):
        with pytest.raises(ValueError, match="--checkpoint"):
            evaluate("dasr", dataset="builtin", scale=4, degradation=FixedDegradation())

    def test_bad_preset(self):
        with pytest.raises(SystemExit):
            cli_main(["evaluate", "--dataset", "builtin", "--preset", "table3:99"])

    def test_builtin_json(self, tmp_path, capsys):
        out = tmp_path / "r.json"
        assert cli_main(["evaluate", "--dataset", "builtin", "--scale", "4", "--preset", "table3:1",
                         "--noise", "5", "--json", str(out)]) == 0
        res = json.loads(out.read_text())
        assert res["degradation"]["lambda1"] == 2.0 and res["degradation"]["noise"] == 5
        assert len(res["per_image"]) >= 1 and res["channel"] == "Y" and res["crop"] == 4
        assert "mean" in capsys.readouterr().out

    @needs_data
    @pytest.mark.parametrize("dataset,scale", sorted(PUBLISHED))
    def test_published_bicubic_table(self, tmp_path, dataset, scale):
        out = tmp_path / "r.json"
        cli_main(["evaluate", "--method", "bicubic", "--data-dir", DATA, "--dataset", dataset,
                  "--scale", str(scale), "--json", str(out)])
        res = json.loads(out.read_text())
        p, s = PUBLISHED[(dataset, scale)]
        assert abs(res["psnr"] - p) <= 0.02, (res["psnr"], p)
        assert abs(res["ssim"] - s) <= 0.001, (res["ssim"], s)
