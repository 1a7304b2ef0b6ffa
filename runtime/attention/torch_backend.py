"""``torch``: the fast torch backend (the CPU default).

On top of the plain reference backend (torch_ref_backend.py) it takes the fast kernels:
shared-prefix cascade decode, grouped extend after shared cached prefixes, and blocked
causal prefill of fresh prompt chunks (``sglike.kernels.attention``); plain float32 CPU
decode reads the pool in place with sglike's C++ kernel (``sglike.kernels.cpu``).
"""
from __future__ import annotations

import torch

from sglike.kernels.attention.cascade import CascadePlan, cascade_decode, plan_cascade
from sglike.kernels.attention.cascade_extend import ExtendCascadePlan, grouped_extend, plan_extend
from sglike.kernels.attention.causal import causal_attention
from sglike.kernels import cpu as cpu_ext

from ..forward_batch import ForwardBatch
from ..mem.kv_pool import KVPool
from .torch_ref_backend import DecodeMeta, ExtendMeta, TorchReferenceBackend


class TorchAttentionBackend(TorchReferenceBackend):
    def __init__(self, kv_pool: KVPool, req_to_token: torch.Tensor, num_heads: int, num_kv_heads: int, head_dim: int) -> None:
        super().__init__(kv_pool, req_to_token, num_heads, num_kv_heads, head_dim)
        self.cascade_steps = 0  # decode forwards that took the shared-prefix path

    def _plan_decode(self, slots: torch.Tensor, seq_lens: list[int]) -> CascadePlan | None:
        cascade = plan_cascade(slots, seq_lens)
        self.cascade_steps += cascade is not None
        return cascade

    def _plan_extend(self, batch: ForwardBatch) -> ExtendCascadePlan:
        rows = [self.req_to_token[row, :seq_len] for row, seq_len in zip(batch.req_rows.tolist(), batch.seq_lens)]
        return plan_extend(rows, batch.seq_lens, batch.extend_lens, self.num_heads // self.num_kv_heads)

    def _decode(self, layer: int, q: torch.Tensor, meta: DecodeMeta) -> torch.Tensor:
        if meta.cascade is None:
            k_buf, v_buf = self.kv_pool.k[layer], self.kv_pool.v[layer]
            if cpu_ext.available() and q.dtype == k_buf.dtype == torch.float32 and q.device.type == "cpu":
                return cpu_ext.decode_attention_paged(q.contiguous(), k_buf, v_buf, meta.slots, meta.lens, self.scale)
            return super()._decode(layer, q, meta)
        return cascade_decode(q, self.kv_pool.k[layer], self.kv_pool.v[layer], meta.cascade, self.scale)

    def _extend(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, meta: ExtendMeta, extend_lens: list[int], out: torch.Tensor) -> None:
        if meta.cascade is not None:
            k_buf, v_buf = self.kv_pool.k[layer], self.kv_pool.v[layer]  # [Hk, S, D]
            for group in meta.cascade.groups:
                grouped_extend(q, k_buf, v_buf, group, self.scale, out)
        super()._extend(layer, q, k, v, meta, extend_lens, out)

    def _fresh_prompt(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return causal_attention(q, k, v, self.scale)
