"""Tiled inference in bounded memory (srlib.inference): exactness, the banded/streaming file path, progress, modes."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils._python_dispatch import TorchDispatchMode

import srlib.inference as inference
from srlib.dasr.config import DASRConfig
from srlib.dasr.network import BlindSR
from srlib.data.io import read_image, write_image
from srlib.data.writer import ImageWriter
from srlib.inference import Upscaler, iter_bands, upscale, upscale_file

CFG = DASRConfig.for_profile if hasattr(DASRConfig, "for_profile") else DASRConfig.profile


def local_net(scale: int = 2) -> torch.nn.Module:
    """Two 3x3 convs: receptive-field radius 2 LR pixels, less than the ramps' dead zone (overlap / 4 = 4)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(8, 3 * scale * scale, 3, padding=1), torch.nn.PixelShuffle(scale)).eval()


def tiny_dasr(scale: int = 2) -> BlindSR:
    torch.manual_seed(0)
    return BlindSR(CFG("tiny", scale=scale)).eval()


def rand(*shape, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def canvas_upscale(model, lr, tile, overlap):
    """The pre-banding algorithm (full float32 output and weight canvases), kept here as the numerical reference."""
    if hasattr(model, "represent"):
        rep = model.represent(lr)
        run = lambda x: model.sr_from_representation(x, rep)  # noqa: E731
    else:
        run = model
    b, _, h, w = lr.shape
    ys, xs = inference._tile_starts(h, tile, overlap), inference._tile_starts(w, tile, overlap)
    out = weight = None
    for y in ys:
        for x in xs:
            th, tw = min(tile, h), min(tile, w)
            sr = run(lr[..., y : y + th, x : x + tw])
            s = sr.shape[-1] // tw
            if out is None:
                out, weight = lr.new_zeros(b, sr.shape[1], s * h, s * w), lr.new_zeros(1, 1, s * h, s * w)
            w2 = (inference._ramp(s * th, s * overlap, y > 0, y + th < h)[:, None]
                  * inference._ramp(s * tw, s * overlap, x > 0, x + tw < w)[None, :])[None, None]
            out[..., s * y : s * (y + th), s * x : s * (x + tw)] += sr * w2
            weight[..., s * y : s * (y + th), s * x : s * (x + tw)] += w2
    return out / weight


class TestTiledEqualsWhole:
    @pytest.mark.parametrize("tile,overlap", [(16, 12), (12, 8), (20, 16), (64, 16)])
    def test_local_model_exact(self, tile, overlap):
        model, lr = local_net(2), rand(2, 3, 37, 29)
        with torch.no_grad():
            whole = model(lr)
        torch.testing.assert_close(upscale(model, lr, tile=tile, overlap=overlap), whole, atol=1e-5, rtol=0)

    def test_dasr_shared_representation(self):
        model, lr = tiny_dasr(2), rand(1, 3, 40, 52)
        whole = upscale(model, lr)
        tiled = upscale(model, lr, tile=24, overlap=16)
        assert (tiled - whole).abs().max() < 2e-3  # below one 8-bit level
        with torch.no_grad():  # the tiles were conditioned on the whole image's representation
            torch.testing.assert_close(tiled, upscale(model, lr, tile=24, overlap=16, rep=model.represent(lr)))

    @pytest.mark.parametrize("shape,tile,overlap", [((1, 3, 29, 23), 12, 6), ((2, 3, 20, 45), 16, 10),
                                                    ((1, 3, 13, 30), 12, 0)])
    def test_banded_equals_canvas_algorithm(self, shape, tile, overlap):
        for model in (local_net(3), tiny_dasr(3)):
            lr = rand(*shape)
            ref = canvas_upscale(model, lr, tile, overlap)
            torch.testing.assert_close(upscale(model, lr, tile=tile, overlap=overlap), ref, atol=1e-6, rtol=0)

    def test_bands_are_contiguous_and_bounded(self):
        model, lr = local_net(2), rand(1, 3, 50, 20)
        bands = list(iter_bands(model, lr, tile=12, overlap=4))
        rows = [r for r, _ in bands]
        assert len(bands) > 3 and rows[0] == 0
        assert all(b[1].shape[2] <= 2 * 12 for b in bands)  # never more than one band of output rows
        assert all(r1 == r0 + b.shape[2] for (r0, b), r1 in zip(bands, rows[1:] + [100]))
        torch.testing.assert_close(torch.cat([b for _, b in bands], dim=2), upscale(model, lr, tile=12, overlap=4))


class TestPiecewiseRepresentation:
    @pytest.mark.parametrize("shape", [(1, 3, 101, 77), (2, 3, 64, 130)])
    def test_equals_whole_image_representation(self, monkeypatch, shape):
        monkeypatch.setattr(inference, "REP_TILE", 32)  # small pieces, so a small image has many of them
        model, lr = tiny_dasr(2), rand(*shape)
        calls = []
        monkeypatch.setattr(model, "represent", lambda x, **kw: calls.append(1) or BlindSR.represent(model, x, **kw))
        with torch.no_grad():
            pieces = inference._representation(model, lr, torch.device("cpu"), torch.float32, False)
            whole = BlindSR.represent(model, lr)
        assert not calls  # really computed piecewise
        torch.testing.assert_close(pieces, whole, atol=1e-5, rtol=1e-5)

    def test_train_mode_uses_whole_image(self, monkeypatch):
        monkeypatch.setattr(inference, "REP_TILE", 32)
        model, lr = tiny_dasr(2).train(), rand(2, 3, 70, 40)
        with torch.no_grad():  # train-mode BN pools the batch statistics of the whole input: not piecewise
            torch.testing.assert_close(inference._representation(model, lr, torch.device("cpu"), torch.float32,
                                                                  False), model.represent(lr))
        assert model.training


class TestModes:
    @pytest.mark.parametrize("train", [True, False])
    def test_upscaler_leaves_mode_alone(self, train):
        model = tiny_dasr(2).train(train)
        lr = rand(1, 3, 20, 20)
        sr = Upscaler(model, 2, tile=12, overlap=4)(lr)
        assert model.training is train and all(m.training is train for m in model.modules())
        assert sr.shape == (1, 3, 40, 40) and not sr.requires_grad and 0 <= sr.min() and sr.max() <= 1

    def test_no_gradients_recorded(self):
        sr = upscale(local_net(2), rand(1, 3, 9, 9), tile=6, overlap=2)
        assert not sr.requires_grad and torch.is_grad_enabled()  # and grad mode is restored afterwards


def write_rgb(path, h, w, seed=0):
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)


