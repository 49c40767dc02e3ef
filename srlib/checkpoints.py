"""Load the authors' released weights into srlib models.

``from_official(kind, state_dict_or_path, **kw)`` dispatches on ``kind``:

* ``"dasr"``: the official DASR ``BlindSR`` checkpoints (keys ``G.*`` and ``E.encoder_q.*``), see
  :func:`srlib.dasr.official.load_official`.
* ``"usrdu-dsn"``: the USR-DU downsampling network ``gen`` state dict, see :func:`srlib.usrdu.official.load_dsn`.
* ``"esrgan"``: ESRGAN ``RRDBNet`` weights in the original or BasicSR key names, see
  :func:`srlib.usrdu.official.load_esrgan`.

Every loader checks every key and shape and raises :class:`StateDictMismatch` with a precise diff.
"""
from __future__ import annotations

import os
from typing import Mapping

import torch

KINDS = ("dasr", "usrdu-dsn", "esrgan")


class StateDictMismatch(RuntimeError):
    """Raised when a state dict does not match the model: lists missing, unexpected and mis-shaped keys."""


def read_state_dict(state_dict_or_path: Mapping[str, torch.Tensor] | str | os.PathLike) -> dict:
    """Return a plain ``{key: tensor}`` dict from a mapping or a ``.pt``/``.pth`` file (loaded on CPU)."""
    if isinstance(state_dict_or_path, (str, os.PathLike)):
        path = os.fspath(state_dict_or_path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no checkpoint file at {path}")
        obj = torch.load(path, map_location="cpu", weights_only=True)
    else:
        obj = state_dict_or_path
    if not isinstance(obj, Mapping):
        raise TypeError(f"expected a state dict (mapping of tensors), got {type(obj).__name__}")
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


def from_official(kind: str, state_dict_or_path, **kwargs) -> torch.nn.Module:
    """Build the srlib model for ``kind`` and load official weights into it (eval mode). See the module docstring."""
    if kind == "dasr":
        from srlib.dasr.official import load_official

        return load_official(state_dict_or_path, **kwargs)
    if kind == "usrdu-dsn":
        from srlib.usrdu.official import load_dsn

        return load_dsn(state_dict_or_path, **kwargs)
    if kind == "esrgan":
        from srlib.usrdu.official import load_esrgan

        return load_esrgan(state_dict_or_path, **kwargs)
    raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
