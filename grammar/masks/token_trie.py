"""The vocabulary as a byte trie in flat numpy arrays, and DFA walks over it.

Nodes are numbered breadth first (by depth, then lexicographically), so the children of a
node are a contiguous id range and every node's parent has a smaller id. Node 0 is the root.
Only non-special tokens with at least one byte are included.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import native
from ..vocab import Vocabulary
from .level_walk import _one_depth, expand, unique, walk_states_py  # noqa: F401 (re-exported)
from .plain_closure import PlainPaths
from .plain_walk import PlainIndex
from .small_walk import PyTrie, RowCache


class TokenTrie:
    """parent/byte/depth per node, children as id ranges, the token ending at each node
    (tokens with the same bytes as another are listed apart: dup_nodes, dup_ids)."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.size = vocab.size
        ids = sorted((i for i, b in enumerate(vocab.token_bytes) if b and i not in vocab.special_ids),
                     key=vocab.token_bytes.__getitem__)
        data = [vocab.token_bytes[i] for i in ids]
        n = len(ids)
        lengths = np.array([len(b) for b in data], dtype=np.int64)         # [n]
        lmax = int(lengths.max()) if n else 0
        tb = np.zeros((n, lmax), dtype=np.uint8)                            # [n, lmax] padded bytes
        if n:
            flat = np.frombuffer(b"".join(data), dtype=np.uint8)
            rows = np.repeat(np.arange(n), lengths)
            cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            tb[rows, cols] = flat
        # lcp[i]: bytes shared with the previous (sorted) token; nodes at depths lcp+1..len are new
        lcp = np.zeros(n, dtype=np.int64)
        if n > 1:
            same = (tb[1:] == tb[:-1]) & (np.arange(lmax) < np.minimum(lengths[1:], lengths[:-1])[:, None])
            lcp[1:] = np.where(same.all(axis=1), lmax, np.argmin(same, axis=1))
        depth_cols = np.arange(1, lmax + 1)                                 # [lmax] depth of column
        new = (depth_cols > lcp[:, None]) & (depth_cols <= lengths[:, None])  # [n, lmax]
        c, r = np.nonzero(new.T)                        # new nodes breadth first: by depth, then row
        num = len(r) + 1
        node_at = np.zeros((lmax + 1, n), dtype=np.int32)                   # [lmax+1, n] node of t[:k]
        node_at[c + 1, r] = np.arange(1, num, dtype=np.int32)
        node_at = np.maximum.accumulate(node_at, axis=1).T                  # shared prefixes: from above
        self.num_nodes = num
        self.depth = np.zeros(num, dtype=np.int64)                          # [num]
        self.depth[1:] = c + 1
        self.byte = np.zeros(num, dtype=np.int64)                           # [num] edge byte into node
        self.byte[1:] = tb[r, c]
        self.parent = np.zeros(num, dtype=np.int64)                         # [num]
        self.parent[1:] = node_at[r, c]
        end = node_at[np.arange(n), lengths]                                # [n] node of each token
        id_arr = np.array(ids, dtype=np.int64)
        dup = np.ones(n, dtype=bool)
        dup[np.unique(end, return_index=True)[1]] = False                   # same bytes as another token
        self.token = np.full(num, -1, dtype=np.int64)                       # [num] a token ending here
        self.token[end[~dup]] = id_arr[~dup]
        self.dup_nodes, self.dup_ids = end[dup], id_arr[dup]                # the other tokens
        self.row_node, self.row_ids = end, id_arr                           # [n] per token
        self.has_dup = np.zeros(num, dtype=bool)                            # [num]
        self.has_dup[self.dup_nodes] = True
        self.child_lo = np.searchsorted(self.parent[1:], np.arange(num), "left") + 1   # [num]
        self.child_hi = np.searchsorted(self.parent[1:], np.arange(num), "right") + 1  # [num]
        self.has_children = self.child_hi > self.child_lo                   # [num]
        self.parent32, self.byte32 = self.parent.astype(np.int32), self.byte.astype(np.int32)
        self.root = np.zeros(1, dtype=np.int64)                             # the frontier {root}
        self.level = np.searchsorted(self.depth, np.arange(lmax + 2))        # [lmax+2] first node per depth
        self.py = PyTrie(self.child_lo, self.child_hi, self.byte)           # for small levels
        self.plain = PlainIndex(self)                                       # for string states
        self.plain_paths = PlainPaths(self, self.plain)                     # and search patterns
        self._native = None
        if native.ENABLED:
            self.native  # ~3 ms: here rather than in a first mask
            self.plain.depth_masks()  # likewise

    @property
    def native(self):
        """The trie's arrays in the native walker (`grammar.native`; built on first use)."""
        if self._native is None:
            order = np.argsort(self.dup_nodes, kind="stable")
            dup_start = np.searchsorted(self.dup_nodes[order], np.arange(self.num_nodes + 1))
            self._native = native._native.Trie(self.child_lo, self.child_hi, self.byte, self.token,
                                               dup_start, self.dup_ids[order])
        return self._native

    def tokens_of(self, nodes: np.ndarray) -> np.ndarray:
        """Ids of the tokens ending at `nodes` (unique nodes)."""
        ids = self.token[nodes]
        ids = ids[ids >= 0]
        dup = nodes[self.has_dup[nodes]]
        if len(dup):
            ids = np.concatenate([ids, self.dup_ids[np.isin(self.dup_nodes, dup)]])
        return ids


