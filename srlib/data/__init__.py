"""Data: image I/O, the built-in corpus, datasets, patch samplers and the registry of real data sets.

Everything public is re-exported here explicitly; ``srlib.data.registry`` and ``srlib.data.download`` (network code)
are imported only on use, and scikit-image only when the built-in corpus is read.
"""

from srlib.data.builtin import BUILTIN_SPLITS, builtin_images, builtin_names, builtin_path
from srlib.data.datasets import IMAGE_EXTS, BenchmarkDataset, FolderDataset
from srlib.data.io import modcrop, read_image, read_image_with_alpha, to_rgb, write_image
from srlib.data.samplers import DASRPatchSampler, UnpairedSampler, augment

__all__ = [
    "read_image", "read_image_with_alpha", "write_image", "to_rgb", "modcrop",
    "BUILTIN_SPLITS", "builtin_images", "builtin_names", "builtin_path",
    "IMAGE_EXTS", "FolderDataset", "BenchmarkDataset",
    "DASRPatchSampler", "UnpairedSampler", "augment",
]
