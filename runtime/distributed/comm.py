"""A rank's place in the tensor-parallel group and the model's collectives on it.

Every rank runs the same forward; a row-parallel linear sums its partial products with one
all-reduce, the vocab-parallel embedding sums its masked lookups the same way, and the LM
head gathers each rank's slice of the logits on rank 0 (which samples). With ``size == 1``
every function here is the identity and nothing touches torch.distributed.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class TPInfo:
    rank: int = 0  # global rank in [0, size)
    size: int = 1
    local_rank: int = 0  # rank on this node (its CUDA device index)

    @property
    def is_first(self) -> bool:
        return self.rank == 0


SINGLE = TPInfo()


def all_reduce(x: torch.Tensor, tp: TPInfo) -> torch.Tensor:
    """Sum ``x`` over the ranks, in place (the default group: gloo or NCCL)."""
    if tp.size > 1:
        dist.all_reduce(x)
    return x


def gather_last_dim(x: torch.Tensor, tp: TPInfo, total: int) -> torch.Tensor | None:
    """Rank 0: the ranks' ``x`` [R, n] side by side, cut to ``total`` columns [R, total];
    other ranks: None (they do not sample)."""
    if tp.size == 1:
        return x[:, :total]
    x = x.contiguous()
    parts = [torch.empty_like(x) for _ in range(tp.size)] if tp.is_first else None
    dist.gather(x, parts, dst=0)
    return torch.cat(parts, dim=-1)[:, :total] if parts is not None else None
