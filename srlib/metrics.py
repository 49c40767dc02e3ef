"""Image-quality metrics as the SR literature reports them: PSNR, SSIM (MATLAB-style) and LPIPS.

Conventions shared by :func:`psnr` and :func:`ssim` (the "published table" protocol, DASR §5, USR-DU §4):

* Inputs are ``(B, C, H, W)`` or ``(C, H, W)`` float tensors in ``[0, 1]`` with ``C`` in ``{1, 3}``.
* ``quantize=True`` (default) clamps both images to ``[0, 1]`` and rounds them to the 8-bit grid first, as the
  official test code does with its SR output before scoring (``clamp(0, 255).round()``).
* ``y_channel=True`` scores the BT.601 luma of MATLAB ``rgb2ycbcr`` (0-255 scale, not re-rounded).
  A 1-channel (grey) image is scored as it is: its luma *is* the grey value. This is what the classic
  published bicubic rows do for Set14's grey ``bridge`` (see ``data/README.md``); replicating it to RGB and
  applying ``rgb2ycbcr`` would instead map it to ``16 + 219/255 * grey`` and shift the Set14 mean.
* ``crop`` pixels are removed from every side (the benchmarks use ``crop = scale``).
* Everything is computed in float64; one value per image is returned, shape ``(B,)``. Average over a set
  yourself (the tables average per-image values).
"""

import hashlib
import os
import warnings
from pathlib import Path

import torch

from srlib.errors import DataNotFound

__all__ = ["rgb_to_y", "psnr", "ssim", "LPIPS", "WeightsUnavailableError", "lpips_available", "alexnet_weights_path"]

# MATLAB rgb2ycbcr (BT.601, "studio swing"): Y = 16 + 65.481 R + 128.553 G + 24.966 B for R, G, B in [0, 1].
_Y_OFFSET = 16.0
_Y_WEIGHTS = (65.481, 128.553, 24.966)


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """Luma of MATLAB ``rgb2ycbcr`` on [0, 1] floats.

    Args:
        x: ``(B, 3, H, W)`` or ``(3, H, W)`` float RGB in ``[0, 1]``.

    Returns:
        ``(B, 1, H, W)`` or ``(1, H, W)``, same dtype, in ``[16/255, 235/255]``:
        ``(16 + 65.481 R + 128.553 G + 24.966 B) / 255``. Not rounded.

    Example:
        >>> white = torch.ones(3, 1, 1)
        >>> round(rgb_to_y(white).item() * 255, 3)
        235.0
    """
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise TypeError(f"rgb_to_y expects a float tensor in [0, 1], got {getattr(x, 'dtype', type(x))}")
    if x.dim() not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"rgb_to_y expects (B, 3, H, W) or (3, H, W), got shape {tuple(x.shape)}")
    r, g, b = x.unbind(dim=-3)
    y = (_Y_OFFSET + _Y_WEIGHTS[0] * r + _Y_WEIGHTS[1] * g + _Y_WEIGHTS[2] * b) / 255.0
    return y.unsqueeze(-3)


