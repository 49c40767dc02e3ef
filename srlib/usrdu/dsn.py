"""USR-DU downsampling network (DSN): HR image -> LR mean y_g, pixel uncertainty log theta, feature uncertainty log sigma.

Ning et al., IJCAI 2022, Sec. 3.1 and Fig. 3; layer by layer as in the official
``DSN/generator/resnet_uncertainty_per_vgg19.py`` (class ``De_resnet_uncertainty``). Parameter names follow that file
so that the authors' ``gen`` state dict loads unchanged (see :func:`srlib.usrdu.official.load_dsn`).

Units. The network reads HR in [0, 1]. ``y_g`` comes out in the same [0, 1] units (not clamped: the official code never
clamps it during training). The two uncertainty heads output *logarithms of Laplace scales measured in 8-bit gray
levels*, because the official losses work on images multiplied by 255 (``srlib.usrdu.losses``). Their last layer is an
ELU, so ``theta = exp(log_theta) >= 1/e`` gray level. :class:`DSNOutput` gives both the raw official-unit tensors and
the [0, 1]-unit scale ``theta01 = theta / 255`` that :mod:`srlib.usrdu.sampling` uses.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple, Optional

import torch
from torch import nn

from srlib.checks import check_image
from srlib.config import check_profile


@dataclass(frozen=True)
class DSNConfig:
    """Architecture of the DSN generator.

    Attributes:
        n_feats: trunk width. paper: 64 (official ``resnet_uncertainty_per_vgg19.py``).
        n_res_blocks: residual blocks. paper: 8 (paper Sec. 3.1 "8 residual blocks"; official default).
        scale: downscaling factor, 2 or 4 (one stride-2 conv per factor 2). paper: 4.
        pixel_uncertainty: build head B (log theta). False gives the "no uncertainty" DSN of Table 1 rows 1-2.
        feature_uncertainty: build head C (log sigma). False is official ``resnet_uncertainty.py`` (Table 1 row 3).
        sigma_widths: head C conv widths; the last one must equal the channels of the VGG19 ``conv5_4`` features
            the perceptual KL compares against. paper: (64, 128, 256, 512).
    """

    n_feats: int = 64
    n_res_blocks: int = 8
    scale: int = 4
    pixel_uncertainty: bool = True
    feature_uncertainty: bool = True
    sigma_widths: tuple = (64, 128, 256, 512)

    #: Architecture sizes by profile; the "official" training profile uses the paper sizes.
    PROFILES = ("tiny", "paper")

    @classmethod
    def for_profile(cls, profile: str, **overrides) -> "DSNConfig":
        """``paper``: the official sizes. ``tiny``: 16 features, 2 blocks, head C ending at 64 channels (to match the
        width-divided random VGG of the tiny profile, see :class:`srlib.usrdu.vgg.VGGConfig`)."""
        base = {"paper": cls(), "tiny": cls(n_feats=16, n_res_blocks=2, sigma_widths=(8, 16, 32, 64))}
        return dataclasses.replace(base[check_profile(profile, cls.PROFILES)], **overrides)


class DSNOutput(NamedTuple):
    """Raw DSN heads in official units (same order as the official ``[y_g, var, per_var]`` list).

    y_g: (B, 3, H/s, W/s) float, [0, 1] image units, unclamped.
    log_theta: (B, 3, H/s, W/s) float, log of the Laplace scale in gray levels (> -1), or None without head B.
    log_sigma: (B, C5, H/(16 s), W/(16 s)) float, log feature scale (> -1), or None without head C.
    """

    y_g: torch.Tensor
    log_theta: Optional[torch.Tensor]
    log_sigma: Optional[torch.Tensor]

    @property
    def theta01(self) -> torch.Tensor:
        """Pixel Laplace scale in [0, 1] image units: ``exp(log_theta) / 255``."""
        if self.log_theta is None:
            raise ValueError("this DSN has no pixel-uncertainty head (pixel_uncertainty=False)")
        return self.log_theta.exp() / 255.0


class ResBlock(nn.Module):
    """conv - PReLU - conv plus identity; no BN, no residual scaling (official ``ResBlock``)."""

    def __init__(self, n_feats: int):
        super().__init__()
        self.conv1 = nn.Conv2d(n_feats, n_feats, 3, padding=1)
        self.prelu = nn.PReLU()  # one shared slope, init 0.25 (official)
        self.conv2 = nn.Conv2d(n_feats, n_feats, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.prelu(self.conv1(x)))


class DSN(nn.Module):
    """The DSN generator (official ``De_resnet_uncertainty``).

    Args:
        cfg: :class:`DSNConfig`.

    Call with ``hr: (B, 3, H, W) float in [0, 1]``, H and W divisible by ``cfg.scale``; returns :class:`DSNOutput`.

    >>> net = DSN(DSNConfig.for_profile("tiny"))
    >>> out = net(torch.rand(2, 3, 64, 64))
    >>> tuple(out.y_g.shape), tuple(out.log_theta.shape), tuple(out.log_sigma.shape)
    ((2, 3, 16, 16), (2, 3, 16, 16), (2, 64, 1, 1))
    >>> bool((out.log_theta > -1).all())  # ELU output: theta >= 1/e gray level
    True
    """

    def __init__(self, cfg: DSNConfig = DSNConfig()):
        super().__init__()
        if cfg.scale not in (2, 4):
            raise ValueError(f"DSN supports scale 2 or 4, got {cfg.scale}")
        self.cfg = cfg
        n = cfg.n_feats
        self.block_input = nn.Sequential(nn.Conv2d(3, n, 3, padding=1), nn.PReLU())
        self.res_blocks = nn.Sequential(*[ResBlock(n) for _ in range(cfg.n_res_blocks)])
        down = []
        for _ in range(cfg.scale // 2):  # scale 4 -> two stride-2 convs (indices 0, 2), PReLUs at 1, 3
            down += [nn.Conv2d(n, n, 3, stride=2, padding=1), nn.PReLU()]
        self.down_sample = nn.Sequential(*down)
        self.block_output = nn.Conv2d(n, 3, 3, padding=1)  # head A: linear, no clamp, no bicubic skip
        if cfg.pixel_uncertainty:  # head B: ELU keeps log theta > -1
            self.var = nn.Sequential(
                nn.Conv2d(n, n, 3, padding=1), nn.ELU(), nn.Conv2d(n, n, 3, padding=1), nn.ELU(),
                nn.Conv2d(n, 3, 3, padding=1), nn.ELU())
        if cfg.feature_uncertainty:  # head C: four 2x2 max-pools, so it lands on the conv5_4 grid of the LR image
            w1, w2, w3, w4 = cfg.sigma_widths
            self.per_var = nn.Sequential(
                nn.Conv2d(n, w1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(w1, w2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(w2, w3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(w3, w4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(w4, w4, 3, padding=1), nn.ELU(), nn.Conv2d(w4, w4, 3, padding=1), nn.ELU(),
                nn.Conv2d(w4, w4, 3, padding=1), nn.ELU())

    def forward(self, hr: torch.Tensor, feature_head: bool = True) -> DSNOutput:
        """All heads; ``feature_head=False`` skips head C (log_sigma None), which only the DSN loss needs."""
        check_hr(hr, self.cfg.scale)
        feature_head = feature_head and self.cfg.feature_uncertainty
        if feature_head and min(hr.shape[-2:]) < 16 * self.cfg.scale:
            raise ValueError(f"head C pools the LR image 4 times: HR sides must be >= {16 * self.cfg.scale}, "
                             f"got {tuple(hr.shape[-2:])} (pass feature_head=False to skip it)")
        f = self.block_input(hr)  # (B, n, H, W)
        f = self.res_blocks(f)  # (B, n, H, W); no long skip (official)
        f = self.down_sample(f)  # (B, n, H/s, W/s)
        y_g = self.block_output(f)  # (B, 3, H/s, W/s)
        log_theta = self.var(f) if self.cfg.pixel_uncertainty else None  # (B, 3, H/s, W/s)
        log_sigma = self.per_var(f) if feature_head else None  # (B, C5, H/16s, W/16s)
        return DSNOutput(y_g, log_theta, log_sigma)


def check_hr(hr: torch.Tensor, scale: int, *, values: bool = False) -> None:
    """Raise ``ValueError`` unless ``hr`` is a (B, 3, H, W) floating tensor with H, W divisible by ``scale``.

    These checks read only the tensor's metadata, so :meth:`DSN.forward` runs them on every call without a device
    sync. ``values=True`` also runs :func:`srlib.checks.check_image` (no NaN/Inf, values in [0, 1]): that reads the
    data (one sync on a GPU), so call it once where images enter, not per training step.

    >>> check_hr(torch.zeros(1, 3, 6, 8), 4)
    Traceback (most recent call last):
    ...
    ValueError: HR size 6x8 is not divisible by the scale 4; crop it first (e.g. hr[..., :4, :8])
    """
    if not isinstance(hr, torch.Tensor) or hr.dim() != 4 or hr.shape[1] != 3:
        raise ValueError(f"expected an RGB batch (B, 3, H, W), got {getattr(hr, 'shape', type(hr))}")
    if not hr.is_floating_point():
        raise ValueError(f"expected a float tensor in [0, 1], got dtype {hr.dtype}")
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"HR size {h}x{w} is not divisible by the scale {scale}; crop it first "
                         f"(e.g. hr[..., :{h - h % scale}, :{w - w % scale}])")
    if values:
        check_image(hr, "hr")  # an InputError, which is a ValueError
