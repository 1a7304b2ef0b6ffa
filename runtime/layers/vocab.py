"""Token embedding and LM head. Both hold a [vocab, hidden] matrix through a linear method;
a tied LM head reuses the embedding's storage when both use the same method."""
from __future__ import annotations

import torch
from torch import nn

from ..platform import Platform
from .linear import LinearBase
from .linear_method import LinearMethod
from sglike.kernels import cpu

from .quant_ref import dequantize_int8

EMBED_METHODS = ("float", "int8")  # storage an embedding row can be read from


class VocabEmbedding(LinearBase):
    """Token ids -> rows of the [vocab, hidden] matrix (float, or int8 dequantized per row)."""

    def __init__(self, vocab_size: int, hidden: int, method: LinearMethod | None = None) -> None:
        super().__init__(hidden, [vocab_size], False, method)
        if self.method.name not in EMBED_METHODS:
            raise ValueError(f"an embedding stores float or int8, not {self.method.name!r}")

    def process_weights_after_loading(self, platform: Platform, device: torch.device) -> None:
        super().process_weights_after_loading(platform, device)
        if self.method.name == "int8":  # the rows of whichever storage the kernels share
            self.rows = self.storage.get("int8") or self.storage["vnni_q8"]

    def embed(self, ids: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        if self.method.name == "float":
            return nn.functional.embedding(ids, self.weight)
        if "packed" in self.rows:  # VNNI layout: 16-row groups
            return cpu.vnni_dequant_rows(self.rows["packed"], False, ids).to(dtype)  # [T, H]
        return dequantize_int8(self.rows["q"][ids], self.rows["scale"][ids]).to(dtype)  # [T, H]


class LMHead(nn.Module):
    """hidden -> float32 logits; ``tied`` reads the embedding's matrix (no second copy)."""

    def __init__(self, embedding: VocabEmbedding, own: LinearBase | None) -> None:
        super().__init__()
        self.own = own
        self._tied = [embedding] if own is None else []  # a list: not a second submodule

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layer = self.own if self.own is not None else self._tied[0]
        return layer(x).float()
