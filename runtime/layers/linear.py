"""Linear layers that own their weight loading (``weight_loader(param, loaded, shard_id)``)
and delegate storage and compute to a ``LinearMethod``.

``QKVLinear`` and ``MergedColumnLinear`` place their shards themselves, so the model loader
never computes offsets. ``_narrow`` is where the tensor-parallel subclasses
(``parallel_linear.py``) take their rank's slice of a checkpoint tensor, which may be a
``LazyWeight`` that reads only that slice.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..model_loader.lazy_weights import materialize
from ..platform import Platform
from .linear_method import LinearMethod, get_linear_method


class LinearBase(nn.Module):
    """y = x @ W^T (+ b) for W [out_features, in_features]; rows may be split into shards."""

    def __init__(self, in_features: int, output_sizes: list[int], bias: bool = False, method: LinearMethod | None = None) -> None:
        super().__init__()
        self.in_features, self.output_sizes = in_features, list(output_sizes)  # this rank's sizes
        self.out_features = sum(self.output_sizes)
        self.method = method or get_linear_method("float")
        self.method.create_weights(self, in_features, self.out_features)
        self.bias = nn.Parameter(torch.empty(self.out_features), requires_grad=False) if bias else None

    def shard_offset(self, shard_id: Any) -> int:
        return 0 if shard_id is None else sum(self.output_sizes[: int(shard_id)])

    def _narrow(self, loaded: Any, shard_id: Any) -> Any:
        return loaded  # one rank: the whole tensor

    def load_target(self, kind: str) -> nn.Parameter | None:
        """The parameter a checkpoint's ``<prefix>.weight`` / ``.bias`` loads into."""
        return self.bias if kind == "bias" else getattr(self, self.method.canonical[0])

    def weight_loader(self, param: nn.Parameter, loaded: Any, shard_id: Any = None) -> None:
        """Load one checkpoint tensor into ``param`` (the rows of shard ``shard_id`` if given);
        the method converts it (float, or GGUF blocks) into its own storage."""
        loaded, start = materialize(self._narrow(loaded, shard_id)), self.shard_offset(shard_id)
        if param is self.bias:
            param.data[start : start + loaded.shape[0]].copy_(loaded)
        else:
            self.method.load_rows(self, loaded, start)

    def process_weights_after_loading(self, platform: Platform, device: torch.device) -> None:
        self.method.process_weights_after_loading(self, platform, device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.method.apply(self, x)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, method={self.method.name}"


class ColumnLinear(LinearBase):
    """Output features (one shard); split across ranks by ``parallel_linear``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False, method: LinearMethod | None = None) -> None:
        super().__init__(in_features, [out_features], bias, method)


class RowLinear(LinearBase):
    """Input features; split across ranks by ``parallel_linear`` (an all-reduce after the matmul)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False, method: LinearMethod | None = None) -> None:
        super().__init__(in_features, [out_features], bias, method)


class MergedColumnLinear(LinearBase):
    """Several column linears in one matmul (gate/up); shard ids 0, 1, ..."""


class QKVLinear(LinearBase):
    """q, k and v projections in one matmul; shard ids "q", "k", "v"."""

    SHARDS = ("q", "k", "v")

    def __init__(self, hidden: int, head_dim: int, num_heads: int, num_kv_heads: int, bias: bool = False, method: LinearMethod | None = None) -> None:
        sizes = [num_heads * head_dim, num_kv_heads * head_dim, num_kv_heads * head_dim]
        super().__init__(hidden, sizes, bias, method)

    def shard_offset(self, shard_id: Any) -> int:
        return 0 if shard_id is None else sum(self.output_sizes[: self.SHARDS.index(shard_id)])
