"""The environment report printed by every chapter's setup cell.

A reader comparing numbers needs to know what produced them: library versions, the device, the number of CPU threads,
the profile and whether real benchmark data was found.
"""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch


def data_root() -> Path | None:
    """The folder of real benchmark data, ``$SRLIB_DATA`` or ``./data``, if it holds a ``benchmark`` folder.

    Returns ``None`` when neither has one: chapters then fall back to the built-in images.
    """
    for candidate in (os.environ.get("SRLIB_DATA"), "data"):
        if candidate and (Path(candidate) / "benchmark").is_dir():
            return Path(candidate)
    return None


def _git_commit() -> str:
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except Exception:
        return "unknown"


def info(profile: str | None = None) -> dict:
    """Facts about this environment as a dict (see :func:`report`).

    >>> sorted(info("tiny"))[:3]
    ['cpu_threads', 'cuda', 'data']
    """
    import numpy

    import srlib

    root = data_root()
    sets = sorted(p.name for p in (root / "benchmark").iterdir()) if root else []
    return {
        "srlib": f"{srlib.__version__} ({_git_commit()})",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(terse=True),
        "cpu_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not available",
        "profile": profile or os.environ.get("SRLIB_PROFILE", "tiny"),
        "data": f"{root} ({', '.join(sets)})" if root else "none found: using the built-in images",
    }


def report(profile: str | None = None) -> dict:
    """Print the environment report as an aligned table and return it as a dict."""
    facts = info(profile)
    width = max(map(len, facts))
    for key, value in facts.items():
        print(f"{key:<{width}}  {value}")
    return facts
