"""The Python / numpy twin of the native trie walk (`grammar.native`): each trie level below
a frontier is stepped as a frontier expansion, a whole trie level (dense), or in plain Python
when it has few children (`small_walk.py`), by its size. Also the array helpers the walks
and the batched precompute share (`expand`, `unique`)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .small_walk import SMALL_STEP, step_small

DENSE_FRONTIER = 4096  # switch from frontier expansion to whole-level steps above this
LEVEL_MIN = 256  # ...and back to frontier expansion at levels narrower than this


def walk_states_py(trie: Any, dfa: Any, nodes: np.ndarray, states: np.ndarray,
                   nested: bool) -> tuple[np.ndarray, np.ndarray]:
    """The Python / numpy twin of the native `walk_states`: levels stepped as frontier
    expansions, whole trie levels (dense) or in Python (few children)."""
    dead = dfa.dead
    alive, cross = [], []
    mark = None  # bool [num]: live nodes of a whole-level stretch
    while len(nodes):
        lo = trie.child_lo[nodes]
        counts = trie.child_hi[nodes] - lo
        total = int(counts.sum())
        if total <= SMALL_STEP:
            nodes, states = _walk_small(trie, dfa, nodes.tolist(), states.tolist(), alive, cross)
            continue
        dfa.ensure(states)  # a lazy DFA builds the states it steps from
        table = dfa.table
        accept = dfa.accept  # read after the table: it covers every state the table names
        if len(nodes) == 1:
            kids = np.arange(lo[0], lo[0] + total)
            states = table[states[0], trie.byte[kids]]
        else:
            kids, owner = _expand(lo, counts, total)
            states = table[states[owner], trie.byte[kids]]
        live = states != dead
        nodes, states = kids[live], states[live]
        alive.append(nodes)
        if accept is not None:
            cross.append(nodes[accept[states] & trie.has_children[nodes]])
        if mark is None and len(nodes) > DENSE_FRONTIER and _one_depth(trie, nodes):
            mark, more_cross, nodes, states = _walk_levels(trie, dfa, nodes, states)
            cross.append(more_cross)
    if mark is not None:
        mark[np.concatenate(alive)] = True
        return trie.row_ids[mark[trie.row_node]], unique(np.concatenate(cross))
    nodes = np.concatenate(alive) if alive else np.zeros(0, dtype=np.int64)
    ends = np.concatenate(cross) if cross else np.zeros(0, dtype=np.int64)
    if nested:  # nodes may repeat
        nodes, ends = unique(nodes), unique(ends)
    return trie.tokens_of(nodes), ends  # else already sorted (breadth first) and unique


def _walk_small(trie: Any, dfa: Any, nodes: list[int], states: list[int],
                alive: list, cross: list) -> tuple[np.ndarray, np.ndarray]:
    """Step levels in Python while they have at most SMALL_STEP children; appends the live
    nodes (and end nodes) to `alive` (`cross`) and returns the frontier left for numpy."""
    py, row, dead = trie.py, dfa.row, dfa.dead
    lo = py.lo
    out: list[int] = []
    while nodes:
        nodes, states, kids = step_small(py, row, dead, nodes, states)
        out += nodes
        accept = dfa.accept  # read after the rows: it covers every state they name
        if accept is not None:
            ends = [k for k, s in zip(nodes, states) if accept[s] and lo[k + 1] > lo[k]]
            if ends:
                cross.append(np.array(ends, dtype=np.int64))
        if kids > SMALL_STEP:
            break
    if out:
        alive.append(np.array(out, dtype=np.int64))
    return np.array(nodes, dtype=np.int64), np.array(states, dtype=np.int64)


def expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the ranges [lo[i], hi[i]); also return which i each element came from."""
    counts = hi - lo
    return _expand(lo, counts, int(counts.sum()))


def _expand(lo: np.ndarray, counts: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
    owner = np.repeat(np.arange(len(lo)), counts)
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts - lo, counts), owner


def _one_depth(trie: Any, nodes: np.ndarray) -> bool:
    """Whether all `nodes` are at the same trie depth (np.unique would import numpy.ma on
    first use: 25 ms in the first mask of a process)."""
    d = trie.depth[nodes]
    return len(d) == 0 or bool(d.min() == d.max())


MARK_UNIQUE = 1024  # arrays longer than this are deduplicated by marking, not sorting


def unique(a: np.ndarray) -> np.ndarray:
    """Sorted unique values of non-negative ints (np.unique's hash path is slow on large int
    arrays; sorting 50k node ids costs ~1 ms, marking them in a bool array ~0.1 ms)."""
    if len(a) > MARK_UNIQUE:
        mark = np.zeros(int(a.max()) + 1, dtype=bool)
        mark[a] = True
        return np.flatnonzero(mark)
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a


def _walk_levels(trie: Any, dfa: Any, nodes: np.ndarray, states: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Continue a walk below same-depth `nodes` one whole trie level at a time (dense case)
    while levels are at least LEVEL_MIN wide; returns bool [num] live nodes below them, those
    of them where the DFA may end early, and the live nodes (and states) of the last level
    stepped when a narrower one stopped it (empty when the walk ended)."""
    dead = dfa.dead * 256
    st = np.full(trie.num_nodes, dead, dtype=np.int32)  # [num] DFA state * 256 per node
    st[nodes] = states * 256
    depth = int(trie.depth[nodes[0]]) + 1
    first = int(trie.level[depth])
    rest = (np.zeros(0, dtype=np.int64),) * 2
    prev = (int(trie.level[depth - 1]), first)
    for depth in range(depth, len(trie.level) - 1):
        a, b = int(trie.level[depth]), int(trie.level[depth + 1])
        if a >= b:
            break
        if b - a < LEVEL_MIN:  # narrow: frontier expansion (and Python) from the last level
            last = st[prev[0]:prev[1]]
            keep = np.flatnonzero(last != dead)
            rest = (keep + prev[0], (last[keep] >> 8).astype(np.int64))
            break
        parents = st[trie.parent32[a:b]]
        if not dfa.complete:
            dfa.ensure(parents >> 8)  # a lazy DFA builds them first (the sink reads -1)
        level = st[a:b]
        np.take(dfa.flat, parents + trie.byte32[a:b], out=level)
        prev = (a, b)
    live = st != dead
    live[:first] = False
    accept = dfa.accept  # a lazy DFA's grew with its table
    if accept is None or not accept.any():
        return live, np.zeros(0, dtype=np.int64), *rest
    below = st[first:] >> 8
    ends = np.flatnonzero(accept[below] & trie.has_children[first:]) + first
    return live, ends, *rest
