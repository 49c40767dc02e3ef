"""srlib.evaluate and the `srlib evaluate` command line: protocol, published numbers, bad input."""
import csv
import json
import os
from pathlib import Path

import pytest
import torch

from srlib.cli import main as cli_main
from srlib.config import to_dict
from srlib.dasr.network import BlindSR
from srlib.dasr.train_config import DASRTrainConfig
from srlib.degradations.presets import DegradationSpec
from srlib.errors import CheckpointError, DataNotFound, OutputError, UsageError
from srlib.evaluate import (bicubic_upscaler, evaluate, evaluate_images, evaluate_pairs,
                            find_hr_folder, sigma_sweep)

DATA = os.environ.get("SRLIB_DATA")
needs_data = pytest.mark.skipif(
    not DATA or not (Path(DATA) / "benchmark" / "Set5" / "HR").is_dir(),
    reason="SRLIB_DATA is not set or has no benchmark/Set5/HR (CI sets it to ../shared/data)",
)

# data/README.md: published bicubic baselines (Y PSNR / SSIM, scale pixels cropped).
PUBLISHED = {("Set5", 2): (33.66, 0.9299), ("Set5", 3): (30.39, 0.8682), ("Set5", 4): (28.42, 0.8104),
             ("Set14", 2): (30.24, 0.8688), ("Set14", 3): (27.55, 0.7742), ("Set14", 4): (26.00, 0.7027)}


class TestDegradationSpec:
    """The evaluator takes the one degradation spec of srlib (the evaluator's own FixedDegradation is gone)."""

    def test_one_class(self):
        import srlib.evaluate

        assert not hasattr(srlib.evaluate, "FixedDegradation")

    def test_no_blur_has_no_kernel(self):
        assert DegradationSpec(sigma=0).kernel() is None

    def test_kernels(self):
        assert DegradationSpec(sigma=1.2).kernel().shape == (21, 21)
        k = DegradationSpec(lambda1=2.0, lambda2=0.2, theta_deg=0).kernel()
        assert k.shape == (21, 21) and abs(float(k.sum()) - 1) < 1e-5

    def test_bad_input(self):
        with pytest.raises(UsageError, match="give either sigma"):
            DegradationSpec(lambda1=1.0)
        with pytest.raises(UsageError, match="sigma must be"):
            DegradationSpec(sigma=-1)
        with pytest.raises(UsageError, match="noise level"):
            DegradationSpec(sigma=0, noise=float("nan"))


class TestEvaluateImages:
    def test_perfect_upscaler_scores_infinite(self):
        hr = torch.rand(3, 24, 24)
        hr = (hr * 255).round() / 255
        # An "upscaler" that knows the answer: PSNR is infinite and SSIM is 1.
        oracle = lambda lr: hr[None]  # noqa: E731
        res = evaluate_images(oracle, [("x", hr)], 4, DegradationSpec(sigma=0))
        assert res["psnr"] == float("inf") and abs(res["ssim"] - 1) < 1e-12

    def test_grey_image_scored_as_grey(self):
        hr = torch.rand(1, 40, 40)
        res = evaluate_images(bicubic_upscaler(2), [("g", hr)], 2, DegradationSpec(sigma=1.0), with_ssim=False)
        assert res["ssim"] is None and 5 < res["psnr"] < 60

    def test_rgb_method_on_grey_image(self):
        calls = []

        def up(lr):
            calls.append(lr.shape[1])
            return torch.nn.functional.interpolate(lr, scale_factor=2, mode="nearest")

        up.needs_rgb = True
        evaluate_images(up, [("g", torch.rand(1, 20, 20))], 2, DegradationSpec(sigma=0))
        assert calls == [3]

    def test_noise_is_seeded(self):
        imgs = [("a", torch.rand(3, 32, 32))]
        deg = DegradationSpec(sigma=0.8, noise=10)
        a = evaluate_images(bicubic_upscaler(2), imgs, 2, deg, seed=3)["psnr"]
        b = evaluate_images(bicubic_upscaler(2), imgs, 2, deg, seed=3)["psnr"]
        c = evaluate_images(bicubic_upscaler(2), imgs, 2, deg, seed=4)["psnr"]
        assert a == b and a != c


