"""Training configs of both USR-DU stages, their profiles, and the Table 1 ablation situations as data.

Profiles (``PROFILES``): ``tiny`` (2-core CPU, minutes; random VGG stand-in declared in the config), ``paper`` (the
hyper-parameters the paper states) and ``official`` (what the released code actually runs; see the reference notes).
Each value cites its source: "paper" = Ning et al. IJCAI 2022, "code" = the official repository (README flags for the
DSN, ``SRN/realsr_options/ep420_track1_c_grad_lap_sam_vgg19_l1.yml`` for the SRN).

Like :class:`srlib.dasr.train_config.DASRTrainConfig`, each config carries its ``seed`` and an optional iteration cap
``max_iters`` (a run stops after ``total_iters = min(iters, max_iters)`` iterations), and is built with
``Cls.for_profile(profile, situation, **overrides)``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Optional

from srlib.config import check_profile, smoke_overrides
from srlib.errors import UsageError
from srlib.published import USRDU_TABLE1
from srlib.usrdu.discriminator import UNetDConfig
from srlib.usrdu.dsn import DSNConfig
from srlib.usrdu.rrdbnet import RRDBNetConfig
from srlib.usrdu.vgg import VGGConfig


#: Iterations of the ``small`` profile's DSN and SRN (the tiny networks, batch 8, on the stand-in Track 1 plus
#: SunHays80); sized to train each in well under an hour on one core of a 2-core CPU.
SMALL_DSN_ITERS = 6000
SMALL_SRN_ITERS = 1500


@dataclass(frozen=True)
class Situation:
    """One row of the paper's Table 1 (ablation on NTIRE 2020 Track 1)."""

    number: int
    pixel_uncertainty: bool  # column theta: DSN learns theta (head B + KL pixel loss)
    feature_uncertainty: bool  # column sigma: DSN learns sigma (head C + KL perceptual loss)
    sampling: str  # "none" (y_hat = y_g), "constant" (y_g + eps * I), "theta" (Eq. 8)
    gradient_d: bool  # column Gradient: SRN discriminator sees G(I) (Eq. 11) instead of pixels
    label: str


SITUATIONS = {
    1: Situation(1, False, False, "none", True, "no uncertainty"),
    2: Situation(2, False, False, "constant", True, "constant-scale sampling (y_g + eps I)"),
    3: Situation(3, True, False, "theta", True, "theta only"),
    4: Situation(4, True, True, "theta", False, "theta + sigma, pixel-domain D"),
    5: Situation(5, True, True, "theta", True, "full USR-DU"),
}

#: Paper Table 1 (NTIRE 2020 Track 1 validation, x4): situation -> (PSNR, SSIM, LPIPS); kept in srlib.published.
PAPER_TABLE1 = USRDU_TABLE1


def situation(number: int) -> Situation:
    """Row ``number`` (1-5) of the paper's Table 1.

    >>> situation(5).label
    'full USR-DU'
    """
    if number not in SITUATIONS:
        raise UsageError(f"situation must be one of {sorted(SITUATIONS)} (paper Table 1), got {number!r}")
    return SITUATIONS[number]


_situation = situation  # for_profile's parameter is also called ``situation``


def _check_run_fields(cfg) -> None:
    """Checks shared by both stages: the Table 1 row, the seed, the schedule and the logging periods."""
    situation(cfg.situation)
    if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise UsageError(f"seed must be a non-negative int, got {cfg.seed!r}")
    for name in ("iters", "batch_size", "lr_patch", "log_every", "val_every", "save_every"):
        if getattr(cfg, name) < 1:
            raise UsageError(f"{name} must be >= 1, got {getattr(cfg, name)}")
    if cfg.max_iters is not None and cfg.max_iters < 0:
        raise UsageError(f"max_iters must be >= 0 or None (the full schedule), got {cfg.max_iters}")


@dataclass(frozen=True)
class DataConfig:
    """Where the unpaired training data and the paired validation data come from.

    ``None`` folders (tiny): HR = first half of ``srlib.data.builtin_images("train")``, "real" LR = the second half
    through ``RealWorldDegradation(scale, seed=realworld_seed)``, validation = the builtin test split HR with LR from
    the same degradation (the NTIRE 2020 Track 1 situation: validation LR shares the training LR's degradation).
    ``corpus`` (small: ``"SunHays80"``) adds a named corpus to the stand-in, split the same way: the first half of
    its sorted files joins the HR images, the second half goes through the camera and joins the real LR images.
    Folders (paper): DIV2K HR, NTIRE 2020 Track 1 ``corrupted_train_x`` (or RealSR Canon LR), and the validation pairs
    ``corrupted_valid_y`` / ``corrupted_valid_x``. See :func:`srlib.usrdu.data.load_data`.
    """

    hr_dir: Optional[str] = None
    lr_dir: Optional[str] = None
    val_hr_dir: Optional[str] = None
    val_lr_dir: Optional[str] = None
    realworld_seed: int = 0
    corpus: Optional[str] = None  # small: a named training corpus (srlib.data.training) added to the stand-in


