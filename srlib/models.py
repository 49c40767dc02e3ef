"""The one loading layer: recognise what a checkpoint file is, build its model, and wrap SR models as an Upscaler.

Every file goes through :func:`srlib.runs.load_checkpoint` (``torch.load(weights_only=True)``, no fallback), so a
checkpoint can never run code. :func:`detect_kind` reads the loaded object and names what it is:

=========================  ===========================================================================  =========
kind                       recognised by                                                                upscaler
=========================  ===========================================================================  =========
``srlib.dasr``             srlib DASR run (``kind`` tag; ``model`` + ``config["model"]``)               yes
``usrdu-srn``              srlib USR-DU SRN run (``kind`` tag; ``net_g`` / EMA ``net_g_ema``)           yes
``usrdu-dsn``              srlib USR-DU DSN run (``kind`` tag; ``dsn``)                                 no (HR->LR)
``dasr-official``          the authors' DASR ``model_600.pt``: ``G.*`` keys (471/469 released, 519 full)   yes
``esrgan``                 ESRGAN ``RRDBNet`` in the original names (``RRDB_trunk.*``)                  yes
``esrgan-basicsr``         ``RRDBNet`` in BasicSR names (``body.*``), bare or under ``params(_ema)``    yes
``usrdu-srn-official``     the authors' USR-DU SRN (``RRDBNet_U.*`` beside ``RRDBNet_var.*``)           yes
``usrdu-dsn-official``     the authors' USR-DU DSN ``gen`` weights (``block_input.*``)                 no (HR->LR)
=========================  ===========================================================================  =========

:func:`load_model` builds the model of any kind (eval mode, CPU, every key and shape checked with a precise diff);
:func:`load_upscaler` returns the one :class:`srlib.inference.Upscaler` for the SR kinds and a
:class:`~srlib.errors.CheckpointError` that says what the file is for the others. :func:`from_official` loads the
authors' weights of a named family. :func:`load_model` and :func:`load_upscaler` also take ``"zoo:NAME"``, an entry of
the model zoo (:mod:`srlib.zoo`), resolved to its verified local file. This module sits above the model packages;
nothing below imports it.
"""
from __future__ import annotations

import os
from typing import Any, Mapping, NamedTuple

import torch

from srlib.checkpoints import check_state_dict
from srlib.config import from_dict
from srlib.errors import CheckpointError, UsageError
from srlib.runs import load_checkpoint

#: What each kind is, in the words of an error message ("x.pt is <description>").
KINDS = {
    "srlib.dasr": "an srlib DASR checkpoint",
    "usrdu-srn": "an srlib USR-DU SRN checkpoint",
    "usrdu-dsn": "a USR-DU DSN checkpoint (a downsampler)",
    "dasr-official": "the authors' DASR weights (model_600.pt layout)",
    "esrgan": "ESRGAN RRDBNet weights (original key names)",
    "esrgan-basicsr": "ESRGAN RRDBNet weights (BasicSR key names)",
    "usrdu-srn-official": "the authors' USR-DU SRN weights (RRDBNet_U.* keys)",
    "usrdu-dsn-official": "the authors' USR-DU DSN weights (a downsampler)",
}
#: Kinds that map an LR image to an SR image (the others are not upscalers).
SR_KINDS = ("srlib.dasr", "usrdu-srn", "dasr-official", "esrgan", "esrgan-basicsr", "usrdu-srn-official")
#: The families :func:`from_official` loads.
OFFICIAL_FAMILIES = ("dasr", "usrdu-dsn", "esrgan")
_EXPECTED = ("an srlib checkpoint (DASR, USR-DU SRN/DSN), the authors' DASR model_600.pt, USR-DU weights, or ESRGAN "
             "RRDBNet weights (original or BasicSR names)")


class LoadedModel(NamedTuple):
    """A model built from a checkpoint: ``model`` (eval mode, CPU), its ``kind``, its ``scale`` (SR factor; the
    downscaling factor for a DSN) and ``source`` (one line saying what was loaded)."""

    model: torch.nn.Module
    kind: str
    scale: int
    source: str


def _unwrap_basicsr(obj: Mapping) -> Mapping:
    """The state dict inside a BasicSR checkpoint (``params_ema`` preferred over ``params``), else ``obj``."""
    for key in ("params_ema", "params"):
        if isinstance(obj.get(key), Mapping):
            return obj[key]
    return obj


