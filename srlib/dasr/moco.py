"""Momentum contrast (MoCo) for degradation representation learning (paper Sec. 3.2.1, Eq. 3; official
``moco/builder.py``, adapted from facebookresearch/moco, single process).

A query encoder is trained with an InfoNCE loss: the query patch's projection must match the projection of another
patch *of the same LR image* (same degradation, the positive) and differ from a queue of projections of earlier
patches (other degradations, the negatives). The key encoder is a slowly moving copy of the query encoder
(``theta_k <- m theta_k + (1 - m) theta_q``) and is never touched by the optimizer.

Several processes (``torchrun``, :mod:`srlib.distributed`): the keys of every rank are all-gathered before they are
enqueued, so the queue is the same on every rank and grows by the global batch, as in MoCo's reference implementation.
The key encoder's momentum update reads only the query encoder's weights, which DDP keeps identical, so it is identical
on every rank too. *Shuffle-BN* (``MoCo.shuffle_bn``, ``srlib train dasr --shuffle-bn``; off by default, as in the official code, whose
shuffle helpers are never called): with several processes, the keys are computed on the global batch shuffled across
ranks and then un-shuffled. It exists because BatchNorm computes its statistics per rank: a query and its positive key
drawn on the same rank share those statistics, which can leak which pair belongs together and give the contrastive
task a shortcut that is not the degradation. Shuffling puts each key among other images' statistics. With one process
it changes nothing (batch statistics do not depend on the order).

Paper vs. code: Eq. 3 puts only the queue negatives in the denominator; the official code (and this one) uses the
standard InfoNCE logits ``[l_pos, l_neg]`` with the positive included in the softmax.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from srlib.dasr.encoder import Encoder
from srlib.distributed import all_gather_cat, world


class MoCo(nn.Module):
    """Query encoder, momentum key encoder and negative queue.

    Args:
        encoder: the query encoder (``encoder_q``); a frozen deep copy becomes ``encoder_k``.
        queue_size: K, number of negatives (official 8192). Must be a multiple of every batch size used.
        momentum: m of the key-encoder update (official 0.999).
        temperature: tau (official 0.07).
        generator: optional ``torch.Generator`` for the random initial queue.

    Buffers (names as in the official state dict): ``queue`` (dim, K) with unit-norm columns, ``queue_ptr`` (1,) int64.

    Train mode, ``forward(im_q, im_k)`` with (N, 3, h, w) images on the **[0, 255]** scale returns
    ``(fea_q, logits, labels)``: ``fea_q`` (N, dim) the query representation, ``logits`` (N, 1 + K) already divided by
    tau with the positive in column 0, ``labels`` (N,) int64 zeros. Side effects, in the official order: momentum update
    of ``encoder_k`` first, then keys are computed, then enqueued. Eval mode returns ``encoder_q(im_q)[0]`` only and
    changes nothing.

    >>> g = torch.Generator().manual_seed(0)
    >>> moco = MoCo(Encoder((8, 8, 16)), queue_size=8, generator=g)
    >>> fea, logits, labels = moco(torch.rand(4, 3, 16, 16) * 255, torch.rand(4, 3, 16, 16) * 255)
    >>> tuple(fea.shape), tuple(logits.shape), labels.tolist(), int(moco.queue_ptr)
    ((4, 16), (4, 9), [0, 0, 0, 0], 4)
    """

    def __init__(
        self,
        encoder: Encoder,
        queue_size: int = 8192,
        momentum: float = 0.999,
        temperature: float = 0.07,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.K, self.m, self.T = int(queue_size), float(momentum), float(temperature)
        dim = encoder.rep_dim
        # Buffers are registered before the encoders so that the state-dict order matches the official one
        # (E.queue, E.queue_ptr, E.encoder_q.*, E.encoder_k.*).
        queue = torch.randn(dim, self.K, generator=generator)
        self.register_buffer("queue", F.normalize(queue, dim=0))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))
        self.shuffle_bn = False  # a training option, not state: see the module docstring
        self.encoder_q = encoder
        self.encoder_k = copy.deepcopy(encoder)
        for p in self.encoder_k.parameters():
            p.requires_grad = False

    @torch.no_grad()
    def momentum_update(self) -> None:
        """theta_k <- m * theta_k + (1 - m) * theta_q, parameters only (BN statistics of ``encoder_k`` evolve on their
        own from its forward passes, as in the official code)."""
        for p_q, p_k in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            p_k.data = p_k.data * self.m + p_q.data * (1.0 - self.m)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Write ``keys`` (N, dim) into the queue columns [ptr, ptr + N) and advance ptr modulo K."""
        n = keys.shape[0]
        ptr = int(self.queue_ptr)
        if self.K % n:
            raise ValueError(f"queue size K={self.K} must be a multiple of the batch size N={n}")
        self.queue[:, ptr : ptr + n] = keys.T
        self.queue_ptr[0] = (ptr + n) % self.K

    @torch.no_grad()
    def _shuffled_keys(self, im_k: torch.Tensor) -> torch.Tensor:
        rank, size = world()
        if size == 1:  # one process: the order of a batch does not change its statistics
            return F.normalize(self.encoder_k(im_k)[1], dim=1)
        # Shuffle-BN: rank 0 draws a permutation of the global batch, each rank encodes its slice of the shuffled
        # batch, and the keys go back to their images' order.
        import torch.distributed as dist

        everything = all_gather_cat(im_k)  # (N * size, 3, h, w), rank order
        comm = im_k.device if dist.get_backend() == "nccl" else torch.device("cpu")
        perm = (torch.randperm(everything.shape[0]) if rank == 0 else
                torch.empty(everything.shape[0], dtype=torch.long)).to(comm)
        dist.broadcast(perm, 0)
        mine = perm.view(size, -1)[rank].to(im_k.device)
        keys = all_gather_cat(F.normalize(self.encoder_k(everything[mine])[1], dim=1))  # shuffled order
        ordered = torch.empty_like(keys)
        ordered[perm.to(keys.device)] = keys
        return ordered.view(size, -1, keys.shape[1])[rank]

    def forward(self, im_q: torch.Tensor, im_k: torch.Tensor | None = None):
        if not self.training:
            return self.encoder_q(im_q)[0]
        if im_k is None or im_k.shape != im_q.shape:
            raise ValueError("training-mode MoCo needs query and key images of the same shape")
        fea_q, out_q = self.encoder_q(im_q)
        q = F.normalize(out_q, dim=1)  # (N, dim)
        with torch.no_grad():
            self.momentum_update()  # official order: update first, then compute keys
            if self.shuffle_bn:  # several processes only: keys computed on a batch shuffled across the ranks
                k = self._shuffled_keys(im_k)
            else:
                k = F.normalize(self.encoder_k(im_k)[1], dim=1)  # (N, dim)
        l_pos = (q * k).sum(dim=1, keepdim=True)  # (N, 1)
        l_neg = q @ self.queue.clone().detach()  # (N, K)
        logits = torch.cat([l_pos, l_neg], dim=1) / self.T  # (N, 1 + K), positive at index 0
        labels = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
        self.enqueue(all_gather_cat(k))  # several processes: the keys of the whole global batch, in rank order
        return fea_q, logits, labels


def contrastive_accuracy(logits: torch.Tensor) -> torch.Tensor:
    """Top-1 accuracy of the InfoNCE task: fraction of rows whose largest logit is the positive (column 0).

    >>> float(contrastive_accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0]])))
    0.5
    """
    return (logits.argmax(dim=1) == 0).float().mean()
