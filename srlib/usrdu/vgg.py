"""Frozen VGG19 feature extractor up to ``conv5_4`` (pre-ReLU), for the USR-DU perceptual losses.

Paper Sec. 3.1: "we calculated the perceptual loss on VGG19 features of the conv5_4 convolutional layer"; the official
DSN uses torchvision ``vgg19(pretrained=True).features[:35]`` and the SRN BasicSR's ``PerceptualLoss`` at ``conv5_4``,
both with ImageNet mean/std input normalisation.

ImageNet weights are torchvision's ``vgg19-dcbb9e9d.pth``. They are looked for, in order, at the path given in the
config, at ``$SRLIB_VGG19_WEIGHTS``, and in the torch hub cache; nothing is downloaded. Without them a clear
:class:`VGGWeightsUnavailableError` says where to put the file. A randomly initialised VGG is used *only* when a config
says ``weights="random"``, and :attr:`VGG19Features.weights_source` records which one was used so that chapters can
print it next to every number that depends on it.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from srlib.errors import DataNotFound

VGG19_FILE = "vgg19-dcbb9e9d.pth"  # torchvision's name; "dcbb9e9d" is the start of its sha256
VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
_CFG_E = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGWeightsUnavailableError(DataNotFound):
    """The ImageNet VGG19 weights file is not on this machine (a ``FileNotFoundError``; the CLI exits with 5)."""


@dataclass(frozen=True)
class VGGConfig:
    """Which VGG19 to use for perceptual terms.

    Attributes:
        weights: ``"imagenet"`` (paper) or ``"random"`` (an explicit stand-in when ImageNet weights are absent).
        weights_path: optional path to ``vgg19-dcbb9e9d.pth``.
        width_div: divide every VGG width by this (only allowed with random weights; 1 = real VGG19 widths).
        seed: seed of the random initialisation (random weights only).
    """

    weights: str = "imagenet"
    weights_path: Optional[str] = None
    width_div: int = 1
    seed: int = 0

    def __post_init__(self):
        if self.weights not in ("imagenet", "random"):
            raise ValueError(f"VGGConfig.weights must be 'imagenet' or 'random', got {self.weights!r}")
        if self.width_div != 1 and self.weights != "random":
            raise ValueError("width_div != 1 only makes sense with weights='random' (ImageNet weights have fixed widths)")

    @property
    def out_channels(self) -> int:
        """Channels of the ``conv5_4`` features (512 for the real VGG19)."""
        return 512 // self.width_div


def find_vgg19_weights(path: Optional[str] = None) -> Path:
    """Locate ``vgg19-dcbb9e9d.pth``: ``path``, then ``$SRLIB_VGG19_WEIGHTS``, then the torch hub cache.

    Raises:
        VGGWeightsUnavailableError: with the places searched and how to get the file by hand.
    """
    candidates = [path, os.environ.get("SRLIB_VGG19_WEIGHTS"), os.path.join(torch.hub.get_dir(), "checkpoints", VGG19_FILE)]
    for c in candidates:
        if c and os.path.isfile(c):
            return Path(c)
    searched = "\n  ".join(str(c) for c in candidates if c)
    raise VGGWeightsUnavailableError(
        f"ImageNet VGG19 weights not found. Searched:\n  {searched}\n"
        f"Download {VGG19_URL} on a machine with internet and put it at one of those paths "
        f"(or point $SRLIB_VGG19_WEIGHTS at it). For a CPU demo only, set VGGConfig(weights='random'), "
        f"which makes every perceptual term a random-feature stand-in.")


def _build(width_div: int) -> nn.Sequential:
    layers, c_in = [], 3
    for v in _CFG_E:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c_in, v // width_div, 3, padding=1), nn.ReLU()]
            c_in = v // width_div
    return nn.Sequential(*layers[:35])  # index 34 = conv5_4, before its ReLU (torchvision numbering)


class VGG19Features(nn.Module):
    """``x: (B, 3, H, W) float, [0, 1] RGB`` -> ``conv5_4`` pre-ReLU features ``(B, 512 / width_div, H/16, W/16)``.

    Frozen (no gradients to its weights, eval mode); gradients do flow to ``x``.

    >>> vgg = VGG19Features(VGGConfig(weights="random", width_div=8))
    >>> tuple(vgg(torch.rand(1, 3, 32, 48)).shape), vgg.weights_source.startswith("RANDOM")
    ((1, 64, 2, 3), True)
    """

    def __init__(self, cfg: VGGConfig = VGGConfig()):
        super().__init__()
        self.cfg = cfg
        self.features = _build(cfg.width_div)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))
        if cfg.weights == "imagenet":
            path = find_vgg19_weights(cfg.weights_path)
            _check_hash(path)
            sd = torch.load(path, map_location="cpu", weights_only=True)
            sd = {k[len("features."):]: v for k, v in sd.items()
                  if k.startswith("features.") and int(k.split(".")[1]) < 35}
            self.features.load_state_dict(sd, strict=True)
            self.weights_source = f"imagenet ({path})"
        else:
            # He-normal init keeps activations at a useful scale through 16 convs; PyTorch's default init shrinks
            # them by ~6x per layer, which would make conv5_4 features (and every loss on them) vanish.
            gen = torch.Generator().manual_seed(cfg.seed)
            with torch.no_grad():
                for m in self.features:
                    if isinstance(m, nn.Conv2d):
                        std = (2.0 / (m.in_channels * 9)) ** 0.5
                        m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * std)
                        m.bias.zero_()
            self.weights_source = (f"RANDOM He-normal VGG19 (seed {cfg.seed}, widths / {cfg.width_div}): "
                                   f"NOT ImageNet; perceptual terms are a random-feature stand-in")
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):  # always eval: there is no BN/dropout, but keep the contract explicit
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (B, 3, H, W) RGB in [0, 1], got {tuple(x.shape)}")
        return self.features((x - self.mean) / self.std)


def _check_hash(path: Path) -> None:
    prefix = VGG19_FILE.split("-")[1].split(".")[0]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if not h.hexdigest().startswith(prefix):
        raise VGGWeightsUnavailableError(f"{path} does not have the sha256 of torchvision's {VGG19_FILE} "
                                         f"(expected prefix {prefix}, got {h.hexdigest()[:8]}); re-download it")
