"""USR-DU losses: Laplacian KL terms (DSN), the filters in front of the discriminators, GAN and ESRGAN losses.

Units follow the official code (``DSN/track1/data_loss.py``, ``PerceptualLossVGG19_Per``): images are multiplied by
255 before the KL, the reference Laplace scale "I" of paper Eqs. 2 and 4 is one gray level, and each KL loss is divided
by 255 at the end. With this scaling the paper's weights alpha = 1 / 0.01 / 0.01 (Eq. 7) are the official ones
(``--data_ratio 100 --per_ratio 1 --gan_ratio 1`` divided by 100).

The closed form used everywhere (KL between two Laplace laws, second scale fixed to 1):
``KL[L(mu, b) || L(m, 1)] = b exp(-|mu - m| / b) + |mu - m| - log b - 1`` (paper Eq. 2), which is >= 0 and 0 only at
``mu = m, b = 1``. For a fixed residual ``d`` its minimiser in ``b`` solves ``exp(-d/b) (1 + d/b) = 1/b``
(:func:`kl_optimal_scale`); compare the Laplace negative log-likelihood ``d/b + log b``, minimised at ``b = d``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

# -------------------------------------------------------------------------------------------------- Gaussian filters


def gaussian_kernel(size: int, dtype=torch.float32) -> torch.Tensor:
    """(size, size) Gaussian, centre (size-1)/2, sigma = size/6, normalised to sum 1 (official ``FilterLow``).

    >>> [round(v, 5) for v in gaussian_kernel(5).sum(0).tolist()]
    [0.02691, 0.23337, 0.47944, 0.23337, 0.02691]
    """
    ax = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2 * (size / 6) ** 2))
    return (g / g.sum()).to(dtype)


def gaussian_blur(x: torch.Tensor, size: int, padding: str = "zeros") -> torch.Tensor:
    """Depthwise Gaussian low-pass of ``x: (B, C, H, W)``.

    padding: ``"valid"`` (no padding, output shrinks by size-1: the DSN content term), ``"zeros"`` (same size, zero
    padding: the official DSN high-pass and SRN low-pass L1) or ``"reflect"``.
    """
    c = x.shape[1]
    k = gaussian_kernel(size, x.dtype).to(x.device).expand(c, 1, size, size)
    p = size // 2
    if padding == "valid":
        return F.conv2d(x, k, groups=c)
    if padding == "zeros":
        return F.conv2d(x, k, padding=p, groups=c)
    if padding == "reflect":
        return F.conv2d(F.pad(x, (p, p, p, p), mode="reflect"), k, groups=c)
    raise ValueError(f"padding must be 'valid', 'zeros' or 'reflect', got {padding!r}")


def high_pass(x: torch.Tensor, size: int = 5, padding: str = "zeros") -> torch.Tensor:
    """The filter F in front of the DSN discriminator (paper Eqs. 5-6, "5x5 Gaussian high-frequency filter").

    ``F(x) = 0.5 + 0.5 (x - G5 * x)`` as in the official ``FilterHigh(recursions=1, kernel_size=5, gaussian=True)``.
    ``x: (B, C, H, W)``; same shape out, centred on 0.5. With the official zero padding a constant image maps to 0.5
    only away from a 2-pixel border.

    >>> y = high_pass(torch.full((1, 3, 8, 8), 0.7))
    >>> round(float(y[..., 2:-2, 2:-2].max()), 6), round(float(y[..., 2:-2, 2:-2].min()), 6)
    (0.5, 0.5)
    """
    return 0.5 + 0.5 * (x - gaussian_blur(x, size, padding))


def image_gradient(img: torch.Tensor, norm: str = "l1", eps: float = 1e-6) -> torch.Tensor:
    """The gradient operator G in front of the SRN discriminator (paper Eq. 11), per colour channel.

    Forward differences ``dx = I(i, j+1) - I(i, j)``, ``dy = I(i+1, j) - I(i, j)``; the last column of dx and last row
    of dy are 0. ``norm="l1"``: ``|dx| + |dy|`` (official ``color_gradient``); ``norm="l2"``:
    ``sqrt(dx^2 + dy^2 + eps)`` (paper Eq. 11; ``eps`` keeps the gradient finite on flat areas).

    ``img: (B, C, H, W)`` -> ``(B, C, H, W)``, >= 0.

    >>> ramp = (2 * torch.arange(4.0)[:, None] + 3 * torch.arange(5.0)[None, :]).expand(1, 1, 4, 5)
    >>> image_gradient(ramp)[0, 0, 0, :2].tolist()
    [5.0, 5.0]
    """
    dx = F.pad(img[..., :, 1:] - img[..., :, :-1], (0, 1, 0, 0))
    dy = F.pad(img[..., 1:, :] - img[..., :-1, :], (0, 0, 0, 1))
    if norm == "l1":
        return dx.abs() + dy.abs()
    if norm == "l2":
        return torch.sqrt(dx * dx + dy * dy + eps)
    raise ValueError(f"norm must be 'l1' (code) or 'l2' (paper Eq. 11), got {norm!r}")


# ------------------------------------------------------------------------------------------------------ KL terms


def laplace_kl(d: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    """Element-wise ``KL[L(mu, b) || L(mu + d, 1)] = b exp(-|d|/b) + |d| - log b - 1`` with ``b = exp(log_b)``.

    >>> float(laplace_kl(torch.zeros(1), torch.zeros(1)))
    0.0
    """
    b = log_b.exp()
    a = d.abs()
    return b * torch.exp(-a / b) + a - log_b - 1


def kl_optimal_scale(d: float) -> float:
    """The scale b > 0 minimising ``b exp(-d/b) - log b`` (the part of Eq. 2 that depends on b), for residual d >= 0.

    Setting the derivative to 0 gives ``exp(-d/b) (1 + d/b) = 1/b``; b = 1 at d = 0 and b grows with d. Solved by
    bisection on ``log b``.

    >>> kl_optimal_scale(0.0)
    1.0
    >>> round(kl_optimal_scale(2.0), 4)
    1.5712
    """
    import math

    if d < 0:
        raise ValueError("d must be >= 0")
    if d == 0:
        return 1.0
    f = lambda lb: math.exp(-d / math.exp(lb)) * (1 + d / math.exp(lb)) - math.exp(-lb)  # noqa: E731  increasing
    lo, hi = 0.0, math.log(d) + 10
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if f(mid) > 0 else (mid, hi)
    return math.exp(0.5 * (lo + hi))


def pixel_kl_loss(y_g: torch.Tensor, log_theta: torch.Tensor | None, y_b: torch.Tensor,
                  content: str = "lowpass_l1") -> torch.Tensor:
    """DSN pixel loss L_kl (paper Eq. 2), official 0-255 / 255 scaling. Scalar.

    Args:
        y_g: (B, 3, h, w) float, generated LR, [0, 1] units.
        log_theta: (B, 3, h, w) log Laplace scale in gray levels, or None for the no-uncertainty DSN (then the loss is
            the content term alone, i.e. the L1 of Eq. 1).
        y_b: (B, 3, h, w) bicubic-downsampled HR, [0, 1] units.
        content: ``"lowpass_l1"`` (official ``kl_gau_bic``: ``mean|G5 * 255 y_g - G5 * 255 y_b|``, valid 5x5 Gaussian)
            or ``"l1"`` (paper Eq. 2: ``mean|255 y_g - 255 y_b|``).
    """
    if y_g.shape != y_b.shape:
        raise ValueError(f"y_g {tuple(y_g.shape)} and y_b {tuple(y_b.shape)} must have the same shape")
    g, b = 255.0 * y_g, 255.0 * y_b
    if content == "lowpass_l1":
        c = (gaussian_blur(g, 5, "valid") - gaussian_blur(b, 5, "valid")).abs().mean()
    elif content == "l1":
        c = (g - b).abs().mean()
    else:
        raise ValueError(f"content must be 'lowpass_l1' (code) or 'l1' (paper), got {content!r}")
    if log_theta is None:
        return c / 255.0
    kl = laplace_kl(g - b, log_theta) - (g - b).abs()  # the |d| term is the content term above
    return (c + kl.mean()) / 255.0


def perceptual_kl_loss(feat_g: torch.Tensor, log_sigma: torch.Tensor | None, feat_b: torch.Tensor) -> torch.Tensor:
    """DSN perceptual loss L_kl_per (paper Eq. 4; Eq. 3 when ``log_sigma`` is None), official scaling. Scalar.

    ``feat_*: (B, C, h/16, w/16)`` VGG19 ``conv5_4`` pre-ReLU features of y_g and y_b; mapped like the official code
    to ``Phi = 255 (0.5 f + 0.5)`` (so feature differences are halved), then
    ``(mean D + mean(sigma exp(-D/sigma) - log sigma - 1)) / 255`` with ``D = |Phi_g - Phi_b|``.
    """
    if feat_g.shape != feat_b.shape:
        raise ValueError(f"feature shapes differ: {tuple(feat_g.shape)} vs {tuple(feat_b.shape)}")
    d = 127.5 * (feat_g - feat_b)
    if log_sigma is None:
        return d.abs().mean() / 255.0
    if log_sigma.shape != feat_g.shape:
        raise ValueError(f"log_sigma {tuple(log_sigma.shape)} must match the features {tuple(feat_g.shape)}; "
                         f"is the DSN head C as wide as the VGG conv5_4 features?")
    return laplace_kl(d, log_sigma).mean() / 255.0


# -------------------------------------------------------------------------------------------------- GAN and ESRGAN


def gan_loss(logits: torch.Tensor, real: bool, form: str = "logits") -> torch.Tensor:
    """Vanilla GAN binary cross-entropy against an all-real or all-fake target, averaged over every logit. Scalar.

    form: ``"logits"`` (``BCEWithLogits``: the SRN, BasicSR ``GANLoss`` vanilla) or ``"sigmoid"`` (sigmoid, clamp to
    [0, 1], ``binary_cross_entropy``, whose log is clamped at -100: the official DSN; it saturates for large logits).
    Paper Eqs. 5-6 and 9-10: G minimises ``gan_loss(D(fake), True)``, D minimises the real plus the fake term.

    >>> round(float(gan_loss(torch.zeros(2, 1, 4, 4), True)), 4)  # log 2
    0.6931
    """
    target = torch.full_like(logits, 1.0 if real else 0.0)
    if form == "logits":
        return F.binary_cross_entropy_with_logits(logits, target)
    if form == "sigmoid":
        return F.binary_cross_entropy(torch.sigmoid(logits).clamp(0.0, 1.0), target)
    raise ValueError(f"form must be 'logits' or 'sigmoid', got {form!r}")


def l1_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """ESRGAN content loss ``mean|sr - hr|`` (BasicSR ``L1Loss``, reduction mean). Scalar."""
    if sr.shape != hr.shape:
        raise ValueError(f"sr {tuple(sr.shape)} and hr {tuple(hr.shape)} must have the same shape")
    return (sr - hr).abs().mean()


def lowpass_l1_loss(sr: torch.Tensor, hr: torch.Tensor, size: int = 9) -> torch.Tensor:
    """Official SRN extra term ``mean|G9 * sr - G9 * hr|`` (9x9 Gaussian, sigma 1.5, zero padding). Scalar."""
    return l1_loss(gaussian_blur(sr, size, "zeros"), gaussian_blur(hr, size, "zeros"))


def perceptual_l1_loss(vgg: torch.nn.Module, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """ESRGAN perceptual loss: L1 between ``conv5_4`` pre-ReLU features (BasicSR ``PerceptualLoss``, layer weight 1,
    ``use_input_norm`` True, no range norm). ``sr, hr: (B, 3, H, W)`` in [0, 1]. Scalar."""
    with torch.no_grad():
        target = vgg(hr)
    return l1_loss(vgg(sr), target)
