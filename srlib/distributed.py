"""Data-parallel training over several processes with ``torch.distributed`` (launched by ``torchrun``).

``torchrun --nproc_per_node N -m srlib train dasr|usrdu-dsn|usrdu-srn ...`` starts N copies of the same command; each
finds its rank in the environment torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) and :func:`setup` joins the
process group (NCCL on CUDA, gloo on the CPU). The same command without torchrun is a one-process run, bit-identical to
srlib before data parallelism existed. What every trainer does with the :class:`Context` :func:`setup` returns:

* **Batch semantics.** ``batch_size`` in every training config is the *global* batch: each of the N ranks draws
  ``batch_size / N`` images (:meth:`Context.local_batch`, which refuses a batch that does not divide). The learning
  rate is therefore unchanged by N: the published recipe (DASR: 32 images at 1e-3 / 1e-4) is the same recipe on 1 or 8
  processes, a run's config does not depend on how many processes ran it, and a checkpoint resumes under any N.
* **Different data on each rank.** Rank ``r`` seeds its patch and degradation streams with :func:`rank_seed`
  ``(seed, r)``; rank 0 keeps ``seed`` itself, so rank 0 of an N-process run draws what a one-process run draws.
  With ``data="slice"`` every rank instead draws the whole global batch from the run's seed and keeps its own slice:
  N times the data work, but the data of an N-process run are exactly those of a one-process run (used by the tests
  that compare the two).
* **Identical models.** Weights are initialised from the run seed on every rank and DDP broadcasts rank 0's at
  start; gradients are averaged across ranks (the mean over the global batch, as a one-process step computes it).
  BatchNorm (DASR's encoder) normalises with each rank's share of the batch, so there an N-process step is not the
  one-process step; DDP copies rank 0's running statistics into every forward pass, and checkpoints hold rank 0's.
* **Rank 0 writes.** Only rank 0 shows a progress bar, writes ``config.json``, ``metrics.jsonl`` and checkpoints.
  Logged metrics are means over ranks (:meth:`Context.mean`). A checkpoint holds every rank's random streams
  (:meth:`Context.gather`), so an N-process run resumes bit for bit under N processes, and also under another N:
  ranks that the checkpoint has streams for continue them, new ranks start fresh streams derived from the seed,
  their rank and the step (:func:`rank_seed`).
* **Ctrl-C.** Every rank checks, once per step, whether *any* rank was interrupted (:meth:`Context.any`), so all of
  them stop after the same step and save one consistent ``last.pt``.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from srlib.errors import UsageError

#: How each rank draws its share of the global batch: ``"rank"`` (own seed, own images; the default) or ``"slice"``
#: (the global batch from the run seed, then this rank's slice: the same data as a one-process run).
DATA_MODES = ("rank", "slice")


def rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """The seed of rank ``rank``'s data streams: ``seed`` itself for rank 0 at step 0 (a one-process run draws
    exactly what it always drew), a 63-bit hash of ``(seed, rank, step)`` otherwise.

    ``step`` > 0 gives a rank that joins a resumed run streams it has never drawn before.

    >>> rank_seed(7, 0), rank_seed(7, 1) == rank_seed(7, 1), rank_seed(7, 1) != rank_seed(7, 2)
    (7, True, True)
    """
    if rank == 0 and step == 0:
        return int(seed)
    digest = hashlib.sha256(f"srlib:{seed}:{rank}:{step}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


@dataclass
class Context:
    """Where this process stands in a (possibly one-process) data-parallel run.

    Attributes:
        rank, world_size: this process's index and the number of processes (0 and 1 without torchrun).
        device: this rank's device (``cuda:LOCAL_RANK`` on a multi-GPU machine).
        data: :data:`DATA_MODES`.
    """

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    data: str = "rank"

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that prints, logs and writes files."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.world_size > 1

    def local_batch(self, batch_size: int) -> int:
        """Images this rank draws per step: the global ``batch_size`` over the ranks (``slice``: all of them)."""
        if batch_size % self.world_size:
            raise UsageError(f"batch_size {batch_size} is the global batch and must divide among {self.world_size} "
                             f"processes; use a multiple of {self.world_size} or another --nproc_per_node")
        return batch_size if self.data == "slice" else batch_size // self.world_size

    def take(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's part of a drawn batch: all of it in ``rank`` mode, the rank's slice of the global batch in
        ``slice`` mode."""
        if self.data != "slice" or not self.parallel:
            return batch
        n = batch.shape[0] // self.world_size
        return batch[self.rank * n:(self.rank + 1) * n]

    def seed(self, seed: int) -> int:
        """The seed of this rank's data streams (:func:`rank_seed`; the run seed itself in ``slice`` mode)."""
        return int(seed) if self.data == "slice" else rank_seed(seed, self.rank)

    def wrap(self, module: torch.nn.Module, *, sync_buffers: bool = True, **ddp_kw) -> torch.nn.Module:
        """``module`` inside :class:`~torch.nn.parallel.DistributedDataParallel` when there are several ranks, else
        ``module`` itself.

        ``sync_buffers=False``: rank 0's buffers are copied to every rank once, at the start, and not before every
        forward pass (for buffers that evolve identically on every rank by themselves, such as spectral norm's).
        """
        if not self.parallel:
            return module
        import inspect

        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        if not sync_buffers:  # torch >= 2.15 names it forward_sync_buffers (and still syncs at the start)
            names = inspect.signature(DistributedDataParallel).parameters
            ddp_kw["forward_sync_buffers" if "forward_sync_buffers" in names else "broadcast_buffers"] = False
        return DistributedDataParallel(module, device_ids=ids, **ddp_kw)

    def mean(self, record: dict) -> dict:
        """``record`` with every number averaged over the ranks (one all-reduce); other values are rank 0's."""
        if not self.parallel:
            return record
        keys = [k for k, v in record.items() if isinstance(v, float)]  # losses, rates; not step or stage
        values = torch.tensor([float(record[k]) for k in keys], dtype=torch.float64, device=self._comm_device)
        dist.all_reduce(values)
        out = dict(record)
        for k, v in zip(keys, (values / self.world_size).tolist()):
            out[k] = v
        return out

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any rank (one all-reduce; ``flag`` itself without ranks)."""
        if not self.parallel:
            return bool(flag)
        t = torch.tensor([int(bool(flag))], device=self._comm_device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def gather(self, obj) -> list:
        """``[obj of rank 0, obj of rank 1, ...]`` on every rank (``[obj]`` without ranks)."""
        if not self.parallel:
            return [obj]
        out = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.parallel:
            dist.barrier()

    @property
    def _comm_device(self) -> torch.device:
        return self.device if dist.get_backend() == "nccl" else torch.device("cpu")


def launched() -> bool:
    """Whether this process was started by ``torchrun`` (or another launcher that sets ``WORLD_SIZE``)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: str | None = None, data: str = "rank") -> Context:
    """The :class:`Context` of this process; joins the process group when started by ``torchrun``.

    Without torchrun: rank 0 of 1 on ``device`` (default CUDA if available, else CPU). Under torchrun: the backend is
    NCCL when the device is CUDA (each rank on ``cuda:LOCAL_RANK``, or every rank on the one GPU there is: a smoke test
    of the code path, not a speed-up) and gloo on the CPU.

    Raises:
        UsageError: an unknown ``data`` mode.
    """
    if data not in DATA_MODES:
        raise UsageError(f"data mode must be one of {DATA_MODES}, got {data!r}")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))  # as srlib.runs.pick_device
    if not launched():
        return Context(0, 1, dev, data)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    if dev.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", rank))
        dev = torch.device("cuda", local % torch.cuda.device_count())
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" and torch.cuda.device_count() >= world else "gloo"
        dist.init_process_group(backend, rank=rank, world_size=world)
    return Context(rank, world, dev, data)


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of the process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def all_gather_cat(t: torch.Tensor) -> torch.Tensor:
    """The tensors ``t`` of every rank concatenated along dim 0 in rank order (no gradient); ``t`` without ranks.

    Used by MoCo, so that every rank enqueues the keys of the whole global batch.
    """
    if world()[1] == 1:
        return t
    src = t.detach().contiguous()
    if dist.get_backend() != "nccl":  # gloo gathers CPU tensors (also when several ranks share one GPU)
        src = src.cpu()
    parts = [torch.empty_like(src) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, src)
    return torch.cat(parts, dim=0).to(t.device)


def add_data_flag(parser) -> None:
    """``--data-shard rank|slice`` (see :data:`DATA_MODES`); read as ``args.data_shard``."""
    parser.add_argument("--data-shard", choices=DATA_MODES, default="rank",
                        help="under torchrun: each rank draws its share of the global batch from its own seed "
                             "(rank, default), or every rank draws the whole batch and keeps its slice (slice: the "
                             "data of a one-process run)")
