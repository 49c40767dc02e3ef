"""The ablation study of DASR (paper Sec. 4.2, Table 1) as configurations, not as copies of the network.

| model | representation learning | DA conv kernel | modulation | oracle | how srlib builds it |
|---|---|---|---|---|---|
| Model 1 | no  | yes | yes | no  | same net; no L_degrad, no encoder pre-training stage (trainer flags) |
| Model 2 | yes | no  | no  | no  | ``block="concat"``: representation stretched and concatenated, vanilla convs |
| Model 3 | yes | yes | no  | no  | ``modulation=False`` |
| Model 4 | yes | yes | yes | no  | the full DASR |
| Model 5 | --  | yes | yes | yes | ``source="kernel"``: 5 FC layers map the true kernel to the representation |

"We adjust the number of channels in models 2 and 3 to ensure comparable model sizes" (Sec. 4.2): srlib picks the
``n_feats`` of Models 2 and 3 whose inference-path parameter count (SR net + encoder trunk) is closest to Model 4's
at the same profile (:func:`matched_width`). The paper does not give the widths it used.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from srlib.dasr.config import DASRConfig

#: Kernel widths of Table 1 (x4, Set14).
TABLE1_SIGMAS = (0.2, 1.0, 1.8, 2.6, 3.4)


@dataclass(frozen=True)
class Ablation:
    """One row of Table 1.

    Attributes:
        name: ``"model1"`` ... ``"model5"``.
        label: short human-readable description.
        model: :class:`DASRConfig` field overrides.
        contrastive: train with L_degrad (the MoCo loss).
        pretrain_encoder: run the encoder-only stage 1 before the joint stage 2.
        match_width: adjust ``n_feats`` to Model 4's parameter count.
        paper_psnr: the paper's Table 1 PSNR (dB, x4 Set14) at :data:`TABLE1_SIGMAS`.
    """

    name: str
    label: str
    model: dict = field(default_factory=dict)
    contrastive: bool = True
    pretrain_encoder: bool = True
    match_width: bool = False
    paper_psnr: tuple = ()


ABLATIONS = {
    "model1": Ablation("model1", "no degradation representation learning", {}, contrastive=False,
                       pretrain_encoder=False, paper_psnr=(28.46, 28.40, 28.30, 27.77, 26.79)),
    "model2": Ablation("model2", "vanilla convs on [features, stretched representation]", {"block": "concat"},
                       match_width=True, paper_psnr=(28.49, 28.38, 27.99, 27.54, 26.72)),
    "model3": Ablation("model3", "DA conv without the modulation branch", {"modulation": False},
                       match_width=True, paper_psnr=(28.42, 28.30, 28.21, 27.97, 27.33)),
    "model4": Ablation("model4", "full DASR", {}, paper_psnr=(28.50, 28.45, 28.40, 28.16, 27.58)),
    "model5": Ablation("model5", "oracle: representation from the true kernel (5 FC)", {"source": "kernel"},
                       contrastive=False, pretrain_encoder=False, paper_psnr=(28.60, 28.67, 28.69, 28.48, 27.90)),
}


def get_ablation(name: str) -> Ablation:
    """The :class:`Ablation` called ``name``; ``ValueError`` listing the valid names otherwise.

    >>> get_ablation("model3").model
    {'modulation': False}
    """
    if name not in ABLATIONS:
        raise ValueError(f"unknown ablation {name!r}; expected one of {sorted(ABLATIONS)}")
    return ABLATIONS[name]


def inference_parameters(cfg: DASRConfig) -> int:
    """Parameters on the inference path (SR net + encoder trunk, or + oracle FCs), counted without allocating
    memory (the model is built on the ``meta`` device).

    >>> inference_parameters(DASRConfig())
    5837699
    """
    from srlib.dasr.network import BlindSR, parameter_report

    with torch.device("meta"):
        model = BlindSR(replace(cfg, queue_size=1))  # the queue is a buffer: its size does not change the count
    return parameter_report(model)["inference"]


def matched_width(cfg: DASRConfig, target: int) -> DASRConfig:
    """``cfg`` with the ``n_feats`` whose inference-path parameter count is closest to ``target``.

    The count grows monotonically with ``n_feats``, so a bisection over [1, 4 * n_feats] finds the crossing; the
    closer of its two neighbours wins. Widths the config rejects (not a multiple of ``reduction`` with the
    modulation branch on) are not searched: such a config is returned unchanged.
    """
    try:
        replace(cfg, n_feats=cfg.n_feats + 1)
    except ValueError:
        return cfg
    lo, hi = 1, 4 * cfg.n_feats  # invariant: count(lo - 1) < target <= count(hi), or hi is the cap
    while lo < hi:
        mid = (lo + hi) // 2
        if inference_parameters(replace(cfg, n_feats=mid)) < target:
            lo = mid + 1
        else:
            hi = mid
    cands = [replace(cfg, n_feats=n) for n in {max(1, lo - 1), lo}]
    return min(cands, key=lambda c: (abs(inference_parameters(c) - target), c.n_feats))


def ablation_config(name: str, base: DASRConfig) -> DASRConfig:
    """The model config of ablation ``name`` built from the full-model config ``base`` (any profile).

    >>> ablation_config("model2", DASRConfig()).block
    'concat'
    """
    abl = get_ablation(name)
    cfg = replace(base, **abl.model)
    if abl.match_width:
        cfg = matched_width(cfg, inference_parameters(base))
    return cfg


def ablation_table(base: DASRConfig) -> list[dict]:
    """One dict per model: name, label, n_feats and inference-path parameter count at ``base``'s sizes."""
    rows = []
    for name, abl in ABLATIONS.items():
        cfg = ablation_config(name, base)
        rows.append({"model": name, "label": abl.label, "n_feats": cfg.n_feats, "params": inference_parameters(cfg)})
    return rows
