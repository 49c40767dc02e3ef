"""Architecture config of the DASR model (degradation encoder + MoCo + degradation-aware SR net).

One frozen dataclass, :class:`DASRConfig`, describes every layer width of ``BlindSR`` and the switches that turn it into
the ablation variants of the paper's Table 1 (see :mod:`srlib.dasr.ablations`). Two profiles
(:meth:`DASRConfig.for_profile`):

* ``paper``: the official sizes (``LongguangWang/DASR`` ``model/blindsr.py`` hard-codes n_feats=64, n_groups=5,
  n_blocks=5, reduction=8; ``moco/builder.py`` dim=256, K=8192, m=0.999, T=0.07). With these values the state dict has
  exactly the 519 keys of the official model and official checkpoints load.
* ``tiny``: the same code path with small widths so that the book trains a model in seconds on a 2-core CPU.
* ``small``: the ``tiny`` widths (the training schedule is what differs, :mod:`srlib.dasr.train_config`): a 0.4 M
  parameter model (n_feats 32, 3x3 blocks) trained 800 iterations scored worse than this one after 900, because on
  2 cores iterations per minute matter more than width.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from srlib.config import check_profile

#: Conditioning styles of the residual blocks: ``"da"`` = DA convolutions (Models 1, 3, 4, 5),
#: ``"concat"`` = representation stretched to a map and concatenated to the features before a vanilla conv (Model 2).
BLOCK_KINDS = ("da", "concat")
#: SR factors of the official code (``--scale``) and of srlib's DASR.
SCALES = (2, 3, 4)
#: Where the representation comes from: the contrastive ``"encoder"`` (blind) or the true ``"kernel"`` (Model 5 oracle).
SOURCES = ("encoder", "kernel")


@dataclass(frozen=True)
class DASRConfig:
    """Sizes and switches of :class:`srlib.dasr.network.BlindSR`.

    Attributes:
        scale: SR factor, 2, 3 or 4 (official ``--scale``).
        n_feats: feature channels of the SR net (official: 64, hard-coded in ``DASR.__init__``).
        n_groups: residual groups (DAGs) (paper Sec. 3.2.2: 5).
        n_blocks: DA blocks per group (paper Sec. 3.2.2: 5).
        reduction: channel reduction of the modulation branch (official ``CA_layer``: 8).
        enc_widths: output widths of the encoder's three conv pairs (official ``Encoder``: 64, 128, 256);
            the last one is the representation dimension.
        queue_size: MoCo queue length K (paper Sec. 4.1 / ``moco/builder.py``: 8192 = 32 x 256).
        momentum: key-encoder momentum m (``moco/builder.py``: 0.999).
        temperature: InfoNCE temperature tau (paper Sec. 4.1: 0.07).
        block: ``"da"`` or ``"concat"`` (Model 2), see :data:`BLOCK_KINDS`.
        modulation: keep the channel-wise modulation branch of the DA conv (False = Model 3).
        source: ``"encoder"`` or ``"kernel"`` (Model 5 oracle), see :data:`SOURCES`.
        kernel_size: side of the blur kernels fed to the oracle (paper Sec. 4.1: 21).
    """

    scale: int = 4
    n_feats: int = 64
    n_groups: int = 5
    n_blocks: int = 5
    reduction: int = 8
    enc_widths: tuple = (64, 128, 256)
    queue_size: int = 8192
    momentum: float = 0.999
    temperature: float = 0.07
    block: str = "da"
    modulation: bool = True
    source: str = "encoder"
    kernel_size: int = 21

    #: The profiles :meth:`for_profile` builds (a class attribute, not a field).
    PROFILES = ("tiny", "small", "paper")

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {self.scale!r}")
        if self.block not in BLOCK_KINDS:
            raise ValueError(f"block must be one of {BLOCK_KINDS}, got {self.block!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if len(self.enc_widths) != 3 or min(self.enc_widths) < 1:
            raise ValueError(f"enc_widths must be three positive ints, got {self.enc_widths!r}")
        if self.n_feats < 1:
            raise ValueError(f"n_feats must be positive, got {self.n_feats}")
        if self.block == "da" and self.modulation and (self.n_feats < self.reduction or self.n_feats % self.reduction):
            raise ValueError(f"n_feats ({self.n_feats}) must be a positive multiple of reduction ({self.reduction})")
        if min(self.n_groups, self.n_blocks, self.queue_size) < 1:
            raise ValueError("n_groups, n_blocks and queue_size must be >= 1")

    @property
    def rep_dim(self) -> int:
        """Dimension of the degradation representation (encoder output before the MLP head): 256 in the paper."""
        return int(self.enc_widths[-1])

    @classmethod
    def for_profile(cls, name: str, **overrides) -> "DASRConfig":
        """The ``tiny``, ``small`` or ``paper`` sizes, with optional field overrides (``small`` has the ``tiny``
        widths: at CPU scale iterations per minute matter more than width, see :data:`TINY`).

        >>> DASRConfig.for_profile("paper").n_feats
        64
        >>> DASRConfig.for_profile("tiny", scale=2).scale
        2
        """
        check_profile(name, cls.PROFILES)
        base = cls() if name == "paper" else cls(**TINY)  # tiny and small
        return replace(base, **overrides)


#: Small widths for CPU runs: 0.14 M parameters on the inference path. queue_size 256 is a multiple of every tiny
#: batch size used in the book. momentum 0.99 instead of 0.999: a tiny run lasts hundreds, not 582k, iterations, and
#: the key encoder must follow the query encoder within that time (0.999**700 = 0.50 of it would still be random).
TINY = dict(n_feats=16, n_groups=2, n_blocks=2, reduction=4, enc_widths=(16, 32, 64), queue_size=256, momentum=0.99)
