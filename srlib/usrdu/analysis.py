"""Statistics behind the USR-DU figures: Laplace vs Gaussian fits of LR residuals (paper Fig. 2) and how the learned
uncertainty theta relates to image structure (paper Fig. 6: "edges and texture areas tend to have a higher degradation
uncertainty").

All residuals are measured in 8-bit gray levels (images x 255), the unit of theta.
"""
from __future__ import annotations

import math

import torch

from srlib.usrdu.losses import image_gradient


def laplace_loglik(x: torch.Tensor, mu, b) -> torch.Tensor:
    """Element-wise log-density of the Laplace law: ``-log(2 b) - |x - mu| / b`` (b > 0, tensor or float)."""
    b = torch.as_tensor(b, dtype=x.dtype)
    return -torch.log(2 * b) - (x - mu).abs() / b


def gaussian_loglik(x: torch.Tensor, mu, sigma) -> torch.Tensor:
    """Element-wise log-density of the normal law: ``-log(sigma sqrt(2 pi)) - (x - mu)^2 / (2 sigma^2)``."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype)
    return -torch.log(sigma * math.sqrt(2 * math.pi)) - (x - mu) ** 2 / (2 * sigma ** 2)


def fit_laplace_gaussian(residual: torch.Tensor) -> dict:
    """Maximum-likelihood Laplace (median, mean absolute deviation) and Gaussian (mean, std) fits of all values of
    ``residual``, with the mean log-likelihood per value under each (higher = better fit).

    >>> r = torch.distributions.Laplace(0.0, 2.0).sample((200000,)).double()
    >>> f = fit_laplace_gaussian(r)
    >>> round(f["laplace_b"], 1), f["laplace_loglik"] > f["gaussian_loglik"]
    (2.0, True)
    """
    x = residual.flatten().double()
    mu = x.median()
    b = (x - mu).abs().mean()
    m, s = x.mean(), x.std(unbiased=False)
    return {"laplace_mu": float(mu), "laplace_b": float(b), "gaussian_mu": float(m), "gaussian_sigma": float(s),
            "laplace_loglik": float(laplace_loglik(x, mu, b).mean()),
            "gaussian_loglik": float(gaussian_loglik(x, m, s).mean())}


def gradient_magnitude(img: torch.Tensor) -> torch.Tensor:
    """Local gradient magnitude ``sqrt(dx^2 + dy^2)`` (paper Eq. 11 form), averaged over colour channels.

    ``img: (B, C, H, W)`` -> ``(B, 1, H, W)`` in the input's units.
    """
    return image_gradient(img, "l2", eps=0.0).mean(1, keepdim=True)


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> tuple:
    """Pearson and Spearman correlation of two equally sized tensors (all elements).

    >>> x = torch.arange(10.0)
    >>> [round(v, 6) for v in rank_correlation(x, x ** 3)]
    [0.908434, 1.0]
    """
    if a.numel() != b.numel():
        raise ValueError(f"sizes differ: {a.numel()} vs {b.numel()}")
    a, b = a.flatten().double(), b.flatten().double()

    def pearson(u, v):
        u, v = u - u.mean(), v - v.mean()
        return float((u * v).sum() / (u.norm() * v.norm()))

    rank = lambda t: torch.empty_like(t).scatter_(0, t.argsort(), torch.arange(t.numel(), dtype=t.dtype))  # noqa: E731
    return pearson(a, b), pearson(rank(a), rank(b))


def dsn_outputs(dsn, val_pairs) -> dict:
    """What a DSN makes of each validation pair: ``{name: {"hr", "real", "y_b", "y_g", "theta"}}``.

    ``y_b`` is the bicubic LR of the HR image, ``y_g`` the DSN's quantised mean (8-bit grid, as the official
    ``--test_visible`` saves it), ``theta`` the pixel Laplace scale in gray levels (``None`` for a DSN without head B).
    All on the CPU, ``(3, h, w)``. ``dsn`` runs in eval mode and is left in the mode it was in.
    """
    from srlib.degradations import imresize, quantize

    dev = next(dsn.parameters()).device
    was_training = dsn.training
    dsn.eval()
    outs = {}
    try:
        with torch.no_grad():
            for name, lr, hr in val_pairs:
                o = dsn(hr[None].to(dev), feature_head=False)
                theta = None if o.log_theta is None else o.log_theta[0].exp().cpu()
                outs[name] = dict(hr=hr, real=lr, y_b=imresize(hr[None], 1 / dsn.cfg.scale)[0],
                                  y_g=quantize(o.y_g[0].cpu()), theta=theta)
    finally:
        dsn.train(was_training)
    return outs


def theta_structure(outs: dict) -> dict:
    """Paper Fig. 6 as numbers: how the learned ``theta`` (mean over colour channels) follows the local gradient
    magnitude of the bicubic LR ``y_b`` (gray levels), pooled over the images of :func:`dsn_outputs`.

    Also how ``theta`` follows the brightness of ``y_b``, per colour value: a camera whose noise variance grows with
    the signal (Poisson-Gaussian, like :class:`srlib.degradations.RealWorldDegradation`) is more uncertain in bright
    pixels, so a DSN that learned it should show a positive correlation there.

    Returns ``{"pearson", "spearman"}`` (gradient), ``{"pearson_brightness", "spearman_brightness"}``, ``"n"`` (LR
    pixels) and ``{"theta_min", "theta_median", "theta_max"}`` (gray levels, channel means).
    """
    thetas = torch.cat([v["theta"].mean(0).flatten() for v in outs.values()])
    grads = torch.cat([(gradient_magnitude(v["y_b"][None]) * 255)[0, 0].flatten() for v in outs.values()])
    pearson, spearman = rank_correlation(thetas, grads)
    pb, sb = rank_correlation(torch.cat([v["theta"].flatten() for v in outs.values()]),
                              torch.cat([v["y_b"].flatten() for v in outs.values()]))
    return {"pearson": pearson, "spearman": spearman, "pearson_brightness": pb, "spearman_brightness": sb,
            "n": thetas.numel(), "theta_min": float(thetas.min()), "theta_median": float(thetas.median()),
            "theta_max": float(thetas.max())}


def likelihood_rows(outs: dict) -> dict:
    """Fig. 2 revisited: mean log-likelihood per value (gray levels, higher is better) of the real LR under four
    models of it, pooled over the images of :func:`dsn_outputs` (which need ``theta``).

    Keys: ``"gaussian_yb"``, ``"laplace_yb"`` (one global Gaussian / Laplace around the bicubic LR), ``"laplace_yg"``
    (one global Laplace around ``y_g``), ``"theta_yg"`` (Laplace around ``y_g`` with the learned per-pixel ``theta``),
    and ``"b_yg"``: the global Laplace scale around ``y_g``.
    """
    res_b = torch.cat([((v["real"] - v["y_b"]) * 255).flatten() for v in outs.values()])
    res_g = torch.cat([((v["real"] - v["y_g"]) * 255).flatten() for v in outs.values()])
    theta = torch.cat([v["theta"].flatten() for v in outs.values()]).double()
    fit_b, fit_g = fit_laplace_gaussian(res_b), fit_laplace_gaussian(res_g)
    return {"gaussian_yb": fit_b["gaussian_loglik"], "laplace_yb": fit_b["laplace_loglik"],
            "laplace_yg": fit_g["laplace_loglik"],
            "theta_yg": float(laplace_loglik(res_g.double(), 0.0, theta).mean()), "b_yg": fit_g["laplace_b"]}


def compare(a: float, b: float, *, digits: int = 2, higher_is_better: bool = True) -> dict:
    """Compare two printed numbers as a reader sees them: both rounded to ``digits`` decimals first, so a sentence
    built from the result always agrees with the printed values.

    Returns ``{"a", "b", "gap"}`` (rounded; ``gap = |a - b|``), ``"sign"`` (1 if a > b, -1 if a < b, 0 if equal as
    printed) and ``"better"`` (True / False / None for a tie, judged by ``higher_is_better``).

    >>> compare(30.004, 29.2)
    {'a': 30.0, 'b': 29.2, 'gap': 0.8, 'sign': 1, 'better': True}
    >>> compare(4.1, 5.0, digits=1, higher_is_better=False)["better"]
    True
    >>> compare(1.004, 0.996)["sign"]
    0
    """
    ra, rb = round(float(a), digits), round(float(b), digits)
    gap = round(abs(ra - rb), digits)
    sign = 0 if gap == 0 else (1 if ra > rb else -1)
    better = None if sign == 0 else (sign > 0) == higher_is_better
    return {"a": ra, "b": rb, "gap": gap, "sign": sign, "better": better}


def gap_phrase(a: float, b: float, *, unit: str = " dB", digits: int = 2, more: str = "higher",
               less: str = "lower") -> str:
    """``"0.83 dB higher than"`` / ``"0.31 dB lower than"`` / ``"equal (to 2 decimals) to"``: how ``a`` stands
    against ``b`` as printed with ``digits`` decimals (see :func:`compare`).

    >>> gap_phrase(30.12, 29.29), gap_phrase(1.0, 2.5, unit="", digits=1, more="more", less="less")
    ('0.83 dB higher than', '1.5 less than')
    >>> gap_phrase(3.001, 3.0)
    'equal (to 2 decimals) to'
    """
    c = compare(a, b, digits=digits)
    if c["sign"] == 0:
        return f"equal (to {digits} decimals) to"
    return f"{c['gap']:.{digits}f}{unit} {more if c['sign'] > 0 else less} than"


def correlation_phrase(r: float, *, digits: int = 3, weak: float = 0.1) -> str:
    """Words for a correlation coefficient as printed: ``"positive"``, ``"negative"`` or ``"negligible"``
    (``|r| < weak``), e.g. for a sentence "theta has a positive rank correlation with ...".

    >>> correlation_phrase(0.412), correlation_phrase(-0.25), correlation_phrase(0.04)
    ('positive', 'negative', 'negligible')
    """
    r = round(float(r), digits)
    if abs(r) < weak:
        return "negligible"
    return "positive" if r > 0 else "negative"


def zoo_missing(names) -> list:
    """Why some of the zoo entries ``names`` cannot be used on this machine: one line per missing entry (unknown to
    this srlib's manifest, file absent, or failing its checksum); ``[]`` when all are there and verified.

    >>> zoo_missing(["no-such-entry"])[0].startswith("no-such-entry:")
    True
    """
    from srlib import zoo
    from srlib.errors import SrlibError

    out = []
    for name in names:
        try:
            zoo.path(name)
        except SrlibError as exc:
            out.append(f"{name}: {exc}")
    return out


def lpips_unavailable_reason() -> str:
    """What the book prints in an LPIPS cell on a machine without the metric: how to provide it."""
    from srlib import metrics

    return (f"unavailable (LPIPS needs `pip install lpips` and the ImageNet AlexNet weights {metrics.ALEXNET_FILENAME} "
            f"from {metrics.ALEXNET_URL}, in torch hub's checkpoints folder or at ${metrics.ALEXNET_ENV})")


def run_summary(path) -> str:
    """One line on how an srlib USR-DU run checkpoint (DSN or SRN ``final.pt``) was trained, read from the file itself
    (safe load): profile, situation, iterations, batch and patch, and for an SRN its loss weights; ``""`` for a file
    that is not an srlib run checkpoint (a bare state dict, such as an ESRGAN-named PSNR initialisation).
    """
    from srlib.runs import load_checkpoint

    state = load_checkpoint(path, map_location="cpu")
    cfg = state.get("config") if isinstance(state, dict) else None
    if not isinstance(cfg, dict) or "step" not in state:
        return ""
    bits = [f"profile {cfg.get('profile')}", f"situation {cfg.get('situation')}", f"{state['step']} iterations",
            f"batch {cfg.get('batch_size')} x LR patch {cfg.get('lr_patch')} px", f"seed {cfg.get('seed')}"]
    if "w_pixel" in cfg:
        bits.append("loss weights pixel {w_pixel:g}, low-pass {w_lowpass:g}, perceptual {w_percep:g}, "
                    "adversarial {w_adv:g} (gradient D, {gradient_norm} norm), EMA {ema_decay:g}".format(**cfg))
    return ", ".join(bits)
