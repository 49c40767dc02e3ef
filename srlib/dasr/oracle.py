"""Oracle degradation encoder of Model 5 (paper Sec. 4.2, "Blind SR vs. non-blind SR", Table 1).

Model 5 replaces the contrastive encoder with "5 FC layers to learn a representation directly from the true
degradation (i.e., blur kernel)". The paper gives no widths; here every hidden layer has ``rep_dim`` units, the input
is the flattened k x k kernel followed by the noise level divided by 255 (always 0 in the noise-free setting), and
LeakyReLU(0.1) sits between the layers (none after the last, like the encoder's MLP head).
"""
from __future__ import annotations

import torch
from torch import nn

from srlib.dasr.encoder import SLOPE


class OracleEncoder(nn.Module):
    """True degradation -> representation, 5 FC layers.

    Args:
        kernel_size: side k of the blur kernels (paper: 21).
        rep_dim: output (and hidden) width; 256 at paper size.

    Shapes:
        kernel: (B, k, k) float, non-negative, sums to 1.
        noise: (B,) float noise standard deviations on the 0-255 scale, or None for noise-free.
        returns (B, rep_dim) float.

    >>> enc = OracleEncoder(5, 8)
    >>> tuple(enc(torch.full((2, 5, 5), 1 / 25)).shape)
    (2, 8)
    """

    def __init__(self, kernel_size: int = 21, rep_dim: int = 256, n_layers: int = 5):
        super().__init__()
        self.kernel_size, self.rep_dim = kernel_size, rep_dim
        layers: list[nn.Module] = []
        width_in = kernel_size * kernel_size + 1
        for i in range(n_layers):
            layers.append(nn.Linear(width_in, rep_dim))
            if i < n_layers - 1:
                layers.append(nn.LeakyReLU(SLOPE, True))
            width_in = rep_dim
        self.fc = nn.Sequential(*layers)

    def forward(self, kernel: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        k = self.kernel_size
        if kernel is None or kernel.dim() != 3 or kernel.shape[1:] != (k, k):
            got = None if kernel is None else tuple(kernel.shape)
            raise ValueError(f"the oracle (Model 5) needs the true kernels as a (B, {k}, {k}) tensor, got {got}")
        b = kernel.shape[0]
        if noise is None:
            noise = kernel.new_zeros(b)
        noise = torch.as_tensor(noise, dtype=kernel.dtype, device=kernel.device).reshape(-1).expand(b)
        # Scale the kernel by k*k so its entries are O(1) (a 21x21 kernel has entries ~1e-3) -- our choice.
        x = torch.cat([kernel.reshape(b, k * k) * (k * k), noise[:, None] / 255.0], dim=1)
        return self.fc(x)
