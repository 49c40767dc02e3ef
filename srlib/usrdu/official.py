"""Load the authors' released weights: the USR-DU DSN ``gen`` state dict and ESRGAN RRDBNet weights.

Every loader checks every key and every shape against srlib's model and raises
:class:`srlib.checkpoints.StateDictMismatch` with the missing, unexpected and mis-shaped keys named.
Reached through ``srlib.models.from_official("usrdu-dsn" | "esrgan", ...)`` and :func:`srlib.models.load_model`.
"""
from __future__ import annotations

import re
from typing import Mapping

import torch

from srlib.checkpoints import StateDictMismatch, check_state_dict, read_state_dict
from srlib.usrdu.dsn import DSN, DSNConfig
from srlib.usrdu.rrdbnet import RRDBNet, RRDBNetConfig

# BasicSR RRDBNet name -> original ESRGAN name (same table as BasicSR's scripts/model_conversion/convert_esrgan_model)
_BASICSR_TO_ESRGAN = [
    (r"^body\.(\d+)\.rdb(\d)\.", r"RRDB_trunk.\1.RDB\2."),
    (r"^conv_body\.", "trunk_conv."),
    (r"^conv_up1\.", "upconv1."),
    (r"^conv_up2\.", "upconv2."),
    (r"^conv_hr\.", "HRconv."),
]


def _unwrap(sd: Mapping, keys: tuple) -> dict:
    """Return the first nested state dict under one of ``keys`` if ``sd`` is a wrapper (e.g. a training checkpoint)."""
    for k in keys:
        if k in sd and isinstance(sd[k], Mapping):
            return dict(sd[k])
    return dict(sd)


def load_dsn(state_dict_or_path, scale: int = 4, strict_scale: bool = True) -> DSN:
    """Build the DSN from the authors' ``gen`` state dict (or a ``training_down_*.pth`` / ``model_down_*.pth`` file,
    whose ``gen`` entry is used). Widths and block count are read from the tensors; ``scale`` must match the number of
    stride-2 convs. Returns the model in eval mode; its raw heads are in official units (see :mod:`srlib.usrdu.dsn`).

    Raises:
        StateDictMismatch: naming every missing, unexpected or mis-shaped key.
    """
    sd = _unwrap(read_state_dict(state_dict_or_path), ("gen",))
    w = sd.get("block_input.0.weight")
    if w is None:
        raise StateDictMismatch("usrdu-dsn: no 'block_input.0.weight' key; is this the DSN 'gen' state dict? "
                                f"first keys: {sorted(sd)[:8]}")
    blocks = {int(m.group(1)) for k in sd if (m := re.match(r"res_blocks\.(\d+)\.", k))}
    n_down = sum(1 for k in sd if re.fullmatch(r"down_sample\.\d+\.weight", k) and sd[k].dim() == 4)
    if strict_scale and n_down != scale // 2:
        raise StateDictMismatch(f"usrdu-dsn: state dict has {n_down} stride-2 convs, i.e. scale {2 ** n_down}, "
                                f"but scale={scale} was asked")
    per = [sd[f"per_var.{i}.weight"].shape[0] for i in (0, 3, 6, 9) if f"per_var.{i}.weight" in sd]
    cfg = DSNConfig(n_feats=w.shape[0], n_res_blocks=(max(blocks) + 1) if blocks else 0, scale=scale,
                    pixel_uncertainty=any(k.startswith("var.") for k in sd),
                    feature_uncertainty=any(k.startswith("per_var.") for k in sd),
                    sigma_widths=tuple(per) if len(per) == 4 else DSNConfig().sigma_widths)
    model = DSN(cfg)
    check_state_dict(model, sd, "usrdu-dsn")
    model.load_state_dict(sd, strict=True)
    return model.eval()


def esrgan_keys_from_basicsr(sd: Mapping[str, torch.Tensor]) -> dict:
    """Rename BasicSR ``RRDBNet`` keys (``body.N.rdb1.conv1``, ``conv_body``, ``conv_up1`` ...) to the original ESRGAN
    names srlib uses (``RRDB_trunk.N.RDB1.conv1``, ``trunk_conv``, ``upconv1`` ...). Other keys pass unchanged.

    >>> sorted(esrgan_keys_from_basicsr({"body.3.rdb2.conv5.bias": 0, "conv_hr.weight": 0}))
    ['HRconv.weight', 'RRDB_trunk.3.RDB2.conv5.bias']
    """
    out = {}
    for k, v in sd.items():
        new = k
        for pat, rep in _BASICSR_TO_ESRGAN:
            new = re.sub(pat, rep, new)
        if new in out:
            raise StateDictMismatch(f"esrgan: keys {k!r} and another both map to {new!r}")
        out[new] = v
    return out


def load_esrgan(state_dict_or_path, **cfg_overrides) -> RRDBNet:
    """Build an ESRGAN RRDBNet from weights in the original ESRGAN names or in BasicSR names.

    Accepts a bare state dict, a BasicSR checkpoint (``params_ema`` preferred over ``params``), an srlib SRN run
    (``net_g_ema`` preferred over ``net_g``; how the ``small`` SRN starts from the ``small`` PSNR init) or a USR-DU SRN
    checkpoint (keys ``RRDBNet_U.*`` next to the frozen DSN copy ``RRDBNet_var.*``; the latter is ignored).
    ``nf``, ``nb`` and ``gc`` are inferred from the tensors unless given in ``cfg_overrides``.

    Raises:
        StateDictMismatch: naming every missing, unexpected or mis-shaped key.
    """
    # BasicSR checkpoints keep the weights under params(_ema); srlib SRN runs (usrdu-srn final.pt) under net_g(_ema).
    sd = _unwrap(read_state_dict(state_dict_or_path), ("params_ema", "params", "net_g_ema", "net_g"))
    if any(k.startswith("RRDBNet_U.") for k in sd):
        sd = {k[len("RRDBNet_U."):]: v for k, v in sd.items() if k.startswith("RRDBNet_U.")}
    if any(k.startswith("body.") or k.startswith("conv_body.") for k in sd):
        sd = esrgan_keys_from_basicsr(sd)
    if "conv_first.weight" not in sd:
        raise StateDictMismatch(f"esrgan: no 'conv_first.weight' key; first keys: {sorted(sd)[:8]}")
    blocks = {int(m.group(1)) for k in sd if (m := re.match(r"RRDB_trunk\.(\d+)\.", k))}
    gc_w = sd.get("RRDB_trunk.0.RDB1.conv1.weight")
    inferred = dict(nf=sd["conv_first.weight"].shape[0], nb=(max(blocks) + 1) if blocks else 0,
                    gc=gc_w.shape[0] if gc_w is not None else 32, in_nc=sd["conv_first.weight"].shape[1])
    if "conv_last.weight" in sd:
        inferred["out_nc"] = sd["conv_last.weight"].shape[0]
    model = RRDBNet(RRDBNetConfig(**{**inferred, **cfg_overrides}))
    check_state_dict(model, sd, "esrgan")
    model.load_state_dict(sd, strict=True)
    return model.eval()