class TestSigmaSweep:
    """The Table 1 / Table 2 cells of chapters 3 and 4: one evaluate_images call per (upscaler, sigma)."""

    def test_cells_are_evaluate_images(self):
        g = torch.Generator().manual_seed(0)
        imgs = [("a", torch.rand(3, 40, 36, generator=g)), ("b", torch.rand(1, 32, 32, generator=g))]
        nearest = lambda lr: torch.nn.functional.interpolate(lr, scale_factor=2, mode="nearest")  # noqa: E731
        table = sigma_sweep({"nearest": nearest, "bicubic": bicubic_upscaler(2)}, imgs, 2, (0.0, 1.2))
        assert list(table) == ["nearest", "bicubic"]
        for name, up in (("nearest", nearest), ("bicubic", bicubic_upscaler(2))):
            for s, cell in zip((0.0, 1.2), table[name]):
                assert cell == evaluate_images(up, imgs, 2, DegradationSpec(2, sigma=s), with_ssim=False)["psnr"]

    def test_authors_dasr_row(self, tmp_path, monkeypatch):
        """Chapter 3's automatic authors' row: once `srlib weights get dasr-official-x4-iso` has put an official-format
        model_600.pt in the weights cache, `zoo.is_available` says so and `load_upscaler("zoo:...")` fills a row like
        any other method. Synthetic weights stand in for the download (tests never use the network): the entry's git
        blob id is pointed at the synthetic file, so the real verification path runs."""
        import dataclasses

        from srlib import zoo
        from srlib.dasr.config import DASRConfig
        from srlib.dasr.official import DROPPED
        from srlib.models import load_upscaler

        name = "dasr-official-x4-iso"
        monkeypatch.setenv("SRLIB_WEIGHTS", str(tmp_path))
        assert not zoo.is_available(name)  # an empty cache: the chapter leaves the row out
        torch.manual_seed(0)
        released = {k: v for k, v in BlindSR(DASRConfig(scale=4)).state_dict().items()
                    if not any(s in k for s in DROPPED)}
        file = tmp_path / zoo.entry(name).filename
        torch.save(released, file)
        assert not zoo.is_available(name)  # present but not the authors' bytes: refused
        monkeypatch.setitem(zoo._STATIC, name, dataclasses.replace(zoo.entry(name), git_blob=zoo.git_blob_id(file)))
        assert zoo.is_available(name)
        imgs = [("a", torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(1)))]
        table = sigma_sweep({"bicubic": bicubic_upscaler(4), "DASR (authors)": load_upscaler(f"zoo:{name}", "cpu")},
                            imgs, 4, (0.0, 2.4))
        assert all(len(row) == 2 and all(5 < v < 60 for v in row) for row in table.values())


@pytest.fixture(scope="module")
def x2_checkpoint(tmp_path_factory):
    cfg = DASRTrainConfig.for_profile("tiny", scale=2)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "x2.pt"
    torch.save({"kind": "srlib.dasr", "config": to_dict(cfg), "step": 0, "model": BlindSR(cfg.model).state_dict()},
               path)
    return path


class TestEvaluatePairs:
    """The USR-DU protocol (RGB, 4-pixel crop, LPIPS only from real weights), merged into srlib.evaluate."""

    def test_protocol(self):
        hr = (torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0)) * 255).round() / 255
        perfect = evaluate_pairs(lambda lr: hr[None], [("x", hr[:, ::4, ::4], hr)], lpips=False)
        assert perfect["psnr"] == float("inf") and perfect["lpips"] == "unavailable" and "missing" in perfect["niqe"]
        up = lambda lr: torch.nn.functional.interpolate(lr, scale_factor=4, mode="nearest")  # noqa: E731
        rgb = evaluate_pairs(up, [("x", hr[:, ::4, ::4], hr)], lpips=False)
        y = evaluate_pairs(up, [("x", hr[:, ::4, ::4], hr)], lpips=False, y_channel=True)
        assert rgb["psnr"] != y["psnr"] and [r["name"] for r in rgb["per_image"]] == ["x"]

    def test_niqe_on_request(self):
        from srlib.data.builtin import builtin_images
        from srlib.niqe import niqe

        hr = builtin_images("test")[0][1][:, :200, :200]  # 4 NIQE blocks after the crop
        lr = torch.nn.functional.avg_pool2d(hr[None], 4)[0]
        up = lambda x: torch.nn.functional.interpolate(x, scale_factor=4, mode="nearest")  # noqa: E731
        r = evaluate_pairs(up, [("a", lr, hr)], lpips=False, niqe=True)
        assert r["niqe"] == r["per_image"][0]["niqe"] == niqe(up(lr[None])[0], crop=4)

    def test_shape_mismatch(self):
        with pytest.raises(UsageError, match="modcrop"):
            evaluate_pairs(lambda lr: lr, [("x", torch.rand(3, 8, 8), torch.rand(3, 32, 32))], lpips=False)


