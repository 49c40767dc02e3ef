"""Load the authors' DASR checkpoints (``LongguangWang/DASR``) into :class:`srlib.dasr.network.BlindSR`.

Two layouts are accepted:

* **released** (``experiment/blindsr_x{2,3,4}_bicubic_{iso,aniso}/model/model_600.pt``): the official trainer deletes
  every key containing ``E.encoder_k`` or ``queue`` before saving, leaving ``G.*`` and ``E.encoder_q.*``: 471 keys at x4,
  469 at x2/x3. The key encoder is then initialised as a copy of the loaded query encoder (the official ``--resume``
  would leave it *random*, see reference Sec. 7.8) and the queue keeps its random unit columns: both matter only if you
  continue training, never for inference.
* **full** ``BlindSR.state_dict()`` (519 keys at x4), e.g. written by an instrumented copy of the official code.

Every key and every shape is checked; any difference raises :class:`srlib.checkpoints.StateDictMismatch` with a diff
naming the keys. Values are loaded as they are: the network works on [0, 255] internally, exactly like the official
one (see :mod:`srlib.dasr.network` for where srlib converts from and to [0, 1]).
"""
from __future__ import annotations

import ast
import os
from typing import Mapping

import torch

from srlib.checkpoints import StateDictMismatch, diff_state_dict, read_state_dict
from srlib.dasr.config import DASRConfig
from srlib.dasr.network import BlindSR

#: Substrings of the keys that the official trainer drops before saving (``trainer.py``).
DROPPED = ("E.encoder_k", "queue")


def read_key_list(path: str | os.PathLike) -> dict:
    """Read a golden key listing (``key<TAB>shape<TAB>dtype`` per line, ``#`` comments) into ``{key: (shape, dtype)}``.

    The listing of the official x4 model ships as ``tests/fixtures/dasr_state_dict_x4.txt``.
    """
    out = {}
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            key, shape, dtype = line.rstrip("\n").split("\t")
            out[key] = (tuple(ast.literal_eval(shape)), dtype)
    return out


def infer_scale(state: Mapping[str, torch.Tensor]) -> int:
    """SR scale of an official state dict, read from the upsampler keys.

    x4 has two upsampling convs (``G.tail.0.0`` and ``G.tail.0.2``); x2 and x3 have one with 4*64 and 9*64 outputs.

    >>> infer_scale({"G.tail.0.0.weight": torch.zeros(576, 64, 3, 3)})
    3
    """
    if "G.tail.0.2.weight" in state:
        return 4
    if "G.tail.0.0.weight" not in state:
        raise StateDictMismatch("cannot infer the scale: no 'G.tail.0.0.weight' key (is this a DASR checkpoint?)")
    ratio = state["G.tail.0.0.weight"].shape[0] // state["G.tail.0.0.weight"].shape[1]
    if ratio not in (4, 9):
        raise StateDictMismatch(f"cannot infer the scale from G.tail.0.0.weight of shape {tuple(state['G.tail.0.0.weight'].shape)}")
    return {4: 2, 9: 3}[ratio]


def released_keys(model: BlindSR) -> dict:
    """``{key: shape}`` of the released-checkpoint layout of ``model`` (its state dict minus dropped keys)."""
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if not any(s in k for s in DROPPED)}


def load_official(
    state_dict_or_path: Mapping[str, torch.Tensor] | str | os.PathLike,
    scale: int | None = 4,
    *,
    strict_keys: bool = True,
    cfg: DASRConfig | None = None,
    device: str | torch.device | None = None,
) -> BlindSR:
    """Build a paper-size ``BlindSR`` and load an official state dict into it.

    Args:
        state_dict_or_path: a mapping ``{key: tensor}`` or a path to a ``.pt`` file (loaded on CPU, weights only).
        scale: 2, 3 or 4, or None to infer it from the ``G.tail`` keys. A given scale that disagrees with the
            checkpoint raises.
        strict_keys: if False, keys the model does not have are ignored and keys outside the inference path
            (encoder MLP head, key encoder, queue) may be missing; shapes are always checked.
        cfg: architecture to build (default: :class:`DASRConfig` paper sizes at ``scale``).
        device: where to put the model (default CPU).

    Returns:
        ``BlindSR`` in eval mode. ``model(lr)`` with ``lr`` (B, 3, h, w) in [0, 1] returns the official output / 255.

    Raises:
        StateDictMismatch: missing, unexpected or mis-shaped keys, with a diff naming them.
    """
    state = read_state_dict(state_dict_or_path)
    found = infer_scale(state)
    if scale is None:
        scale = found
    elif scale != found:
        raise StateDictMismatch(f"scale={scale} requested but the checkpoint's G.tail keys are for x{found}")
    cfg = cfg or DASRConfig(scale=scale)
    model = BlindSR(cfg)
    full = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    is_full = any(any(s in k for s in DROPPED) for k in state)
    expected = full if is_full else released_keys(model)
    if not strict_keys:
        optional = [k for k in expected if not (k.startswith("G.") or k.startswith("E.encoder_q.E."))]
        state = {k: v for k, v in state.items() if k in expected}
        expected = {k: s for k, s in expected.items() if k in state or k not in optional}
    diff = diff_state_dict(expected, state)
    if diff:
        layout = "full BlindSR (519 keys at x4)" if is_full else "released G + encoder_q (471 keys at x4, 469 at x2/x3)"
        raise StateDictMismatch(f"official DASR x{scale} checkpoint, {layout} layout, does not match:\n{diff}")
    model.load_state_dict(state, strict=False)  # every expected key is present and shaped right (checked above)
    if not is_full:
        model.E.encoder_k.load_state_dict(model.E.encoder_q.state_dict())
    if device is not None:
        model.to(device)
    return model.eval()