class WalkTable:
    """A byte DFA prepared for walks: table int [S + 1, 256] (S = the dead sink) and accept
    bool [S + 1] (None: no end nodes wanted); the scaled flat table is built on first use.
    `regex.lazy_dfa.LazyDFA` is the other kind of walk table: states built on demand
    (`ensure`), the dead sink -1."""

    def __init__(self, table: np.ndarray, accept: np.ndarray | None) -> None:
        self.table = table
        self.dead = table.shape[0] - 1
        self.accept = np.zeros(table.shape[0], dtype=bool) if accept is None else accept
        self._flat: np.ndarray | None = None
        self.row = RowCache(lambda s: None, lambda: self.table)  # state -> list row
        self._arrays: tuple | None = None

    @property
    def flat(self) -> np.ndarray:
        """int32 [(S + 1) * 256]: next state * 256, indexed by state * 256 + byte."""
        if self._flat is None:
            self._flat = (self.table.astype(np.int32) * 256).reshape(-1)
        return self._flat

    complete = True  # every state is built already

    def ensure(self, states: np.ndarray) -> None:
        """Nothing to build."""

    def walk_arrays(self) -> tuple:
        """(table as int32, expanded=None: all are, accept, no tables to expand into) for the
        native trie walk."""
        if self._arrays is None:
            self._arrays = (np.ascontiguousarray(self.table, dtype=np.int32), None,
                            np.ascontiguousarray(self.accept, dtype=bool), None)
        return self._arrays

    def walk_builder(self) -> None:
        """No states to build."""
        return None

    def walk_refresh(self, state: int) -> tuple:
        return self.walk_arrays()


def walk(trie: TokenTrie, dfa: WalkTable, frontier: np.ndarray,
         state: int) -> tuple[np.ndarray, np.ndarray]:
    """Walk the tokens strictly below `frontier` nodes through `dfa` from `state`.

    Returns (ids of tokens whose remaining bytes keep the DFA alive, sorted unique nodes with
    descendants where the DFA accepts: a longer token may continue past the DFA's end there).
    Nested frontier nodes are walked from each (a token may appear twice in the ids).
    Levels are stepped as frontier expansions, whole trie levels (dense), or in Python
    (few children: `small_walk`), by their size.
    """
    frontier = np.asarray(frontier, dtype=np.int64)
    head = _head(trie, dfa, state) if len(frontier) == 1 and frontier[0] == 0 else None
    if head is not None:  # only the paths leaving plain ASCII are walked (plain_walk.py)
        ids, ends, nodes, states = head
        below, more = walk_states(trie, dfa, nodes, states, nested=True)
        return np.concatenate([ids, trie.tokens_of(nodes), below]), unique(np.concatenate([ends, more]))
    states = np.full(len(frontier), state, dtype=np.int64)
    return walk_states(trie, dfa, frontier, states, native.ENABLED or not _one_depth(trie, frontier))


def walk_mask(trie: TokenTrie, dfa: WalkTable, frontier: np.ndarray, state: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """`walk` with the tokens as a bool mask [trie.size] (native helpers only): a root walk
    copies the plain head's tokens from a per-depth mask and the native walk below the
    boundary nodes sets its tokens in place; no id arrays in between."""
    frontier = np.asarray(frontier, dtype=np.int64)
    root = len(frontier) == 1 and frontier[0] == 0
    plain = trie.plain
    fa = plain.chain(dfa, state) if root else None
    safe = trie.plain_paths.start(dfa, state) if root and fa is None else None
    if fa is not None:
        mask = plain.mask(fa)
        nodes, states = plain.boundary(dfa, fa)
        head_ends = plain.ends(dfa, fa, nodes, states)
    elif safe is not None:  # every plain token alive (plain_closure.py)
        mask = plain.depth_masks()[-1].copy()
        nodes, states, head_ends = safe
    else:
        mask = np.zeros(trie.size, dtype=bool)
        nodes, states, head_ends = frontier, np.full(len(frontier), state, dtype=np.int64), None
    if head_ends is not None:
        mask[trie.tokens_of(nodes)] = True
    _, ends = native.with_builder(native._native.walk_states, dfa, trie.native, nodes, states, dfa.dead,
                                  mask=mask)
    if head_ends is not None and len(head_ends):
        ends = unique(np.concatenate([head_ends, ends]))
    return mask, ends


def _head(trie: TokenTrie, dfa: WalkTable, state: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """A root walk's plain head, (plain token ids, end nodes, live boundary nodes, their
    states), by the uniform chain (plain_walk.py) or the plain-safe closure
    (plain_closure.py); None: walk the whole trie."""
    head = trie.plain.start(dfa, state)
    if head is None:
        safe = trie.plain_paths.start(dfa, state)
        if safe is not None:
            nodes, states, ends = safe
            head = trie.plain.tok_ids, ends, nodes, states
    return head


def walk_states(trie: TokenTrie, dfa: WalkTable, nodes: np.ndarray, states: np.ndarray,
                nested: bool) -> tuple[np.ndarray, np.ndarray]:
    """`walk` below `nodes`, each in its own DFA state; `nested`: the nodes are not all at
    one depth (results are deduplicated). Runs natively (`grammar.native`: a depth-first
    walk in C++, tokens may repeat for nested nodes) where built, else `walk_states_py`."""
    if native.ENABLED:
        return native.with_builder(native._native.walk_states, dfa, trie.native, nodes, states, dfa.dead)
    return walk_states_py(trie, dfa, nodes, states, nested)


_CACHE: "OrderedDict[str, TokenTrie]" = OrderedDict()


def trie_for(vocab: Vocabulary) -> TokenTrie:
    """The trie of `vocab`, built once per vocabulary hash (small LRU)."""
    trie = _CACHE.get(vocab.hash)
    if trie is None:
        trie = TokenTrie(vocab)
        _CACHE[vocab.hash] = trie
        while len(_CACHE) > 4:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(vocab.hash)
    return trie
