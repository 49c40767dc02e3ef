"""Degradation models for blind super-resolution.

* :mod:`.imresize`: MATLAB-exact bicubic ``imresize`` (the ``↓s`` of DASR Eq. 1 and USR-DU's bicubic target).
* :mod:`.kernels`: isotropic / anisotropic Gaussian kernels and per-image blurring.
* :mod:`.noise`: Gaussian noise on the 0-255 scale and 8-bit quantisation.
* :mod:`.pipeline`: :func:`degrade`, DASR Eq. 1 end to end.
* :mod:`.presets`: the paper's training distributions and test grids, as data.
* :mod:`.realworld`: a stand-in "unknown" real-world degradation for the unpaired USR-DU setting.
"""

from .imresize import imresize
from .kernels import anisotropic_gaussian, blur, isotropic_gaussian
from .noise import add_gaussian_noise, quantize
from .pipeline import degrade
from .presets import (
    TABLE3_KERNELS,
    TEST_PRESETS,
    AnisoTrain,
    BenchmarkGrid,
    DegradationBatch,
    DegradationSpec,
    IsoTrain,
    kernel_from_spec,
    test_grid,
)
from .realworld import RealWorldDegradation

__all__ = [
    "imresize",
    "isotropic_gaussian",
    "anisotropic_gaussian",
    "blur",
    "add_gaussian_noise",
    "quantize",
    "degrade",
    "IsoTrain",
    "AnisoTrain",
    "DegradationBatch",
    "DegradationSpec",
    "BenchmarkGrid",
    "TABLE3_KERNELS",
    "TEST_PRESETS",
    "test_grid",
    "kernel_from_spec",
    "RealWorldDegradation",
]
