"""``torch_ref``: the plain reference backend; every request takes the plain kernels.

Decode attends each request's padded KV rows (``decode_attention``); extend attends each
fresh prompt with torch's causal SDPA and each request after a cached prefix with its own
mask (``extend_attention``). The fast ``torch`` backend (torch_backend.py) subclasses it
and overrides the hooks ``_plan_decode``, ``_plan_extend``, ``_decode``, ``_extend`` and
``_fresh_prompt``; tests check the two give the same outputs.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sglike.kernels.attention.cascade import CascadePlan
from sglike.kernels.attention.cascade_extend import ExtendCascadePlan
from sglike.kernels.attention.causal import causal_attention_reference
from sglike.kernels.attention.decode import decode_attention
from sglike.kernels.attention.extend import extend_attention
from sglike.kernels.attention.partial import mask_bias

from ..forward_batch import ForwardBatch, ForwardMode
from .base import AttentionBackend


@dataclass
class DecodeMeta:
    slots: torch.Tensor  # [B, L] KV slots per request, padded
    bias: torch.Tensor  # [1, B, 1, L] 0 where the key is part of the sequence, else -inf
    cascade: CascadePlan | None  # shared prefixes attended once per group (None: plain)
    lens: torch.Tensor  # [B] int64: live slots per row of ``slots``


@dataclass
class ExtendMeta:
    slots: list[torch.Tensor]  # per request: [S_i] KV slots of its whole sequence
    masks: list[torch.Tensor | bool | None]  # per request: [E_i, S_i] causal mask (None: fresh prompt; True: in the cascade)
    starts: list[int]  # per request: offset of its new tokens in the flat batch
    cascade: ExtendCascadePlan | None  # requests after a cached prefix, grouped (None: plain)


class TorchReferenceBackend(AttentionBackend):
    def prepare(self, batch: ForwardBatch) -> None:
        if batch.mode is ForwardMode.DECODE:
            max_len = max(batch.seq_lens)
            slots = self.req_to_token[batch.req_rows, :max_len]  # [B, L]
            lens = torch.tensor(batch.seq_lens, device=slots.device)
            mask = torch.arange(max_len, device=slots.device)[None, :] < lens[:, None]  # [B, L]
            batch.attn_meta = DecodeMeta(slots, mask_bias(mask[None, :, None, :]), self._plan_decode(slots, batch.seq_lens), lens)
            return
        slots, masks, starts, start = [], [], [], 0
        cascade = self._plan_extend(batch)
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
        batch.attn_meta = ExtendMeta(slots, masks, starts, cascade)

    def forward(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, batch: ForwardBatch) -> torch.Tensor:
        self.kv_pool.write(layer, batch.out_cache_loc, k, v)
        if batch.mode is ForwardMode.DECODE:
            return self._decode(layer, q, batch.attn_meta)
        out = torch.empty_like(q)
        self._extend(layer, q, k, v, batch.attn_meta, batch.extend_lens, out)
        return out

    # hooks the fast backend overrides

    def _plan_decode(self, slots: torch.Tensor, seq_lens: list[int]) -> CascadePlan | None:
        return None

    def _plan_extend(self, batch: ForwardBatch) -> ExtendCascadePlan | None:
        return None

    def _decode(self, layer: int, q: torch.Tensor, meta: DecodeMeta) -> torch.Tensor:
        """q: [B, Hq, D] -> [B, Hq, D]."""
        return decode_attention(q, *self.kv_pool.gather(layer, meta.slots), meta.bias, self.scale)

    def _extend(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, meta: ExtendMeta, extend_lens: list[int], out: torch.Tensor) -> None:
        """Writes into ``out`` [T, Hq, D] the rows of every request not in a cascade.
        q: [T, Hq, D]; k/v: [T, Hk, D] (the new tokens)."""
        k_buf, v_buf = self.kv_pool.k[layer], self.kv_pool.v[layer]  # [Hk, S, D]
        for slots, mask, start, ext in zip(meta.slots, meta.masks, meta.starts, extend_lens):
            qi = q[start : start + ext]  # [E, Hq, D]
            if mask is None:  # fresh prompt: plain causal attention over its own new k/v
                out[start : start + ext] = self._fresh_prompt(qi, k[start : start + ext], v[start : start + ext])
            elif mask is not True:  # new tokens after a cached prefix
                keys, values = k_buf.index_select(1, slots), v_buf.index_select(1, slots)  # [Hk, S, D]
                out[start : start + ext] = extend_attention(qi, keys, values, mask, self.scale)

    def _fresh_prompt(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """q: [E, Hq, D]; k/v: [E, Hk, D] -> [E, Hq, D], causal."""
        return causal_attention_reference(q, k, v, self.scale)