def detect_kind(obj: Any, name: str = "the checkpoint") -> str:
    """Name what a loaded checkpoint object is (one of :data:`KINDS`).

    Args:
        obj: what :func:`srlib.runs.load_checkpoint` returned.
        name: how to call the file in the error message.

    Raises:
        CheckpointError: not a mapping, an srlib ``kind`` tag srlib does not know, or keys of no known model.

    >>> detect_kind({"kind": "usrdu-srn", "net_g": {}})
    'usrdu-srn'
    >>> detect_kind({"params_ema": {"conv_first.weight": 0, "body.0.rdb1.conv1.weight": 0}})
    'esrgan-basicsr'
    >>> detect_kind({"G.head.weight": 0})
    'dasr-official'
    """
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{name} holds a {type(obj).__name__}, not a checkpoint; expected {_EXPECTED}")
    tag = obj.get("kind")
    if isinstance(tag, str):
        if tag not in ("srlib.dasr", "usrdu-srn", "usrdu-dsn"):
            raise CheckpointError(f"{name} is an srlib checkpoint of kind {tag!r}, which this srlib cannot load "
                                  f"(known: 'srlib.dasr', 'usrdu-srn', 'usrdu-dsn')")
        return tag
    sd = _unwrap_basicsr(obj)
    keys = [str(k) for k in sd]
    if any(k.startswith("G.") for k in keys):
        return "dasr-official"
    if any(k.startswith("RRDBNet_U.") for k in keys):
        return "usrdu-srn-official"
    if isinstance(sd.get("gen"), Mapping) or "block_input.0.weight" in sd:
        return "usrdu-dsn-official"
    if "conv_first.weight" in sd:
        if any(k.startswith(("body.", "conv_body.")) for k in keys):
            return "esrgan-basicsr"
        return "esrgan"
    raise CheckpointError(f"{name} is not a checkpoint srlib recognises (first keys: {sorted(keys)[:6]}); expected "
                          f"{_EXPECTED}")


def _part(state: Mapping, key: str, name: str, kind: str) -> Mapping:
    part = state.get(key)
    if not isinstance(part, Mapping):
        raise CheckpointError(f"{name} is {KINDS[kind]} without its {key!r} weights (found {sorted(state)[:8]})")
    return part


def _section(state: Mapping, key: str) -> Mapping:
    """``state["config"][key]`` (the architecture part of a stored training config), or ``{}``."""
    cfg = state.get("config")
    part = cfg.get(key) if isinstance(cfg, Mapping) else None
    return part if isinstance(part, Mapping) else {}


def _config(cls, data, name: str, kind: str):
    """Rebuild an architecture config stored in a checkpoint; a stale or foreign one is a CheckpointError."""
    if not data:
        raise CheckpointError(f"{name} is {KINDS[kind]} without a model config")
    try:
        return from_dict(cls, dict(data))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{name} is {KINDS[kind]} whose model config this srlib cannot rebuild ({exc})") from None


def _build(state: Mapping, kind: str, name: str, use_ema: bool) -> tuple[torch.nn.Module, str]:
    """Model (eval mode, CPU) of a checkpoint of ``kind``, and one line saying which weights were used."""
    if kind == "srlib.dasr":
        from srlib.dasr.config import DASRConfig
        from srlib.dasr.network import BlindSR

        model = BlindSR(_config(DASRConfig, _section(state, "model"), name, kind))
        weights = _part(state, "model", name, kind)
        check_state_dict(model, weights, f"{name} (srlib DASR)")
        model.load_state_dict(weights)
        return model.eval(), f"srlib DASR, step {state.get('step')}"
    if kind == "usrdu-srn":
        from srlib.usrdu.official import load_esrgan

        key = "net_g_ema" if use_ema and isinstance(state.get("net_g_ema"), Mapping) else "net_g"
        return load_esrgan(_part(state, key, name, kind)), f"srlib USR-DU SRN ({key}), step {state.get('step')}"
    if kind == "usrdu-dsn":
        from srlib.usrdu.official import load_dsn

        scale = _section(state, "dsn").get("scale", 4)
        return load_dsn(_part(state, "dsn", name, kind), scale=scale), f"srlib USR-DU DSN, step {state.get('step')}"
    if kind == "dasr-official":
        from srlib.dasr.official import load_official

        return load_official(state, scale=None), "official DASR weights"
    if kind in ("esrgan", "esrgan-basicsr", "usrdu-srn-official"):
        from srlib.usrdu.official import load_esrgan

        return load_esrgan(state), KINDS[kind]
    from srlib.usrdu.official import load_dsn  # usrdu-dsn-official

    return load_dsn(state), KINDS[kind]


def _name(checkpoint) -> str:
    return "the checkpoint" if isinstance(checkpoint, Mapping) else str(checkpoint)


def _resolve(checkpoint):
    """``"zoo:NAME"`` -> the zoo entry's verified local file (:func:`srlib.zoo.path`); anything else unchanged."""
    if isinstance(checkpoint, str) and checkpoint.startswith("zoo:"):
        from srlib import zoo  # here, not at the top: the zoo is only needed for zoo names

        return zoo.path(checkpoint[len("zoo:"):])
    return checkpoint


def _scale_of(model: torch.nn.Module) -> int:
    return int(getattr(model, "scale", None) or model.cfg.scale)


