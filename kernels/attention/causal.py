"""Causal self-attention of a fresh prompt chunk (no cached prefix), in query blocks.

Each block of query positions attends only to the keys up to its last position, so most of
the masked upper triangle is never computed, and its base-2 softmax stays in cache (see
partial.py). On this CPU it is ~1.9x faster than torch's CPU SDPA kernel for a 512-token
chunk (whose time does not drop with ``is_causal``); for short chunks, and for long ones
where the blocks get too thin, SDPA is used. ``causal_attention_reference`` is the twin.
"""
from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

from . import partial

MIN_BLOCKED, MAX_BLOCKED = 128, 1024  # chunk lengths that take the blocked path


def causal_attention_reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
    """q: [E, Hq, D]; k/v: [E, Hk, D] -> [E, Hq, D] (torch SDPA, is_causal)."""
    return F.scaled_dot_product_attention(
        q.transpose(0, 1)[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None], is_causal=True, scale=scale, enable_gqa=True
    )[0].transpose(0, 1)


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
    """``causal_attention_reference``, computed in blocks of query positions (all query heads
    of a KV head together) when the chunk length is in [MIN_BLOCKED, MAX_BLOCKED]."""
    e, hq, d = q.shape
    if not MIN_BLOCKED <= e <= MAX_BLOCKED:
        return causal_attention_reference(q, k, v, scale)
    hk = k.shape[1]
    r = hq // hk
    qh = q.view(e, hk, r, d).transpose(0, 1)  # [Hk, E, r, D]
    keys, values = k.transpose(0, 1)[:, None], v.transpose(0, 1)[:, None]  # [Hk, 1, E, D]
    out = torch.empty((hk, e, r, d), dtype=q.dtype, device=q.device)
    block = max(16, partial.BLOCK_BYTES // (hk * r * e * 4))
    for s, bias in zip(range(0, e, block), _block_biases(e, r, block, q.device)):
        t = min(e, s + block)
        rows = qh[:, s:t].reshape(hk, 1, (t - s) * r, d)
        o, _ = partial.partial_attention_reference(rows, keys[:, :, :t], values[:, :, :t], bias, scale)
        out[:, s:t] = o.view(hk, t - s, r, d)
    return out.transpose(0, 1).reshape(e, hq, d)


@lru_cache(maxsize=8)
def _block_biases(e: int, r: int, block: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Causal biases [(t-s)*r, t] of each query block; the same for every layer of a forward,
    so built once per chunk shape."""
    biases = []
    for s in range(0, e, block):
        t = min(e, s + block)
        pos = torch.arange(s, t, device=device).repeat_interleave(r)
        biases.append(partial.mask_bias(torch.arange(t, device=device)[None, :] <= pos[:, None]))
    return tuple(biases)
