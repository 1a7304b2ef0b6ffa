"""Plain decode attention: one query per request over its padded KV rows.

The reference twin of ``cascade.cascade_decode``, and the decode path whenever no shared
prefix is worth a cascade.
"""
from __future__ import annotations

import torch


def decode_attention(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, bias: torch.Tensor, scale: float) -> torch.Tensor:
    """One query per request, as two batched matmuls (CPU SDPA kernels are slow for a
    single query with a padding mask). q: [B, Hq, D]; keys/values: [Hk, B, L, D];
    bias: [1, B, 1, L] additive padding mask (see partial.mask_bias) -> [B, Hq, D]."""
    b, hq, d = q.shape
    hk = keys.shape[0]
    qg = q.view(b, hk, hq // hk, d).transpose(0, 1)  # [Hk, B, G, D]: G query heads per KV head
    scores = torch.matmul(qg, keys.transpose(2, 3)).float() * scale  # [Hk, B, G, L]
    scores.add_(bias)
    probs = torch.softmax(scores, dim=-1).to(values.dtype)
    out = torch.matmul(probs, values)  # [Hk, B, G, D]
    return out.transpose(0, 1).reshape(b, hq, d)