def load_model(checkpoint: str | os.PathLike | Mapping, *, use_ema: bool = True) -> LoadedModel:
    """Build the model of any checkpoint srlib knows (see the module docstring), in eval mode on the CPU.

    Args:
        checkpoint: a file path (read with ``weights_only=True``), ``"zoo:NAME"`` (a model zoo entry, see
            ``srlib weights list``) or an already loaded mapping.
        use_ema: for a USR-DU SRN run, take the EMA generator ``net_g_ema`` when it exists (the paper's model).

    Raises:
        CheckpointError: missing, unreadable or unsafe file; unknown layout; keys or shapes that do not match
            (:class:`~srlib.checkpoints.StateDictMismatch`, with a diff); a zoo file that fails its checksum.
        DataNotFound: a zoo entry that is not on this machine (the message says how to get it).
        UsageError: an unknown zoo name.
    """
    name = _name(checkpoint)
    checkpoint = _resolve(checkpoint)
    state = checkpoint if isinstance(checkpoint, Mapping) else load_checkpoint(checkpoint, map_location="cpu")
    kind = detect_kind(state, name)
    model, source = _build(state, kind, name, use_ema)
    return LoadedModel(model, kind, _scale_of(model), f"{name}: {source}")


def _device(device: str | torch.device | None) -> torch.device:
    """``device`` checked (a bad name or an absent CUDA is a UsageError), default CUDA when available."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UsageError(f"unknown device {device!r} ({exc})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {device!r} asked for, but no CUDA device is available here; use --device cpu")
    return dev


def load_upscaler(checkpoint: str | os.PathLike | Mapping, device: str | torch.device | None = None, *,
                  tile: int | None = None, overlap: int = 16, use_ema: bool = True, amp: str | None = None,
                  compile: bool = False):
    """Load any SR checkpoint as an :class:`srlib.inference.Upscaler` (model in eval mode on ``device``).

    Args:
        checkpoint: path (or loaded mapping, or ``"zoo:NAME"``) of any kind in :data:`SR_KINDS`.
        device: ``"cpu"``, ``"cuda"``, ...; default CUDA when available.
        tile, overlap: tiled inference in LR pixels (``tile=None``: whole image), passed to the Upscaler.
        use_ema: USR-DU SRN runs: use the EMA weights when present.
        amp: ``"bf16"`` / ``"fp16"``: run the network under autocast (CUDA; bf16 also on a CPU with native bf16).
        compile: ``torch.compile`` the networks an inference call runs (:func:`srlib.accel.compile_for_inference`).

    Returns:
        ``Upscaler``: callable ``lr (B, 3, h, w) float32 [0, 1] -> sr (B, 3, s*h, s*w)`` clamped to [0, 1], with
        ``.scale``.

    Raises:
        CheckpointError: not an SR model (a DSN, the Model 5 oracle), or unreadable (see :func:`load_model`).
        UsageError: a bad device, tile or overlap, or an unknown zoo name.
        DataNotFound: a zoo entry that is not on this machine.
    """
    from srlib.inference import Upscaler

    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int) or tile <= 0
                             or not 0 <= overlap < tile):
        raise UsageError(f"need an int tile > 0 and 0 <= overlap < tile, got tile={tile!r}, overlap={overlap!r}")
    dev = _device(device)
    loaded, name = load_model(checkpoint, use_ema=use_ema), _name(checkpoint)
    if loaded.kind not in SR_KINDS:
        raise CheckpointError(f"{name} is {KINDS[loaded.kind]}, not an SR model: it maps HR to LR images; give the "
                              "SR network trained on its output (srlib train usrdu-srn) instead")
    if getattr(loaded.model, "oracle", False):
        raise CheckpointError(f"{name} is the Model 5 oracle: it needs the true kernel, not just an LR image, so it "
                              "cannot upscale on its own (evaluate it with the true kernels, see srlib.dasr.ablations)")
    from srlib.accel import Speed, compile_for_inference

    Speed(amp=amp).check(dev)
    model = loaded.model.to(dev).eval()
    if compile:
        compile_for_inference(model)
    return Upscaler(model, loaded.scale, tile=tile, overlap=overlap, amp=amp)


def from_official(kind: str, state_dict_or_path, **kwargs) -> torch.nn.Module:
    """Build the srlib model of an official ``kind`` and load the authors' weights into it (eval mode).

    * ``"dasr"``: DASR ``BlindSR`` (keys ``G.*`` and ``E.encoder_q.*``), :func:`srlib.dasr.official.load_official`.
    * ``"usrdu-dsn"``: the USR-DU downsampling network ``gen`` state dict, :func:`srlib.usrdu.official.load_dsn`.
    * ``"esrgan"``: ESRGAN ``RRDBNet`` in the original or BasicSR names, or the USR-DU SRN file,
      :func:`srlib.usrdu.official.load_esrgan`.

    Every loader checks every key and shape and raises :class:`~srlib.checkpoints.StateDictMismatch` with a diff.

    >>> from_official("srgan", {})
    Traceback (most recent call last):
    ...
    srlib.errors.UsageError: unknown kind 'srgan'; expected one of ('dasr', 'usrdu-dsn', 'esrgan')
    """
    if kind == "dasr":
        from srlib.dasr.official import load_official

        return load_official(state_dict_or_path, **kwargs)
    if kind == "usrdu-dsn":
        from srlib.usrdu.official import load_dsn

        return load_dsn(state_dict_or_path, **kwargs)
    if kind == "esrgan":
        from srlib.usrdu.official import load_esrgan

        return load_esrgan(state_dict_or_path, **kwargs)
    raise UsageError(f"unknown kind {kind!r}; expected one of {OFFICIAL_FAMILIES}")
