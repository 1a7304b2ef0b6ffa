"""Log-probabilities of chosen tokens and their top-k alternatives, from raw logits."""
from __future__ import annotations

import torch


def token_logprobs(logits: torch.Tensor, token_ids: torch.Tensor, top_k: list[int]) -> tuple[list[float], list[list[tuple[float, int]]]]:
    """logits: [N, V] float32 (unmodified model logits), token_ids: [N].

    Returns each row's chosen-token logprob and its ``top_k[i]`` best (logprob, id) pairs.
    """
    logp = torch.log_softmax(logits, dim=-1)  # [N, V]
    chosen = logp.gather(1, token_ids[:, None]).squeeze(1).tolist()
    tops: list[list[tuple[float, int]]] = [[] for _ in top_k]
    k_max = min(max(top_k, default=0), logp.shape[1])  # more alternatives than tokens: all of them
    if k_max > 0:
        vals, idx = logp.topk(k_max, dim=-1)
        vals, idx = vals.tolist(), idx.tolist()
        for i, k in enumerate(top_k):
            tops[i] = list(zip(vals[i][:k], idx[i][:k]))
    return chosen, tops
