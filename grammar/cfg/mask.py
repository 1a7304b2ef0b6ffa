"""Token masks: vectorized walks of trie subtrees through terminal DFAs, Earley at boundaries.

For an Earley set waiting on terminal t in DFA state s, and a trie node n (the root, or a node
where a previous terminal ended), the tokens below n split into (a) those whose remaining bytes
stay inside t: allowed, and (b) those where t may end after a proper prefix ("boundary" nodes):
there the recognizer completes t (one Earley step for the whole group) and the same procedure
continues below the boundary node. (a) and the boundary nodes depend only on (t, s, n), so they
are computed with numpy over the subtree's row range and cached per compiled grammar.
"""
from __future__ import annotations

import numpy as np

from .earley import EarleySet, Recognizer
from .trie import TokenTrie

MAX_CACHED_WALKS = 200_000
SMALL_SUBTREE = 256  # below this many tokens, stepping the recognizer byte by byte is cheaper


class TerminalWalks:
    """Cache of (inside token ids, boundary trie nodes) per (terminal, DFA state, trie node)."""

    def __init__(self, rec: Recognizer, trie: TokenTrie) -> None:
        self.trie = trie
        self.tables = [d.table for d in rec.cfg.terminals]  # [states + 1, 256], last row dead
        self.accepts = [np.array(d.accept + [False]) for d in rec.cfg.terminals]
        self.cache: dict[tuple[int, int, int], tuple[np.ndarray, list[int]]] = {}

    def get(self, t: int, s: int, node: int) -> tuple[np.ndarray, list[int]]:
        key = (t, s, node)
        hit = self.cache.get(key)
        if hit is None:
            if len(self.cache) >= MAX_CACHED_WALKS:
                self.cache.clear()
            hit = self.cache[key] = self._walk(t, s, node)
        return hit

    def _walk(self, t: int, s: int, node: int) -> tuple[np.ndarray, list[int]]:
        trie, table, acc = self.trie, self.tables[t], self.accepts[t]
        dead = table.shape[0] - 1
        d = trie.depth[node]
        rows = np.arange(trie.lo[node], trie.hi[node])
        rows = rows[trie.lengths[rows] > d]                 # [m] tokens strictly below node
        lengths = trie.lengths[rows]                         # [m]
        state = np.full(len(rows), s, dtype=np.int32)        # [m]
        boundary = []
        for j in range(d, trie.tb.shape[1]):
            act = lengths > j
            if not act.any():
                break
            state[act] = table[state[act], trie.tb[rows[act], j]]
            cross = (lengths > j + 1) & acc[state]  # t may end after j + 1 bytes of a longer token
            if cross.any():
                boundary.append(trie.prefix_node[rows[cross], j + 1])
            if (state == dead).all():
                break
        inside = trie.ids[rows[state != dead]]
        nodes = np.unique(np.concatenate(boundary)).tolist() if boundary else []
        return inside, nodes


def compute_mask(rec: Recognizer, walks: TerminalWalks, chart: list[EarleySet]) -> np.ndarray:
    """Bool [vocab.size]: tokens allowed after `chart` (EOS is left to the caller)."""
    mask = np.zeros(walks.trie.size, dtype=bool)
    _expand(rec, walks, list(chart), 0, mask)
    return mask


def _expand(rec: Recognizer, walks: TerminalWalks, work: list[EarleySet], node: int,
            mask: np.ndarray) -> None:
    """Mark tokens strictly below `node` that the recognizer accepts from `work`."""
    trie = walks.trie
    if node and trie.hi[node] - trie.lo[node] < SMALL_SUBTREE:
        _step_subtrie(rec, trie, work, node, mask)
        return
    for (t, s), items in work[-1].scans.items():
        inside, nodes = walks.get(t, s, node)
        mask[inside] = True
        if nodes:
            work.append(rec.complete_terminal(work, items))
            for child in nodes:
                _expand(rec, walks, work, child, mask)
            work.pop()


def _step_subtrie(rec: Recognizer, trie, work: list[EarleySet], node: int,
                  mask: np.ndarray) -> None:
    """Reference-style walk: one recognizer step per trie edge below `node`."""
    common = rec.allowed_bits(work[-1]) & trie.child_bits[node]
    children = trie.children[node]
    while common:
        low = common & -common
        common ^= low
        b = low.bit_length() - 1
        es = rec.step(work, b)
        if es is None:
            continue
        child = children[b]
        for tid in trie.tokens_at[child]:
            mask[tid] = True
        if trie.children[child]:
            work.append(es)
            _step_subtrie(rec, trie, work, child, mask)
            work.pop()
