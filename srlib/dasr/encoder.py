"""The degradation encoder of DASR (paper Sec. 3.2.1, Fig. 2(a); official ``model/blindsr.py`` class ``Encoder``).

Six 3x3 conv + BatchNorm + LeakyReLU(0.1) layers (two of them with stride 2), global average pooling, and a two-layer
MLP projection head. ``forward`` returns both the pooled feature ``fea`` (the *degradation representation* that the SR
net consumes) and the projection ``out`` (used only by the contrastive loss), exactly like the official code.

Pixel scale: like every srlib.dasr submodule, the encoder works on the official **[0, 255]** scale; the [0, 1] public
entry points live on :class:`srlib.dasr.network.BlindSR`.
"""
from __future__ import annotations

import torch
from torch import nn

#: LeakyReLU slope used everywhere in DASR (official ``nn.LeakyReLU(0.1, True)``).
SLOPE = 0.1


def _conv_bn_act(c_in: int, c_out: int, stride: int) -> list:
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.BatchNorm2d(c_out), nn.LeakyReLU(SLOPE, True)]


class Encoder(nn.Module):
    """Degradation encoder: LR image -> (representation ``fea``, projection ``out``).

    The Sequential ``E`` keeps the official indices (conv at 0, 3, 6, 9, 12, 15; BN at 1, 4, ...; pooling at 18) so
    that official state-dict keys such as ``E.encoder_q.E.16.running_var`` load unchanged.

    Args:
        widths: output channels of the three conv pairs; official (64, 128, 256). The last one is the representation
            dimension ``rep_dim``; the MLP head maps rep_dim -> rep_dim -> rep_dim.

    Shapes:
        x: (B, 3, h, w) float, **[0, 255]** (no mean subtraction, as in the official code), h, w >= 1.
        returns ``fea`` (B, rep_dim) and ``out`` (B, rep_dim), float, unbounded.

    >>> enc = Encoder((8, 16, 32))
    >>> fea, out = enc(torch.rand(2, 3, 24, 24) * 255)
    >>> tuple(fea.shape), tuple(out.shape)
    ((2, 32), (2, 32))
    """

    def __init__(self, widths: tuple = (64, 128, 256)):
        super().__init__()
        w1, w2, w3 = (int(w) for w in widths)
        self.E = nn.Sequential(
            *_conv_bn_act(3, w1, 1),
            *_conv_bn_act(w1, w1, 1),
            *_conv_bn_act(w1, w2, 2),  # 48x48 LR patch -> 24x24
            *_conv_bn_act(w2, w2, 1),
            *_conv_bn_act(w2, w3, 2),  # -> 12x12
            *_conv_bn_act(w3, w3, 1),
            nn.AdaptiveAvgPool2d(1),  # the whole patch/image is pooled into one vector
        )
        self.mlp = nn.Sequential(nn.Linear(w3, w3), nn.LeakyReLU(SLOPE, True), nn.Linear(w3, w3))
        self.rep_dim = w3

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"Encoder expects (B, 3, h, w) images, got shape {tuple(x.shape)}")
        fea = self.E(x).flatten(1)  # (B, rep_dim): the degradation representation
        out = self.mlp(fea)  # (B, rep_dim): projection used only by the InfoNCE loss
        return fea, out

    def trunk_parameters(self) -> int:
        """Number of parameters of the conv trunk (what inference uses; official x4: 1,147,200)."""
        return sum(p.numel() for p in self.E.parameters())