def _prepare(sr: torch.Tensor, hr: torch.Tensor, crop: int, y_channel: bool, quantize: bool) -> tuple:
    """Checks inputs and returns float64 ``(B, C', H', W')`` pairs on the 0-255 scale, cropped."""
    for name, t in (("sr", sr), ("hr", hr)):
        if not torch.is_tensor(t) or not t.is_floating_point():
            raise TypeError(f"{name} must be a float tensor in [0, 1] (uint8? use x.float() / 255), "
                            f"got {getattr(t, 'dtype', type(t))}")
        if t.dim() not in (3, 4) or t.shape[-3] not in (1, 3):
            raise ValueError(f"{name} must be (B, C, H, W) or (C, H, W) with C in {{1, 3}}, got {tuple(t.shape)}")
    if sr.shape != hr.shape:
        raise ValueError(f"sr and hr shapes differ: {tuple(sr.shape)} vs {tuple(hr.shape)}")
    if hr.min() < 0 or hr.max() > 1:
        raise ValueError(f"hr must lie in [0, 1], got [{hr.min().item():.4g}, {hr.max().item():.4g}]")
    # SR outputs may overshoot [0, 1] a little (quantize clamps them, as the official code does); a max far above
    # 1 means the caller passed 0-255 data.
    if sr.min() < -1 or sr.max() > 2:
        raise ValueError(f"sr must be on the [0, 1] scale, got [{sr.min().item():.4g}, {sr.max().item():.4g}]")
    if not isinstance(crop, int) or crop < 0:
        raise ValueError(f"crop must be a non-negative int, got {crop!r}")
    h, w = sr.shape[-2:]
    if 2 * crop >= min(h, w):
        raise ValueError(f"crop={crop} leaves nothing of a {h}x{w} image")
    pair = []
    for t in (sr, hr):
        t = t.detach().to(torch.float64)
        t = t.unsqueeze(0) if t.dim() == 3 else t
        if quantize:
            t = (t.clamp(0, 1) * 255.0).round() / 255.0
        if y_channel and t.shape[1] == 3:
            t = rgb_to_y(t)
        t = t * 255.0
        if crop:
            t = t[..., crop:-crop, crop:-crop]
        pair.append(t)
    return tuple(pair)


