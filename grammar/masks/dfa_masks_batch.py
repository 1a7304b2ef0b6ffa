"""Token masks of many byte-DFA states at once, for precomputing a whole DFA at compile time.

The per-state walk (`token_masks.dfa_token_mask`, the reference twin) pays ~80 trie levels
of numpy calls per state. Here a batch of start states shares them: narrow states (few
live tokens) walk (node, start) pairs breadth first; wide ones (string contents, most of
the trie alive) step whole trie levels as an int32 [nodes, batch] array.
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .token_trie import TokenTrie, expand

CHUNK = 256  # states per sparse batch (narrow states: few live pairs per trie level)
MAX_PAIRS = 1 << 21  # (node, start) pairs of one trie level in a sparse batch (~80 MB)
DENSE_BATCH = 32  # states per dense batch: int32 [trie nodes, DENSE_BATCH] (~13 MB at 100k)


def sparse_masks(trie: TokenTrie, table: np.ndarray, states: np.ndarray) -> np.ndarray | None:
    """uint8 [len(states), ceil(trie.size / 8)]: np.packbits of each state's token mask (no
    EOS), equal to `dfa_token_mask` of every state; None when a trie level would hold more
    than MAX_PAIRS live (node, start) pairs. table: int [S + 1, 256], S the dead sink."""
    dead = table.shape[0] - 1
    flat = table.astype(np.int64).reshape(-1)                      # [(S + 1) * 256]
    n = len(states)
    nodes = np.zeros(n, dtype=np.int64)                            # [pairs] trie node
    cur = np.asarray(states, dtype=np.int64)                       # [pairs] DFA state there
    start = np.arange(n, dtype=np.int64)                           # [pairs] row in the batch
    bits = np.zeros(n * trie.size, dtype=bool)                     # [n * size]
    while len(nodes):
        lo, hi = trie.child_lo[nodes], trie.child_hi[nodes]
        if int((hi - lo).sum()) > MAX_PAIRS:
            return None
        kids, owner = expand(lo, hi)
        nxt = flat[cur[owner] * 256 + trie.byte[kids]]
        live = nxt != dead
        nodes, cur, start = kids[live], nxt[live], start[owner[live]]
        tok = trie.token[nodes]
        has = tok >= 0
        bits[start[has] * trie.size + tok[has]] = True
    return _with_dups(trie, bits.reshape(n, trie.size))


def dense_masks(trie: TokenTrie, table: np.ndarray, states: np.ndarray) -> np.ndarray:
    """Same result as `sparse_masks`, walking whole trie levels for every state of the batch:
    cheaper when most of the trie stays alive (string contents)."""
    dead = (table.shape[0] - 1) * 256
    flat = (table.astype(np.int32) * 256).reshape(-1)              # [(S + 1) * 256]
    n, num = len(states), trie.num_nodes
    st = np.full((num + 1, n), dead, dtype=np.int32)               # [num + 1, n] state * 256
    st[0] = np.asarray(states, dtype=np.int32) * 256               # row num: no token there
    byte = trie.byte32[:, None]                                    # [num, 1]
    buf = np.empty((int(np.diff(trie.level).max()), n), dtype=np.int32)
    for depth in range(1, len(trie.level) - 1):
        a, b = int(trie.level[depth]), int(trie.level[depth + 1])
        if a >= b:
            break
        idx = buf[:b - a]                                          # [width, n]
        np.take(st, trie.parent32[a:b], axis=0, out=idx)
        idx += byte[a:b]
        level = st[a:b]
        np.take(flat, idx, out=level)
        if (level == dead).all():
            break  # deeper rows keep their initial `dead`
    node_of = np.full(trie.size, num, dtype=np.int64)              # [size] node of each id
    node_of[trie.row_ids] = trie.row_node
    bits = st[node_of] != dead                                     # [size, n]
    return np.ascontiguousarray(np.packbits(bits, axis=0).T)


def _with_dups(trie: TokenTrie, bits: np.ndarray) -> np.ndarray:
    """Copy each token's bit to the tokens with the same bytes, then pack the rows."""
    if len(trie.dup_ids):
        bits[:, trie.dup_ids] = bits[:, trie.token[trie.dup_nodes]]
    return np.packbits(bits, axis=1)


def wide_states(trie: TokenTrie, table: np.ndarray, states: np.ndarray) -> np.ndarray:
    """bool [len(states)]: whether over 1/8 of the 1- and 2-byte trie prefixes stay alive
    from each state (its walk likely covers much of the trie: `dense_masks` suits it)."""
    if len(trie.level) < 4:  # no 2-byte tokens: every walk is short
        return np.zeros(len(states), dtype=bool)
    l1, l2, l3 = (int(x) for x in trie.level[1:4])
    d1 = table[np.asarray(states)[:, None], trie.byte[l1:l2]]             # [n, width 1]
    d2 = table[d1[:, trie.parent[l2:l3] - l1], trie.byte[l2:l3]]         # [n, width 2]
    dead = table.shape[0] - 1
    return ((d1 != dead).sum(axis=1) + (d2 != dead).sum(axis=1)) * 8 > l3 - l1


FIRST_CHUNK = 16  # states in the first chunk, so a background run publishes early


def precompute_masks(trie: TokenTrie, table: np.ndarray, max_states: int, max_seconds: float,
                     publish: Callable[[np.ndarray, int], None] | None = None) -> np.ndarray:
    """Packed masks of states 0, 1, ..., k - 1 (uint8 [k, ceil(size / 8)]), in chunks of
    CHUNK states (FIRST_CHUNK first), each split into sparse and dense walks; stops after
    `max_states` states or once `max_seconds` have passed at the end of a chunk (so k may
    be < S). `publish(out, k)` is told after each chunk that rows 0..k-1 are final."""
    num = min(table.shape[0] - 1, max_states)
    nbytes = (trie.size + 7) // 8
    out = np.zeros((num, nbytes), dtype=np.uint8)
    t0 = time.perf_counter()
    starts = [0] + list(range(min(FIRST_CHUNK, num), num, CHUNK)) if num else []
    for i, lo in enumerate(starts):
        ids = np.arange(lo, starts[i + 1] if i + 1 < len(starts) else num)
        wide = wide_states(trie, table, ids)
        for i in range(0, int(wide.sum()), DENSE_BATCH):
            part = ids[wide][i:i + DENSE_BATCH]
            out[part] = dense_masks(trie, table, part)
        narrow = ids[~wide]
        packed = sparse_masks(trie, table, narrow) if len(narrow) else None
        if packed is not None:
            out[narrow] = packed
        else:  # the estimate was wrong: too many live pairs for one sparse batch
            for i in range(0, len(narrow), DENSE_BATCH):
                out[narrow[i:i + DENSE_BATCH]] = dense_masks(trie, table, narrow[i:i + DENSE_BATCH])
        if publish is not None:
            publish(out, int(ids[-1]) + 1)
        if time.perf_counter() - t0 > max_seconds:
            return out[:ids[-1] + 1]
    return out
