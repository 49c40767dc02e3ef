"""Config, run plumbing, checkpoint diff, environment report and the source helper."""
import dataclasses
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from srlib import checkpoints, config, runs, show
from srlib.env import info


@dataclasses.dataclass(frozen=True)
class Inner:
    width: int = 4


@dataclasses.dataclass(frozen=True)
class Outer:
    lr: float = 1e-3
    milestones: tuple = (10, 20)
    inner: Inner = Inner()


class TestConfig:
    def test_round_trip(self, tmp_path):
        cfg = Outer(lr=2e-4, milestones=(1, 2, 3), inner=Inner(width=8))
        path = config.save_config(cfg, tmp_path, seed=7)
        payload = json.loads(path.read_text())
        assert payload["seed"] == 7 and payload["type"] == "Outer"
        assert config.load_config(Outer, path) == cfg

    def test_unknown_field_is_an_error(self):
        with pytest.raises(ValueError, match="unknown fields"):
            config.from_dict(Outer, {"lr": 1.0, "typo": 2})

    def test_profiles(self):
        assert config.check_profile("paper") == "paper"
        with pytest.raises(ValueError, match="unknown profile"):
            config.check_profile("huge")


class TestRuns:
    def test_rng_capture_restore(self):
        gen = runs.seed_everything(3)
        state = runs.capture_rng({"g": gen})
        a = (torch.rand(3), random.random(), np.random.rand(), torch.rand(2, generator=gen))
        runs.restore_rng(state, {"g": gen})
        b = (torch.rand(3), random.random(), np.random.rand(), torch.rand(2, generator=gen))
        assert torch.equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2] and torch.equal(a[3], b[3])

    def test_restore_missing_generator(self):
        state = runs.capture_rng({})
        with pytest.raises(KeyError, match="generator"):
            runs.restore_rng(state, {"g": torch.Generator()})

    def test_bad_seed(self):
        with pytest.raises(ValueError):
            runs.seed_everything(-1)

    def test_atomic_checkpoint(self, tmp_path):
        path = runs.save_checkpoint(tmp_path / "c" / "last.pt", {"w": torch.ones(2), "step": 5})
        assert not list(path.parent.glob("*.tmp"))
        assert runs.load_checkpoint(path)["step"] == 5
        with pytest.raises(FileNotFoundError):
            runs.load_checkpoint(tmp_path / "missing.pt")

    def test_metrics_log_truncates_on_resume(self, tmp_path):
        run = runs.RunDir(tmp_path)
        for step in range(1, 6):
            run.log.write(step=step, loss=torch.tensor(1.0 / step))
        run.log.truncate_after(3)
        assert [r["step"] for r in run.log.read()] == [1, 2, 3]
        assert not run.has_checkpoint()


class TestCheckpointDiff:
    def test_check_state_dict(self):
        model = torch.nn.Linear(2, 3)
        checkpoints.check_state_dict(model, model.state_dict(), "linear")
        bad = {"weight": torch.zeros(3, 2), "extra": torch.zeros(1)}
        with pytest.raises(checkpoints.StateDictMismatch, match=r"missing keys \(1\): \['bias'\]"):
            checkpoints.check_state_dict(model, bad, "linear")

    def test_read_state_dict(self, tmp_path):
        with pytest.raises(FileNotFoundError):
            checkpoints.read_state_dict(tmp_path / "none.pt")
        with pytest.raises(TypeError):
            checkpoints.read_state_dict([1, 2])

    def test_unknown_kind(self):
        with pytest.raises(ValueError, match="unknown kind"):
            checkpoints.from_official("srgan", {})


class TestEnvAndShow:
    def test_info_has_profile(self):
        assert info("paper")["profile"] == "paper"

    def test_source_markers(self):
        text = show.source(show.source, start="lines = ", stop="if start")
        assert text.splitlines()[0].strip().startswith("lines = ") and text.splitlines()[-1].strip() == "if start is not None:"
        with pytest.raises(ValueError, match="not found"):
            show.source(show.source, start="no such text")

    def test_source_excerpt_is_dedented(self):
        text = show.source(show.source, start="idx = next", stop="lines = lines[idx:]")
        assert text.startswith("idx = next") and text.splitlines()[-1] == "lines = lines[idx:]"


def test_book_runner_reads_toc():
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "tools"))
    try:
        import run_book
    finally:
        sys.path.pop(0)
    chapters = run_book.chapters_from_toc(root / "_toc.yml")
    assert chapters and chapters[0].name == "01_degradation_models.py"
    assert all(c.suffix == ".py" and c.is_file() for c in chapters)
