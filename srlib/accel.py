"""Speed options shared by the trainers and by inference: mixed precision, memory format and compilation.

:class:`Speed` collects the three switches (``--amp bf16|fp16``, ``--channels-last``, ``--compile`` on the command
line) and applies them in the same way everywhere:

* ``amp``: :func:`torch.autocast` around the networks' forward passes and the losses, on CUDA only. ``fp16`` also
  scales the loss (:class:`torch.amp.GradScaler`, one per optimiser, saved in ``last.pt``); ``bf16`` has fp32's
  exponent range and needs no scaling. The degradation pipeline (blur, bicubic, noise, 8-bit rounding) is never
  autocast: it is MATLAB-exact in fp32. On the CPU, ``bf16`` is allowed where the processor has native bf16
  instructions (AVX512-BF16 or AMX, :func:`cpu_has_bf16`): on a 2-core Xeon with AMX it ran the paper-size DASR x4
  forward in 0.76x the fp32 time, while on an AVX2-only EPYC an earlier measurement found it 23x slower, so there it
  is refused. ``fp16`` is CUDA only. ``benchmarks/bench_speed.py`` measures both on the machine at hand.
* ``channels_last``: NHWC weights and inputs (:meth:`Speed.module` / :meth:`Speed.tensor`); faster for convolutions
  on tensor-core GPUs, slower on this CPU (measured in the same benchmark).
* ``compile``: :func:`torch.compile` of the networks, in place (the first steps pay the compilation).

The default ``Speed()`` changes nothing: same kernels, same numbers as srlib always computed.
"""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass

import torch

from srlib.errors import UsageError

AMP_MODES = ("bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Speed:
    """Mixed precision, memory format and compilation for one run (all off by default).

    >>> Speed().autocast(torch.device("cpu")).__class__.__name__
    'nullcontext'
    >>> Speed(amp="fp16").check(torch.device("cpu"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    srlib.errors.UsageError: --amp fp16 runs on CUDA only...
    """

    amp: str | None = None
    channels_last: bool = False
    compile: bool = False

    def __post_init__(self):
        if self.amp not in (None, *AMP_MODES):
            raise UsageError(f"--amp must be one of {AMP_MODES}, got {self.amp!r}")

    def check(self, device: torch.device) -> "Speed":
        """Refuse options that do not apply to ``device`` (a one-line :class:`UsageError`)."""
        if not self.amp or torch.device(device).type == "cuda":
            return self
        if self.amp == "fp16":
            raise UsageError("--amp fp16 runs on CUDA only (on a CPU with native bf16 instructions use --amp bf16)")
        if not cpu_has_bf16():
            raise UsageError("--amp bf16 runs on CUDA, or on a CPU with native bf16 instructions (AVX512-BF16 or "
                             "AMX), which this one lacks: without them bf16 autocast is many times slower than fp32; "
                             "drop --amp")
        return self

    def autocast(self, device: torch.device):
        """The autocast context for forward passes and losses (a no-op without ``amp``)."""
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(torch.device(device).type, dtype=_DTYPES[self.amp])

    def scaler(self, device: torch.device) -> torch.amp.GradScaler:
        """A loss scaler, enabled for ``fp16`` only (disabled, it passes the loss and the step through untouched)."""
        return torch.amp.GradScaler(torch.device(device).type, enabled=self.amp == "fp16")

    def module(self, net: torch.nn.Module) -> torch.nn.Module:
        """``net`` in channels-last memory format, when asked (in place; the state dict is the same)."""
        return net.to(memory_format=torch.channels_last) if self.channels_last else net

    def tensor(self, x: torch.Tensor) -> torch.Tensor:
        """A 4-D input in the module's memory format."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x

    def compile_modules(self, *nets: torch.nn.Module) -> None:
        """Compile ``nets`` in place when asked (``nn.Module.compile``: state-dict keys and the module tree stay the
        same, so checkpoints do not change). The trainers compile their networks, not the loops around them: MoCo's
        queue bookkeeping and the losses stay eager."""
        if self.compile:
            for net in nets:
                net.compile()

    def as_dict(self) -> dict:
        return asdict(self)


#: ``srlib upscale --compile auto`` compiles when its inputs hold at least this many LR pixels. On the 2-core Xeon this
#: was measured on, the paper-size DASR x4 ran in 0.78x its eager time once compiled (40 us per LR pixel eager), and
#: compiling took 36 s with a cold inductor cache: the saving repays a cold compilation after about 4 M pixels.
COMPILE_AUTO_LR_PIXELS = 5_000_000


def compile_for_inference(model):
    """Compile, in place, the networks an inference call of ``model`` runs (``nn.Module.compile``: the state dict and
    the module tree stay as they are). DASR: the SR net ``G`` and the query encoder; any other model: itself."""
    targets = [model]
    if hasattr(model, "G") and hasattr(model, "sr_from_representation"):
        targets = [model.G] + ([model.E.encoder_q] if hasattr(model.E, "encoder_q") else [model.E])
    for net in targets:
        net.compile()
    return model


def want_compile(mode: str, lr_pixels: int) -> bool:
    """``--compile on|off|auto``: auto compiles when ``lr_pixels`` >= :data:`COMPILE_AUTO_LR_PIXELS`.

    >>> want_compile("auto", 10**6), want_compile("auto", 10**7), want_compile("on", 1)
    (False, True, True)
    """
    if mode not in ("auto", "on", "off"):
        raise UsageError(f"--compile must be auto, on or off, got {mode!r}")
    return mode == "on" or (mode == "auto" and lr_pixels >= COMPILE_AUTO_LR_PIXELS)


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 arithmetic for oneDNN (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def add_speed_flags(parser) -> None:
    """The trainers' ``--amp``, ``--channels-last`` and ``--compile`` flags (read back with :func:`speed_from_args`)."""
    parser.add_argument("--amp", choices=AMP_MODES, default=None,
                        help="mixed precision: bf16 (CUDA, or a CPU with native bf16), or fp16 with loss scaling "
                        "(CUDA); default fp32")
    parser.add_argument("--channels-last", action="store_true", help="NHWC memory format (helps on tensor-core GPUs)")
    parser.add_argument("--compile", choices=("auto", "on", "off"), default="auto",
                        help="torch.compile the networks: auto (default) compiles at --profile paper, whose runs last "
                        "hours and repay the compilation; the shorter profiles stay eager, bit for bit as published")


def speed_from_args(args) -> Speed:
    """The :class:`Speed` of parsed trainer flags; ``--compile auto`` means on for ``--profile paper`` only."""
    compile_ = args.compile == "on" or (args.compile == "auto" and getattr(args, "profile", None) == "paper")
    return Speed(amp=args.amp, channels_last=args.channels_last, compile=compile_)
