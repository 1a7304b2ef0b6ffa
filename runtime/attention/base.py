"""The attention-backend interface the model calls once per layer."""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from ..forward_batch import ForwardBatch
from ..mem.kv_pool import KVPool


class AttentionBackend(ABC):
    """Computes attention for a batch whose K/V live in a ``KVPool``.

    ``prepare(batch)`` runs once per forward (build gather indices, masks); ``forward``
    runs per layer: it writes the new tokens' k/v into the pool at ``batch.out_cache_loc``
    and attends each request's queries to its whole sequence (causally within the new part).
    """

    def __init__(self, kv_pool: KVPool, req_to_token: torch.Tensor, num_heads: int, num_kv_heads: int, head_dim: int) -> None:
        self.kv_pool = kv_pool
        self.req_to_token = req_to_token  # [max_reqs, max_context] int64
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.head_dim = head_dim
        self.scale = head_dim**-0.5

    @abstractmethod
    def prepare(self, batch: ForwardBatch) -> None: ...

    @abstractmethod
    def forward(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, batch: ForwardBatch) -> torch.Tensor:
        """q: [T, Hq, D], k/v: [T, Hk, D] -> [T, Hq, D]."""
