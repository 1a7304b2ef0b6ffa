"""Tensor-parallel linears (the gpt-fast / Megatron split), identical to their bases at
``tp.size == 1``.

Column-parallel (QKV, merged gate/up): each rank holds its slice of the output rows
(its query heads, its KV heads or a replica of the one its query heads read, its part of
the intermediate dimension); no communication. Row-parallel (o_proj, down_proj): each rank
holds its slice of the input columns, multiplies its slice of the activations and the
partial outputs are summed with one all-reduce. Each ``weight_loader`` narrows the
checkpoint tensor to that slice before reading it (``LazyWeight``: only the slice is read).

Quantized weights: group-wise methods (int4, int8 in 32-weight groups, GGUF blocks) split
exactly: rows for column-parallel, and for row-parallel whole 32-weight groups of the input
dimension, which needs ``in_features / tp_size`` to be a multiple of 32; where it is not,
that linear falls back to float (logged). ``w8a8_int8`` and ``w4a8_int8`` keep the same
32-weight groups, and their activations are rounded per 32 values, so a rank's share is exact.
"""
from __future__ import annotations

import logging
from typing import Any

import torch

from ..distributed.comm import SINGLE, TPInfo, all_reduce
from ..distributed.sharding import even_split, kv_heads
from .linear import MergedColumnLinear, QKVLinear, RowLinear
from .linear_method import LinearMethod, get_linear_method

log = logging.getLogger(__name__)
GROUP = 32  # weights per quantization group / GGUF block


class MergedColumnParallelLinear(MergedColumnLinear):
    """Several column linears (gate/up); each shard's rows split evenly across ranks."""

    def __init__(self, in_features: int, output_sizes: list[int], bias: bool = False, method: LinearMethod | None = None, tp: TPInfo = SINGLE) -> None:
        self.tp, self.full_sizes = tp, list(output_sizes)
        super().__init__(in_features, [s // tp.size for s in output_sizes], bias, method)

    def _narrow(self, loaded: Any, shard_id: Any) -> Any:
        if self.tp.size == 1:
            return loaded
        start, size = even_split(self.full_sizes[int(shard_id or 0)], self.tp.rank, self.tp.size)
        return loaded.narrow(0, start, size)


class QKVParallelLinear(QKVLinear):
    """q/k/v in one matmul: this rank's query heads and KV heads (replicated when
    tp.size > num_kv_heads)."""

    def __init__(self, hidden: int, head_dim: int, num_heads: int, num_kv_heads: int, bias: bool = False, method: LinearMethod | None = None, tp: TPInfo = SINGLE) -> None:
        self.tp, self.head_dim = tp, head_dim
        self.q_heads = even_split(num_heads, tp.rank, tp.size)  # (first, count)
        self.kv_heads = kv_heads(num_kv_heads, tp.rank, tp.size)
        super().__init__(hidden, head_dim, self.q_heads[1], self.kv_heads[1], bias, method)

    def _narrow(self, loaded: Any, shard_id: Any) -> Any:
        if self.tp.size == 1:
            return loaded
        first, count = self.q_heads if shard_id == "q" else self.kv_heads
        return loaded.narrow(0, first * self.head_dim, count * self.head_dim)


class RowParallelLinear(RowLinear):
    """Input columns split across ranks; one all-reduce of the partial outputs."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False, method: LinearMethod | None = None, tp: TPInfo = SINGLE) -> None:
        self.tp, self.full_in = tp, in_features
        local = in_features // tp.size
        if tp.size > 1 and bias:
            raise ValueError("a row-parallel linear with a bias is not supported (no Llama-family model has one)")
        if tp.size > 1 and method is not None and method.name in ("int4", "int8") and local % GROUP:
            log.warning("row-parallel linear: %d input columns per rank are not whole %d-weight groups; "
                        "this linear runs in float instead of %s", local, GROUP, method.name)
            method = get_linear_method("float")
        super().__init__(local, out_features, bias, method)

    def _narrow(self, loaded: Any, shard_id: Any) -> Any:
        if self.tp.size == 1 or len(loaded.shape) != 2:
            return loaded
        start, size = even_split(self.full_in, self.tp.rank, self.tp.size)
        return loaded.narrow(1, start, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return all_reduce(super().forward(x), self.tp)  # [T, out]: the sum of every rank's part
