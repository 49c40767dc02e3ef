"""Bad inputs at srlib's entry points: exact errors, checked once and before any work, none in the hot path."""
from __future__ import annotations

import errno
import os

import numpy as np
import pytest
import torch
from PIL import Image

import srlib.data.writer as writer
from srlib.checks import RANGE_TOL, check_image
from srlib.dasr.config import DASRConfig
from srlib.dasr.network import BlindSR
from srlib.data.io import IMAGE_EXTS, ImageNotFound, check_output_path, read_image, write_image
from srlib.errors import DiskFull, InputError, OutputError
from srlib.inference import Upscaler, upscale, upscale_file
from srlib.usrdu.dsn import DSN, DSNConfig

CFG = DASRConfig.for_profile if hasattr(DASRConfig, "for_profile") else DASRConfig.profile


class Spy(torch.nn.Module):
    """x2 nearest-neighbour 'model' that counts its calls."""

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, x):
        self.calls += 1
        return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest") * self.w


def png(path, arr=None):
    arr = np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8) if arr is None else arr
    Image.fromarray(arr).save(path)
    return path


class TestTensorChecks:
    @pytest.mark.parametrize("entry", ["upscale", "upscaler"])
    def test_nan_inf_count(self, entry):
        x = torch.rand(2, 3, 4, 5)
        x[0, :, 1, 1] = float("nan")  # one pixel, all channels
        x[1, 2, 3, 0] = float("inf")  # one pixel, one channel
        x[1, 0, 0, 0] = -float("inf")
        call = (lambda t: upscale(Spy(), t)) if entry == "upscale" else Upscaler(Spy(), 2)
        with pytest.raises(InputError, match="NaN or Inf values in 3 of 40 pixels"):
            call(x)

    def test_range_is_exact_with_tolerance(self):
        up = Upscaler(Spy(), 2)
        ok = torch.rand(1, 3, 4, 4)
        ok[0, 0, 0, 0], ok[0, 0, 0, 1] = 1 + RANGE_TOL / 2, -RANGE_TOL / 2  # rounding-sized slack passes
        assert up(ok).shape == (1, 3, 8, 8)
        for lo, hi in [(-1.0, 2.0), (0.0, 1.0 + 1e-5), (-1e-5, 1.0), (-0.5, 1.0)]:  # [-1, 2] used to pass
            bad = torch.rand(1, 3, 4, 4)
            bad[0, 0, 0, 0], bad[0, 1, 0, 0] = lo, hi
            with pytest.raises(InputError, match=r"must be in \[0, 1\]"):
                up(bad)
        with pytest.raises(InputError, match="divide by 255"):
            up(torch.rand(1, 3, 4, 4) * 255)
        with pytest.raises(InputError, match=r"\(x \+ 1\) / 2"):
            up(torch.rand(1, 3, 4, 4) * 2 - 1)

    @pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
    def test_other_float_dtypes_are_converted(self, dtype):
        x = torch.rand(1, 3, 5, 4)
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 12, 1), torch.nn.PixelShuffle(2))
        sr = Upscaler(model, 2)(x.to(dtype))
        assert sr.dtype == torch.float32 and check_image(x.to(dtype)).dtype == torch.float32
        torch.testing.assert_close(sr, Upscaler(model, 2)(x.to(dtype).float()))

    def test_float64_too_large_for_float32_is_reported(self):
        x = torch.rand(1, 3, 2, 2, dtype=torch.float64)
        x[0, 0, 0, 0] = 1e300  # would become Inf in float32
        with pytest.raises(InputError, match="1e\\+300"):
            check_image(x)

    @pytest.mark.parametrize("x,msg", [
        (torch.zeros(0, 3, 8, 8), "empty"),
        (torch.zeros(1, 3, 0, 8), "empty"),
        (torch.rand(1, 1, 8, 8), "3 channels"),
        (torch.rand(1, 4, 8, 8), "3 channels"),
        (torch.rand(3, 8, 8), r"\(B, C, H, W\) float tensor"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), "x.float\\(\\) / 255"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.int64), "dtype torch.int64"),
        (np.zeros((1, 3, 8, 8), np.float32), "got ndarray"),
    ])
    def test_shape_dtype_empty(self, x, msg):
        spy = Spy()
        with pytest.raises(InputError, match=msg):
            Upscaler(spy, 2)(x)
        assert spy.calls == 0

    def test_checked_once_per_call_not_per_tile(self, monkeypatch):
        import srlib.inference as inference

        calls = []
        monkeypatch.setattr(inference, "check_image", lambda x, *a, **k: calls.append(1) or check_image(x, *a, **k))
        spy = Spy()
        Upscaler(spy, 2, tile=4, overlap=1)(torch.rand(1, 3, 12, 12))
        assert spy.calls > 4 and len(calls) == 1