class TestStreamingFile:
    @pytest.mark.parametrize("ext", [".png", ".bmp", ".tif"])  # streamed PNG and the buffered uint8 path
    def test_file_equals_in_memory(self, tmp_path, ext):
        write_rgb(tmp_path / "a.png", 37, 29)
        up = Upscaler(tiny_dasr(2), 2, tile=12, overlap=4)
        written = upscale_file(up, tmp_path / "a.png", tmp_path / f"b{ext}", progress=False)
        assert written.path == (tmp_path / f"b{ext}").resolve() and (written.width, written.height) == (58, 74)
        got = read_image(tmp_path / f"b{ext}")
        ref = up(read_image(tmp_path / "a.png")[None])[0]
        assert got.shape == ref.shape == (3, 74, 58)
        assert (got - ref).abs().max() <= 1 / 255 + 1e-6
        write_image(tmp_path / "ref.png", ref)  # the same rounding as write_image: equal in practice
        assert (read_image(tmp_path / "ref.png") != got).float().mean() < 1e-3

    def test_grey_alpha_and_16bit(self, tmp_path):
        up = Upscaler(local_net(2), 2, tile=10, overlap=4)
        rng = np.random.default_rng(0)
        arr = rng.integers(0, 256, (33, 21, 4), dtype=np.uint8)
        Image.fromarray(arr, mode="RGBA").save(tmp_path / "t.png")
        upscale_file(up, tmp_path / "t.png", tmp_path / "o.png", progress=False)
        from srlib.degradations import imresize

        with Image.open(tmp_path / "o.png") as im:
            assert im.mode == "RGBA" and im.size == (42, 66)
            alpha = np.asarray(im)[..., 3].astype(np.float64)
        ref = (imresize(torch.from_numpy(arr[..., 3]).double()[None, None] / 255, 2)[0, 0].clamp(0, 1) * 255).round()
        assert np.abs(alpha - ref.numpy()).max() <= 1  # banded bicubic alpha = whole-image bicubic alpha

        Image.fromarray(rng.integers(0, 65536, (30, 22), dtype=np.uint16)).save(tmp_path / "d.png")
        upscale_file(up, tmp_path / "d.png", tmp_path / "d2.png", progress=False)
        with Image.open(tmp_path / "d2.png") as im:
            assert im.mode.startswith("I;16") or im.mode == "I"
            out = np.asarray(im).astype(np.float64) / 65535
        lr = read_image(tmp_path / "d.png")
        ref = up(lr.expand(3, -1, -1)[None])[0].mean(0).double().numpy()
        assert out.shape == (60, 44) and np.abs(out - ref).max() <= 1 / 65535 + 1e-6
        upscale_file(up, tmp_path / "d.png", tmp_path / "d2.tif", progress=False)  # the buffered 16-bit path
        assert np.array_equal(np.asarray(Image.open(tmp_path / "d2.tif")), np.asarray(Image.open(tmp_path / "d2.png")))

        Image.fromarray(rng.integers(0, 256, (25, 14), dtype=np.uint8)).save(tmp_path / "g.png")
        upscale_file(up, tmp_path / "g.png", tmp_path / "g2.jpg", progress=False)
        with Image.open(tmp_path / "g2.jpg") as im:
            assert im.mode == "L" and im.size == (28, 50)

    def test_no_full_size_float_canvas(self, tmp_path, monkeypatch):
        """The largest tensor any op creates stays far below the output size; rows reach the sink band by band."""
        write_rgb(tmp_path / "a.png", 200, 60)
        up = Upscaler(local_net(4), 4, tile=16, overlap=4)
        full = 3 * 800 * 240
        writes = []
        original = ImageWriter.write
        monkeypatch.setattr(ImageWriter, "write", lambda self, rows: writes.append(len(rows)) or original(self, rows))

        class Largest(TorchDispatchMode):
            numel = 0

            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                for t in out if isinstance(out, (tuple, list)) else [out]:
                    if isinstance(t, torch.Tensor):
                        Largest.numel = max(Largest.numel, t.numel())
                return out

        lr = read_image(tmp_path / "a.png")[None]
        with Largest():
            upscale_file(up, tmp_path / "a.png", tmp_path / "b.png", progress=False)
        assert Largest.numel <= full // 4, Largest.numel
        assert len(writes) >= 10 and sum(writes) == 800 and max(writes) <= 4 * 16
        Largest.numel = 0
        with Largest():  # the in-memory API does hold the whole output: the tracker sees it
            up(lr)
        assert Largest.numel >= full


class TestProgress:
    def test_can_be_disabled(self, tmp_path, capsys):
        write_rgb(tmp_path / "a.png", 30, 30)
        up = Upscaler(local_net(2), 2, tile=12, overlap=4)
        upscale_file(up, tmp_path / "a.png", tmp_path / "b.png", progress=False)
        assert "tiles" not in capsys.readouterr().out
        upscale_file(up, tmp_path / "a.png", tmp_path / "b.png")  # default: shown when there are several tiles
        out = capsys.readouterr().out
        n = len(inference._tile_starts(30, 12, 4)) ** 2
        assert "tiles" in out and f"{n}/{n}" in out
        upscale(local_net(2), rand(1, 3, 30, 30), tile=12, overlap=4, progress=True)
        assert f"{n}/{n}" in capsys.readouterr().out