class TestCLI:
    def test_missing_dataset_is_a_clear_error(self, tmp_path):
        with pytest.raises(DataNotFound, match="srlib data Set5.*make data"):
            find_hr_folder(tmp_path, "Set5")

    def test_unknown_method(self):
        with pytest.raises(UsageError, match="unknown method 'dasr'; expected 'bicubic' or 'checkpoint'"):
            evaluate("dasr", dataset="builtin", scale=4, degradation=DegradationSpec(sigma=0))

    def test_checkpoint_method_needs_checkpoint(self):
        with pytest.raises(UsageError, match="--method checkpoint needs --checkpoint"):
            evaluate("checkpoint", dataset="builtin", scale=4, degradation=DegradationSpec(sigma=0))

    def test_spec_scale_must_agree(self):
        with pytest.raises(UsageError, match="is for x2, not x4"):
            evaluate(dataset="builtin", scale=4, degradation=DegradationSpec(2, sigma=0))

    def test_bad_preset(self, capsys):
        assert cli_main(["evaluate", "--dataset", "builtin", "--preset", "table3:99"]) == 2
        assert "srlib: error: --preset expects table3:1 .. table3:9" in capsys.readouterr().err

    def test_builtin_json_and_csv(self, tmp_path, capsys):
        out, table = tmp_path / "r.json", tmp_path / "sub" / "r.csv"
        assert cli_main(["evaluate", "--dataset", "builtin", "--scale", "4", "--preset", "table3:1",
                         "--noise", "5", "--json", str(out), "--csv", str(table), "--no-progress"]) == 0
        res = json.loads(out.read_text())
        assert res["degradation"]["lambda1"] == 2.0 and res["degradation"]["noise"] == 5
        assert len(res["per_image"]) >= 1 and res["channel"] == "Y" and res["crop"] == 4
        rows = list(csv.DictReader(table.open()))
        assert [r["name"] for r in rows] == [r["name"] for r in res["per_image"]]
        assert float(rows[0]["psnr"]) == pytest.approx(res["per_image"][0]["psnr"])
        assert "mean" in capsys.readouterr().out
        assert not list(tmp_path.rglob("*.tmp"))

    def test_output_checked_before_work(self, tmp_path, monkeypatch):
        monkeypatch.setattr("srlib.evaluate.evaluate_images", lambda *a, **k: pytest.fail("evaluated"))
        with pytest.raises(OutputError, match="is a folder"):
            evaluate(dataset="builtin", scale=4, degradation=DegradationSpec(sigma=0), json_out=tmp_path)

    def test_any_checkpoint_with_tiles(self, x2_checkpoint, tmp_path):
        from srlib.data.io import write_image

        for i in range(2):  # a tiny data set in the flat layout DIR/NAME/*.png
            write_image(tmp_path / "Mini" / f"{i}.png", torch.rand(3, 40, 36, generator=torch.Generator().manual_seed(i)))
        deg = DegradationSpec(sigma=0.6)
        res = evaluate(dataset="Mini", data_dir=tmp_path, scale=2, degradation=deg, checkpoint=x2_checkpoint,
                       device="cpu", tile=12, overlap=4, json_out=tmp_path / "r.json")
        assert [r["name"] for r in res["per_image"]] == ["0", "1"]
        assert res["method"] == "checkpoint" and res["tile"] == 12 and res["checkpoint"] == str(x2_checkpoint)
        assert 5 < res["psnr"] < 60 and json.loads((tmp_path / "r.json").read_text())["scale"] == 2

    def test_checkpoint_scale_checked_before_images(self, x2_checkpoint, monkeypatch):
        monkeypatch.setattr("srlib.evaluate.load_hr_images", lambda *a: pytest.fail("images were read"))
        with pytest.raises(CheckpointError, match=r"x2.pt is a x2 model but --scale 4 was asked"):
            evaluate(dataset="builtin", scale=4, degradation=DegradationSpec(sigma=0), checkpoint=x2_checkpoint)

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


