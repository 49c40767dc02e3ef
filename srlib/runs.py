"""Run plumbing shared by every trainer: run folders, safe atomic checkpoints, RNG state, resuming, metrics, progress.

The training loops themselves live next to the models they train (``srlib.dasr.train``, ``srlib.usrdu.train_dsn``,
``srlib.usrdu.train_srn``) and stay visible there; this module holds the parts that every loop needs the same way:

* :class:`RunDir`: ``out/config.json`` (resolved config), ``out/metrics.jsonl`` (one JSON object per logged step),
  ``out/checkpoints/last.pt`` (everything needed to resume) and named snapshots (``final.pt``).
* :func:`training_state` / :func:`resume`: the one checkpoint layout and the one resume routine (kind and config
  checked, every part and random stream restored, the log truncated to the checkpoint's step).
* :func:`save_checkpoint` checks free space, writes through a temporary file and ``os.replace``, so a failed or
  interrupted save never loses the previous checkpoint; :func:`load_checkpoint` never executes code from a file.
* :func:`capture_rng` / :func:`restore_rng` carry every random stream (torch CPU, CUDA, Python, NumPy and any
  ``torch.Generator`` the loop owns) so that a resumed run ends with the same weights as an uninterrupted one.
* :class:`DeferInterrupt` + :class:`TrainingInterrupted`: Ctrl-C finishes the current step, the trainer saves
  ``last.pt`` and raises; the CLI prints how to resume and exits with 130.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import random
import re
import shutil
import signal
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import torch

from srlib.config import save_config, to_dict
from srlib.errors import CheckpointError, DiskFull, explain_os_error


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


def _numpy_state_to_safe(state: tuple) -> dict:
    """NumPy's legacy global RNG state as plain types and a tensor (loadable with ``weights_only=True``)."""
    name, keys, pos, has_gauss, cached = state
    return {"name": name, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def _numpy_state_from_safe(state) -> tuple:
    if isinstance(state, tuple):  # written by srlib < 0.2 (an ndarray inside); loaded through the numpy allowlist
        return state
    return (state["name"], state["keys"].numpy().astype(np.uint32), state["pos"], state["has_gauss"],
            state["cached_gaussian"])


def capture_rng(generators: Mapping[str, torch.Generator] | None = None) -> dict:
    """Snapshot every random stream: torch CPU (and CUDA if present), Python, NumPy and the named generators.

    The snapshot holds only tensors and plain Python types, so a checkpoint that contains it loads with
    ``torch.load(weights_only=True)``.
    """
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": _numpy_state_to_safe(np.random.get_state()),
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict, generators: Mapping[str, torch.Generator] | None = None) -> None:
    """Restore a snapshot taken by :func:`capture_rng` (the named generators are updated in place)."""
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(_numpy_state_from_safe(state["numpy"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    saved = state.get("generators", {})
    for name, gen in (generators or {}).items():
        if name not in saved:
            raise CheckpointError(f"checkpoint has no state for generator {name!r} (has {sorted(saved)})")
        gen.set_state(saved[name])


#: Head room kept free beyond the checkpoint's own size when saving (file-system metadata, other writers).
SAVE_MARGIN_BYTES = 1 << 20


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Save ``state`` with ``torch.save`` atomically, never losing the previous file.

    The state is serialised in memory first, its size is checked against the free space of the target's file
    system, then written to ``<path>.tmp``, flushed to disk and renamed over ``path`` (``os.replace``). A save that
    fails for any reason (disk full, permission, interruption) removes the temporary file and leaves the previous
    checkpoint intact.

    Raises:
        DiskFull: not enough free space (checked before writing, or reported by the OS while writing).
        OutputError: the folder cannot be written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise explain_os_error(exc, f"creating {path.parent}") from None
    buf = io.BytesIO()
    torch.save(dict(state), buf)
    data = buf.getbuffer()
    free = shutil.disk_usage(path.parent).free
    if free < len(data) + SAVE_MARGIN_BYTES:
        raise DiskFull(f"no space left on device for {path}: it needs {len(data) / 2**20:.1f} MiB and "
                       f"{free / 2**20:.1f} MiB are free; the previous checkpoint is intact")
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise explain_os_error(exc, f"saving {path} (the previous checkpoint is intact)") from None
        raise
    return path


def _legacy_numpy_globals() -> list:
    """The NumPy globals needed to read an ndarray (srlib < 0.2 stored NumPy's RNG state as one).

    Rebuilding an ndarray of an allow-listed dtype runs no code from the file; nothing else is allowed. A file pickled
    under NumPy 1.x names the rebuild function ``numpy.core.multiarray._reconstruct``, under 2.x
    ``numpy._core.multiarray._reconstruct``: both names are allowed for the same function.
    """
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy < 2
        from numpy.core.multiarray import _reconstruct
    return [_reconstruct, (_reconstruct, "numpy.core.multiarray._reconstruct"),
            (_reconstruct, "numpy._core.multiarray._reconstruct"), np.ndarray, np.dtype, type(np.dtype(np.uint32))]


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu", *,
                    what: str = "checkpoint") -> Any:
    """Load a file written by :func:`save_checkpoint` (or any weights file) **without executing code from it**.

    ``torch.load(weights_only=True)`` only rebuilds tensors and plain Python containers; there is no fallback to full
    unpickling, whatever the file says. Checkpoints written by srlib before 0.2 (NumPy RNG state as an ndarray) still
    load: the ndarray's globals are allow-listed, nothing else.

    Raises:
        CheckpointError: the file is missing, empty, truncated, not a PyTorch file, or needs code execution to load.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no {what} at {path}" + (" (it is a folder)" if path.is_dir() else ""))
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty, not a {what}")
    try:
        with torch.serialization.safe_globals(_legacy_numpy_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL (\S+)", str(exc))
        if found:
            raise CheckpointError(f"{path} is not a safe {what}: loading it would call {found.group(1)}, and srlib "
                                  "never runs code from a file (it loads tensors and plain data only)") from None
        raise CheckpointError(f"{path} is not a {what} srlib can read: corrupt, truncated or another kind of "
                              "file") from None
    except (RuntimeError, EOFError, ValueError, OSError, AttributeError, IndexError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} is not a {what} srlib can read: corrupt, truncated or another kind of "
                              f"file ({first})") from None


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

    @property
    def final(self) -> Path:
        """The weights-only snapshot written when a run completes its schedule."""
        return self.snapshot("final")

    def snapshot(self, name: str) -> Path:
        return self.root / "checkpoints" / f"{name}.pt"

    def save_config(self, cfg: Any, **extra: Any) -> Path:
        return save_config(cfg, self.root, **extra)

    def has_checkpoint(self) -> bool:
        return self.last.is_file()

    def start_fresh(self) -> None:
        """Forget an earlier run in this folder (``resume=False``, ``--no-resume``): empty the metrics log and delete
        its checkpoints, so that no stale ``final.pt`` or ``last.pt`` outlives the new run's first save (a later stage
        reading ``final.pt`` would otherwise pick up the old weights if the new run is interrupted)."""
        self.log.truncate_after(0)
        for path in (self.root / "checkpoints").glob("*.pt"):
            path.unlink()


def _in_notebook() -> bool:
    """Whether output goes to a Jupyter kernel (an executed chapter) rather than a terminal or a log file."""
    return "ipykernel" in sys.modules and not sys.stdout.isatty() and type(sys.stdout).__module__.startswith("ipykernel")


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", initial: int = 0, **kw):
    """A tqdm progress bar: live in a terminal, every 10 s in a log file, and in a notebook one finished line.

    An executed notebook keeps every partial bar a live one writes (tens of lines of 3 %, 7 %, ... in the book), so in a
    Jupyter kernel the bar is drawn off screen and only its last state is printed, once, when it closes.
    """
    from tqdm import tqdm

    if _in_notebook() and not kw.get("disable"):
        return _closing_line_bar(tqdm)(iterable, total=total, desc=desc, initial=initial, **kw)
    kw.setdefault("mininterval", 2.0 if sys.stderr.isatty() else 10.0)
    kw.setdefault("dynamic_ncols", True)
    kw.setdefault("file", sys.stdout)
    return tqdm(iterable, total=total, desc=desc, initial=initial, **kw)


def _closing_line_bar(tqdm):
    """A tqdm subclass that writes nowhere while it runs and prints its final line to stdout when closed."""

    class ClosingLineBar(tqdm):
        def __init__(self, *args, **kw):
            kw.update(file=io.StringIO(), mininterval=float("inf"), ncols=100)
            super().__init__(*args, **kw)

        def close(self):
            if self.disable:
                return
            line = str(self)
            super().close()
            print(line, file=sys.stdout, flush=True)

    return ClosingLineBar


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


#: Version of the checkpoint layout written by srlib's trainers. 2: RNG states as tensors and plain types (safe to
#: load with ``weights_only=True``); 1 (no ``format`` key): srlib < 0.2, NumPy RNG state as an ndarray.
CHECKPOINT_FORMAT = 2

#: Config fields every trainer allows to change between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("max_iters", "log_every", "save_every", "val_every")


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by a trainer after Ctrl-C once it has saved ``checkpoint``: the run resumes from there."""

    def __init__(self, step: int, checkpoint: Path):
        self.step, self.checkpoint = step, Path(checkpoint)
        super().__init__(f"interrupted after step {step}: state saved to {checkpoint}; run the same command "
                         "again to resume")


def training_state(kind: str, cfg: Any, step: int, parts: Mapping[str, Any], generators=None, *,
                   full: bool = True, rank_parts: Iterable[str] = (), ctx=None) -> dict:
    """The checkpoint dict every srlib trainer writes.

    Args:
        kind: model family tag read by the loaders (``"srlib.dasr"``, ``"usrdu-dsn"``, ``"usrdu-srn"``).
        cfg: the resolved training config (stored as plain data).
        step: completed iterations.
        parts: ``{name: object with state_dict()}``: models, optimisers, schedulers, samplers.
        generators: named ``torch.Generator`` objects whose state is captured with the global streams.
        full: also store the RNG states (``last.pt``); ``False`` for weights-only snapshots, whose ``parts`` should
            then hold only models.
        rank_parts: names in ``parts`` whose state differs from rank to rank (the data samplers).
        ctx: the :class:`srlib.distributed.Context` of a data-parallel run. Every rank must call this function for
            a full state (it gathers each rank's random streams); rank 0 writes the result. The top-level ``rng`` and
            ``rank_parts`` are rank 0's, ``other_ranks`` holds ranks 1..N-1's, ``world_size`` is N.
    """
    state = {"kind": kind, "format": CHECKPOINT_FORMAT, "config": to_dict(cfg), "step": int(step),
             **{name: part.state_dict() for name, part in parts.items()}}
    if full:
        local = {"rng": capture_rng(generators), **{name: state[name] for name in rank_parts}}
        ranks = ctx.gather(local) if ctx is not None else [local]
        state["rng"] = ranks[0]["rng"]
        state["world_size"] = len(ranks)
        state["other_ranks"] = ranks[1:]
    return state


def resume(run: RunDir, kind: str, cfg: Any, parts: Mapping[str, Any], generators=None, *,
           changeable: Iterable[str] = RESUMABLE_CHANGES, rank_parts: Iterable[str] = (), ctx=None,
           seed: int | None = None) -> int:
    """Continue a run from ``run.last`` if it exists; the one resume routine of every srlib trainer.

    Checks that the checkpoint is of ``kind`` and was written with the same config (fields in ``changeable`` may
    differ), loads every part's state dict, restores every random stream and truncates the metrics log to the
    checkpoint's step. Without a checkpoint the log is emptied and 0 is returned.

    The checkpoint is always read onto the CPU: RNG states must be CPU byte tensors (also those of CUDA generators),
    and each part's ``load_state_dict`` copies its tensors to wherever that part lives.

    In a data-parallel run (``ctx``, see :mod:`srlib.distributed`) every rank calls this; rank ``r`` restores the
    random streams and ``rank_parts`` that rank ``r`` saved. A rank the checkpoint has none for (more processes than
    wrote it) seeds its generators and its ``rank_parts``' generators afresh from ``(seed, r, step)``; streams of
    ranks that no longer exist are dropped. Only rank 0 touches the metrics log.

    Returns:
        The number of completed iterations to continue from.

    Raises:
        CheckpointError: another kind, another config, or a checkpoint without a part; the message says how to start
            again.
    """
    main = ctx is None or ctx.is_main
    if not run.has_checkpoint():
        if main:
            run.log.truncate_after(0)
        return 0
    again = (f"start again with --no-resume (resume=False) or another output folder than {run.root}")
    state = load_checkpoint(run.last, map_location="cpu")
    if not isinstance(state, dict) or state.get("kind") != kind:
        got = state.get("kind") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"cannot resume {run.last}: it is a {got!r} checkpoint, not {kind!r}; {again}")
    changeable = set(changeable)
    now = {k: v for k, v in to_dict(cfg).items() if k not in changeable}
    then = {k: v for k, v in state.get("config", {}).items() if k not in changeable}
    if now != then:
        diff = sorted(k for k in set(now) | set(then) if now.get(k) != then.get(k))
        raise CheckpointError(f"cannot resume {run.last}: it was written with a different config (fields {diff}); "
                              f"{again}")
    missing = [name for name in parts if name not in state]
    if missing or "rng" not in state:
        raise CheckpointError(f"cannot resume {run.last}: it holds no {missing or ['rng']} state (a weights-only "
                              f"snapshot?); {again}")
    for name, part in parts.items():
        part.load_state_dict(state[name])
    step = int(state["step"])
    rank, world = (ctx.rank, ctx.world_size) if ctx is not None else (0, 1)
    saved = [{"rng": state["rng"]}] + list(state.get("other_ranks", []))
    if rank < len(saved):
        restore_rng(saved[rank]["rng"], generators)
        for name in rank_parts if rank else ():
            parts[name].load_state_dict(saved[rank][name])
    else:  # a rank the checkpoint has no streams for: new streams, never drawn by any rank before
        from srlib.distributed import rank_seed

        base = rank_seed(cfg.seed if seed is None else seed, rank, step)
        gens = list((generators or {}).values()) + [parts[n].generator for n in rank_parts
                                                    if hasattr(parts[n], "generator")]
        for i, gen in enumerate(gens):
            gen.manual_seed(base + i)
    if main:
        run.log.truncate_after(step)
        if len(saved) != world:
            print(f"note: {run.last} was written by {len(saved)} process(es) and is resumed by {world}: the weights "
                  f"and optimiser continue exactly, ranks 0-{min(len(saved), world) - 1} continue their data streams"
                  + (f", ranks {len(saved)}-{world - 1} start new ones" if world > len(saved) else "")
                  + "; the run is not bit-identical to an uninterrupted one", file=sys.stderr)
    return step
