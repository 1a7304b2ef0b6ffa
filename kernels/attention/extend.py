"""Plain extend attention: one request's new tokens after its cached prefix, masked.

The reference twin of ``cascade_extend.grouped_extend``.
"""
from __future__ import annotations

import torch


def extend_attention(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, scale: float) -> torch.Tensor:
    """q: [E, Hq, D]; keys/values: [Hk, S, D] (the request's whole sequence); mask: [E, S]
    bool, True where a new token attends -> [E, Hq, D]."""
    e, hq, d = q.shape
    hk = keys.shape[0]
    g = hq // hk
    qh = q.view(e, hk, g, d).permute(1, 2, 0, 3).reshape(hk, g * e, d)  # [Hk, G*E, D]
    scores = torch.matmul(qh, keys.transpose(1, 2)).float() * scale  # [Hk, G*E, S]
    scores = scores.view(hk, g, e, -1).masked_fill_(~mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1).to(values.dtype).view(hk, g * e, -1)
    out = torch.matmul(probs, values)  # [Hk, G*E, D]
    return out.view(hk, g, e, d).permute(2, 0, 1, 3).reshape(e, hq, d)
