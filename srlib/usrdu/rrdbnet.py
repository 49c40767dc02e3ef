"""ESRGAN RRDBNet, the USR-DU super-resolution network (SRN).

Paper Sec. 3.2: "we adopt the same network architecture of ESRGAN". The official SRN
(``SRN/code/archs/rrdbnet_two_vgg19_arch.py``) uses the *original ESRGAN repository* version with its key names
(``conv_first``, ``RRDB_trunk.N.RDB1.conv1``, ``trunk_conv``, ``upconv1``, ``upconv2``, ``HRconv``, ``conv_last``);
we keep them so ``RRDB_PSNR_x4.pth`` and the authors' SRN weights load. BasicSR-named weights are remapped by
:func:`srlib.usrdu.official.load_esrgan`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from srlib.config import check_profile


@dataclass(frozen=True)
class RRDBNetConfig:
    """RRDBNet size (always x4: two nearest-neighbour x2 upsampling stages, as in ESRGAN).

    Attributes:
        nf: trunk width. paper: 64 (ESRGAN; SRN yml ``num_feat: 64``).
        nb: number of RRDB blocks. paper: 23 (ESRGAN; SRN yml ``num_block: 23``).
        gc: growth channels in each dense block. paper: 32 (ESRGAN default).
    """

    nf: int = 64
    nb: int = 23
    gc: int = 32
    in_nc: int = 3
    out_nc: int = 3

    @property
    def scale(self) -> int:
        return 4

    #: Architecture sizes by profile; the "official" training profile uses the paper sizes.
    PROFILES = ("tiny", "paper")

    @classmethod
    def for_profile(cls, profile: str) -> "RRDBNetConfig":
        """``paper``: ESRGAN x4 (16,697,987 parameters). ``tiny``: nf 16, 2 blocks, gc 8."""
        return {"paper": cls(), "tiny": cls(nf=16, nb=2, gc=8)}[check_profile(profile, cls.PROFILES)]


class ResidualDenseBlock_5C(nn.Module):  # noqa: N801 - official class name
    """Five densely connected 3x3 convs; output scaled by 0.2 and added to the input (ESRGAN)."""

    def __init__(self, nf: int = 64, gc: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(nf, gc, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf + gc, gc, 3, 1, 1)
        self.conv3 = nn.Conv2d(nf + 2 * gc, gc, 3, 1, 1)
        self.conv4 = nn.Conv2d(nf + 3 * gc, gc, 3, 1, 1)
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lrelu = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
        x1 = lrelu(self.conv1(x))
        x2 = lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x  # residual scaling 0.2 (ESRGAN Sec. 3.2)


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks, then 0.2-scaled residual."""

    def __init__(self, nf: int, gc: int = 32):
        super().__init__()
        self.RDB1 = ResidualDenseBlock_5C(nf, gc)  # noqa: N815 - official key names
        self.RDB2 = ResidualDenseBlock_5C(nf, gc)  # noqa: N815
        self.RDB3 = ResidualDenseBlock_5C(nf, gc)  # noqa: N815

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.RDB3(self.RDB2(self.RDB1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN generator, x4.

    Call with ``lr: (B, 3, h, w) float`` (nominally [0, 1]); returns ``(B, 3, 4h, 4w)`` unclamped.

    >>> net = RRDBNet(RRDBNetConfig.for_profile("tiny"))
    >>> tuple(net(torch.rand(1, 3, 8, 12)).shape)
    (1, 3, 32, 48)
    """

    def __init__(self, cfg: RRDBNetConfig = RRDBNetConfig()):
        super().__init__()
        self.cfg = cfg
        nf = cfg.nf
        self.conv_first = nn.Conv2d(cfg.in_nc, nf, 3, 1, 1)
        self.RRDB_trunk = nn.Sequential(*[RRDB(nf, cfg.gc) for _ in range(cfg.nb)])  # noqa: N815
        self.trunk_conv = nn.Conv2d(nf, nf, 3, 1, 1)
        self.upconv1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.upconv2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.HRconv = nn.Conv2d(nf, nf, 3, 1, 1)  # noqa: N815
        self.conv_last = nn.Conv2d(nf, cfg.out_nc, 3, 1, 1)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Kaiming-normal init scaled by 0.1 in the dense blocks (BasicSR ``default_init_weights(..., 0.1)``; the
        ESRGAN models were trained with it). Uses the global torch RNG: seed it first."""
        for m in self.RRDB_trunk.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
                m.weight.mul_(0.1)
                nn.init.zeros_(m.bias)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        if lr.dim() != 4 or lr.shape[1] != self.cfg.in_nc:
            raise ValueError(f"expected (B, {self.cfg.in_nc}, h, w), got {tuple(lr.shape)}")
        lrelu = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
        fea = self.conv_first(lr)  # (B, nf, h, w)
        fea = fea + self.trunk_conv(self.RRDB_trunk(fea))  # (B, nf, h, w)
        fea = lrelu(self.upconv1(F.interpolate(fea, scale_factor=2, mode="nearest")))  # (B, nf, 2h, 2w)
        fea = lrelu(self.upconv2(F.interpolate(fea, scale_factor=2, mode="nearest")))  # (B, nf, 4h, 4w)
        return self.conv_last(lrelu(self.HRconv(fea)))  # (B, out_nc, 4h, 4w)