class HostReads:
    """Make every read of tensor values into Python fail: such a read is a device sync on a GPU."""

    NAMES = ("item", "tolist", "__float__", "__int__", "__bool__")

    def __init__(self, monkeypatch):
        self.mp = monkeypatch

    def __enter__(self):
        def refuse(self, *a, **k):
            raise AssertionError("a value was read back to the host in the hot path")

        for n in self.NAMES:
            self.mp.setattr(torch.Tensor, n, refuse)

    def __exit__(self, *exc):
        self.mp.undo()


class TestHotPathIsSyncFree:
    def test_dasr_forward_reads_no_values(self, monkeypatch):
        model = BlindSR(CFG("tiny", scale=2)).eval()
        x = torch.rand(1, 3, 10, 10) * 255  # out of range: not the forward's business any more
        with torch.no_grad(), HostReads(monkeypatch):
            rep = model.represent(x)
            model.sr_from_representation(x, rep)
            model(x)
        with pytest.raises(AssertionError, match="host"), HostReads(monkeypatch):  # the guard does catch reads
            float(x.max())

    def test_dsn_forward_reads_no_values(self, monkeypatch):
        net = DSN(DSNConfig.for_profile("tiny"))
        with torch.no_grad(), HostReads(monkeypatch):
            net(torch.rand(1, 3, 64, 64) * 255)

    def test_shape_checks_stay_in_forward(self):
        with pytest.raises(ValueError, match="RGB"):
            BlindSR(CFG("tiny", scale=2))(torch.rand(1, 1, 8, 8))
        with pytest.raises(ValueError, match="not divisible"):
            DSN(DSNConfig.for_profile("tiny"))(torch.rand(1, 3, 66, 64))

    @pytest.mark.gpu
    def test_no_sync_on_cuda(self):
        model = BlindSR(CFG("tiny", scale=2)).cuda().eval()
        net = DSN(DSNConfig.for_profile("tiny")).cuda()
        x, hr = torch.rand(1, 3, 16, 16, device="cuda"), torch.rand(1, 3, 64, 64, device="cuda")
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            with torch.no_grad():
                model.sr_from_representation(x, model.represent(x))
                net(hr)
        finally:
            torch.cuda.set_sync_debug_mode("default")


