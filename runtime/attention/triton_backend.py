"""``triton``: the Triton kernels of ``sglike.kernels.triton`` (the CUDA default).

Every kernel reads the KV pool through the request->slot table, so ``prepare`` only turns
the batch's lengths into small index tensors. Decode takes the split-KV kernel, or the
shared-prefix cascade when requests share enough of their prefix (eager steps only: the
plan is data-dependent, so a CUDA-graph replay takes the plain split kernel). The decode
metadata holds tensors only (``DecodeMeta``), which is what lets the CUDA-graph runner
(``runtime/cuda_graph_runner.py``) capture a decode step once per batch-size bucket and
refill those tensors before each replay. On CPU it runs only under ``TRITON_INTERPRET=1``
(tests); ``create_backend`` refuses it otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sglike.kernels.triton.cascade import TritonCascadePlan, cascade_decode, plan_cascade
from sglike.kernels.triton.decode import decode_attention, num_kv_splits
from sglike.kernels.triton.extend import extend_attention
from sglike.kernels.triton.kv_store import store_kv

from ..forward_batch import ForwardBatch, ForwardMode
from ..mem.kv_pool import KVPool
from .base import AttentionBackend


@dataclass
class DecodeMeta:
    req_rows: torch.Tensor  # [B] rows of the request->slot table
    seq_lens: torch.Tensor  # [B] int64 KV lengths (>= 1)
    num_splits: int  # KV splits per request (a launch constant: fixed per CUDA-graph bucket)
    cascade: TritonCascadePlan | None  # shared prefixes attended once per group (None: plain)


@dataclass
class ExtendMeta:
    req_rows: torch.Tensor  # [B]
    prefix_lens: torch.Tensor  # [B] cached tokens before the new ones
    extend_starts: torch.Tensor  # [B] offset of each request's new tokens in the flat batch
    extend_lens: torch.Tensor  # [B] new tokens per request
    max_extend: int


class TritonAttentionBackend(AttentionBackend):
    supports_cuda_graph = True

    def __init__(self, kv_pool: KVPool, req_to_token: torch.Tensor, num_heads: int, num_kv_heads: int, head_dim: int) -> None:
        super().__init__(kv_pool, req_to_token, num_heads, num_kv_heads, head_dim)
        if head_dim < 16 or head_dim & (head_dim - 1):
            raise ValueError(f"attention_backend='triton' needs a power-of-two head_dim >= 16 (the model has {head_dim}); use 'torch'")
        device = req_to_token.device
        self.num_sms = torch.cuda.get_device_properties(device).multi_processor_count if device.type == "cuda" else 8
        self.cascade_steps = 0  # decode forwards that took the shared-prefix path

    def splits_for(self, batch_size: int, max_len: int) -> int:
        return num_kv_splits(batch_size, self.num_kv_heads, max_len, self.num_sms)

    def decode_meta(self, req_rows: torch.Tensor, seq_lens: torch.Tensor, num_splits: int) -> DecodeMeta:
        """Plain (no cascade) decode metadata over given tensors: the CUDA-graph runner's
        static buffers, refilled in place before each replay."""
        return DecodeMeta(req_rows, seq_lens, num_splits, None)

    def prepare(self, batch: ForwardBatch) -> None:
        device = self.req_to_token.device
        if batch.mode is ForwardMode.DECODE:
            cascade = plan_cascade(self.req_to_token, batch.req_rows, batch.seq_lens)
            self.cascade_steps += cascade is not None
            seq_lens = torch.tensor(batch.seq_lens, dtype=torch.int64, device=device)
            batch.attn_meta = DecodeMeta(batch.req_rows, seq_lens, self.splits_for(batch.batch_size, max(batch.seq_lens)), cascade)
            return
        starts = [sum(batch.extend_lens[:i]) for i in range(batch.batch_size)]
        t = lambda xs: torch.tensor(xs, dtype=torch.int64, device=device)  # noqa: E731
        batch.attn_meta = ExtendMeta(batch.req_rows, t(batch.prefix_lens), t(starts), t(batch.extend_lens), max(batch.extend_lens))

    def forward(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, batch: ForwardBatch) -> torch.Tensor:
        """q: [T, Hq, D], k/v: [T, Hk, D] -> [T, Hq, D]; reads only tensors of ``attn_meta``
        (and the launch constants), never the batch's Python lists, so it can be captured."""
        k_buf, v_buf = self.kv_pool.k[layer], self.kv_pool.v[layer]  # [Hk, S, D]
        store_kv(k_buf, v_buf, batch.out_cache_loc, k, v)
        meta = batch.attn_meta
        if isinstance(meta, DecodeMeta):
            if meta.cascade is not None:
                return cascade_decode(q, k_buf, v_buf, self.req_to_token, meta.req_rows, meta.seq_lens, meta.cascade, self.scale, meta.num_splits)
            return decode_attention(q, k_buf, v_buf, self.req_to_token, meta.req_rows, meta.seq_lens, self.scale, meta.num_splits)
        return extend_attention(q, k, v, k_buf, v_buf, self.req_to_token, meta.req_rows, meta.prefix_lens, meta.extend_starts,
                                meta.extend_lens, meta.max_extend, self.scale)
