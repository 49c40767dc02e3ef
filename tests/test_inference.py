"""Tiled inference and the file policy of srlib.inference; loading every checkpoint kind (srlib.models) and the
`srlib upscale` command."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from srlib.checkpoints import StateDictMismatch
from srlib.cli import main as srlib_main
from srlib.config import to_dict
from srlib.dasr.config import DASRConfig
from srlib.dasr.network import BlindSR
from srlib.dasr.official import DROPPED
from srlib.dasr.train_config import DASRTrainConfig
from srlib.errors import CheckpointError, UsageError
from srlib.inference import Upscaler, upscale, upscale_file
from srlib.models import detect_kind, load_model, load_upscaler


def toy(scale: int = 2) -> torch.nn.Module:
    """A model without spatial context: 1x1 conv + pixel shuffle (tiling must be exact)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 3 * scale * scale, 1), torch.nn.PixelShuffle(scale)).eval()


def tiny_dasr(scale: int = 2) -> BlindSR:
    torch.manual_seed(0)
    return BlindSR(DASRConfig.for_profile("tiny", scale=scale)).eval()


@pytest.fixture
def srlib_ckpt(tmp_path):
    cfg = DASRTrainConfig.for_profile("tiny", scale=2)
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


def tiny_rrdb() -> torch.nn.Module:
    from srlib.usrdu.rrdbnet import RRDBNet, RRDBNetConfig

    torch.manual_seed(0)
    return RRDBNet(RRDBNetConfig.for_profile("tiny")).eval()


def same_output(up, model, size=(6, 5), atol=1e-5):
    lr = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(up(lr), model(lr).clamp(0, 1), atol=atol, rtol=0)


class TestLoadUpscaler:
    """srlib.models.load_upscaler: one Upscaler for every checkpoint kind, kind read from the file."""

    def test_srlib_checkpoint(self, srlib_ckpt):
        path, model = srlib_ckpt
        up = load_upscaler(path, device="cpu")
        assert isinstance(up, Upscaler) and up.scale == 2 and not up.model.training
        same_output(up, model, (10, 10))
        tiled = load_upscaler(path, device="cpu", tile=8, overlap=2)
        assert (tiled.tile, tiled.overlap) == (8, 2)
        lr = torch.rand(1, 3, 12, 12)
        torch.testing.assert_close(tiled(lr), Upscaler(model, 2, tile=8, overlap=2)(lr))

    def test_official_released_layout(self, tmp_path):
        torch.manual_seed(0)
        src = BlindSR(DASRConfig(scale=3, queue_size=8)).eval()
        path = tmp_path / "model_600.pt"
        torch.save({k: v for k, v in src.state_dict().items() if not any(s in k for s in DROPPED)}, path)
        assert len(torch.load(path, weights_only=True)) == 469  # the released x3 layout
        up = load_upscaler(path, device="cpu")
        assert up.scale == 3 and load_model(path).kind == "dasr-official"
        same_output(up, src)

    def test_official_full_layout(self, tmp_path):
        torch.manual_seed(0)
        src = BlindSR(DASRConfig(scale=4)).eval()
        torch.save(src.state_dict(), tmp_path / "full.pt")
        assert len(src.state_dict()) == 519
        up = load_upscaler(tmp_path / "full.pt", device="cpu")
        assert up.scale == 4
        same_output(up, src, (4, 4))

    def test_usrdu_srn_ema_and_raw(self, tmp_path):
        raw, ema = tiny_rrdb(), tiny_rrdb()
        with torch.no_grad():
            for p in ema.parameters():
                p.mul_(0.5)
        torch.save({"kind": "usrdu-srn", "config": {}, "step": 7, "net_g": raw.state_dict(),
                    "net_g_ema": ema.state_dict()}, tmp_path / "srn.pt")
        up = load_upscaler(tmp_path / "srn.pt", device="cpu")
        assert up.scale == 4
        same_output(up, ema)
        same_output(load_upscaler(tmp_path / "srn.pt", device="cpu", use_ema=False), raw)

    @pytest.mark.parametrize("layout,kind", [("esrgan", "esrgan"), ("basicsr", "esrgan-basicsr"),
                                             ("usrdu", "usrdu-srn-official")])
    def test_official_rrdbnet_layouts(self, tmp_path, layout, kind):
        import re

        net = tiny_rrdb()
        sd = net.state_dict()
        if layout == "basicsr":  # ESRGAN names -> BasicSR names, in a params_ema wrapper
            inverse = {"RRDB_trunk": "body", "RDB": "rdb", "trunk_conv": "conv_body", "upconv": "conv_up",
                       "HRconv": "conv_hr"}
            sd = {"params_ema": {re.sub("|".join(inverse), lambda m: inverse[m.group(0)], k): v
                                 for k, v in sd.items()}}
        elif layout == "usrdu":  # the authors' SRN: RRDBNet_U next to the frozen DSN copy, under BasicSR's params
            sd = {"params": {**{f"RRDBNet_U.{k}": v for k, v in sd.items()},
                             "RRDBNet_var.block_input.0.weight": torch.zeros(1)}}
        torch.save(sd, tmp_path / "w.pth")
        assert detect_kind(torch.load(tmp_path / "w.pth", weights_only=True)) == kind
        up = load_upscaler(tmp_path / "w.pth", device="cpu")
        assert up.scale == 4
        same_output(up, net)

    def test_dsn_is_not_an_upscaler(self, tmp_path):
        from srlib.usrdu.dsn import DSN, DSNConfig

        dsn = DSN(DSNConfig.for_profile("tiny"))
        torch.save({"kind": "usrdu-dsn", "config": {"dsn": {"scale": 4}}, "step": 1, "dsn": dsn.state_dict()},
                   tmp_path / "dsn.pt")
        assert load_model(tmp_path / "dsn.pt").kind == "usrdu-dsn"
        with pytest.raises(CheckpointError, match=r"dsn.pt is a USR-DU DSN checkpoint \(a downsampler\), not an SR"):
            load_upscaler(tmp_path / "dsn.pt")
        torch.save({"gen": dsn.state_dict()}, tmp_path / "gen.pth")  # the authors' file
        with pytest.raises(CheckpointError, match="DSN weights .a downsampler., not an SR model"):
            load_upscaler(tmp_path / "gen.pth")

    def test_oracle_needs_the_kernel(self, tmp_path):
        cfg = DASRTrainConfig.for_profile("tiny", scale=2, ablation="model5")
        torch.save({"kind": "srlib.dasr", "config": to_dict(cfg), "step": 0,
                    "model": BlindSR(cfg.model).state_dict()}, tmp_path / "m5.pt")
        with pytest.raises(CheckpointError, match="Model 5 oracle: it needs the true kernel"):
            load_upscaler(tmp_path / "m5.pt")

    def test_unknown_and_mismatched(self, tmp_path, srlib_ckpt):
        torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "x.pt")
        with pytest.raises(CheckpointError, match="x.pt is not a checkpoint srlib recognises"):
            load_upscaler(tmp_path / "x.pt")
        with pytest.raises(CheckpointError, match="no checkpoint at"):
            load_upscaler(tmp_path / "missing.pt")
        torch.save([1, 2], tmp_path / "list.pt")
        with pytest.raises(CheckpointError, match="holds a list, not a checkpoint"):
            load_upscaler(tmp_path / "list.pt")
        state = torch.load(srlib_ckpt[0], weights_only=True)
        state["model"].pop("G.head.0.weight")
        with pytest.raises(StateDictMismatch, match=r"missing keys \(1\): \['G.head.0.weight'\]"):
            load_upscaler(state)
        with pytest.raises(UsageError, match="overlap"):
            load_upscaler(srlib_ckpt[0], tile=8, overlap=8)


