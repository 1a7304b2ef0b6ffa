"""The head of a root walk from a state that treats every plain ASCII byte alike.

Inside a JSON string (or any state whose row sends all of PLAIN to one next state, and so
on down: counters such as maxLength count up, unbounded contents loop), the DFA state at a
trie node whose path is all PLAIN bytes depends only on its depth. 98k of the 49k SmolLM2
vocabulary's 100k trie nodes are such nodes, so the mask of a dense string state is: the
plain tokens down to the depth where the state dies (a prefix of a depth-sorted list), plus
a real walk below the few hundred "boundary" nodes where a path first leaves PLAIN
(`token_trie.walk` continues from them). Exact: nothing is assumed that the rows do not say.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import native

PLAIN = [b for b in range(0x20, 0x7F) if b not in b'"\\']  # printable ASCII but " and \
_PLAIN_MASK = np.zeros(256, dtype=bool)
_PLAIN_MASK[PLAIN] = True
NOT_UNIFORM = -2  # cached: the state's row does not send all PLAIN bytes to one state


class PlainIndex:
    """Per trie: plain nodes (paths of PLAIN bytes) by depth, and the boundary nodes."""

    def __init__(self, trie: Any) -> None:  # a TokenTrie (not imported: it imports this)
        num, level, depth = trie.num_nodes, trie.level, trie.depth
        plain = np.zeros(num, dtype=bool)
        plain[0] = True
        step = _PLAIN_MASK[trie.byte]
        for d in range(1, len(level) - 1):
            a, b = int(level[d]), int(level[d + 1])
            plain[a:b] = plain[trie.parent[a:b]] & step[a:b]
        self.lmax = len(level) - 2
        depths = np.arange(self.lmax + 2)
        nodes = np.flatnonzero(plain)[1:]                       # depth-sorted (breadth first)
        tok = trie.token[nodes]
        dup = trie.dup_nodes[plain[trie.dup_nodes]]
        tok_depth = np.concatenate([depth[nodes][tok >= 0], depth[dup]])
        order = np.argsort(tok_depth, kind="stable")
        self.tok_ids = np.concatenate([tok[tok >= 0], trie.dup_ids[plain[trie.dup_nodes]]])[order]
        self.tok_lvl = np.searchsorted(tok_depth[order], depths)  # first plain token per depth
        self.inner = nodes[trie.has_children[nodes]]              # plain nodes with children
        self.inner_depth = depth[self.inner]
        self.inner_lvl = np.searchsorted(self.inner_depth, depths)
        self.bnd = np.flatnonzero(~plain & plain[trie.parent])    # first non-plain byte
        self.bnd_pdepth = depth[self.bnd] - 1
        self.bnd_byte = trie.byte[self.bnd]
        self.bnd_lvl = np.searchsorted(self.bnd_pdepth, depths)
        self.has_children = trie.has_children
        self.size = trie.size
        self._masks: np.ndarray | None = None

    def start(self, dfa: Any, state: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """For a root walk from `state`: (ids of the live plain tokens, end nodes among plain
        and live boundary nodes, live boundary nodes, their states), or None when some state
        on the way does not treat PLAIN alike (walk the whole trie then)."""
        fa = self.chain(dfa, state)
        if fa is None:
            return None
        nodes, states = self.boundary(dfa, fa)
        ids = self.tok_ids[:int(self.tok_lvl[len(fa)])]
        return ids, self.ends(dfa, fa, nodes, states), nodes, states

    def ends(self, dfa: Any, fa: np.ndarray, nodes: np.ndarray, states: np.ndarray) -> np.ndarray:
        """End nodes (with children, where the DFA accepts) among the live plain nodes under
        the chain `fa` and the live boundary `nodes` (in `states`); unsorted."""
        accept = dfa.accept
        if accept is None:
            return np.zeros(0, dtype=np.int64)
        lvl = self.inner_lvl  # the inner nodes of depth d: inner[lvl[d]:lvl[d + 1]], all in state fa[d]
        parts = [self.inner[lvl[d]:lvl[d + 1]] for d in np.flatnonzero(accept[fa]).tolist()]
        return np.concatenate(parts + [nodes[accept[states] & self.has_children[nodes]]])

    def chain(self, dfa: Any, state: int) -> np.ndarray | None:
        """int [k]: the DFA state at depth 0, 1, .. k - 1 of every plain path from `state` (k - 1
        the deepest where it is alive), or None when some state on the way does not treat
        PLAIN alike."""
        if native.ENABLED:
            return native.with_builder(native._native.plain_chain, dfa, state, self.lmax, dfa.dead)
        row, dead = dfa.row, dfa.dead
        cache = row.plain_next
        f, s = [state], state
        while len(f) <= self.lmax:
            nxt = cache.get(s)
            if nxt is None:
                r = row(s)
                nxt = cache[s] = r[PLAIN[0]] if len(set(map(r.__getitem__, PLAIN))) == 1 else NOT_UNIFORM
            if nxt == NOT_UNIFORM:
                return None
            if nxt == dead:
                break
            if nxt == s:  # a loop: the same state all the way down
                f += [s] * (self.lmax + 1 - len(f))
                break
            f.append(nxt)
            s = nxt
        return np.array(f, dtype=np.int64)

    def boundary(self, dfa: Any, fa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(live boundary nodes, their states) under the chain `fa`."""
        k = int(self.bnd_lvl[len(fa)])
        states = dfa.table[fa[self.bnd_pdepth[:k]], self.bnd_byte[:k]]  # the chain's states are built
        live = states != dfa.dead
        return self.bnd[:k][live], states[live].astype(np.int64)

    def mask(self, fa: np.ndarray) -> np.ndarray:
        """bool [vocab size]: the plain tokens alive under the chain `fa` (a fresh copy of a
        per-depth mask, built on first use: (lmax + 2) x vocab bytes)."""
        return self.depth_masks()[len(fa)].copy()

    def depth_masks(self) -> np.ndarray:
        """bool [lmax + 2, vocab size]: row d holds the plain tokens of depth < d (built once)."""
        if self._masks is None:
            masks = np.zeros((self.lmax + 2, self.size), dtype=bool)
            for d in range(1, self.lmax + 2):
                masks[d] = masks[d - 1]
                masks[d, self.tok_ids[int(self.tok_lvl[d - 1]):int(self.tok_lvl[d])]] = True
            self._masks = masks
        return self._masks