class TestEvaluateMetrics:
    """NIQE and LPIPS in the synthetic-LR evaluator and in ``srlib evaluate``, and lazily read image files."""

    @staticmethod
    def _photo(h=128, w=224):
        from srlib.data import builtin_images

        name, img = next(iter(builtin_images("test")))
        assert img.shape[-2] >= h and img.shape[-1] >= w
        return name, img[:, :h, :w]

    def test_niqe_per_image_and_mean(self):
        from srlib.niqe import niqe

        images = [self._photo()]
        r = evaluate_images(bicubic_upscaler(4), images, 4, DegradationSpec(sigma=0), niqe=True, with_ssim=False)
        row = r["per_image"][0]
        assert r["niqe"] == row["niqe"]
        assert "lpips" not in r  # not asked for
        # the same number as scoring the evaluator's own SR image (bicubic of the 8-bit LR) directly
        from srlib.degradations import imresize

        hr = images[0][1][None]
        lr = imresize((hr * 255).round().clamp(0, 255).to(torch.uint8), 1 / 4)
        sr = imresize(lr, 4).float() / 255
        assert row["niqe"] == pytest.approx(niqe(sr[0], crop=4), abs=1e-6)

    def test_niqe_refuses_images_too_small_for_one_block(self):
        from srlib.errors import InputError

        with pytest.raises(InputError, match="NIQE needs at least two 96x96"):
            evaluate_images(bicubic_upscaler(4), [self._photo(128, 128)], 4, DegradationSpec(sigma=0), niqe=True)

    def test_lpips_without_weights_is_a_status_not_a_number(self, monkeypatch):
        import srlib.metrics

        monkeypatch.setattr(srlib.metrics, "lpips_available", lambda path=None: False)
        r = evaluate_images(bicubic_upscaler(4), [self._photo(64, 64)], 4, DegradationSpec(sigma=0), lpips=True)
        assert isinstance(r["lpips"], str) and r["lpips"].startswith("unavailable")
        assert "lpips" not in r["per_image"][0]

    def test_image_files_read_lazily_and_sizes_from_headers(self, tmp_path, monkeypatch):
        from srlib.data.io import write_image
        from srlib.evaluate import ImageFiles

        for i, (h, w) in enumerate([(40, 48), (52, 36)]):
            write_image(tmp_path / f"im{i}.png", torch.rand(3, h, w))
        files = ImageFiles(sorted(tmp_path.glob("*.png")))
        import srlib.evaluate as ev

        reads = []
        real = ev.read_image
        monkeypatch.setattr(ev, "read_image", lambda p, **kw: reads.append(p) or real(p, **kw))
        assert files.sizes() == [("im0", (40, 48)), ("im1", (52, 36))] and reads == []
        r = evaluate_images(bicubic_upscaler(4), files, 4, DegradationSpec(sigma=0), with_ssim=False)
        assert [x["name"] for x in r["per_image"]] == ["im0", "im1"] and len(reads) == 2

    def test_cli_prints_niqe(self, tmp_path, capsys):
        from srlib.data.io import write_image

        folder = tmp_path / "benchmark" / "Tiny" / "HR"
        folder.mkdir(parents=True)
        write_image(folder / "a.png", self._photo()[1])
        rc = cli_main(["evaluate", "--dataset", "Tiny", "--data-dir", str(tmp_path), "--scale", "4", "--niqe",
                       "--lpips", "--no-progress", "--csv", str(tmp_path / "r.csv")])
        out = capsys.readouterr().out
        assert rc == 0 and "NIQE" in out
        with open(tmp_path / "r.csv") as f:
            assert next(csv.reader(f))[:4] == ["name", "psnr", "ssim", "niqe"]
