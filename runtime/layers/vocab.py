"""Token embedding and LM head. Both hold a [vocab, hidden] matrix through a linear method;
a tied LM head reuses the embedding's storage when both use the same method.

Vocab-parallel (``tp.size > 1``): each rank holds ``ceil(vocab / tp)`` rows (the last
rank's tail zero-padded); the embedding looks up the ids in its rows, zeroes the others and
all-reduces; the LM head's slices of the logits are gathered on rank 0.
"""
from __future__ import annotations

import torch
from torch import nn

from ..distributed.comm import SINGLE, TPInfo, all_reduce, gather_last_dim
from ..distributed.sharding import vocab_rows
from ..platform import Platform
from .linear import LinearBase
from .linear_method import LinearMethod
from sglike.kernels import cpu

from .quant_ref import dequantize_int8

EMBED_METHODS = ("float", "int8", "w8a8_int8")  # storage an embedding row can be read from (W8A8: its int8 weights)


class VocabRowsLinear(LinearBase):
    """[vocab, hidden] rows; with tensor parallelism this rank's ``ceil(vocab / tp)`` of them."""

    def __init__(self, vocab_size: int, hidden: int, method: LinearMethod | None = None, tp: TPInfo = SINGLE) -> None:
        self.tp, self.vocab_size = tp, vocab_size
        self.vocab_slice = vocab_rows(vocab_size, tp.rank, tp.size)  # (start, loaded, held)
        super().__init__(hidden, [self.vocab_slice[2]], False, method)

    def _narrow(self, loaded, shard_id):
        return loaded if self.tp.size == 1 else loaded.narrow(0, self.vocab_slice[0], self.vocab_slice[1])

    def weight_loader(self, param, loaded, shard_id=None) -> None:
        super().weight_loader(param, loaded, shard_id)
        _, count, held = self.vocab_slice
        if count < held:  # padding rows: zero logits, never looked up
            self.method.load_rows(self, torch.zeros(held - count, self.in_features), count)


class VocabEmbedding(VocabRowsLinear):
    """Token ids -> rows of the [vocab, hidden] matrix (float, or int8 dequantized per row;
    with ``w8a8_int8`` the rows of its int8 weights, so an LM head that rounds its activations
    to int8 can still be tied to the embedding)."""

    def __init__(self, vocab_size: int, hidden: int, method: LinearMethod | None = None, tp: TPInfo = SINGLE) -> None:
        super().__init__(vocab_size, hidden, method, tp)
        if self.method.name not in EMBED_METHODS:
            raise ValueError(f"an embedding stores float or int8, not {self.method.name!r}")

    def process_weights_after_loading(self, platform: Platform, device: torch.device) -> None:
        super().process_weights_after_loading(platform, device)
        if self.method.name != "float":  # the rows of whichever storage the kernels share
            self.rows = next(self.storage[k] for k in ("int8", "vnni_q8", "vnni_w8a8") if k in self.storage)

    def embed(self, ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        if self.tp.size == 1:
            return self._lookup(ids, dtype)
        start, count, _ = self.vocab_slice
        local = ids - start
        inside = (local >= 0) & (local < count)  # [T]
        x = self._lookup(torch.where(inside, local, 0), dtype).masked_fill(~inside.unsqueeze(-1), 0.0)  # [T, H]
        return all_reduce(x, self.tp)

    def _lookup(self, ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        if self.method.name == "float":
            return nn.functional.embedding(ids, self.weight)
        if "packed" in self.rows:  # VNNI layout: 16-row groups
            return cpu.vnni_dequant_rows(self.rows["packed"], False, ids).to(dtype)  # [T, H]
        return dequantize_int8(self.rows["q"][ids], self.rows["scale"][ids]).to(dtype)  # [T, H]


class LMHead(nn.Module):
    """hidden -> float32 logits; ``tied`` reads the embedding's matrix (no second copy)."""

    def __init__(self, embedding: VocabEmbedding, own: VocabRowsLinear | None) -> None:
        super().__init__()
        self.own, self.tp, self.vocab_size = own, embedding.tp, embedding.vocab_size
        self._tied = [embedding] if own is None else []  # a list: not a second submodule

    def forward(self, x: torch.Tensor) -> torch.Tensor | None:
        """[R, vocab] float32 logits; with tensor parallelism on rank 0 only (None elsewhere)."""
        layer = self.own if self.own is not None else self._tied[0]
        return gather_last_dim(layer(x).float(), self.tp, self.vocab_size)
