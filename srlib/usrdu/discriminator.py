"""U-Net discriminator with spectral normalisation, used by both USR-DU stages.

Paper Sec. 3.1: "We adopt U-net [Real-ESRGAN] as a DSN discriminator". The official ``DSN/discriminator/unet.py`` is
Real-ESRGAN's ``UNetDiscriminatorSN`` and the SRN config uses the same class (``network_d: UNetDiscriminatorSN``).
Parameter names (``conv0`` ... ``conv9``, spectral-norm ``weight_orig``/``weight_u``/``weight_v``) follow it so the
authors' ``dis`` state dict loads.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from srlib.config import check_profile


@dataclass(frozen=True)
class UNetDConfig:
    """U-Net discriminator size.

    Attributes:
        in_ch: input channels. paper: 3 (README flag ``--dis_inc 3``; SRN yml ``num_in_ch: 3``).
        num_feat: base width. paper: 64 (official default / SRN yml ``num_feat: 64``).
        skip_connection: additive U-Net skips. paper: True (official default).
    """

    in_ch: int = 3
    num_feat: int = 64
    skip_connection: bool = True

    #: Architecture sizes by profile; the "official" training profile uses the paper sizes.
    PROFILES = ("tiny", "paper")

    @classmethod
    def for_profile(cls, profile: str) -> "UNetDConfig":
        """``paper``: 64 features (4,376,897 parameters). ``tiny``: 8 features."""
        return {"paper": cls(), "tiny": cls(num_feat=8)}[check_profile(profile, cls.PROFILES)]


class UNetDiscriminatorSN(nn.Module):
    """Per-pixel real/fake logits.

    Call with ``x: (B, in_ch, H, W) float`` (H, W divisible by 8); returns logits ``(B, 1, H, W)``. No sigmoid.

    >>> d = UNetDiscriminatorSN(UNetDConfig(num_feat=8))
    >>> tuple(d(torch.rand(2, 3, 16, 24)).shape)
    (2, 1, 16, 24)
    """

    def __init__(self, cfg: UNetDConfig = UNetDConfig()):
        super().__init__()
        self.cfg = cfg
        nf, sn = cfg.num_feat, spectral_norm
        self.conv0 = nn.Conv2d(cfg.in_ch, nf, 3, 1, 1)
        # encoder: 4x4 stride-2 convs, spectral norm, no bias
        self.conv1 = sn(nn.Conv2d(nf, nf * 2, 4, 2, 1, bias=False))
        self.conv2 = sn(nn.Conv2d(nf * 2, nf * 4, 4, 2, 1, bias=False))
        self.conv3 = sn(nn.Conv2d(nf * 4, nf * 8, 4, 2, 1, bias=False))
        # decoder: bilinear x2 then 3x3 conv
        self.conv4 = sn(nn.Conv2d(nf * 8, nf * 4, 3, 1, 1, bias=False))
        self.conv5 = sn(nn.Conv2d(nf * 4, nf * 2, 3, 1, 1, bias=False))
        self.conv6 = sn(nn.Conv2d(nf * 2, nf, 3, 1, 1, bias=False))
        self.conv7 = sn(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv8 = sn(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(nf, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.cfg.in_ch:
            raise ValueError(f"expected (B, {self.cfg.in_ch}, H, W), got {tuple(x.shape)}")
        if x.shape[-2] % 8 or x.shape[-1] % 8:
            raise ValueError(f"U-Net discriminator needs H, W divisible by 8, got {tuple(x.shape[-2:])}")
        act = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
        up = lambda t: F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
        x0 = act(self.conv0(x))  # (B, nf, H, W)
        x1 = act(self.conv1(x0))  # (B, 2nf, H/2, W/2)
        x2 = act(self.conv2(x1))  # (B, 4nf, H/4, W/4)
        x3 = act(self.conv3(x2))  # (B, 8nf, H/8, W/8)
        x4 = act(self.conv4(up(x3)))  # (B, 4nf, H/4, W/4)
        if self.cfg.skip_connection:
            x4 = x4 + x2
        x5 = act(self.conv5(up(x4)))  # (B, 2nf, H/2, W/2)
        if self.cfg.skip_connection:
            x5 = x5 + x1
        x6 = act(self.conv6(up(x5)))  # (B, nf, H, W)
        if self.cfg.skip_connection:
            x6 = x6 + x0
        out = act(self.conv8(act(self.conv7(x6))))
        return self.conv9(out)  # (B, 1, H, W) logits
