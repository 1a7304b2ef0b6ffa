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
from .plain_walk import PlainIndex
from .small_walk import SMALL_STEP, PyTrie, RowCache, step_small


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
        self._native = None
        if native.ENABLED:
            self.native  # ~3 ms: here rather than in a first mask
            self.plain.mask(np.zeros(1, dtype=np.int64))  # the per-depth plain masks, likewise

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


DENSE_FRONTIER = 4096  # switch from frontier expansion to whole-level steps above this
LEVEL_MIN = 256  # ...and back to frontier expansion at levels narrower than this


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
    head = trie.plain.start(dfa, state) if len(frontier) == 1 and frontier[0] == 0 else None
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
    fa = trie.plain.chain(dfa, state) if len(frontier) == 1 and frontier[0] == 0 else None
    if fa is None:
        mask = np.zeros(trie.size, dtype=bool)
        nodes, states, head_ends = frontier, np.full(len(frontier), state, dtype=np.int64), None
    else:
        plain = trie.plain
        mask = plain.mask(fa)
        nodes, states = plain.boundary(dfa, fa)
        mask[trie.tokens_of(nodes)] = True
        head_ends = plain.ends(dfa, fa, nodes, states)
    _, ends = native.with_builder(native._native.walk_states, dfa, trie.native, nodes, states, dfa.dead,
                                  mask=mask)
    if head_ends is not None and len(head_ends):
        ends = unique(np.concatenate([head_ends, ends]))
    return mask, ends


def walk_states(trie: TokenTrie, dfa: WalkTable, nodes: np.ndarray, states: np.ndarray,
                nested: bool) -> tuple[np.ndarray, np.ndarray]:
    """`walk` below `nodes`, each in its own DFA state; `nested`: the nodes are not all at
    one depth (results are deduplicated). Runs natively (`grammar.native`: a depth-first
    walk in C++, tokens may repeat for nested nodes) where built, else `walk_states_py`."""
    if native.ENABLED:
        return native.with_builder(native._native.walk_states, dfa, trie.native, nodes, states, dfa.dead)
    return walk_states_py(trie, dfa, nodes, states, nested)


def walk_states_py(trie: TokenTrie, dfa: WalkTable, nodes: np.ndarray, states: np.ndarray,
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


def _walk_small(trie: TokenTrie, dfa: WalkTable, nodes: list[int], states: list[int],
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


def _one_depth(trie: TokenTrie, nodes: np.ndarray) -> bool:
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


def _walk_levels(trie: TokenTrie, dfa: WalkTable, nodes: np.ndarray, states: np.ndarray
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