class TestUpscaleCommand:
    def test_file(self, srlib_ckpt, tmp_path, capsys):
        Image.fromarray(np.zeros((6, 6, 3), dtype=np.uint8)).save(tmp_path / "a.png")
        assert srlib_main(["upscale", "--checkpoint", str(srlib_ckpt[0]), str(tmp_path / "a.png"),
                           str(tmp_path / "b.png"), "--tile", "4", "--overlap", "2"]) == 0
        assert "wrote" in capsys.readouterr().out
        with Image.open(tmp_path / "b.png") as im:
            assert im.size == (12, 12)

    def test_folder(self, srlib_ckpt, tmp_path):
        (tmp_path / "in").mkdir()
        for name in ("a.png", "b.jpg"):
            Image.fromarray(np.zeros((5, 7, 3), dtype=np.uint8)).save(tmp_path / "in" / name)
        (tmp_path / "in" / "notes.txt").write_text("not an image")
        assert srlib_main(["upscale", "--checkpoint", str(srlib_ckpt[0]), str(tmp_path / "in"),
                           str(tmp_path / "out")]) == 0
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.jpg"]

    def test_usage_errors(self, srlib_ckpt, tmp_path, capsys):
        assert srlib_main(["upscale", str(tmp_path / "a.png")]) == 2  # OUTPUT missing: argparse, exit 2
        assert "the following arguments are required" in capsys.readouterr().err


class TestUpscaleFile:
    def test_rgb(self, srlib_ckpt, tmp_path):
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)).save(tmp_path / "a.png")
        up = load_upscaler(srlib_ckpt[0], device="cpu", tile=6, overlap=2)
        written = upscale_file(up, tmp_path / "a.png", tmp_path / "b.png")
        with Image.open(tmp_path / "b.png") as im:
            assert im.mode == "RGB" and im.size == (22, 18)
        assert (written.channels, written.height, written.width) == (3, 18, 22)

    def test_grey_stays_grey(self, srlib_ckpt, tmp_path):
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / "g.png")
        upscale_file(load_upscaler(srlib_ckpt[0], device="cpu"), tmp_path / "g.png", tmp_path / "o.png")
        with Image.open(tmp_path / "o.png") as im:
            assert im.mode == "L" and im.size == (16, 16)

    def test_rgba_alpha_upscaled(self, srlib_ckpt, tmp_path):
        arr = np.random.default_rng(0).integers(0, 256, (8, 10, 4), dtype=np.uint8)
        arr[..., 3] = 255
        arr[:4, :, 3] = 0  # top half transparent
        Image.fromarray(arr, mode="RGBA").save(tmp_path / "t.png")
        written = upscale_file(load_upscaler(srlib_ckpt[0], device="cpu"), tmp_path / "t.png", tmp_path / "o.png")
        assert (written.channels, written.height, written.width) == (4, 16, 20)
        with Image.open(tmp_path / "o.png") as im:
            assert im.mode == "RGBA"
            a = np.asarray(im)[..., 3] / 255
        assert a[:6].max() < 0.1 and a[10:].min() > 0.9  # alpha follows the input, bicubically

    def test_16bit_grey_stays_16bit(self, srlib_ckpt, tmp_path):
        arr = np.random.default_rng(0).integers(0, 65536, (8, 8), dtype=np.uint16)
        Image.fromarray(arr).save(tmp_path / "d.png")
        upscale_file(load_upscaler(srlib_ckpt[0], device="cpu"), tmp_path / "d.png", tmp_path / "o.png")
        with Image.open(tmp_path / "o.png") as im:
            assert im.mode.startswith("I;16") or im.mode == "I"
            out = np.asarray(im)
        assert out.shape == (16, 16) and out.max() > 255  # really uses the 16-bit range
