"""A stand-in "unknown real-world" degradation for the unpaired USR-DU setting.

USR-DU (Ning et al., IJCAI 2022) learns the degradation from *unpaired* real LR images, evaluated on NTIRE 2020
Real-World SR Track 1, whose LR images were corrupted by an undisclosed pipeline (sensor-like noise and compression
artefacts). That data cannot be shipped with the book, so :class:`RealWorldDegradation` plays its role: a fixed
pipeline, unknown to the SR model, that produces LR images with the same kinds of artefacts.

Pipeline: HR ⊛ k (a hidden anisotropic Gaussian) → MATLAB bicubic ↓s → signal-dependent noise → 8-bit rounding →
JPEG round trip. It is *not* differentiable (JPEG runs through PIL) and is meant to create data, not to train through.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from .imresize import imresize
from .kernels import anisotropic_gaussian, blur

__all__ = ["RealWorldDegradation"]


@dataclass(frozen=True)
class RealWorldDegradation:
    """A fixed, seeded "camera": hidden blur, bicubic downsampling, Poisson-Gaussian-like noise and JPEG.

    Attributes:
        scale: integer downscaling factor (NTIRE 2020 Track 1 and USR-DU use 4).
        seed: draws the hidden blur (λ1 ~ U(0.8, 2.0), λ2 ~ U(0.4, 1.2), θ ~ U(0, π), in HR pixels) and seeds the
            noise when no generator is passed. Different seeds act as different cameras.
        shot_noise: gain ``a`` of the signal-dependent part: noise variance ``a * y + b²`` on the [0, 1] scale, the
            usual Poisson-Gaussian sensor model. 2e-3 gives σ ≈ 8 grey levels at mid-grey before JPEG: clearly
            visible noise. The defaults are illustrative choices, not values fitted to the Track 1 images.
        read_noise: signal-independent standard deviation ``b`` on the 0-255 scale (2 grey levels).
        jpeg_quality: PIL JPEG quality (75, PIL's default): visible but moderate blocking, as on web photos.
        kernel_size: side of the blur kernel.
        lambda1, lambda2, theta: the hidden blur, set from ``seed`` (not constructor arguments).

    Example:
        >>> deg = RealWorldDegradation(scale=4, seed=0)
        >>> hr = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
        >>> lr = deg(hr)
        >>> lr.shape, bool(torch.equal(lr, deg(hr)))  # deterministic without a generator
        (torch.Size([2, 3, 16, 16]), True)
    """

    scale: int = 4
    seed: int = 0
    shot_noise: float = 2e-3
    read_noise: float = 2.0
    jpeg_quality: int = 75
    kernel_size: int = 21
    lambda1: float = field(init=False)
    lambda2: float = field(init=False)
    theta: float = field(init=False)

    def __post_init__(self):
        if isinstance(self.scale, bool) or not isinstance(self.scale, int) or self.scale < 1:
            raise ValueError(f"scale must be a positive integer, got {self.scale!r}")
        if self.shot_noise < 0 or self.read_noise < 0:
            raise ValueError("shot_noise and read_noise must be >= 0")
        if not 1 <= self.jpeg_quality <= 95:
            raise ValueError(f"jpeg_quality must be in [1, 95], got {self.jpeg_quality}")
        u = torch.rand(3, generator=torch.Generator().manual_seed(self.seed), dtype=torch.float64).tolist()
        object.__setattr__(self, "lambda1", 0.8 + 1.2 * u[0])
        object.__setattr__(self, "lambda2", 0.4 + 0.8 * u[1])
        object.__setattr__(self, "theta", math.pi * u[2])

    @property
    def kernel(self) -> torch.Tensor:
        """The hidden blur kernel, (kernel_size, kernel_size) float32, sum 1 (for plots and oracle experiments)."""
        return anisotropic_gaussian(self.lambda1, self.lambda2, self.theta, self.kernel_size)

    def __call__(self, hr: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Degrade HR images.

        Args:
            hr: (B, C, H, W) float in [0, 1], C = 1 (grey) or 3 (RGB); H, W multiples of ``scale``.
            generator: CPU ``torch.Generator`` for the noise; ``None`` uses one seeded with ``seed`` (so repeated
                calls give identical output).

        Returns:
            LR images, (B, C, H / scale, W / scale), dtype and device of ``hr``, values on the 8-bit grid in [0, 1].
        """
        if not isinstance(hr, torch.Tensor) or not hr.is_floating_point():
            raise TypeError("hr must be a floating-point torch tensor in [0, 1]")
        if hr.ndim != 4 or hr.shape[1] not in (1, 3):
            raise ValueError(f"hr must have shape (B, 1 or 3, H, W), got {tuple(hr.shape)}")
        h, w = hr.shape[-2:]
        if h % self.scale or w % self.scale:
            raise ValueError(f"HR size {h}x{w} is not divisible by scale {self.scale}; modcrop it first")
        if generator is None:
            generator = torch.Generator().manual_seed(self.seed)
        with torch.no_grad():
            x = blur(hr.detach().float().cpu(), self.kernel)
            y = imresize(x, 1 / self.scale)
            # Poisson-Gaussian approximation: shot noise grows with the signal, read noise does not.
            var = self.shot_noise * y.clamp(0, 1) + (self.read_noise / 255) ** 2
            y = y + var.sqrt() * torch.randn(y.shape, generator=generator)
            y8 = torch.round(y * 255).clamp(0, 255).to(torch.uint8)
            lr = torch.stack([self._jpeg(img) for img in y8]).float() / 255
        return lr.to(dtype=hr.dtype, device=hr.device)

    def _jpeg(self, img: torch.Tensor) -> torch.Tensor:
        """JPEG round trip of one (C, h, w) uint8 image through PIL (4:2:0 chroma subsampling for RGB)."""
        array = img.permute(1, 2, 0).numpy()
        pil = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
        buffer = io.BytesIO()
        pil.save(buffer, format="JPEG", quality=self.jpeg_quality, subsampling=2)
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert(pil.mode))
        decoded = decoded[..., None] if decoded.ndim == 2 else decoded
        return torch.from_numpy(decoded.copy()).permute(2, 0, 1)
