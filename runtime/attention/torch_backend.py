"""Reference attention backend in plain PyTorch (runs everywhere; the CPU default)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..forward_batch import ForwardBatch, ForwardMode
from .base import AttentionBackend
from .cascade import CascadePlan, cascade_decode, plan_cascade
from .cascade_extend import ExtendCascadePlan, grouped_extend, plan_extend
from .causal import causal_attention, causal_attention_reference
from .partial import mask_bias


@dataclass
class _DecodeMeta:
    slots: torch.Tensor  # [B, L] KV slots per request, padded
    bias: torch.Tensor  # [1, B, 1, L] 0 where the key is part of the sequence, else -inf
    cascade: CascadePlan | None  # shared prefixes attended once per group (None: plain)


@dataclass
class _ExtendMeta:
    slots: list[torch.Tensor]  # per request: [S_i] KV slots of its whole sequence
    masks: list[torch.Tensor | bool | None]  # per request: [E_i, S_i] causal mask (None: fresh prompt; True: in the cascade)
    starts: list[int]  # per request: offset of its new tokens in the flat batch
    cascade: ExtendCascadePlan | None  # requests after a cached prefix, grouped (None: plain)


class TorchAttentionBackend(AttentionBackend):
    use_cascade = True  # fast paths: shared-prefix cascades (cascade*.py), blocked causal prefill (causal.py); False: the plain twins
    cascade_steps = 0  # decode forwards that took the shared-prefix path

    def _decode(self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """One query per request, as two batched matmuls (CPU SDPA kernels are slow for a
        single query with a padding mask). q: [B, Hq, D]; keys/values: [Hk, B, L, D];
        bias: [1, B, 1, L] additive padding mask (see partial.mask_bias)."""
        b, hq, d = q.shape
        hk = keys.shape[0]
        qg = q.view(b, hk, hq // hk, d).transpose(0, 1)  # [Hk, B, G, D]: G query heads per KV head
        scores = torch.matmul(qg, keys.transpose(2, 3)).float() * self.scale  # [Hk, B, G, L]
        scores.add_(bias)
        probs = torch.softmax(scores, dim=-1).to(values.dtype)
        out = torch.matmul(probs, values)  # [Hk, B, G, D]
        return out.transpose(0, 1).reshape(b, hq, d)

    def prepare(self, batch: ForwardBatch) -> None:
        if batch.mode is ForwardMode.DECODE:
            max_len = max(batch.seq_lens)
            slots = self.req_to_token[batch.req_rows, :max_len]  # [B, L]
            lens = torch.tensor(batch.seq_lens, device=slots.device)
            mask = torch.arange(max_len, device=slots.device)[None, :] < lens[:, None]  # [B, L]
            cascade = plan_cascade(slots, batch.seq_lens) if self.use_cascade else None
            self.cascade_steps += cascade is not None
            batch.attn_meta = _DecodeMeta(slots, mask_bias(mask[None, :, None, :]), cascade)
            return
        slots, masks, starts, start = [], [], [], 0
        cascade = None
        if self.use_cascade:
            rows = [self.req_to_token[row, :seq_len] for row, seq_len in zip(batch.req_rows.tolist(), batch.seq_lens)]
            cascade = plan_extend(rows, batch.seq_lens, batch.extend_lens, self.num_heads // self.num_kv_heads)
        for row, seq_len, ext in zip(batch.req_rows.tolist(), batch.seq_lens, batch.extend_lens):
            prefix = seq_len - ext
            slots.append(self.req_to_token[row, :seq_len])
            if prefix == 0:
                masks.append(None)
            elif cascade is not None:
                masks.append(True)  # handled by the cascade
            else:
                q_pos = torch.arange(prefix, seq_len, device=self.req_to_token.device)
                masks.append(torch.arange(seq_len, device=q_pos.device)[None, :] <= q_pos[:, None])
            starts.append(start)
            start += ext
        batch.attn_meta = _ExtendMeta(slots, masks, starts, cascade)

    def forward(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, batch: ForwardBatch) -> torch.Tensor:
        self.kv_pool.write(layer, batch.out_cache_loc, k, v)
        k_buf, v_buf = self.kv_pool.k[layer], self.kv_pool.v[layer]  # [Hk, S, D]
        meta = batch.attn_meta
        if batch.mode is ForwardMode.DECODE:
            if meta.cascade is not None:
                return cascade_decode(q, k_buf, v_buf, meta.cascade, self.scale)
            return self._decode(q, *self.kv_pool.gather(layer, meta.slots), meta.bias)
        out = torch.empty_like(q)
        if meta.cascade is not None:
            for group in meta.cascade.groups:
                grouped_extend(q, k_buf, v_buf, group, self.scale, out)
        for slots, mask, start, ext in zip(meta.slots, meta.masks, meta.starts, batch.extend_lens):
            qi = q[start : start + ext]  # [E, Hq, D]
            if mask is None:  # fresh prompt: plain causal attention over its own new k/v
                causal = causal_attention if self.use_cascade else causal_attention_reference
                out[start : start + ext] = causal(qi, k[start : start + ext], v[start : start + ext], self.scale)
            elif mask is not True:  # new tokens after a cached prefix
                keys, values = k_buf.index_select(1, slots), v_buf.index_select(1, slots)  # [Hk, S, D]
                out[start : start + ext] = self._extend_after_prefix(qi, keys, values, mask)
        return out

    def _extend_after_prefix(self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """q: [E, Hq, D]; keys/values: [Hk, S, D]; mask: [E, S] -> [E, Hq, D]."""
        e, hq, d = q.shape
        hk = keys.shape[0]
        g = hq // hk
        qh = q.view(e, hk, g, d).permute(1, 2, 0, 3).reshape(hk, g * e, d)  # [Hk, G*E, D]
        scores = torch.matmul(qh, keys.transpose(1, 2)).float() * self.scale  # [Hk, G*E, S]
        scores = scores.view(hk, g, e, -1).masked_fill_(~mask, float("-inf"))
        probs = torch.softmax(scores, dim=-1).to(values.dtype).view(hk, g * e, -1)
        out = torch.matmul(probs, values)  # [Hk, G*E, D]
        return out.view(hk, g, e, d).permute(2, 0, 1, 3).reshape(e, hq, d)
