"""The DASR super-resolution network ``G`` and the ``BlindSR`` wrapper (paper Sec. 3.2, Fig. 2; official
``model/blindsr.py`` classes ``DASR`` and ``BlindSR``).

``BlindSR`` has two children, exactly as in the official code, so that state-dict keys match (``G.*``, ``E.queue``,
``E.queue_ptr``, ``E.encoder_q.*``, ``E.encoder_k.*``; 519 keys at x4):

* ``E``: :class:`srlib.dasr.moco.MoCo` (degradation encoder + momentum key encoder + queue), or for the Model 5
  oracle an :class:`srlib.dasr.oracle.OracleEncoder` fed with the true kernel;
* ``G``: :class:`DASRNet`, an RCAN-style residual-in-residual net of DA blocks conditioned on the representation.

**Pixel scale.** srlib's public entry points take and return images in **[0, 1]**. The official network works on
[0, 255] (``rgb_range=255``; the MeanShift bias and the L1 loss of the official trainer live on that scale). The
conversion happens in exactly one place, the public methods of :class:`BlindSR` (:meth:`BlindSR.represent`,
:meth:`BlindSR.sr_from_representation`, :meth:`BlindSR.contrast`, :meth:`BlindSR.forward_train`), which multiply the
input by :data:`RGB_RANGE` on entry and divide the SR output by it on exit. ``G``, ``E`` and everything below them see
[0, 255] exactly like the official modules, so official weights give official outputs (divided by 255). The trainer
multiplies its [0, 1] L1 by 255 to keep the official 1:1 balance between L1 and the contrastive loss.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from srlib.dasr.config import DASRConfig
from srlib.dasr.daconv import DAG, default_conv
from srlib.dasr.encoder import SLOPE, Encoder
from srlib.dasr.moco import MoCo
from srlib.dasr.oracle import OracleEncoder

#: Official pixel range; see the module docstring for where it is applied.
RGB_RANGE = 255.0
#: DIV2K RGB mean used by the official MeanShift layers (EDSR ``common.MeanShift``), std 1.
RGB_MEAN = (0.4488, 0.4371, 0.4040)


class MeanShift(nn.Conv2d):
    """Frozen 1x1 conv adding ``sign * 255 * RGB_MEAN`` (EDSR/DASR ``common.MeanShift``; 12 frozen parameters).

    Its weight and bias stay ``nn.Parameter``s with ``requires_grad=False`` so that they appear in the state dict under
    the official names (``G.sub_mean.weight`` ...), yet no optimizer ever updates them.
    """

    def __init__(self, sign: int):
        super().__init__(3, 3, kernel_size=1)
        with torch.no_grad():
            self.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.bias.copy_(sign * RGB_RANGE * torch.tensor(RGB_MEAN))
        for p in self.parameters():
            p.requires_grad = False


class Upsampler(nn.Sequential):
    """EDSR ``Upsampler`` without activation: x2/x4 = (conv C->4C + PixelShuffle(2)) once/twice (keys ``0``, ``2``);
    x3 = conv C->9C + PixelShuffle(3)."""

    def __init__(self, scale: int, n_feats: int):
        layers: list[nn.Module] = []
        if scale in (2, 4):
            for _ in range(int(math.log2(scale))):
                layers += [default_conv(n_feats, 4 * n_feats, 3), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [default_conv(n_feats, 9 * n_feats, 3), nn.PixelShuffle(3)]
        else:
            raise ValueError(f"scale must be 2, 3 or 4, got {scale}")
        super().__init__(*layers)


class DASRNet(nn.Module):
    """Degradation-aware SR network (official ``DASR``), operating on the **[0, 255]** scale.

    Shapes: x (B, 3, h, w) float in [0, 255]; fea (B, rep_dim) representation -> (B, 3, s*h, s*w) float, roughly
    [0, 255], **not clamped** (as in the official code).
    """

    def __init__(self, cfg: DASRConfig = DASRConfig()):
        super().__init__()
        c = cfg.n_feats
        self.n_groups, self.scale = cfg.n_groups, cfg.scale
        self.sub_mean = MeanShift(-1)
        self.add_mean = MeanShift(+1)
        self.head = nn.Sequential(default_conv(3, c, 3))
        # compress (not in the paper): one Linear shared by all DA convs maps the representation to C dims.
        self.compress = nn.Sequential(nn.Linear(cfg.rep_dim, c, bias=False), nn.LeakyReLU(SLOPE, True))
        groups = [DAG(c, 3, cfg.reduction, cfg.n_blocks, block=cfg.block, modulation=cfg.modulation)
                  for _ in range(cfg.n_groups)]
        self.body = nn.Sequential(*groups, default_conv(c, c, 3))
        self.tail = nn.Sequential(Upsampler(cfg.scale, c), default_conv(c, 3, 3))

    def forward(self, x: torch.Tensor, fea: torch.Tensor) -> torch.Tensor:
        d = self.compress(fea)  # (B, C), computed once, shared by every DA conv
        x = self.head(self.sub_mean(x))  # (B, C, h, w)
        res = x
        for i in range(self.n_groups):
            res = self.body[i](res, d)
        res = self.body[-1](res) + x  # global skip
        return self.add_mean(self.tail(res))  # (B, 3, s*h, s*w)


def _check_lr(lr: torch.Tensor, what: str = "lr") -> None:
    """Type and shape only: read from the tensor's metadata, so no device sync in a forward pass. Values (range,
    NaN) are checked once per call at the entry points (:func:`srlib.checks.check_image`, used by
    :mod:`srlib.inference`), not per training step or per tile."""
    if not isinstance(lr, torch.Tensor) or not lr.is_floating_point():
        raise TypeError(f"{what} must be a float tensor, got {getattr(lr, 'dtype', type(lr))}")
    if lr.dim() != 4 or lr.shape[1] != 3:
        raise ValueError(f"{what} must be (B, 3, h, w) RGB, got shape {tuple(lr.shape)}")


class BlindSR(nn.Module):
    """DASR: degradation encoder ``E`` + degradation-aware SR net ``G`` (official ``BlindSR``).

    All public methods take LR images (B, 3, h, w) float in **[0, 1]** and return SR images (B, 3, s*h, s*w) float,
    approximately in [0, 1] and **not clamped** (clamp/quantise for display or metrics).

    >>> from srlib.dasr.config import DASRConfig
    >>> torch.manual_seed(0) and None
    >>> model = BlindSR(DASRConfig.for_profile("tiny", scale=2)).eval()
    >>> tuple(model(torch.rand(1, 3, 12, 10)).shape)
    (1, 3, 24, 20)
    """

    def __init__(self, cfg: DASRConfig = DASRConfig(), generator: torch.Generator | None = None):
        super().__init__()
        self.cfg, self.scale = cfg, cfg.scale
        self.G = DASRNet(cfg)
        if cfg.source == "encoder":
            self.E = MoCo(Encoder(cfg.enc_widths), cfg.queue_size, cfg.momentum, cfg.temperature, generator)
        else:  # Model 5: representation from the true degradation
            self.E = OracleEncoder(cfg.kernel_size, cfg.rep_dim)

    @property
    def oracle(self) -> bool:
        return self.cfg.source == "kernel"

    def represent(self, lr: torch.Tensor, *, kernel: torch.Tensor | None = None,
                  noise: torch.Tensor | None = None) -> torch.Tensor:
        """Degradation representation (B, rep_dim) of ``lr`` (B, 3, h, w) in [0, 1], pooled over the whole image.

        Uses the query encoder only, without MoCo side effects. In eval mode BN uses running statistics (official
        test behaviour). The Model 5 oracle ignores ``lr`` and needs ``kernel`` (B, 21, 21) and optionally ``noise``
        (B,) on the 0-255 scale.
        """
        _check_lr(lr)
        if self.oracle:
            return self.E(kernel, noise)
        return self.E.encoder_q(lr * RGB_RANGE)[0]

    def sr_from_representation(self, lr: torch.Tensor, rep: torch.Tensor) -> torch.Tensor:
        """SR of ``lr`` (B, 3, h, w) in [0, 1] given a representation ``rep`` (B, rep_dim) -> (B, 3, s*h, s*w)."""
        _check_lr(lr)
        if rep.dim() != 2 or rep.shape != (lr.shape[0], self.cfg.rep_dim):
            raise ValueError(f"representation must be (B, {self.cfg.rep_dim}) with B={lr.shape[0]}, got {tuple(rep.shape)}")
        return self.G(lr * RGB_RANGE, rep) / RGB_RANGE

    def forward(self, lr: torch.Tensor, *, kernel: torch.Tensor | None = None,
                noise: torch.Tensor | None = None) -> torch.Tensor:
        """Inference (official eval-mode ``BlindSR.forward``): representation of the whole image, then SR."""
        return self.sr_from_representation(lr, self.represent(lr, kernel=kernel, noise=noise))

    def contrast(self, lr_q: torch.Tensor, lr_k: torch.Tensor):
        """One MoCo step on query/key patches (N, 3, h, w) in [0, 1] (momentum update and enqueue happen here).

        Returns ``(fea_q (N, rep_dim), logits (N, 1 + K), labels (N,))``; needs train mode.
        """
        if self.oracle or not self.training:
            raise RuntimeError("contrast() needs the contrastive encoder in train mode")
        _check_lr(lr_q, "lr_q")
        _check_lr(lr_k, "lr_k")
        return self.E(lr_q * RGB_RANGE, lr_k * RGB_RANGE)

    def forward_train(self, lr_pair: torch.Tensor, *, contrastive: bool = True, kernel: torch.Tensor | None = None,
                      noise: torch.Tensor | None = None):
        """Official train-mode forward: ``lr_pair`` (B, 2, 3, h, w) in [0, 1], query = patch 0, key = patch 1.

        Returns ``(sr (B, 3, s*h, s*w) in ~[0, 1] for the query patch, logits or None, labels or None)``. With
        ``contrastive=False`` (Model 1) or the oracle (Model 5) no MoCo step is taken and logits/labels are None.
        """
        if lr_pair.dim() != 5 or lr_pair.shape[1] != 2:
            raise ValueError(f"lr_pair must be (B, 2, 3, h, w), got {tuple(lr_pair.shape)}")
        query, key = lr_pair[:, 0], lr_pair[:, 1]
        logits = labels = None
        if contrastive and not self.oracle:
            fea, logits, labels = self.contrast(query, key)
        else:
            fea = self.represent(query, kernel=kernel, noise=noise)
        return self.sr_from_representation(query, fea), logits, labels


def count_parameters(module: nn.Module, trainable: bool | None = True) -> int:
    """Number of parameter elements; ``trainable=True``/``False`` counts only those with/without ``requires_grad``,
    ``None`` counts all."""
    return sum(p.numel() for p in module.parameters() if trainable is None or p.requires_grad == trainable)


def parameter_report(model: BlindSR) -> dict:
    """Parameter counts in the layout of the reference table (``dasr-official.md`` Sec. 2).

    Keys: ``G`` (trainable), ``G_frozen`` (MeanShift), ``encoder`` (encoder_q incl. MLP or oracle FCs), ``trunk``
    (encoder conv trunk), ``trainable`` (G + encoder), ``inference`` (G + trunk: what the paper's "#Params" counts).
    """
    g = count_parameters(model.G)
    enc = model.E if model.oracle else model.E.encoder_q
    e = count_parameters(enc)
    trunk = e if model.oracle else enc.trunk_parameters()
    return {"G": g, "G_frozen": count_parameters(model.G, False), "encoder": e, "trunk": trunk,
            "trainable": count_parameters(model), "inference": g + trunk}
