"""Token masks: vectorized per-terminal-state walks plus an Earley walk of the trie at boundaries.

For a chart whose last set waits on terminal t in DFA state s, a token is allowed when
(a) all of its bytes stay inside t (precomputed once per (t, s) by walking every token through
the DFA with numpy), or (b) t may end after a proper prefix of the token (a "boundary" trie
node, also precomputed) and the rest of the token is accepted by the Earley recognizer from
the set reached by completing t there. Only (b) runs the recognizer, on a small sub-trie.
"""
from __future__ import annotations

import numpy as np

from .earley import EarleySet, Recognizer
from .trie import TokenTrie


class TerminalWalks:
    """Cache of (inside-token mask, boundary trie nodes) per (terminal, DFA state)."""

    def __init__(self, rec: Recognizer, trie: TokenTrie) -> None:
        self.trie = trie
        self.tables = [d.table for d in rec.cfg.terminals]  # [states + 1, 256], last row dead
        self.accepts = [np.array(d.accept + [False]) for d in rec.cfg.terminals]
        self.cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def get(self, t: int, s: int) -> tuple[np.ndarray, np.ndarray]:
        key = (t, s)
        if key not in self.cache:
            self.cache[key] = self._walk(t, s)
        return self.cache[key]

    def _walk(self, t: int, s: int) -> tuple[np.ndarray, np.ndarray]:
        trie, table, acc = self.trie, self.tables[t], self.accepts[t]
        dead = table.shape[0] - 1
        lmax = trie.tb.shape[1]
        state = np.full(len(trie.ids), s, dtype=np.int32)  # [n]
        boundary = []
        for j in range(lmax):
            m = int(trie.active[j])
            state[:m] = table[state[:m], trie.tb[:m, j]]
            m2 = int(trie.active[j + 1]) if j + 1 < lmax else 0
            if m2:
                hit = acc[state[:m2]]  # terminal may end after j + 1 bytes of a longer token
                if hit.any():
                    boundary.append(trie.prefix_node[:m2, j + 1][hit])
            if m2 == 0 or (state[:m2] == dead).all():
                break
        inside = np.zeros(trie.size, dtype=bool)
        inside[trie.ids[state != dead]] = True
        nodes = np.unique(np.concatenate(boundary)) if boundary else np.zeros(0, dtype=np.int32)
        return inside, nodes


def compute_mask(rec: Recognizer, walks: TerminalWalks, chart: list[EarleySet]) -> np.ndarray:
    """Bool [vocab.size]: tokens allowed after `chart` (EOS is left to the caller)."""
    trie = walks.trie
    mask = np.zeros(trie.size, dtype=bool)
    work = list(chart)
    for (t, s), items in chart[-1].scans.items():
        inside, nodes = walks.get(t, s)
        mask |= inside
        if len(nodes):
            work.append(rec.complete_terminal(chart, items))
            for node in nodes.tolist():
                _walk_subtrie(rec, trie, work, node, mask)
            work.pop()
    return mask


def _walk_subtrie(rec: Recognizer, trie: TokenTrie, work: list[EarleySet], node: int,
                  mask: np.ndarray) -> None:
    """Mark tokens strictly below `node` whose remaining bytes the recognizer accepts."""
    common = rec.allowed_bits(work[-1]) & trie.child_bits[node]
    children = trie.children[node]
    while common:
        low = common & -common
        common ^= low
        b = low.bit_length() - 1
        child = children[b]
        es = rec.step(work, b)
        if es is None:
            continue
        for tid in trie.tokens_at[child]:
            mask[tid] = True
        if trie.children[child]:
            work.append(es)
            _walk_subtrie(rec, trie, work, child, mask)
            work.pop()
