"""Run plumbing shared by every trainer: run folders, atomic checkpoints, RNG state, metrics logs, progress bars.

The training loops themselves live next to the models they train (``srlib.dasr.train``, ``srlib.usrdu.train``) and stay
visible there; this module only holds the parts that every loop needs the same way:

* :class:`RunDir`: ``out/config.json`` (resolved config), ``out/metrics.jsonl`` (one JSON object per logged step),
  ``out/checkpoints/last.pt`` (everything needed to resume) and named snapshots.
* :func:`save_checkpoint` writes through a temporary file and ``os.replace``, so an interrupted save never leaves a
  truncated checkpoint behind.
* :func:`capture_rng` / :func:`restore_rng` carry every random stream (torch CPU, CUDA, Python, NumPy and any
  ``torch.Generator`` the loop owns) so that a resumed run ends with the same weights as an uninterrupted one.
"""
from __future__ import annotations

import json
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import torch

from srlib.config import save_config


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch, Python and NumPy global streams and return a fresh CPU ``torch.Generator`` seeded with ``seed``.

    srlib code takes explicit generators; the global seeds only cover third-party code (for example weight
    initialisation inside ``torch.nn`` layers).

    >>> g = seed_everything(0)
    >>> float(torch.rand(1, generator=g)) == float(torch.rand(1, generator=seed_everything(0)))
    True
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    return torch.Generator().manual_seed(seed)


def capture_rng(generators: Mapping[str, torch.Generator] | None = None) -> dict:
    """Snapshot every random stream: torch CPU (and CUDA if present), Python, NumPy and the named generators."""
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict, generators: Mapping[str, torch.Generator] | None = None) -> None:
    """Restore a snapshot taken by :func:`capture_rng` (the named generators are updated in place)."""
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    saved = state.get("generators", {})
    for name, gen in (generators or {}).items():
        if name not in saved:
            raise KeyError(f"checkpoint has no state for generator {name!r} (has {sorted(saved)})")
        gen.set_state(saved[name])


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Save ``state`` with ``torch.save`` atomically (temporary file, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(dict(state), tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint`; a clear ``FileNotFoundError`` if it is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    # weights_only=False: our checkpoints hold RNG states (tuples, numpy arrays) next to tensors. Only load files
    # you trust, as with any pickle.
    return torch.load(path, map_location=map_location, weights_only=False)


class MetricsLog:
    """Append-only JSON-lines log of training metrics, flushed on every write.

    On resume, :meth:`truncate_after` drops lines past the resumed step so that the log matches the weights.

    >>> import tempfile, os
    >>> log = MetricsLog(os.path.join(tempfile.mkdtemp(), "m.jsonl"))
    >>> log.write(step=1, loss=0.5); log.write(step=2, loss=0.25)
    >>> [r["loss"] for r in log.read()]
    [0.5, 0.25]
    >>> log.truncate_after(1); len(log.read())
    1
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, **record: Any) -> None:
        clean = {k: (v.item() if isinstance(v, torch.Tensor) else v) for k, v in record.items()}
        with self.path.open("a") as f:
            f.write(json.dumps(clean) + "\n")
            f.flush()

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open() as f:
            return [json.loads(line) for line in f if line.strip()]

    def truncate_after(self, step: int) -> None:
        keep = [r for r in self.read() if r.get("step", 0) <= step]
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in keep))
        os.replace(tmp, self.path)


class RunDir:
    """The folder of one training run.

    Layout::

        out/config.json            resolved config + seed + command (written by :meth:`save_config`)
        out/metrics.jsonl          one line per logged step
        out/checkpoints/last.pt    full training state, rewritten every ``save_every`` steps and on interruption
        out/checkpoints/<name>.pt  named snapshots (for example the end of a stage)
    """

    def __init__(self, out: str | os.PathLike):
        self.root = Path(out)
        self.root.mkdir(parents=True, exist_ok=True)
        self.log = MetricsLog(self.root / "metrics.jsonl")

    @property
    def last(self) -> Path:
        return self.root / "checkpoints" / "last.pt"

    def snapshot(self, name: str) -> Path:
        return self.root / "checkpoints" / f"{name}.pt"

    def save_config(self, cfg: Any, **extra: Any) -> Path:
        return save_config(cfg, self.root, **extra)

    def has_checkpoint(self) -> bool:
        return self.last.is_file()


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", initial: int = 0, **kw):
    """A tqdm progress bar that also reads well in executed notebooks (plain text, updated every few seconds)."""
    from tqdm import tqdm

    kw.setdefault("mininterval", 2.0 if sys.stderr.isatty() else 10.0)
    kw.setdefault("dynamic_ncols", True)
    kw.setdefault("file", sys.stdout)
    return tqdm(iterable, total=total, desc=desc, initial=initial, **kw)


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class DeferInterrupt:
    """Turn Ctrl-C into a flag checked between steps, so ``last.pt`` always holds whole steps."""

    def __enter__(self):
        self.requested, self._old = False, None
        try:
            self._old = signal.signal(signal.SIGINT, self._flag)
        except ValueError:  # not the main thread: a plain KeyboardInterrupt then
            pass
        return self

    def _flag(self, *_):
        self.requested = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