class TestImageFiles:
    def test_missing_empty_corrupt_truncated(self, tmp_path):
        with pytest.raises(ImageNotFound, match="no image file at"):
            read_image(tmp_path / "missing.png")
        assert issubclass(ImageNotFound, InputError) and issubclass(ImageNotFound, FileNotFoundError)
        with pytest.raises(InputError, match="is a folder"):
            read_image(tmp_path)
        (tmp_path / "empty.png").write_bytes(b"")
        with pytest.raises(InputError, match="cannot decode .*empty.png as an image: empty file"):
            read_image(tmp_path / "empty.png")
        (tmp_path / "junk.jpg").write_bytes(b"definitely not a JPEG" * 10)
        with pytest.raises(InputError, match="cannot decode") as e:
            read_image(tmp_path / "junk.jpg")
        assert "\n" not in str(e.value) and e.value.__cause__ is None  # one line, no PIL traceback chained
        data = png(tmp_path / "full.png", np.random.default_rng(1).integers(0, 256, (64, 64, 3), np.uint8)).read_bytes()
        (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
        with pytest.raises(InputError, match="cannot decode .*cut.png"):
            read_image(tmp_path / "cut.png")

    def test_cmyk_is_converted_to_rgb(self, tmp_path):
        Image.new("CMYK", (3, 2), (0, 0, 0, 0)).save(tmp_path / "white.jpg", quality=100)
        Image.new("CMYK", (3, 2), (0, 255, 255, 0)).save(tmp_path / "red.tif")
        white, red = read_image(tmp_path / "white.jpg"), read_image(tmp_path / "red.tif")
        assert white.shape == (3, 2, 3) and white.min() > 0.98
        assert torch.equal(red[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))

    def test_unsupported_mode(self, tmp_path):
        Image.new("F", (2, 2), 0.5).save(tmp_path / "f.tif")
        with pytest.raises(InputError, match="unsupported image mode 'F'"):
            read_image(tmp_path / "f.tif")


class TestOutputs:
    def test_unknown_extension_before_any_model_call(self, tmp_path):
        spy = Spy()
        for name in ("out.xyz", "out", "out.gif"):
            with pytest.raises(OutputError, match="unknown output extension"):
                upscale_file(Upscaler(spy, 2), png(tmp_path / "a.png"), tmp_path / name)
        with pytest.raises(OutputError, match="unknown output extension"):  # before even reading the input
            upscale_file(Upscaler(spy, 2), tmp_path / "missing.png", tmp_path / "out.xyz")
        with pytest.raises(OutputError, match="unknown output extension"):
            write_image(tmp_path / "x.xyz", torch.zeros(3, 2, 2))
        assert spy.calls == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]

    def test_bad_input_before_any_model_call(self, tmp_path):
        spy = Spy()
        (tmp_path / "empty.png").write_bytes(b"")
        for src in (tmp_path / "missing.png", tmp_path / "empty.png"):
            with pytest.raises(InputError):
                upscale_file(Upscaler(spy, 2), src, tmp_path / "out.png")
        assert spy.calls == 0 and not (tmp_path / "out.png").exists()

    def test_alpha_into_jpeg_refused_before_work(self, tmp_path):
        spy = Spy()
        Image.fromarray(np.zeros((4, 4, 4), np.uint8), mode="RGBA").save(tmp_path / "t.png")
        with pytest.raises(OutputError, match="alpha"):
            upscale_file(Upscaler(spy, 2), tmp_path / "t.png", tmp_path / "t.jpg")
        assert spy.calls == 0

    def test_output_equal_to_input_is_refused(self, tmp_path):
        src = png(tmp_path / "a.png")
        before = src.read_bytes()
        (tmp_path / "sub").mkdir()
        os.symlink(src, tmp_path / "link.png")
        spy = Spy()
        for out in (src, tmp_path / "sub" / ".." / "a.png", tmp_path / "link.png"):
            with pytest.raises(OutputError, match="is the input image"):
                upscale_file(Upscaler(spy, 2), src, out)
        assert spy.calls == 0 and src.read_bytes() == before
        written = upscale_file(Upscaler(spy, 2), src, src, overwrite=True)  # explicit opt-in
        assert written.path == src.resolve() and read_image(src).shape == (3, 12, 10)

    def test_folder_checks(self, tmp_path, monkeypatch):
        assert check_output_path(tmp_path / "new" / "deeper" / "x.png") == (tmp_path / "new/deeper/x.png").resolve()
        (tmp_path / "d.png").mkdir()
        with pytest.raises(OutputError, match="is a folder"):
            check_output_path(tmp_path / "d.png")
        (tmp_path / "file").write_text("")
        with pytest.raises(OutputError, match="is a file"):
            check_output_path(tmp_path / "file" / "x.png")
        import srlib.data.io as io

        monkeypatch.setattr(io.os, "access", lambda *a: False)  # root ignores permission bits: simulate them
        with pytest.raises(OutputError, match="cannot write to"):
            check_output_path(tmp_path / "x.png")

    @pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores permission bits")
    def test_read_only_folder(self, tmp_path):
        (tmp_path / "ro").mkdir()
        os.chmod(tmp_path / "ro", 0o500)
        try:
            with pytest.raises(OutputError, match="permission denied"):
                upscale_file(Upscaler(Spy(), 2), png(tmp_path / "a.png"), tmp_path / "ro" / "b.png")
        finally:
            os.chmod(tmp_path / "ro", 0o700)

    @pytest.mark.parametrize("ext", [".png", ".bmp"])
    def test_disk_full_while_writing(self, tmp_path, monkeypatch, ext):
        def full(*a, **k):
            raise OSError(errno.ENOSPC, "No space left on device")

        src = png(tmp_path / "a.png")
        monkeypatch.setattr(writer._PNGStream, "write", full)
        monkeypatch.setattr(Image.Image, "save", full)
        with pytest.raises(DiskFull, match=f"no space left on device while writing .*b{ext}"):
            upscale_file(Upscaler(Spy(), 2), src, tmp_path / f"b{ext}")
        with pytest.raises(DiskFull, match="no space left"):
            write_image(tmp_path / f"c{ext}", torch.zeros(3, 2, 2))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]  # no output, no temporary file left

    def test_one_extension_list(self):
        from srlib.data import datasets

        assert datasets.IMAGE_EXTS is IMAGE_EXTS and ".png" in IMAGE_EXTS
