"""Drafters (where draft tokens come from) and the grammar check of a draft.

A drafter proposes up to ``lengths[i]`` tokens for each decoding request; ``settle`` says
how many tokens of the request now have KV in the target (a draft model rolls its own KV
back to match); ``release`` drops what it keeps for requests that left. A drafter whose
drafts cost next to nothing (NGRAM) also offers ``lookup``: every request's longest draft
with a key that predicts its acceptance, before the plan decides how much of it to verify.
"""
from __future__ import annotations

from typing import Any, Protocol

import torch

from ..config import EngineConfig
from ..scheduler.request import Req
from .ngram_index import NgramIndex


class Drafter(Protocol):
    def draft(self, reqs: list[Req], lengths: list[int]) -> list[list[int]]: ...

    def settle(self, req: Req) -> None: ...

    def release(self, req: Req) -> None: ...


class NgramDrafter:
    """NGRAM: suffix lookup in the request's own prompt + output (``ngram.py``), through an
    index per request that each step brings up to date (``ngram_index.py``)."""

    def __init__(self, config: EngineConfig) -> None:
        self.min_window = config.speculative_ngram_min_match_window_size
        self.max_window = config.speculative_ngram_max_match_window_size
        self._index: dict[int, NgramIndex] = {}  # by id(req), until the request leaves

    def lookup(self, reqs: list[Req], lengths: list[int]) -> list[tuple[list[int], int]]:
        """(draft, length of the suffix it matched) for each request."""
        out = []
        for req, k in zip(reqs, lengths):
            if k <= 0:
                out.append(([], 0))
                continue
            index = self._index.get(id(req))
            if index is None:
                index = self._index[id(req)] = NgramIndex(self.min_window, self.max_window)
            index.sync(req.all_ids)
            out.append(index.lookup(k))
        return out

    def draft(self, reqs: list[Req], lengths: list[int]) -> list[list[int]]:
        return [d for d, _ in self.lookup(reqs, lengths)]

    def settle(self, req: Req) -> None:
        pass

    def release(self, req: Req) -> None:
        self._index.pop(id(req), None)


def grammar_rows(matcher: Any, draft: list[int], vocab: int) -> tuple[list[int], torch.Tensor]:
    """Cut ``draft`` at its first token the grammar does not allow; returns the kept draft
    and the masks [len(kept) + 1, V] (True = allowed) of every position verified. The
    matcher is left where it was."""
    masks = torch.ones((len(draft) + 1, vocab), dtype=torch.bool)
    kept = 0
    for t in draft:
        matcher.fill_mask(masks[kept])
        if not bool(masks[kept, t]) or not matcher.advance(t):
            break
        kept += 1
    else:
        matcher.fill_mask(masks[kept])
    if kept:
        matcher.rollback(kept)
    return draft[:kept], masks[: kept + 1]
