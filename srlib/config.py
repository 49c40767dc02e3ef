"""Frozen dataclass configs, named profiles, and writing the resolved config of a run.

Every trainable component of srlib has a frozen dataclass config, built with the classmethod
``Cls.for_profile(name, **overrides)``. One vocabulary of profile names (:data:`PROFILES`):

* ``tiny``: the same code path with reduced widths and iterations, so that each book chapter runs in a few
  minutes on a 2-core CPU. It is the default everywhere (``SRLIB_PROFILE`` overrides it for the book).
* ``paper``: the published hyper-parameters. Each field's comment cites where the value comes from.
* ``official``: the authors' released code where it departs from the paper (USR-DU only).

Each config class lists the names it supports in its own ``PROFILES`` attribute, and the command lines read their
``choices`` from those tuples. A config is resolved once, written beside the run's outputs as ``config.json`` (see
:func:`save_config`), and can be read back with :func:`load_config`. Nothing is read from globals and nothing is
``exec``-ed.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Type, TypeVar

from srlib.errors import UsageError

#: Every profile name srlib knows; a config class supports a subset (its ``PROFILES`` class attribute).
PROFILES = ("tiny", "small", "paper", "official")
#: The profiles every book chapter runs at (``tools/run_book.py --profile``, ``$SRLIB_PROFILE``).
BOOK_PROFILES = ("tiny", "paper")

T = TypeVar("T")


def check_profile(profile: str, allowed: tuple = PROFILES) -> str:
    """Return ``profile`` if it is one of ``allowed``, else raise :class:`~srlib.errors.UsageError` naming them.

    >>> check_profile("tiny")
    'tiny'
    >>> check_profile("official", allowed=("tiny", "paper"))
    Traceback (most recent call last):
    ...
    srlib.errors.UsageError: profile 'official' is not available here; expected one of 'tiny', 'paper'
    """
    if profile not in allowed:
        names = ", ".join(repr(p) for p in allowed)
        if profile in PROFILES:
            raise UsageError(f"profile {profile!r} is not available here; expected one of {names}")
        raise UsageError(f"unknown profile {profile!r}; expected one of {names}")
    return profile


def default_profile() -> str:
    """The profile of the book when none is given: ``$SRLIB_PROFILE`` or ``"tiny"`` (one of :data:`BOOK_PROFILES`).

    >>> default_profile() in BOOK_PROFILES
    True
    """
    return check_profile(os.environ.get("SRLIB_PROFILE", "tiny"), BOOK_PROFILES)


#: Environment variable that caps every training config built by a ``for_profile`` (``max_iters``): set only by smoke
#: tests of the code path (``tools/gpu_smoke.py``), never by the book or the command line.
SMOKE_ITERS_ENV = "SRLIB_SMOKE_ITERS"


def smoke_overrides(overrides: dict) -> dict:
    """``overrides`` plus ``max_iters`` from ``$SRLIB_SMOKE_ITERS`` when that is set and ``max_iters`` is not given.

    The cap is a config field, so it is recorded in the run's ``config.json`` like any other.

    >>> smoke_overrides({"seed": 1}) == {"seed": 1} or os.environ.get(SMOKE_ITERS_ENV) is not None
    True
    """
    value = os.environ.get(SMOKE_ITERS_ENV)
    if not value or "max_iters" in overrides:
        return overrides
    try:
        cap = int(value)
    except ValueError:
        raise UsageError(f"${SMOKE_ITERS_ENV} must be a positive integer, got {value!r}") from None
    if cap < 1:
        raise UsageError(f"${SMOKE_ITERS_ENV} must be a positive integer, got {value!r}")
    return {**overrides, "max_iters": cap}


def to_dict(cfg: Any) -> dict:
    """Turn a (possibly nested) dataclass config into plain JSON-able data.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class C:
    ...     a: int = 1
    ...     b: tuple = (1, 2)
    >>> to_dict(C())
    {'a': 1, 'b': [1, 2]}
    """
    if dataclasses.is_dataclass(cfg):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {str(k): to_dict(v) for k, v in cfg.items()}
    return cfg


def from_dict(cls: Type[T], data: dict) -> T:
    """Rebuild a dataclass config of type ``cls`` from :func:`to_dict` output (nested dataclasses included).

    Unknown keys raise ``ValueError`` so that a stale config file is noticed, not silently ignored.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class C:
    ...     a: int = 1
    ...     b: tuple = (1, 2)
    >>> from_dict(C, {'a': 3, 'b': [4, 5]})
    C(a=3, b=(4, 5))
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ValueError(f"unknown fields for {cls.__name__}: {sorted(unknown)}")
    kwargs = {}
    hints = _resolved_types(cls)
    for name, value in data.items():
        typ = hints.get(name)
        if dataclasses.is_dataclass(typ) and isinstance(value, dict):
            value = from_dict(typ, value)
        elif isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        kwargs[name] = value
    return cls(**kwargs)


def _resolved_types(cls) -> dict:
    import typing

    try:
        return typing.get_type_hints(cls)
    except Exception:  # pragma: no cover - forward references we cannot resolve
        return {}


def save_config(cfg: Any, out_dir: str | os.PathLike, name: str = "config.json", **extra: Any) -> Path:
    """Write the resolved config (plus ``extra`` entries such as the seed or the command line) as JSON.

    Args:
        cfg: a dataclass config.
        out_dir: the run directory; it is created if missing.
        name: file name inside ``out_dir``.
        **extra: additional JSON-able facts recorded beside the config.

    Returns:
        The path written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"type": type(cfg).__name__, "config": to_dict(cfg), **extra}
    path = out / name
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    os.replace(tmp, path)
    return path


def load_config(cls: Type[T], path: str | os.PathLike) -> T:
    """Read a config written by :func:`save_config` back into ``cls``."""
    payload = json.loads(Path(path).read_text())
    return from_dict(cls, payload["config"])
