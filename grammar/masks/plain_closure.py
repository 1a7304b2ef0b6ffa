"""The head of a root walk from a state whose plain paths can never die ("plain-safe").

`plain_walk` covers states that send every PLAIN byte to one state. A string under an
unanchored JSON-Schema `pattern` (it may match anywhere: `"\\d{4}-\\d{2}"` admits any string
containing a date) does not: each digit moves the search one step on, so every position is
a new state whose mask was a whole-trie walk (~0.7 ms, with nearly every token allowed).
But when every state reachable from `state` over PLAIN bytes (its plain closure) is alive
on every PLAIN byte and none accepts, every plain token is allowed and no plain node is an
end node, whatever the states along the way. Only the few hundred boundary nodes, where a
path first leaves PLAIN, need their states, and those follow from the ~100 plain nodes on
their paths (`PlainPaths`); `token_trie.walk` continues below them. Exact, like the chain.
Every state of a plain-safe closure is plain-safe too (its closure is a subset), so one
closure search serves a whole string's positions.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import native
from .plain_walk import PLAIN

MAX_CLOSURE = 256  # states searched at most; past it the state counts as not plain-safe


def plain_safe(dfa: Any, state: int) -> bool:
    """Whether every PLAIN path from `state` stays alive and (where the walk wants end nodes,
    `dfa.accept` not None) never reaches an accepting state. Cached per walk table, apart
    for walks with and without end nodes (a terminal's LazyDFA and its WalkView share rows)."""
    cache = dfa.row.plain_safe[dfa.accept is not None]
    known = cache.get(state)
    if known is None:
        known, members = _closure(dfa, state)
        cache.update(dict.fromkeys(members, known))
    return known


def _closure(dfa: Any, state: int) -> tuple[bool, list[int]]:
    """(plain-safe, the states searched): the states reachable over PLAIN bytes from `state`,
    unsafe when one of them dies on a PLAIN byte, accepts (end nodes wanted), or there are
    more than MAX_CLOSURE. A failed search marks every state it saw unsafe: not all of them
    are, but they are walked whole, as before, rather than searched again and again (the
    key states of a large object, where every plain string is a live key, reach past the
    limit from each of thousands of states)."""
    if native.ENABLED:
        out = native.with_builder(native._native.plain_closure, dfa, state, MAX_CLOSURE, dfa.dead)
        return bool(out[0]), out[1].tolist()
    row, dead = dfa.row, dfa.dead
    seen, todo = {state}, [state]
    while todo:
        s = todo.pop()
        r = row(s)
        accept = dfa.accept  # re-read: the tables may have grown
        if accept is not None and accept[s]:
            return False, list(seen)
        for t in set(map(r.__getitem__, PLAIN)):
            if t == dead:
                return False, list(seen)
            if t not in seen:
                if len(seen) >= MAX_CLOSURE:
                    return False, list(seen)
                seen.add(t)
                todo.append(t)
    return True, list(seen)


class PlainPaths:
    """Per trie: the plain nodes on the paths to the boundary nodes' parents (breadth-first
    ids, so each node's parent comes before it), to run a state down them."""

    def __init__(self, trie: Any, plain: Any) -> None:  # a TokenTrie and its PlainIndex
        bnd = self.bnd = plain.bnd
        self.bnd_byte, self.has_children = plain.bnd_byte, trie.has_children
        parents = set(np.unique(trie.parent[bnd]).tolist()) - {0}
        nodes: set[int] = set()
        for n in parents:
            while n and n not in nodes:
                nodes.add(n)
                n = int(trie.parent[n])
        order = np.array(sorted(nodes), dtype=np.int64)
        at = {0: 0, **{int(n): i + 1 for i, n in enumerate(order)}}  # slot 0: the root
        self.parent_slot = [at[int(p)] for p in trie.parent[order]]
        self.byte = trie.byte[order].tolist()
        self.bnd_slot = np.array([at[int(p)] for p in trie.parent[bnd]], dtype=np.int64)

    def start(self, dfa: Any, state: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """For a root walk from a plain-safe `state`: (live boundary nodes, their states, end
        nodes among them), else None. Every plain token is alive then."""
        if not plain_safe(dfa, state):
            return None
        row = dfa.row
        path = [state]  # the state at each plain node on the paths (all live, all expanded)
        for p, b in zip(self.parent_slot, self.byte):
            path.append(row(path[p])[b])
        states = dfa.table[np.array(path, dtype=np.int64)[self.bnd_slot], self.bnd_byte]
        live = states != dfa.dead
        nodes, states = self.bnd[live], states[live].astype(np.int64)
        accept = dfa.accept
        ends = nodes[accept[states] & self.has_children[nodes]] if accept is not None else nodes[:0]
        return nodes, states, ends
