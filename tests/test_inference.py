"""Tiled inference, checkpoint loading and the file/CLI policy of srlib.inference."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from srlib.config import to_dict
from srlib.dasr.config import DASRConfig
from srlib.dasr.network import BlindSR
from srlib.dasr.official import DROPPED
from srlib.dasr.train_config import DASRTrainConfig
from srlib.inference import Upscaler, cli_main, load_upscaler, upscale, upscale_file


def toy(scale: int = 2) -> torch.nn.Module:
    """A model without spatial context: 1x1 conv + pixel shuffle (tiling must be exact)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 3 * scale * scale, 1), torch.nn.PixelShuffle(scale)).eval()


def tiny_dasr(scale: int = 2) -> BlindSR:
    torch.manual_seed(0)
    return BlindSR(DASRConfig.profile("tiny", scale=scale)).eval()


@pytest.fixture
def srlib_ckpt(tmp_path):
    cfg = DASRTrainConfig.profile_config("tiny", scale=2)
    model = tiny_dasr(2)
    path = tmp_path / "final.pt"
    torch.save({"kind": "srlib.dasr", "config": to_dict(cfg), "step": 0, "model": model.state_dict()}, path)
    return path, model


class TestUpscaleTiling:
    @pytest.mark.parametrize("tile,overlap", [(8, 4), (7, 0), (16, 6), (64, 16)])
    def test_exact_for_pointwise_model(self, tile, overlap):
        model, lr = toy(3), torch.rand(2, 3, 23, 37)
        with torch.no_grad():
            torch.testing.assert_close(upscale(model, lr, tile=tile, overlap=overlap), model(lr), atol=1e-6, rtol=0)

    def test_dasr_tiles_close_to_whole_image(self):
        model, lr = tiny_dasr(2), torch.rand(1, 3, 40, 52, generator=torch.Generator().manual_seed(0))
        whole = upscale(model, lr)
        tiled = upscale(model, lr, tile=24, overlap=16)
        assert tiled.shape == whole.shape == (1, 3, 80, 104)
        assert (tiled - whole).abs().max() < 2e-3  # below one 8-bit level (3.9e-3)
        naive = upscale(model, lr, tile=24, overlap=0)  # no overlap: visible seams
        assert (naive - whole).abs().max() > (tiled - whole).abs().max()

    def test_representation_computed_once_on_whole_image(self, monkeypatch):
        model, lr = tiny_dasr(2), torch.rand(1, 3, 30, 30)
        calls = []
        original = model.represent
        monkeypatch.setattr(model, "represent", lambda x: calls.append(tuple(x.shape)) or original(x))
        upscale(model, lr, tile=12, overlap=4)
        assert calls == [(1, 3, 30, 30)]

    def test_given_representation_is_used(self):
        model, lr = tiny_dasr(2), torch.rand(1, 3, 16, 16)
        rep = torch.randn(1, model.cfg.rep_dim)
        with torch.no_grad():
            torch.testing.assert_close(upscale(model, lr, rep=rep), model.sr_from_representation(lr, rep))

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="overlap"):
            upscale(toy(), torch.rand(1, 3, 8, 8), tile=4, overlap=4)
        with pytest.raises(ValueError, match="float"):
            upscale(toy(), torch.rand(3, 8, 8))
        with pytest.raises(ValueError, match="RGB"):
            upscale(tiny_dasr(), torch.rand(1, 1, 8, 8))


class TestLoadUpscaler:
    def test_srlib_checkpoint(self, srlib_ckpt):
        path, model = srlib_ckpt
        up = load_upscaler(path, device="cpu")
        lr = torch.rand(1, 3, 10, 10)
        assert isinstance(up, Upscaler) and up.scale == 2 and up.needs_rgb
        with torch.no_grad():
            torch.testing.assert_close(up(lr), model(lr).clamp(0, 1))

    def test_official_checkpoint(self, tmp_path):
        torch.manual_seed(0)
        src = BlindSR(DASRConfig(scale=3, queue_size=8)).eval()
        path = tmp_path / "model_600.pt"
        torch.save({k: v for k, v in src.state_dict().items() if not any(s in k for s in DROPPED)}, path)
        up = load_upscaler(path, device="cpu")
        lr = torch.rand(1, 3, 6, 5)
        assert up.scale == 3
        with torch.no_grad():
            torch.testing.assert_close(up(lr), src(lr).clamp(0, 1), atol=1e-5, rtol=0)

    def test_unknown_checkpoint(self, tmp_path):
        from srlib.checkpoints import StateDictMismatch

        torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "x.pt")
        with pytest.raises(StateDictMismatch, match="neither"):
            load_upscaler(tmp_path / "x.pt")
        with pytest.raises(FileNotFoundError):
            load_upscaler(tmp_path / "missing.pt")


class TestUpscaleFile:
    def test_rgb(self, srlib_ckpt, tmp_path):
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)).save(tmp_path / "a.png")
        sr = upscale_file(srlib_ckpt[0], tmp_path / "a.png", tmp_path / "b.png", tile=6, overlap=2)
        with Image.open(tmp_path / "b.png") as im:
            assert im.mode == "RGB" and im.size == (22, 18)
        assert sr.shape == (3, 18, 22)

    def test_grey_stays_grey(self, srlib_ckpt, tmp_path):
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / "g.png")
        upscale_file(srlib_ckpt[0], tmp_path / "g.png", tmp_path / "o.png")
        with Image.open(tmp_path / "o.png") as im:
            assert im.mode == "L" and im.size == (16, 16)

    def test_rgba_alpha_upscaled(self, srlib_ckpt, tmp_path):
        arr = np.random.default_rng(0).integers(0, 256, (8, 10, 4), dtype=np.uint8)
        arr[..., 3] = 255
        arr[:4, :, 3] = 0  # top half transparent
        Image.fromarray(arr, mode="RGBA").save(tmp_path / "t.png")
        sr = upscale_file(srlib_ckpt[0], tmp_path / "t.png", tmp_path / "o.png")
        assert sr.shape == (4, 16, 20)
        assert sr[3, :6].max() < 0.1 and sr[3, 10:].min() > 0.9  # alpha follows the input, bicubically
        with Image.open(tmp_path / "o.png") as im:
            assert im.mode == "RGBA"

    def test_16bit_grey_stays_16bit(self, srlib_ckpt, tmp_path):
        arr = np.random.default_rng(0).integers(0, 65536, (8, 8), dtype=np.uint16)
        Image.fromarray(arr).save(tmp_path / "d.png")
        upscale_file(srlib_ckpt[0], tmp_path / "d.png", tmp_path / "o.png")
        with Image.open(tmp_path / "o.png") as im:
            assert im.mode.startswith("I;16") or im.mode == "I"
            out = np.asarray(im)
        assert out.shape == (16, 16) and out.max() > 255  # really uses the 16-bit range

    def test_cli(self, srlib_ckpt, tmp_path, capsys):
        Image.fromarray(np.zeros((6, 6, 3), dtype=np.uint8)).save(tmp_path / "a.png")
        assert cli_main(["--checkpoint", str(srlib_ckpt[0]), str(tmp_path / "a.png"), str(tmp_path / "b.png"),
                         "--tile", "4", "--overlap", "2"]) == 0
        assert "12x12" in capsys.readouterr().out
        with pytest.raises(SystemExit):
            cli_main([str(tmp_path / "a.png")])
