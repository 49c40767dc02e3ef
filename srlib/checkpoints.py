"""State-dict utilities shared by every loader: read a weights file safely, diff a state dict against a model.

* :func:`read_state_dict`: a plain ``{key: tensor}`` dict from a mapping or a file (``weights_only``, never runs code).
* :func:`diff_state_dict` / :func:`check_state_dict`: the precise diff (missing, unexpected, mis-shaped keys) that
  every loader raises as :class:`StateDictMismatch`.

This module is a ground floor: it imports no model package. Which model a file holds, and the official loaders of
each family, live above it (:mod:`srlib.models`, :mod:`srlib.dasr.official`, :mod:`srlib.usrdu.official`).
"""
from __future__ import annotations

import os
from typing import Mapping

import torch

from srlib.errors import CheckpointError
from srlib.runs import load_checkpoint


class StateDictMismatch(CheckpointError, RuntimeError):
    """Raised when a state dict does not match the model: lists missing, unexpected and mis-shaped keys."""


def read_state_dict(state_dict_or_path: Mapping[str, torch.Tensor] | str | os.PathLike) -> dict:
    """Return a plain ``{key: tensor}`` dict from a mapping or a ``.pt``/``.pth`` file (loaded on CPU)."""
    if isinstance(state_dict_or_path, (str, os.PathLike)):
        obj = load_checkpoint(state_dict_or_path, map_location="cpu")  # weights_only: never runs code
    else:
        obj = state_dict_or_path
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"expected a state dict (mapping of tensors), got {type(obj).__name__}")
    return dict(obj)


def diff_state_dict(expected: Mapping[str, tuple], got: Mapping[str, torch.Tensor], max_lines: int = 40) -> str:
    """Describe the difference between the expected ``{key: shape}`` and a state dict; ``""`` when they agree.

    >>> print(diff_state_dict({"a": (2,)}, {"a": torch.zeros(3), "b": torch.zeros(1)}))
    missing keys (0): []
    unexpected keys (1): ['b']
    shape mismatches (1):
      a: expected (2,), got (3,)
    >>> diff_state_dict({"a": (2,)}, {"a": torch.zeros(2)})
    ''
    """
    exp_keys, got_keys = set(expected), set(got)
    missing = sorted(exp_keys - got_keys)
    unexpected = sorted(got_keys - exp_keys)
    shapes = [
        f"  {k}: expected {tuple(expected[k])}, got {tuple(got[k].shape)}"
        for k in sorted(exp_keys & got_keys)
        if tuple(expected[k]) != tuple(got[k].shape)
    ]
    if not (missing or unexpected or shapes):
        return ""

    def head(items):
        return items[:max_lines] + ([f"... and {len(items) - max_lines} more"] if len(items) > max_lines else [])

    lines = [f"missing keys ({len(missing)}): {head(missing)}", f"unexpected keys ({len(unexpected)}): {head(unexpected)}"]
    if shapes:
        lines.append(f"shape mismatches ({len(shapes)}):")
        lines.extend(head(shapes))
    return "\n".join(lines)


def check_state_dict(model: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """Raise :class:`StateDictMismatch` unless ``state`` has exactly the model's keys and shapes."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    diff = diff_state_dict(expected, state)
    if diff:
        raise StateDictMismatch(f"{what}: state dict does not match srlib's model\n{diff}")
