"""Degradation-aware convolution, block and group (paper Sec. 3.2.2, Fig. 2(b, c); official ``model/blindsr.py``
classes ``DA_conv``, ``CA_layer``, ``DAB``, ``DAG``).

A DA conv adapts features ``F`` to a degradation representation ``d`` in two ways:

* **kernel branch**: two FC layers predict a per-sample 3x3 *depth-wise* kernel from ``d``; ``F`` is filtered with it
  (the grouped-conv trick below), then a 1x1 conv mixes channels -> ``F1``;
* **modulation branch** (``ca``): two 1x1 convs + sigmoid map ``d`` to channel weights ``v``; ``F2 = F * v``.

The output is ``F1 + F2``. For Table 1's ablations the same file offers a DA conv without modulation (Model 3) and
:class:`ConcatConv`, a vanilla conv on ``[F, stretched d]`` (Model 2, SRMD-style conditioning).

Scale: features are whatever the SR net produces from its [0, 255] input; nothing here depends on the pixel range.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from srlib.dasr.encoder import SLOPE


def default_conv(c_in: int, c_out: int, k: int, bias: bool = True) -> nn.Conv2d:
    """EDSR's ``default_conv``: a k x k conv with 'same' zero padding."""
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=bias)


def per_sample_depthwise(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Filter each sample's channels with its own kernels: the grouped-conv trick of the official ``DA_conv``.

    The batch is folded into the channel axis, (B, C, H, W) -> (1, B*C, H, W), and one conv with ``groups=B*C`` applies
    kernel ``kernels[b, c]`` to channel c of sample b (zero padding, no bias). Equal to a loop over the batch.

    Args:
        x: (B, C, H, W) float features.
        kernels: (B, C, k, k) float, k odd.

    Returns:
        (B, C, H, W) float.

    >>> x, w = torch.randn(2, 3, 5, 5), torch.randn(2, 3, 3, 3)
    >>> loop = torch.cat([F.conv2d(x[i:i + 1], w[i].unsqueeze(1), padding=1, groups=3) for i in range(2)])
    >>> torch.allclose(per_sample_depthwise(x, w), loop, atol=1e-6)
    True
    """
    b, c, h, w = x.shape
    k = kernels.shape[-1]
    if kernels.shape != (b, c, k, k) or k % 2 == 0:
        raise ValueError(f"kernels must be (B, C, k, k) with odd k for x of shape {tuple(x.shape)}, got {tuple(kernels.shape)}")
    out = F.conv2d(x.reshape(1, b * c, h, w), kernels.reshape(b * c, 1, k, k), groups=b * c, padding=(k - 1) // 2)
    return out.view(b, c, h, w)


class CALayer(nn.Module):
    """Modulation branch (official ``CA_layer``): d (B, C) -> channel weights in (0, 1), applied to ``x``."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.conv_du = nn.Sequential(
            nn.Conv2d(channels, channels // reduction, 1, bias=False),
            nn.LeakyReLU(SLOPE, True),
            nn.Conv2d(channels // reduction, channels, 1, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        v = self.conv_du(d[:, :, None, None])  # (B, C, 1, 1)
        return x * v


class DAConv(nn.Module):
    """DA convolution (official ``DA_conv``): ``(F, d) -> F1 + F2``.

    Args:
        channels: C, feature channels; also the dimension of ``d`` (the official code hard-codes 64 for both).
        kernel_size: side of the predicted depth-wise kernel (official 3).
        reduction: reduction of the modulation branch (official 8).
        modulation: False drops ``ca`` and returns ``F1`` only (paper Table 1, Model 3).

    Shapes: x (B, C, H, W) float; d (B, C) float; returns (B, C, H, W).

    >>> m = DAConv(16, reduction=4)
    >>> tuple(m(torch.randn(2, 16, 6, 5), torch.randn(2, 16)).shape)
    (2, 16, 6, 5)
    """

    def __init__(self, channels: int = 64, kernel_size: int = 3, reduction: int = 8, modulation: bool = True):
        super().__init__()
        self.channels, self.kernel_size = channels, kernel_size
        self.kernel = nn.Sequential(
            nn.Linear(channels, channels, bias=False),
            nn.LeakyReLU(SLOPE, True),
            nn.Linear(channels, channels * kernel_size * kernel_size, bias=False),
        )
        self.conv = default_conv(channels, channels, 1)
        self.ca = CALayer(channels, reduction) if modulation else None
        self.relu = nn.LeakyReLU(SLOPE, True)

    def forward(self, x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        if d.shape != (b, self.channels):
            raise ValueError(f"representation must be (B, {self.channels}) = {(b, self.channels)}, got {tuple(d.shape)}")
        w = self.kernel(d).view(b, c, self.kernel_size, self.kernel_size)  # (B, C, 3, 3) per-sample kernels
        f1 = self.conv(self.relu(per_sample_depthwise(x, w)))  # depth-wise 3x3, LReLU, 1x1 conv
        if self.ca is None:
            return f1
        return f1 + self.ca(x, d)  # F1 + F2


class ConcatConv(nn.Module):
    """Vanilla 3x3 conv on ``[F, d stretched to H x W]`` (paper Table 1, Model 2; SRMD-style conditioning).

    Shapes: x (B, C, H, W); d (B, C_d); returns (B, C, H, W).

    >>> tuple(ConcatConv(8, 4)(torch.randn(2, 8, 5, 5), torch.randn(2, 4)).shape)
    (2, 8, 5, 5)
    """

    def __init__(self, channels: int, cond_dim: int, kernel_size: int = 3):
        super().__init__()
        self.cond_dim = cond_dim
        self.conv = default_conv(channels + cond_dim, channels, kernel_size)

    def forward(self, x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        if d.shape != (b, self.cond_dim):
            raise ValueError(f"representation must be (B, {self.cond_dim}), got {tuple(d.shape)}")
        d_map = d[:, :, None, None].expand(b, self.cond_dim, h, w)  # "stretch" the vector to a map
        return self.conv(torch.cat([x, d_map], dim=1))


class DAB(nn.Module):
    """DA block (official ``DAB``): two conditioned convs and two 3x3 convs with a residual connection.

    ``block="da"`` uses :class:`DAConv` (``modulation`` as given); ``block="concat"`` uses :class:`ConcatConv`.
    Shapes: x (B, C, H, W), d (B, C) -> (B, C, H, W).
    """

    def __init__(self, channels: int = 64, kernel_size: int = 3, reduction: int = 8, *, block: str = "da",
                 modulation: bool = True):
        super().__init__()
        if block == "da":
            make = lambda: DAConv(channels, kernel_size, reduction, modulation)  # noqa: E731
        elif block == "concat":
            make = lambda: ConcatConv(channels, channels, kernel_size)  # noqa: E731
        else:
            raise ValueError(f"unknown block kind {block!r}")
        self.da_conv1, self.da_conv2 = make(), make()
        self.conv1 = default_conv(channels, channels, kernel_size)
        self.conv2 = default_conv(channels, channels, kernel_size)
        self.relu = nn.LeakyReLU(SLOPE, True)

    def forward(self, x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.da_conv1(x, d))
        out = self.relu(self.conv1(out))
        out = self.relu(self.da_conv2(out, d))
        return self.conv2(out) + x


class DAG(nn.Module):
    """Residual group (official ``DAG``): ``n_blocks`` DA blocks (``body.0`` ...) + a 3x3 conv (``body.<n_blocks>``),
    with a skip connection. Shapes: x (B, C, H, W), d (B, C) -> (B, C, H, W)."""

    def __init__(self, channels: int = 64, kernel_size: int = 3, reduction: int = 8, n_blocks: int = 5, **block_kw):
        super().__init__()
        self.n_blocks = n_blocks
        blocks = [DAB(channels, kernel_size, reduction, **block_kw) for _ in range(n_blocks)]
        self.body = nn.Sequential(*blocks, default_conv(channels, channels, kernel_size))

    def forward(self, x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        res = x
        for i in range(self.n_blocks):
            res = self.body[i](res, d)
        return self.body[-1](res) + x
