"""Verification: which drafted tokens the target model accepts, and the token after them.

Greedy: the drafts are kept while each equals the target's argmax; then the argmax itself
follows, so the output is the one plain greedy decoding gives. Sampling: the standard
speculative-sampling rule for a draft that is a point mass (NGRAM drafts, and a draft model
drafting greedily): accept draft ``t`` with probability ``p(t)``, else sample from ``p``
with ``t`` removed and renormalised; after all accepted, one more token from ``p``. Each
emitted token is then distributed exactly as ``p`` (the target's filtered distribution).
"""
from __future__ import annotations

import torch


def accept_greedy(targets: list[int], draft: list[int]) -> tuple[list[int], int]:
    """targets: the argmax of each of the ``len(draft) + 1`` rows. Returns (tokens, accepted)."""
    n = 0
    while n < len(draft) and targets[n] == draft[n]:
        n += 1
    return draft[:n] + [targets[n]], n


def accept_sampled(probs: torch.Tensor, draft: list[int], generator: torch.Generator) -> tuple[list[int], int]:
    """probs: [len(draft) + 1, V] normalised target probabilities (CPU). Returns (tokens, accepted)."""
    for j, t in enumerate(draft):
        u = float(torch.rand((), generator=generator))
        if u < float(probs[j, t]):
            continue
        residual = probs[j].clone()
        residual[t] = 0.0
        if float(residual.sum()) <= 0.0:  # p(t) == 1 up to rounding: t is the only choice
            continue
        return draft[:j] + [_draw(residual, generator)], j
    return draft + [_draw(probs[len(draft)], generator)], len(draft)


def _draw(weights: torch.Tensor, generator: torch.Generator) -> int:
    return int(torch.multinomial(weights, 1, generator=generator))
