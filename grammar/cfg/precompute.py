"""Compile-time warm-up of a CFG's context-independent mask parts (`mask._Locals`).

A first visit of a parser state used to pay for Earley runs and trie walks of the local
parts it needs (1-5 ms at the 49k vocabulary). Those parts depend only on grammar positions
and trie frontiers, so the reachable ones can be computed before the first token:

- every scan key (terminal t, DFA state s, rule r, dot d just past t), from the trie root;
- then the closure of pops: a local part that completes rule r at frontier f continues with
  every item waiting for lhs(r) - `item(r2, d2 + 1, f)` - whose own pops continue likewise.

This is a superset of what any chart can ask for (a real chart only has some waiting items),
bounded by a time budget; whatever is left is still computed on first use, as before.
"""
from __future__ import annotations

import time

from . import mask
from .mask import MaskBuilder


def precompute_locals(masks: MaskBuilder, max_seconds: float) -> bool:
    """Fill `masks.locals` caches with every reachable local part; False when the time
    budget ran out first or a cache reached half its size cap (the rest stays lazy)."""
    rec, loc = masks.rec, masks.locals
    deadline = time.perf_counter() + max_seconds

    def over() -> bool:
        full = max(loc.scan_cache.nbytes, loc.item_cache.nbytes, masks.walks.cache.nbytes)
        return time.perf_counter() > deadline or 2 * full > mask.MAX_CACHE_BYTES
    waiters: dict[int, list[tuple[int, int]]] = {}  # nonterminal -> (rule, dot before it)
    pending: list[tuple[int, int]] = []  # (completed nonterminal, pop frontier)
    seen: set[tuple[int, int]] = set()

    def popped(r: int, f: int) -> None:
        if f >= 0 and (rec.lhs[r], f) not in seen:
            seen.add((rec.lhs[r], f))
            pending.append((rec.lhs[r], f))

    for r, body in enumerate(rec.bodies):
        for d, sym in enumerate(body):
            if sym >= 0:
                waiters.setdefault(sym, []).append((r, d))
                continue
            t = ~sym
            for s, live in enumerate(rec.live_states(t)):
                if live or s == 0:
                    popped(r, loc.scan(t, s, r, d + 1)[1])
                    if over():
                        return False
    while pending:
        nt, f = pending.pop()
        for r, d in waiters.get(nt, ()):
            popped(r, loc.item(r, d + 1, f)[1])
            if over():
                return False
    return True
