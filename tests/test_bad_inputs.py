"""The bad-input suite (issue 10): every expected failure is one clear message with its own exit code, never a
traceback, never a silent wrong output, never lost work.

Each case asserts the exception type (API) or the exit code (CLI) and the message. CLI cases go through
``srlib.cli.main`` with stderr captured and check that no traceback is printed; one case runs the real ``python -m
srlib`` process. Models are tiny srlib checkpoints made here, so the suite runs in seconds.
"""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srlib import runs
from srlib.cli import main
from srlib.dasr.network import BlindSR
from srlib.dasr.train import train_dasr
from srlib.dasr.train_config import DASRTrainConfig
from srlib.errors import CheckpointError, DataNotFound, DiskFull, InputError, OutputError, UsageError
from srlib.inference import Upscaler, upscale_file
from srlib.models import load_upscaler


class Evil:
    """Pickles as a call of ``open(target, "w")``: unpickling it with full pickle would create ``target``."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Tiny x2 DASR checkpoint, a USR-DU DSN checkpoint, an evil pickle and an 8x8 RGB image."""
    from srlib.usrdu.dsn import DSN
    from srlib.usrdu.train_config import DSNTrainConfig

    d = tmp_path_factory.mktemp("bad")
    torch.manual_seed(0)
    cfg = DASRTrainConfig.for_profile("tiny", scale=2)
    runs.save_checkpoint(d / "x2.pt", runs.training_state("srlib.dasr", cfg, 0, {"model": BlindSR(cfg.model)},
                                                          full=False))
    dcfg = DSNTrainConfig.for_profile("tiny")
    runs.save_checkpoint(d / "dsn.pt", runs.training_state("usrdu-dsn", dcfg, 0, {"dsn": DSN(dcfg.dsn)}, full=False))
    torch.save({"kind": "srlib.dasr", "model": Evil(d / "pwned")}, d / "evil.pt")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(d / "in.png")
    return d


@pytest.fixture
def cli(capsys):
    """Run ``srlib ARGS``; return (exit code, stdout, stderr) after checking that no traceback was printed."""

    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    return run


def one_error(err: str) -> str:
    """The stderr of a failed command: ``srlib: error: ...`` on its first line, at most two lines."""
    lines = [line for line in err.splitlines() if line.strip() and "it/s]" not in line and "s/it]" not in line]
    assert lines and lines[-1 if len(lines) == 1 else 0].startswith("srlib: error: ") and len(lines) <= 2, err
    return " ".join(lines)


def upscale(files, out, *extra, checkpoint=None):
    return ("upscale", "--checkpoint", checkpoint or files / "x2.pt", files / "in.png", out, *extra)