@dataclass(frozen=True)
class DSNTrainConfig:
    """DSN training (paper Sec. 3.1, Eq. 7). ``seed`` seeds weight init and the patch sampler; the run does
    ``total_iters = min(iters, max_iters)`` iterations (``max_iters=None``: the full schedule)."""

    PROFILES: ClassVar[tuple] = ("tiny", "small", "paper", "official")

    profile: str = "paper"
    situation: int = 5
    dsn: DSNConfig = DSNConfig()
    disc: UNetDConfig = UNetDConfig()
    vgg: VGGConfig = VGGConfig()
    data: DataConfig = DataConfig()
    content: str = "l1"  # paper Eq. 2 (|y_g - y_b|); code: "lowpass_l1" (kl_gau_bic, 5x5 Gaussian low-pass L1)
    alpha_kl: float = 1.0  # paper Eq. 7 alpha1 (code: data_ratio 100 / 100)
    alpha_per: float = 0.01  # paper alpha2 (code: per_ratio 1 / 100)
    alpha_adv: float = 0.01  # paper alpha3 (code: gan_ratio 1 / 100)
    gan_form: str = "sigmoid"  # code: sigmoid + clamp + BCE
    lr: float = 1e-4  # paper "initial learning rate is 0.0001" (code: 5e-5)
    betas: tuple = (0.9, 0.999)  # code (Adam defaults)
    milestones: tuple = (16500, 33000, 49500, 66000)  # paper: halve every 100 epochs x 165 it/epoch (Track 1)
    gamma: float = 0.5  # paper "decreases by half"
    batch_size: int = 16  # paper "16 RGB HR patches"
    lr_patch: int = 64  # paper: HR patches 256x256 at x4
    iters: int = 82500  # paper: 500 epochs x 165 iterations (2650 Track 1 LR images / 16, drop_last)
    seed: int = 0
    max_iters: Optional[int] = None
    log_every: int = 100
    val_every: int = 5000
    save_every: int = 1000

    def __post_init__(self):
        _check_run_fields(self)
        s = situation(self.situation)
        if (self.dsn.pixel_uncertainty, self.dsn.feature_uncertainty) != (s.pixel_uncertainty, s.feature_uncertainty):
            raise UsageError(f"situation {s.number} needs DSNConfig(pixel_uncertainty={s.pixel_uncertainty}, "
                             f"feature_uncertainty={s.feature_uncertainty})")
        if self.dsn.feature_uncertainty and self.dsn.sigma_widths[-1] != self.vgg.out_channels:
            raise UsageError(f"DSN head C ends at {self.dsn.sigma_widths[-1]} channels but the VGG conv5_4 has "
                             f"{self.vgg.out_channels}")

    @property
    def total_iters(self) -> int:
        """Iterations this run will do: ``iters``, or ``max_iters`` if smaller.

        >>> DSNTrainConfig.for_profile("tiny", max_iters=5).total_iters, DSNTrainConfig.for_profile("tiny").total_iters
        (5, 1000)
        """
        return self.iters if self.max_iters is None else min(self.iters, self.max_iters)

    @classmethod
    def for_profile(cls, profile: str, situation: int = 5, **overrides) -> "DSNTrainConfig":
        """Resolved config of ``profile`` for Table 1 ``situation``; ``overrides`` replace fields (``seed=``,
        ``max_iters=`` ...)."""
        s = _situation(situation)
        heads = dict(pixel_uncertainty=s.pixel_uncertainty, feature_uncertainty=s.feature_uncertainty)
        base = dict(profile=check_profile(profile, cls.PROFILES), situation=s.number)
        if profile in ("tiny", "small"):
            base.update(dsn=DSNConfig.for_profile("tiny", **heads), disc=UNetDConfig.for_profile("tiny"),
                        vgg=VGGConfig(weights="random", width_div=8), lr=1e-3, milestones=(), batch_size=4,
                        lr_patch=32, iters=1000, log_every=10, val_every=250, save_every=250, content="lowpass_l1")
        if profile == "small":  # the tiny networks, trained longer on the stand-in plus SunHays80
            base.update(data=DataConfig(corpus="SunHays80"), batch_size=8, iters=SMALL_DSN_ITERS,
                        milestones=(SMALL_DSN_ITERS // 2, 3 * SMALL_DSN_ITERS // 4), val_every=500)
        if profile in ("paper", "official"):
            base.update(dsn=DSNConfig.for_profile("paper", **heads))
        if profile == "official":  # README: --lr_down 0.00005 --milestone 250-1000, epoch 420 used by the SRN
            base.update(lr=5e-5, milestones=(250 * 165, 1000 * 165), iters=420 * 165, content="lowpass_l1")
        return dataclasses.replace(cls(**base), **smoke_overrides(overrides))


@dataclass(frozen=True)
class SRNTrainConfig:
    """SRN (ESRGAN) training on sampled LR images (paper Sec. 3.2, Eq. 12). ``seed`` seeds weight init, patches and
    the Laplace noise; the run does ``total_iters = min(iters, max_iters)`` iterations."""

    PROFILES: ClassVar[tuple] = ("tiny", "small", "paper", "official")

    profile: str = "paper"
    situation: int = 5
    dsn_checkpoint: Optional[str] = None  # srlib DSN run (final.pt) or the authors' gen state dict
    init_checkpoint: Optional[str] = None  # code: RRDB_PSNR_x4.pth (ESRGAN PSNR model); None = random init
    srn: RRDBNetConfig = RRDBNetConfig()
    disc: UNetDConfig = UNetDConfig()  # code: UNetDiscriminatorSN (paper does not name the SRN D)
    vgg: VGGConfig = VGGConfig()
    data: DataConfig = DataConfig()
    w_pixel: float = 0.01  # paper beta1
    w_lowpass: float = 0.0  # code only: low_f_loss_weight 1 (9x9 Gaussian low-pass L1)
    w_percep: float = 1.0  # paper beta2 (conv5_4, L1)
    w_adv: float = 0.005  # paper beta3
    gradient_norm: str = "l2"  # paper Eq. 11 (code: "l1", per-channel |dx| + |dy|)
    constant_scale: float = 1 / 255  # situation 2: the reference scale "I" = one gray level
    scheme: str = "online"  # code: theta recomputed from each HR patch by the frozen DSN
    lr: float = 1e-4  # paper
    betas: tuple = (0.9, 0.99)  # code / BasicSR ESRGAN
    milestones: tuple = ()  # paper names none
    gamma: float = 0.5
    ema_decay: float = 0.999  # paper "we adopt EMA" (BasicSR ESRGAN default 0.999; code: 0 = off)
    batch_size: int = 16  # paper "16 RGB LR patches"
    lr_patch: int = 64  # paper "sized by 64 x 64"
    iters: int = 50000  # paper "1000 epochs" x 800 DIV2K images / 16
    seed: int = 0
    max_iters: Optional[int] = None
    log_every: int = 100
    val_every: int = 5000
    save_every: int = 1000

    def __post_init__(self):
        _check_run_fields(self)
        if self.gradient_norm not in ("l1", "l2"):
            raise UsageError(f"gradient_norm must be 'l1' (code) or 'l2' (paper), got {self.gradient_norm!r}")
        if self.scheme not in ("online", "cached"):
            raise UsageError(f"scheme must be 'online' or 'cached', got {self.scheme!r}")

    @property
    def total_iters(self) -> int:
        """Iterations this run will do: ``iters``, or ``max_iters`` if smaller."""
        return self.iters if self.max_iters is None else min(self.iters, self.max_iters)

    @classmethod
    def for_profile(cls, profile: str, situation: int = 5, **overrides) -> "SRNTrainConfig":
        """Resolved config of ``profile`` for Table 1 ``situation``; ``overrides`` replace fields
        (``dsn_checkpoint=``, ``seed=``, ``max_iters=`` ...).

        >>> cfg = SRNTrainConfig.for_profile("tiny", 2, seed=3)
        >>> cfg.situation, cfg.seed, cfg.ema_decay, cfg.total_iters
        (2, 3, 0.0, 150)
        """
        s = _situation(situation)
        base = dict(profile=check_profile(profile, cls.PROFILES), situation=s.number)
        if profile in ("official", "tiny", "small"):  # the released yml (Track 1)
            base.update(w_pixel=1.0, w_lowpass=1.0, w_percep=1.0, w_adv=0.1, gradient_norm="l1", lr=5e-5,
                        milestones=(100000,), ema_decay=0.0, batch_size=6, iters=18000, val_every=500, save_every=500)
        if profile in ("tiny", "small"):
            # w_percep 0.01: the tiny VGG is random (no ImageNet weights offline). At the released weight 1 its
            # "perceptual" term pulled validation PSNR down by 2.7 dB in 120 iterations (measured, situation 5);
            # at 0.01 the code path still runs but random features no longer steer the result.
            base.update(srn=RRDBNetConfig.for_profile("tiny"), disc=UNetDConfig.for_profile("tiny"),
                        vgg=VGGConfig(weights="random", width_div=8), lr=1e-4, milestones=(), batch_size=4,
                        w_percep=0.01, lr_patch=16, iters=150, log_every=10, val_every=150, save_every=75,
                        scheme="cached")
        if profile == "small":
            base.update(data=DataConfig(corpus="SunHays80"), batch_size=8, lr_patch=24, iters=SMALL_SRN_ITERS,
                        val_every=250, save_every=250)
        return dataclasses.replace(cls(**base), **smoke_overrides(overrides))
