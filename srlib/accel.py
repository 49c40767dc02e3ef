"""Speed options shared by the trainers and by inference: mixed precision, memory format and compilation.

:class:`Speed` collects the three switches (``--amp bf16|fp16``, ``--channels-last``, ``--compile`` on the command
line) and applies them in the same way everywhere:

* ``amp``: :func:`torch.autocast` around the networks' forward passes and the losses, on CUDA only. ``fp16`` also
  scales the loss (:class:`torch.amp.GradScaler`, one per optimiser, saved in ``last.pt``); ``bf16`` has fp32's
  exponent range and needs no scaling. The degradation pipeline (blur, bicubic, noise, 8-bit rounding) is never
  autocast: it is MATLAB-exact in fp32. On the CPU ``amp`` is refused: on the 2-core AVX2 machines this project is
  developed on, bf16 autocast ran the DASR forward many times slower (``benchmarks/bench_speed.py`` measures it).
* ``channels_last``: NHWC weights and inputs (:meth:`Speed.module` / :meth:`Speed.tensor`); faster for convolutions
  on tensor-core GPUs, slower on this CPU (measured in the same benchmark).
* ``compile``: :func:`torch.compile` of the network (the first steps pay the compilation).

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
    >>> Speed(amp="bf16").check(torch.device("cpu"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    srlib.errors.UsageError: --amp bf16 runs on CUDA only: ...
    """

    amp: str | None = None
    channels_last: bool = False
    compile: bool = False

    def __post_init__(self):
        if self.amp not in (None, *AMP_MODES):
            raise UsageError(f"--amp must be one of {AMP_MODES}, got {self.amp!r}")

    def check(self, device: torch.device) -> "Speed":
        """Refuse options that do not apply to ``device`` (a one-line :class:`UsageError`)."""
        if self.amp and torch.device(device).type != "cuda":
            raise UsageError(f"--amp {self.amp} runs on CUDA only: on the CPU, bf16 autocast measured slower than "
                             "fp32 (benchmarks/bench_speed.py) and fp16 has no CPU kernels worth using; "
                             "drop --amp or train on a GPU")
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

    def compiled(self, fn):
        """``torch.compile(fn)`` when asked, else ``fn``."""
        return torch.compile(fn) if self.compile else fn

    def as_dict(self) -> dict:
        return asdict(self)


def add_speed_flags(parser) -> None:
    """The ``--amp``, ``--channels-last`` and ``--compile`` flags (read back with :func:`speed_from_args`)."""
    parser.add_argument("--amp", choices=AMP_MODES, default=None,
                        help="mixed precision on CUDA: bf16, or fp16 with loss scaling (default: fp32)")
    parser.add_argument("--channels-last", action="store_true", help="NHWC memory format (helps on tensor-core GPUs)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the networks")


def speed_from_args(args) -> Speed:
    return Speed(amp=args.amp, channels_last=args.channels_last, compile=args.compile)
