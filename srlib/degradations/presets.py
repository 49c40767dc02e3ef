"""Degradation settings of the DASR paper as data: training distributions and the test grids of its tables.

Training (DASR Sec. 4.1): isotropic Gaussians with σ ~ U(0.2, 2.0 / 3.0 / 4.0) for x2 / x3 / x4 and no noise; then the
general setting with anisotropic Gaussians λ1, λ2 ~ U(0.2, 4), θ ~ U(0, π) and noise levels ~ U(0, 25). One kernel
and one noise level are drawn per image (dasr-official.md section 3). Test grids: Tables 1-3 of the paper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from srlib.errors import UsageError

from .kernels import anisotropic_gaussian, isotropic_gaussian

__all__ = [
    "DegradationBatch",
    "IsoTrain",
    "AnisoTrain",
    "DegradationSpec",
    "BenchmarkGrid",
    "TABLE3_KERNELS",
    "TEST_PRESETS",
    "test_grid",
    "kernel_from_spec",
]

_ISO_SIGMA_MAX = {2: 2.0, 3: 3.0, 4: 4.0}  # DASR Sec. 4.1 (the official main.sh uses 4.0 even for x2)


@dataclass(frozen=True)
class DegradationBatch:
    """One degradation per image of a batch.

    Attributes:
        kernels: (B, k, k) float32 blur kernels, each summing to 1.
        noise: (B,) float32 noise levels on the 0-255 scale.
        params: the sampled parameters by name (e.g. ``"sigma"``, ``"lambda1"``, ``"theta"``), each a (B,) tensor.
    """

    kernels: torch.Tensor
    noise: torch.Tensor
    params: dict


def _uniform(batch: int, low: float, high: float, generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(batch, generator=generator)


def _check_batch(batch) -> None:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")


@dataclass(frozen=True)
class IsoTrain:
    """Noise-free isotropic Gaussian training degradations (DASR Sec. 4.1, first setting).

    Attributes:
        scale: SR scale (2, 3 or 4 unless ``sigma_max`` is given).
        sigma_min: smallest kernel width (paper: 0.2).
        sigma_max: largest kernel width; ``None`` takes the paper's 2.0 / 3.0 / 4.0 for x2 / x3 / x4.
        kernel_size: kernel side (paper: 21).

    Example:
        >>> d = IsoTrain(scale=2).sample(4, torch.Generator().manual_seed(0))
        >>> d.kernels.shape, d.noise.tolist(), bool(d.params["sigma"].max() <= 2.0)
        (torch.Size([4, 21, 21]), [0.0, 0.0, 0.0, 0.0], True)
    """

    scale: int
    sigma_min: float = 0.2
    sigma_max: float | None = None
    kernel_size: int = 21

    def __post_init__(self):
        if self.sigma_max is None:
            if self.scale not in _ISO_SIGMA_MAX:
                raise ValueError(f"no paper σ range for scale {self.scale!r}; pass sigma_max")
            object.__setattr__(self, "sigma_max", _ISO_SIGMA_MAX[self.scale])
        if not 0 <= self.sigma_min <= self.sigma_max:
            raise ValueError(f"need 0 <= sigma_min <= sigma_max, got {self.sigma_min}, {self.sigma_max}")

    def sample(self, batch: int, generator: torch.Generator | None = None) -> DegradationBatch:
        """Draw ``batch`` kernels, σ ~ U(sigma_min, sigma_max), on the CPU; noise levels are all 0."""
        _check_batch(batch)
        sigma = _uniform(batch, self.sigma_min, self.sigma_max, generator)
        kernels = isotropic_gaussian(sigma, self.kernel_size)
        return DegradationBatch(kernels, torch.zeros(batch), {"sigma": sigma})


@dataclass(frozen=True)
class AnisoTrain:
    """Anisotropic Gaussian + noise training degradations (DASR Sec. 4.1, general setting).

    Attributes:
        scale: SR scale (the paper trains this setting at x4).
        lambda_min, lambda_max: range of both standard deviations λ1, λ2 (paper: [0.2, 4]).
        theta_max: angles θ ~ U(0, theta_max) in radians (paper: π).
        noise_max: noise levels ~ U(0, noise_max) on the 0-255 scale (paper: 25).
        kernel_size: kernel side (paper: 21).

    Example:
        >>> d = AnisoTrain().sample(3, torch.Generator().manual_seed(0))
        >>> d.kernels.shape, sorted(d.params)
        (torch.Size([3, 21, 21]), ['lambda1', 'lambda2', 'noise', 'theta'])
    """

    scale: int = 4
    lambda_min: float = 0.2
    lambda_max: float = 4.0
    theta_max: float = math.pi
    noise_max: float = 25.0
    kernel_size: int = 21

    def __post_init__(self):
        if not 0 < self.lambda_min <= self.lambda_max:
            raise ValueError(f"need 0 < lambda_min <= lambda_max, got {self.lambda_min}, {self.lambda_max}")
        if self.noise_max < 0 or self.theta_max < 0:
            raise ValueError("noise_max and theta_max must be >= 0")

    def sample(self, batch: int, generator: torch.Generator | None = None) -> DegradationBatch:
        """Draw ``batch`` (λ1, λ2, θ, noise) independently and uniformly, on the CPU."""
        _check_batch(batch)
        lambda1 = _uniform(batch, self.lambda_min, self.lambda_max, generator)
        lambda2 = _uniform(batch, self.lambda_min, self.lambda_max, generator)
        theta = _uniform(batch, 0.0, self.theta_max, generator)
        noise = _uniform(batch, 0.0, self.noise_max, generator)
        kernels = anisotropic_gaussian(lambda1, lambda2, theta, self.kernel_size)
        params = {"lambda1": lambda1, "lambda2": lambda2, "theta": theta, "noise": noise}
        return DegradationBatch(kernels, noise, params)


@dataclass(frozen=True)
class DegradationSpec:
    """One fixed test degradation (Eq. 1): Gaussian blur, bicubic downsampling, then Gaussian noise.

    The one spec of srlib: the paper's test grids (:data:`TEST_PRESETS`), ``srlib evaluate`` and
    :func:`srlib.evaluate.evaluate_images` all take it.

    Attributes:
        scale: the SR factor the spec belongs to (the paper's tables), or ``None`` for any factor (the evaluator then
            takes the scale separately and refuses a spec whose scale differs).
        sigma: isotropic kernel width; ``0`` means no blur (pure bicubic downsampling).
        lambda1, lambda2, theta_deg: anisotropic kernel, two standard deviations (> 0) and the angle in degrees, as
            on the official test command line (``--theta``).
        noise: Gaussian noise level on the 0-255 scale (>= 0).
        kernel_size: kernel side (paper: 21).

    Give either ``sigma`` or all of ``lambda1``, ``lambda2``, ``theta_deg``; anything else is a
    :class:`~srlib.errors.UsageError` (a ``ValueError``).

    Example:
        >>> DegradationSpec(sigma=1.2, noise=5).label
        'sigma=1.2 noise=5'
        >>> DegradationSpec(sigma=0).kernel() is None
        True
        >>> DegradationSpec(noise=-5, sigma=0)
        Traceback (most recent call last):
        ...
        srlib.errors.UsageError: the noise level must be a finite number >= 0 (0-255 scale), got -5
    """

    scale: int | None = None
    sigma: float | None = None
    lambda1: float | None = None
    lambda2: float | None = None
    theta_deg: float | None = None
    noise: float = 0.0
    kernel_size: int = 21

    def __post_init__(self):
        aniso = (self.lambda1, self.lambda2, self.theta_deg)
        if (self.sigma is None) == all(v is None for v in aniso) or (self.sigma is None and None in aniso):
            raise UsageError("give either sigma, or all of lambda1, lambda2 and theta_deg")
        if self.scale is not None and (isinstance(self.scale, bool) or not isinstance(self.scale, int)
                                       or self.scale < 1):
            raise UsageError(f"scale must be a positive int or None, got {self.scale!r}")
        if not (isinstance(self.noise, (int, float)) and math.isfinite(self.noise) and self.noise >= 0):
            raise UsageError(f"the noise level must be a finite number >= 0 (0-255 scale), got {self.noise!r}")
        if self.sigma is not None and not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise UsageError(f"sigma must be a finite number >= 0, got {self.sigma!r}")
        if self.sigma is None and not all(math.isfinite(v) and v > 0 for v in (self.lambda1, self.lambda2)):
            raise UsageError(f"lambda1 and lambda2 must be > 0, got {self.lambda1!r}, {self.lambda2!r}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise UsageError(f"kernel_size must be a positive odd int, got {self.kernel_size!r}")

    @property
    def kind(self) -> str:
        return "iso" if self.sigma is not None else "aniso"

    @property
    def label(self) -> str:
        """Short name, e.g. ``"x4 sigma=1.2"``, or ``"l1=2 l2=0.2 theta=0 noise=5"`` for a spec without a scale."""
        if self.kind == "iso":
            text = f"sigma={self.sigma:g}"
        else:
            text = f"l1={self.lambda1:g} l2={self.lambda2:g} theta={self.theta_deg:g}"
        scale = f"x{self.scale} " if self.scale is not None else ""
        return scale + text + (f" noise={self.noise:g}" if self.noise else "")

    def kernel(self, *, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor | None:
        """The (k, k) blur kernel, or ``None`` when there is no blur (``sigma == 0``: plain bicubic downsampling).

        :func:`kernel_from_spec` returns the delta kernel instead, for code that always convolves.
        """
        if self.kind == "iso" and self.sigma == 0:
            return None
        return kernel_from_spec(self, dtype=dtype, device=device)


@dataclass(frozen=True)
class BenchmarkGrid:
    """A table of the paper: the test sets and the degradations of its columns."""

    name: str
    datasets: tuple
    specs: tuple
    source: str


def _iso(scale, sigmas):
    return tuple(DegradationSpec(scale, sigma=s) for s in sigmas)


# Table 3 kernels (λ1, λ2, θ in degrees), in the paper's column order. DASR gives them only as an image (issue #25); these values are listed by a
# third party (I2-Multimedia-Lab/DSAT, issue #2) and are not verified against that image (dasr-official.md, section 5).
TABLE3_KERNELS = (
    (2.0, 0.2, 0.0), (2.0, 1.0, 10.0), (3.5, 1.5, 30.0), (3.5, 2.0, 45.0), (3.5, 2.0, 90.0),
    (4.0, 1.5, 120.0), (4.0, 2.0, 135.0), (4.0, 3.0, 165.0), (4.0, 4.0, 180.0),
)  # fmt: skip

TEST_PRESETS = {
    "table1": BenchmarkGrid("table1", ("Set14",), _iso(4, (0.2, 1.0, 1.8, 2.6, 3.4)), "DASR Table 1 (x4, Set14)"),
    "table2_x2": BenchmarkGrid(
        "table2_x2", ("Set5", "Set14", "B100", "Urban100"), _iso(2, (0.0, 0.6, 1.2, 1.8)), "DASR Table 2 (x2)"
    ),
    "table2_x3": BenchmarkGrid(
        "table2_x3", ("Set5", "Set14", "B100", "Urban100"), _iso(3, (0.0, 0.8, 1.6, 2.4)), "DASR Table 2 (x3)"
    ),
    "table2_x4": BenchmarkGrid(
        "table2_x4", ("Set5", "Set14", "B100", "Urban100"), _iso(4, (0.0, 1.2, 2.4, 3.6)), "DASR Table 2 (x4)"
    ),
    "table3": BenchmarkGrid(
        "table3",
        ("Set14",),
        tuple(
            DegradationSpec(4, lambda1=l1, lambda2=l2, theta_deg=t, noise=n)
            for n in (0.0, 5.0, 10.0)
            for l1, l2, t in TABLE3_KERNELS
        ),
        "DASR Table 3 (x4, Set14, anisotropic kernels x noise 0/5/10; kernels third-party-listed)",
    ),
}


def test_grid(name: str) -> BenchmarkGrid:
    """The named test grid of :data:`TEST_PRESETS`.

    Args:
        name: one of ``"table1"``, ``"table2_x2"``, ``"table2_x3"``, ``"table2_x4"``, ``"table3"``.

    Returns:
        The :class:`BenchmarkGrid` (datasets and degradation specs).

    Example:
        >>> [s.sigma for s in test_grid("table2_x4").specs]
        [0.0, 1.2, 2.4, 3.6]
        >>> len(test_grid("table3").specs)
        27
    """
    if name not in TEST_PRESETS:
        raise ValueError(f"unknown test grid {name!r}; choose from {sorted(TEST_PRESETS)}")
    return TEST_PRESETS[name]


test_grid.__test__ = False  # its name starts with "test": keep pytest from collecting it where it is imported


def kernel_from_spec(spec: DegradationSpec, *, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """The blur kernel of one test spec.

    Args:
        spec: the degradation; σ = 0 gives a delta kernel (pure bicubic); θ is converted from degrees to radians.
        dtype: floating dtype of the kernel.
        device: device of the kernel.

    Returns:
        (k, k) kernel summing to 1, ``k = spec.kernel_size``.

    Example:
        >>> k = kernel_from_spec(test_grid("table3").specs[0])
        >>> k.shape, round(k.sum().item(), 5)
        (torch.Size([21, 21]), 1.0)
    """
    if not isinstance(spec, DegradationSpec):
        raise TypeError(f"spec must be a DegradationSpec, got {type(spec).__name__}")
    if spec.kind == "iso":
        return isotropic_gaussian(spec.sigma, spec.kernel_size, dtype=dtype, device=device)
    theta = math.radians(spec.theta_deg)
    return anisotropic_gaussian(spec.lambda1, spec.lambda2, theta, spec.kernel_size, dtype=dtype, device=device)