# ---- checkpoints -------------------------------------------------------------------------------------------------
class TestCheckpoints:
    def test_missing(self, files, tmp_path, cli):
        code, _, err = cli(*upscale(files, tmp_path / "o.png", checkpoint=tmp_path / "none.pt"))
        assert code == 4 and "no checkpoint at" in one_error(err)
        with pytest.raises(CheckpointError, match="no checkpoint at"):
            load_upscaler(tmp_path / "none.pt")

    def test_folder(self, files, tmp_path, cli):
        code, _, err = cli(*upscale(files, tmp_path / "o.png", checkpoint=tmp_path))
        assert code == 4 and "(it is a folder)" in one_error(err)

    def test_random_bytes(self, files, tmp_path, cli):
        (tmp_path / "r.pt").write_bytes(os.urandom(4096))
        code, _, err = cli(*upscale(files, tmp_path / "o.png", checkpoint=tmp_path / "r.pt"))
        assert code == 4 and "is not a checkpoint srlib can read: corrupt, truncated" in one_error(err)

    def test_truncated(self, files, tmp_path, cli):
        data = (files / "x2.pt").read_bytes()
        (tmp_path / "t.pt").write_bytes(data[: len(data) // 2])
        code, _, err = cli(*upscale(files, tmp_path / "o.png", checkpoint=tmp_path / "t.pt"))
        assert code == 4 and "t.pt is not a checkpoint srlib can read: corrupt, truncated" in one_error(err)

    def test_empty(self, files, tmp_path, cli):
        (tmp_path / "e.pt").write_bytes(b"")
        code, _, err = cli(*upscale(files, tmp_path / "o.png", checkpoint=tmp_path / "e.pt"))
        assert code == 4 and "e.pt is empty, not a checkpoint" in one_error(err)

    def test_not_a_model(self, files, tmp_path, cli):
        torch.save({"conv.weight": torch.zeros(2)}, tmp_path / "w.pt")
        code, _, err = cli(*upscale(files, tmp_path / "o.png", checkpoint=tmp_path / "w.pt"))
        assert code == 4 and "w.pt is not a checkpoint srlib recognises (first keys: ['conv.weight'])" in one_error(err)

    def test_another_model_kind(self, files, tmp_path, cli):
        code, _, err = cli(*upscale(files, tmp_path / "o.png", checkpoint=files / "dsn.pt"))
        assert code == 4 and "dsn.pt is a USR-DU DSN checkpoint (a downsampler), not an SR model" in one_error(err)
        assert not (tmp_path / "o.png").exists()

    def test_oracle(self, files, tmp_path, cli):
        cfg = DASRTrainConfig.for_profile("tiny", scale=2, ablation="model5")
        runs.save_checkpoint(tmp_path / "m5.pt", runs.training_state("srlib.dasr", cfg, 0, {"model": BlindSR(cfg.model)},
                                                                     full=False))
        code, _, err = cli(*upscale(files, tmp_path / "o.png", checkpoint=tmp_path / "m5.pt"))
        assert code == 4 and "m5.pt is the Model 5 oracle: it needs the true kernel" in one_error(err)

    def test_scale_mismatch_before_any_image(self, files, cli, monkeypatch):
        monkeypatch.setattr("srlib.evaluate.evaluate_images", lambda *a, **k: pytest.fail("an image was processed"))
        code, _, err = cli("evaluate", "--dataset", "builtin", "--scale", "4", "--checkpoint", files / "x2.pt")
        assert code == 4 and "x2.pt is a x2 model but --scale 4 was asked" in one_error(err)


class TestEvilPickle:
    """A checkpoint that would create a file if unpickled: refused everywhere, and the file never appears."""

    def test_upscale(self, files, tmp_path, cli):
        code, _, err = cli(*upscale(files, tmp_path / "o.png", checkpoint=files / "evil.pt"))
        assert code == 4 and "evil.pt is not a safe checkpoint: loading it would call" in one_error(err)
        assert "never runs code" in err and not (files / "pwned").exists()

    def test_evaluate(self, files, cli):
        code, _, err = cli("evaluate", "--dataset", "builtin", "--scale", "2", "--checkpoint", files / "evil.pt")
        assert code == 4 and "is not a safe checkpoint" in one_error(err) and not (files / "pwned").exists()

    def test_resume(self, files, tmp_path):
        (tmp_path / "checkpoints").mkdir()
        shutil.copy(files / "evil.pt", tmp_path / "checkpoints" / "last.pt")
        cfg = DASRTrainConfig.for_profile("tiny", scale=2, max_iters=1)
        with pytest.raises(CheckpointError, match="last.pt is not a safe checkpoint"):
            train_dasr(cfg, tmp_path, resume=True, device="cpu", quiet=True)
        assert not (files / "pwned").exists()

    def test_real_process(self, files, tmp_path):
        """The installed entry point: exit code 4, one line on stderr, no traceback, no file."""
        proc = subprocess.run([sys.executable, "-m", "srlib", *map(str, upscale(files, tmp_path / "o.png",
                                                                                checkpoint=files / "evil.pt"))],
                              capture_output=True, text=True, timeout=120, env={**os.environ, "SRLIB_DEBUG": ""})
        assert proc.returncode == 4 and "Traceback" not in proc.stderr and not (files / "pwned").exists()
        assert proc.stderr.startswith("srlib: error: ") and len(proc.stderr.strip().splitlines()) == 1


# ---- arguments and data --------------------------------------------------------------------------------------------
class TestArguments:
    def test_missing_data_set(self, tmp_path, cli):
        code, _, err = cli("evaluate", "--dataset", "Set5", "--data-dir", tmp_path)
        assert code == 5 and "no HR images for 'Set5'" in one_error(err) and "srlib data Set5" in err
        with pytest.raises(DataNotFound):
            from srlib.evaluate import find_hr_folder

            find_hr_folder(tmp_path, "Set5")

    def test_image_too_small_to_score(self, tmp_path, cli, monkeypatch):
        from srlib.data.io import write_image

        write_image(tmp_path / "Mini" / "a.png", torch.rand(3, 18, 16))
        code, _, err = cli("evaluate", "--dataset", "Mini", "--data-dir", tmp_path, "--no-progress")
        assert code == 3 and "image 'a' is 16x16 after cropping to a multiple of 4" in one_error(err)
        assert "needs at least 19x19" in err

    def test_negative_noise(self, cli):
        code, _, err = cli("evaluate", "--dataset", "builtin", "--noise", "-5")
        assert code == 2 and "the noise level must be a finite number >= 0" in one_error(err)

    @pytest.mark.parametrize("flags,message", [(("--tile", "0"), "--tile must be a positive"),
                                               (("--tile", "8", "--overlap", "8"), "smaller than --tile"),
                                               (("--device", "bogus"), "unknown device 'bogus'")])
    def test_bad_options(self, files, tmp_path, cli, flags, message):
        code, _, err = cli(*upscale(files, tmp_path / "o.png", *flags))
        assert code == 2 and message in one_error(err)

    def test_argparse(self, cli):
        code, _, err = cli("upscale")
        assert code == 2 and "the following arguments are required" in err

    def test_unknown_names(self, cli):
        assert cli("train", "srgan")[0] == 2
        code, _, err = cli("data", "NoSuchSet")
        assert code == 2 and "unknown data set 'NoSuchSet'" in one_error(err)


# ---- images --------------------------------------------------------------------------------------------------------
class TestImages:
    def test_missing_input(self, files, tmp_path, cli):
        code, _, err = cli("upscale", "--checkpoint", files / "x2.pt", tmp_path / "no.png", tmp_path / "o.png")
        assert code == 3 and "no input file or folder at" in one_error(err)
        with pytest.raises(InputError, match="no image file at"):
            upscale_file(load_upscaler(files / "x2.pt", "cpu"), tmp_path / "no.png", tmp_path / "o.png")

    @pytest.mark.parametrize("content,message", [(b"", "empty file"), (b"\x89PNG\r\n\x1a\nnot really", "cannot decode")])
    def test_corrupt_or_empty(self, files, tmp_path, cli, content, message):
        (tmp_path / "bad.png").write_bytes(content)
        code, _, err = cli("upscale", "--checkpoint", files / "x2.pt", tmp_path / "bad.png", tmp_path / "o.png")
        assert code == 3 and message in one_error(err) and not (tmp_path / "o.png").exists()

    def test_cmyk_jpeg_is_converted(self, files, tmp_path, cli):
        """srlib.data.io converts CMYK to RGB (a print-workflow JPEG is still a photograph): a normal RGB result."""
        Image.new("CMYK", (6, 5), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
        code, out, _ = cli("upscale", "--checkpoint", files / "x2.pt", tmp_path / "c.jpg", tmp_path / "o.png")
        assert code == 0 and "12x10" in out
        with Image.open(tmp_path / "o.png") as im:
            assert im.mode == "RGB" and im.size == (12, 10)

    def test_unknown_extension_before_any_work(self, files, tmp_path, cli, monkeypatch):
        monkeypatch.setattr("srlib.models.load_model", lambda *a, **k: pytest.fail("the checkpoint was loaded"))
        monkeypatch.setattr("srlib.inference.upscale_file", lambda *a, **k: pytest.fail("SR ran"))
        code, _, err = cli(*upscale(files, tmp_path / "o.xyz"))
        assert code == 6 and "unknown output extension '.xyz'" in one_error(err)

    def test_output_is_input(self, files, tmp_path, cli):
        shutil.copy(files / "in.png", tmp_path / "a.png")
        before = (tmp_path / "a.png").read_bytes()
        code, _, err = cli("upscale", "--checkpoint", files / "x2.pt", tmp_path / "a.png", tmp_path / "a.png")
        assert code == 6 and "is the input image" in one_error(err) and (tmp_path / "a.png").read_bytes() == before
        assert cli("upscale", "--checkpoint", files / "x2.pt", tmp_path / "a.png", tmp_path / "a.png",
                   "--overwrite")[0] == 0
        with Image.open(tmp_path / "a.png") as im:
            assert im.size == (16, 16)

    def test_folder_never_overwrites_inputs(self, files, tmp_path, cli):
        shutil.copy(files / "in.png", tmp_path / "a.png")
        code, _, err = cli("upscale", "--checkpoint", files / "x2.pt", tmp_path, tmp_path, "--overwrite")
        assert code == 6 and "is the input image" in one_error(err)
        with Image.open(tmp_path / "a.png") as im:
            assert im.size == (8, 8)

    def test_read_only_folder(self, files, tmp_path, cli):
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            if os.access(ro, os.W_OK):
                pytest.skip("running as root: chmod does not make the folder read-only")
            code, _, err = cli(*upscale(files, ro / "o.png"))
            assert code == 6 and "permission denied: cannot write to" in one_error(err)
        finally:
            ro.chmod(0o755)

    def test_unwritable_folder_simulated(self, files, tmp_path, cli, monkeypatch):
        """The same check where chmod cannot show it (root): the folder reports no write access."""
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **k: False if Path(p) == tmp_path else real(p, mode, **k))
        code, _, err = cli(*upscale(files, tmp_path / "o.png"))
        assert code == 6 and f"cannot write to {tmp_path}" in one_error(err)

    def test_folder_with_one_bad_file(self, files, tmp_path, cli):
        src = tmp_path / "in"
        src.mkdir()
        for name in ("a.png", "c.png"):
            shutil.copy(files / "in.png", src / name)
        (src / "b.png").write_bytes(b"not an image")
        code, out, err = cli("upscale", "--checkpoint", files / "x2.pt", src, tmp_path / "out")
        assert code == 3 and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]
        assert f"skipped {src / 'b.png'}" in err and "1 of 3 images could not be upscaled" in err
        assert out.count("wrote") == 2

    def test_tensor_inputs(self, files):
        up = load_upscaler(files / "x2.pt", "cpu")
        nan = torch.rand(1, 3, 6, 6)
        nan[0, :, 2, 3] = float("nan")
        with pytest.raises(InputError, match="NaN or Inf values in 1 of 36 pixels"):
            up(nan)
        with pytest.raises(InputError, match=r"must be in \[0, 1\]"):
            up(torch.rand(1, 3, 6, 6) * 3 - 1)
        with pytest.raises(InputError, match="is empty"):
            up(torch.rand(0, 3, 6, 6))
        with pytest.raises(InputError, match="8-bit image"):
            up(torch.zeros(1, 3, 6, 6, dtype=torch.uint8))
        assert up(torch.rand(1, 3, 6, 6, dtype=torch.float64)).dtype == torch.float32  # converted, as documented
        with pytest.raises(UsageError, match="overlap"):
            Upscaler(up.model, 2, tile=4, overlap=4)


# ---- outputs and disks ---------------------------------------------------------------------------------------------
class TestNoLostWork:
    def test_disk_full_before_writing(self, files, tmp_path, monkeypatch):
        path = tmp_path / "last.pt"
        shutil.copy(files / "x2.pt", path)
        before = path.read_bytes()
        monkeypatch.setattr(runs.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(1, 1, 1000))
        with pytest.raises(DiskFull, match="no space left on device.*previous checkpoint is intact"):
            runs.save_checkpoint(path, {"step": 2, "w": torch.zeros(1000)})
        assert path.read_bytes() == before and not list(tmp_path.glob("*.tmp"))

    def test_disk_full_while_writing(self, files, tmp_path, monkeypatch):
        path = tmp_path / "last.pt"
        shutil.copy(files / "x2.pt", path)
        before = path.read_bytes()

        def full(fd):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(runs.os, "fsync", full)
        with pytest.raises(DiskFull, match="no space left on device while saving"):
            runs.save_checkpoint(path, {"step": 2})
        assert path.read_bytes() == before and not list(tmp_path.glob("*.tmp"))

    def test_disk_full_during_training(self, tmp_path, cli, monkeypatch):
        monkeypatch.setattr(runs.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(1, 1, 1000))
        code, _, err = cli("train", "dasr", "--scale", "2", "--iters", "1", "--out", tmp_path, "--device", "cpu")
        assert code == 7 and "no space left on device" in one_error(err)
        assert not list(tmp_path.rglob("*.tmp"))

    def test_json_output_checked_before_work(self, tmp_path, cli, monkeypatch):
        (tmp_path / "file").write_text("x")
        monkeypatch.setattr("srlib.evaluate.evaluate_images", lambda *a, **k: pytest.fail("evaluated"))
        code, _, err = cli("evaluate", "--dataset", "builtin", "--json", tmp_path / "file" / "r.json")
        assert code == 6 and "is a file, not a folder" in one_error(err)

    def test_json_disk_full_leaves_no_tmp(self, tmp_path, cli, monkeypatch):
        from srlib.data.io import write_image

        write_image(tmp_path / "Mini" / "a.png", torch.rand(3, 32, 32))
        (tmp_path / "r.json").write_text("old")

        def full(src, dst):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr("srlib.evaluate.os.replace", full)
        code, _, err = cli("evaluate", "--dataset", "Mini", "--data-dir", tmp_path, "--json", tmp_path / "r.json",
                           "--no-progress")
        assert code == 7 and "no space left on device while writing" in one_error(err)
        assert (tmp_path / "r.json").read_text() == "old" and not list(tmp_path.glob("*.tmp"))


# ---- the error style itself ----------------------------------------------------------------------------------------
class TestErrorStyle:
    @pytest.mark.parametrize("exc,code,message", [
        (RuntimeError("boom"), 1, "internal error: RuntimeError: boom; rerun with --debug for the traceback"),
        (KeyboardInterrupt(), 130, "srlib: interrupted"),
        (runs.TrainingInterrupted(5, Path("run/checkpoints/last.pt")), 130, "run the same command again to resume"),
        (MemoryError(), 1, "out of memory; use --tile"),
        (PermissionError(errno.EACCES, "Permission denied", "x.png"), 6, "permission denied while accessing x.png"),
        (OSError(errno.ENOSPC, "No space left on device"), 7, "no space left on device"),
        (FileNotFoundError(errno.ENOENT, "No such file", "gone.png"), 3, "no such file or folder: gone.png"),
        (OutputError("cannot write"), 6, "srlib: error: cannot write"),
    ])
    def test_mapping(self, cli, monkeypatch, exc, code, message):
        def fail(args):
            raise exc

        monkeypatch.setattr("srlib.cli._run_evaluate", fail)
        got, _, err = cli("evaluate")
        assert got == code and message in err and len(err.strip().splitlines()) == 1

    def test_debug_shows_the_traceback(self, cli, monkeypatch):
        monkeypatch.setattr("srlib.cli._run_evaluate", lambda args: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            main(["--debug", "evaluate"])
        monkeypatch.setenv("SRLIB_DEBUG", "1")
        with pytest.raises(ZeroDivisionError):
            main(["evaluate"])