def psnr(sr: torch.Tensor, hr: torch.Tensor, *, crop: int = 0, y_channel: bool = True,
         quantize: bool = True) -> torch.Tensor:
    """Peak signal-to-noise ratio, ``10 log10(255^2 / MSE)``, per image.

    Args:
        sr: ``(B, C, H, W)`` or ``(C, H, W)`` float in ``[0, 1]``, ``C`` in {1, 3}: the estimate.
        hr: same shape, float in ``[0, 1]``: the reference.
        crop: pixels removed from every side before scoring (benchmarks: the scale factor).
        y_channel: score the MATLAB ``rgb2ycbcr`` luma of RGB inputs (grey inputs are used as they are);
            False scores all RGB channels (the MSE is taken over all of them, as BasicSR does).
        quantize: clamp and round both images to the 8-bit grid first.

    Returns:
        ``(B,)`` float64 in dB; ``inf`` where the images are identical.

    Example:
        >>> x = torch.rand(2, 3, 16, 16)
        >>> psnr(x, x)
        tensor([inf, inf], dtype=torch.float64)
        >>> y = torch.zeros(1, 4, 4)
        >>> y[0, 0, 0] = 10 / 255  # one pixel off by 10 grey levels: MSE = 100 / 16
        >>> round(psnr(y, torch.zeros(1, 4, 4)).item(), 4)  # 10 log10(255^2 / 6.25)
        40.172
    """
    a, b = _prepare(sr, hr, crop, y_channel, quantize)
    mse = (a - b).pow(2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(255.0 ** 2 / mse)  # mse == 0 gives inf, as wanted


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """1-D factor of MATLAB ``fspecial('gaussian', size, sigma)``: ``(size,)`` float64 summing to 1; the 2-D window
    is its outer product."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def _filter_valid(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """'valid' 2-D Gaussian filtering of ``(..., H, W)`` as two 1-D passes of shifted, weighted sums.

    Same result as a 2-D convolution with the outer-product window (up to float64 rounding), but much faster on
    CPU, where float64 convolutions have no optimised kernel.
    """
    k = g.numel()
    h, w = x.shape[-2:]
    x = sum(g[i] * x[..., i:h - k + 1 + i, :] for i in range(k))
    return sum(g[i] * x[..., i:w - k + 1 + i] for i in range(k))


def ssim(sr: torch.Tensor, hr: torch.Tensor, *, crop: int = 0, y_channel: bool = True,
         quantize: bool = True) -> torch.Tensor:
    """Structural similarity of Wang et al. 2004 as MATLAB ``ssim_index.m`` computes it, per image.

    11x11 Gaussian window (sigma 1.5), 'valid' filtering only (no padding: the map is ``H-10`` by ``W-10``),
    ``C1 = (0.01 * 255)^2``, ``C2 = (0.03 * 255)^2`` on the 0-255 scale, mean of the map; no down-sampling.
    For RGB scoring (``y_channel=False``) the per-channel values are averaged.

    Args:
        sr: ``(B, C, H, W)`` or ``(C, H, W)`` float in ``[0, 1]``, ``C`` in {1, 3}: the estimate.
        hr: same shape, float in ``[0, 1]``: the reference.
        crop: pixels removed from every side first; at least 11x11 pixels must remain.
        y_channel: as in :func:`psnr`.
        quantize: as in :func:`psnr`.

    Returns:
        ``(B,)`` float64 in ``[-1, 1]``; 1 where the images are identical.

    Example:
        >>> x = torch.rand(3, 32, 32)
        >>> ssim(x, x)
        tensor([1.], dtype=torch.float64)
        >>> c1 = (0.01 * 255) ** 2  # black vs white: SSIM = C1 / (255^2 + C1)
        >>> abs(ssim(torch.zeros(1, 11, 11), torch.ones(1, 11, 11)).item() - c1 / (255 ** 2 + c1)) < 1e-15
        True
    """
    a, b = _prepare(sr, hr, crop, y_channel, quantize)
    if min(a.shape[-2:]) < 11:
        raise ValueError(f"ssim needs at least 11x11 pixels after cropping, got {tuple(a.shape[-2:])}")
    n, c = a.shape[:2]
    g = _gaussian_window()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2  # K1, K2 and L = 255 of the paper
    # One filtering pass for the five local moments: E[a], E[b], E[a^2], E[b^2], E[ab].
    mu_a, mu_b, e_aa, e_bb, e_ab = _filter_valid(torch.stack([a, b, a * a, b * b, a * b]), g)
    var_a, var_b, cov = e_aa - mu_a ** 2, e_bb - mu_b ** 2, e_ab - mu_a * mu_b
    smap = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return smap.flatten(2).mean(dim=2).mean(dim=1)  # (B, C, H', W') -> (B,)


# --------------------------------------------------------------------------------------------------- LPIPS
ALEXNET_FILENAME = "alexnet-owt-7be5be79.pth"  # torchvision's ImageNet AlexNet
_ALEXNET_SHA256_PREFIX = "7be5be79"  # torchvision names its files after the first 8 hex digits of their sha256
ALEXNET_URL = f"https://download.pytorch.org/models/{ALEXNET_FILENAME}"
ALEXNET_ENV = "SRLIB_ALEXNET_WEIGHTS"


class WeightsUnavailableError(DataNotFound, RuntimeError):
    """Pretrained weights that a metric needs are not on this machine (they are never downloaded silently)."""


def alexnet_weights_path(path=None) -> Path:
    """Where the AlexNet backbone of LPIPS is looked for: ``path``, else ``$SRLIB_ALEXNET_WEIGHTS``, else the
    torch hub cache ``torch.hub.get_dir()/checkpoints/alexnet-owt-7be5be79.pth``. The file may not exist."""
    if path is not None:
        return Path(path)
    if os.environ.get(ALEXNET_ENV):
        return Path(os.environ[ALEXNET_ENV])
    return Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILENAME


def lpips_available(path=None) -> bool:
    """True when the ``lpips`` package imports and the AlexNet weights file exists
    (see :func:`alexnet_weights_path`)."""
    try:
        import lpips  # noqa: F401
    except ImportError:
        return False
    return alexnet_weights_path(path).is_file()


def _load_strict(module: torch.nn.Module, state: dict, prefix_map: dict, what: str) -> None:
    """Copies ``state[src]`` into ``module``'s parameter ``dst`` for every (dst, src); fails with a precise diff."""
    own = dict(module.named_parameters())
    missing = sorted(src for src in prefix_map.values() if src not in state)
    bad = sorted(f"{src}: file {tuple(state[src].shape)} vs model {tuple(own[dst].shape)}"
                 for dst, src in prefix_map.items() if src in state and state[src].shape != own[dst].shape)
    if missing or bad:
        raise WeightsUnavailableError(f"{what} does not match the expected layout; missing keys {missing}, "
                                      f"shape mismatches {bad}")
    with torch.no_grad():
        for dst, src in prefix_map.items():
            own[dst].copy_(state[src])


class LPIPS(torch.nn.Module):
    """LPIPS distance (Zhang et al. 2018), AlexNet backbone, linear calibration v0.1 (the ``lpips`` package).

    The linear-layer weights ship inside the ``lpips`` package. The ImageNet AlexNet backbone is read from
    :func:`alexnet_weights_path`; when it is missing, :class:`WeightsUnavailableError` says where to put it.
    Nothing is downloaded and a random backbone is never used.

    Args:
        weights: optional path to ``alexnet-owt-7be5be79.pth`` (else ``$SRLIB_ALEXNET_WEIGHTS``, else the hub cache).
        check_hash: verify that the file's sha256 starts with ``7be5be79`` (torchvision's published prefix).

    Call with ``sr, hr``: ``(B, 3, H, W)`` float in ``[0, 1]`` (scaled to ``[-1, 1]`` inside); returns ``(B,)``
    float32 distances (lower is more similar).
    """

    def __init__(self, weights=None, *, check_hash: bool = True):
        super().__init__()
        path = alexnet_weights_path(weights)
        if not path.is_file():
            raise WeightsUnavailableError(
                f"LPIPS needs the ImageNet AlexNet weights file {ALEXNET_FILENAME}, not found at {path}. "
                f"Download it on a machine with internet from {ALEXNET_URL} and place it at {path} "
                f"(torch hub cache: {Path(torch.hub.get_dir()) / 'checkpoints'}), or point ${ALEXNET_ENV} "
                f"or LPIPS(weights=...) at it. srlib never downloads it itself.")
        if check_hash:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            digest = h.hexdigest()
            if not digest.startswith(_ALEXNET_SHA256_PREFIX):
                raise WeightsUnavailableError(f"{path} has sha256 {digest}, not torchvision's {ALEXNET_FILENAME}; "
                                              f"re-download it from {ALEXNET_URL}")
        import lpips
        with warnings.catch_warnings():  # torchvision's deprecation warning for `pretrained=`
            warnings.simplefilter("ignore")
            # pretrained=False: no linear weights loaded behind our back; pnet_rand=True: no backbone download.
            self.net = lpips.LPIPS(pretrained=False, net="alex", version="0.1", pnet_rand=True, verbose=False)
        # Backbone: lpips slices torchvision's `features` into net.slice{k}.{i}, keeping the index i.
        backbone = {name: "features." + name.split(".", 1)[1] for name, _ in self.net.net.named_parameters()}
        _load_strict(self.net.net, torch.load(path, map_location="cpu", weights_only=True), backbone,
                     f"AlexNet weights {path}")
        lin_file = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
        lins = {name: name for name, _ in self.net.named_parameters() if name.startswith("lin")}
        _load_strict(self.net, torch.load(lin_file, map_location="cpu", weights_only=True), lins,
                     f"LPIPS linear weights {lin_file}")
        self.net.eval().requires_grad_(False)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        if sr.shape != hr.shape or sr.dim() != 4 or sr.shape[1] != 3:
            raise ValueError(f"LPIPS expects two (B, 3, H, W) tensors, got {tuple(sr.shape)} and {tuple(hr.shape)}")
        # (B, 1, 1, 1) -> (B,)
        return self.net(sr * 2 - 1, hr * 2 - 1).flatten()
