"""Thompson NFA over bytes for the regular IR (ir.py); UTF-8 paths share their suffixes.

The NFA is stored flat: parallel lists of ints (int32 arrays when built in C++) for the byte
edges (source, lo, hi, target) and the epsilon edges (source, target), indexed by source on
first read. Building creates no Python container per state, so a large NFA (100k+ states)
neither costs an allocation per state nor sets off full garbage collections.

A bounded repeat `X{m,n}` is expanded into copies, but only the first goes through the IR:
the others are its edges replayed with the states shifted (`_replicate`). The same NFA, edge
for edge, as adding every copy (`replay=False`) and as the C++ builder (nfa_program.py).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..budget import check
from ..errors import GrammarError
from . import charset as cs, nfa_program
from .ir import Alt, Cls, Lit, Regex, RegularExpr, Rep, Seq
from .nfa_size import MAX_NFA_STATES, check_size
from .parse import parse_regex

REPLAY_MIN = 4  # repeats with fewer copies are built the plain way
FRAGMENT_MIN = 24  # states a repeated sub-expression must add to be replayed, not rebuilt


class _Index(NamedTuple):
    """The edges grouped by source (insertion order kept): state q's byte edges are
    lo/hi/dst[e_start[q]:e_start[q + 1]], its epsilon targets eps[p_start[q]:p_start[q + 1]]."""
    e_start: list[int]
    lo: list[int]
    hi: list[int]
    dst: list[int]
    p_start: list[int]
    eps: list[int]


def mark_reaching(starts: list[int], preds: list[int], live, todo: list[int]) -> None:
    """Mark in `live` every state that reaches one of `todo` (marked already), given each
    state's predecessors as `preds[starts[q]:starts[q + 1]]`."""
    while todo:
        q = todo.pop()
        for p in preds[starts[q]:starts[q + 1]]:
            if not live[p]:
                live[p] = True
                todo.append(p)


def _group_arrays(n: int, src: list[int], *cols: list[int]) -> tuple[np.ndarray, ...]:
    """(starts int32 [n + 1], each column reordered by source, stably, int32)."""
    s = np.asarray(src, dtype=np.int32)
    order = np.argsort(s, kind="stable")
    starts = np.searchsorted(s[order], np.arange(n + 1)).astype(np.int32)
    return (starts, *(np.asarray(c, dtype=np.int32)[order] for c in cols))


class ByteNfa:
    """Byte-range edges and epsilon edges; states are ints 0..num_states-1, made by `new()`."""

    def __init__(self, *, replay: bool = True, native: bool = True) -> None:
        self.num_states = 0
        self.e_src: list[int] = []
        self.e_lo: list[int] = []
        self.e_hi: list[int] = []
        self.e_dst: list[int] = []
        self.p_src: list[int] = []
        self.p_dst: list[int] = []
        self.replay = replay
        self.native = native and replay and nfa_program.enabled()  # C++ (nfa_program.py); else the twins
        self._index: _Index | None = None
        self.arrays: tuple[tuple[int, int, int], tuple] | None = None  # (stamp, _Index fields) from C++
        self._indexed_at = (-1, -1, -1)
        self._utf8: dict[cs.Ranges, list[tuple[tuple[int, int], ...]]] = {}
        self._fragments: dict[int, tuple] = {}  # id(expr) -> (expr, src, end, s0, k, e0, e1, p0, p1)
        # Every state `add` creates lies on a path from its src to its end, except after an
        # empty class or alternation (a dead end): only then must a DFA trim the NFA.
        self.dead_ends = False

    # -- reading ---------------------------------------------------------------------------

    @property
    def stamp(self) -> tuple[int, int, int]:
        """(states, byte edges, epsilon edges): changes whenever the NFA grows."""
        return (self.num_states, len(self.e_src), len(self.p_src))

    @property
    def index(self) -> _Index:
        """The edges grouped by source, as lists (rebuilt when edges were added since)."""
        if self._index is None or self._indexed_at != self.stamp:
            self._index, self._indexed_at = _Index(*(a.tolist() for a in self.index_arrays())), self.stamp
        return self._index

    def index_arrays(self) -> _Index:
        """The same grouping as int32 arrays (what the native subset construction reads)."""
        if self.arrays is not None and self.arrays[0] == self.stamp:
            return _Index(*self.arrays[1])  # grouped by the C++ builder as it built them
        e_start, lo, hi, dst = _group_arrays(self.num_states, self.e_src, self.e_lo, self.e_hi, self.e_dst)
        p_start, eps = _group_arrays(self.num_states, self.p_src, self.p_dst)
        return _Index(e_start, lo, hi, dst, p_start, eps)

    def has_edges(self, q: int) -> bool:
        """Whether `q` has a byte edge (an "important" state of subset construction)."""
        st = self.index.e_start
        return st[q + 1] > st[q]

    def out_edges(self, q: int) -> list[tuple[int, int, int]]:
        """(lo byte, hi byte, target) of each byte edge of `q`."""
        x = self.index
        i, j = x.e_start[q], x.e_start[q + 1]
        return list(zip(x.lo[i:j], x.hi[i:j], x.dst[i:j]))

    def eps_targets(self, q: int) -> list[int]:
        """Targets of the epsilon edges of `q`."""
        x = self.index
        return x.eps[x.p_start[q]:x.p_start[q + 1]]

    def coreachable(self, final: int) -> list[bool] | None:
        """Per state: whether `final` can be reached from it (byte or epsilon edges); None
        when all can (no dead ends: see `dead_ends`)."""
        if not self.dead_ends:
            return None
        dst, src = (np.concatenate([np.asarray(a, np.int32), np.asarray(b, np.int32)])
                    for a, b in ((self.e_dst, self.p_dst), (self.e_src, self.p_src)))
        starts, preds = (a.tolist() for a in _group_arrays(self.num_states, dst, src))
        live = [False] * self.num_states
        live[final] = True
        mark_reaching(starts, preds, live, [final])
        return live

    # -- building --------------------------------------------------------------------------

    def new(self) -> int:
        n = self.num_states
        if n >= MAX_NFA_STATES:
            raise GrammarError(f"grammar too large (over {MAX_NFA_STATES} NFA states)")
        self.num_states = n + 1
        return n

    def edge(self, q: int, lo: int, hi: int, t: int) -> None:
        self.e_src.append(q)
        self.e_lo.append(lo)
        self.e_hi.append(hi)
        self.e_dst.append(t)

    def eps(self, q: int, t: int) -> None:
        self.p_src.append(q)
        self.p_dst.append(t)

    def add(self, expr: RegularExpr, src: int) -> int:
        """Add `expr` starting at state `src`; return its end state (GrammarError when the
        NFA would exceed MAX_NFA_STATES, checked up front for the whole expression)."""
        check_size(expr, self.num_states)
        return nfa_program.add_native(self, expr, src) if self.native else self._add(expr, src)

    def _add(self, expr: RegularExpr, src: int) -> int:
        check("building the NFA")
        if not self.replay or not isinstance(expr, (Seq, Alt, Rep)):
            return self._add_node(expr, src)
        frag = self._fragments.get(id(expr))
        if frag is not None and frag[0] is expr:  # the same sub-expression again (parse.py shares them)
            return self._replay(frag, src)
        s0, e0, p0 = self.num_states, len(self.e_dst), len(self.p_dst)
        end = self._add_node(expr, src)
        k = self.num_states - s0
        # every construct adds edges from its src or its own new states to its own new states
        # (never into src, never to older states), so the fragment replays from any state
        if k >= FRAGMENT_MIN and s0 <= end < self.num_states:
            self._fragments[id(expr)] = (expr, src, end, s0, k, e0, len(self.e_dst), p0, len(self.p_dst))
        return end

    def _replay(self, frag: tuple, src: int) -> int:
        """The edges of a recorded fragment again, from `src` with new states (the twin of
        adding its expression once more: the same edges, shifted)."""
        _expr, src0, end0, s0, k, e0, e1, p0, p1 = frag
        if self.num_states + k > MAX_NFA_STATES:
            raise GrammarError(f"grammar too large (over {MAX_NFA_STATES} NFA states)")
        shift = self.num_states - s0

        def moved(a: list[int]) -> list[int]:
            x = np.asarray(a, dtype=np.int64)
            return np.where(x == src0, src, x + shift).tolist()
        self.e_src += moved(self.e_src[e0:e1])
        self.e_dst += moved(self.e_dst[e0:e1])
        self.e_lo += self.e_lo[e0:e1]
        self.e_hi += self.e_hi[e0:e1]
        self.p_src += moved(self.p_src[p0:p1])
        self.p_dst += moved(self.p_dst[p0:p1])
        self.num_states += k
        return end0 + shift

    def _add_node(self, expr: RegularExpr, src: int) -> int:
        if isinstance(expr, Lit):
            for b in expr.data:
                dst = self.new()
                self.edge(src, b, b, dst)
                src = dst
            return src
        if isinstance(expr, Cls):
            return self._add_ranges(expr.ranges, src)
        if isinstance(expr, Seq):
            for item in expr.items:
                src = self._add(item, src)
            return src
        if isinstance(expr, Alt):
            self.dead_ends |= not expr.items
            end = self.new()
            for item in expr.items:
                start = self.new()
                self.eps(src, start)
                self.eps(self._add(item, start), end)
            return end
        if isinstance(expr, Rep):
            return self._add_rep(expr, src)
        if isinstance(expr, Regex):
            return self._add(parse_regex(expr.pattern), src)
        raise GrammarError(f"not a regular expression: {expr!r}")

    def _add_ranges(self, ranges: cs.Ranges, src: int) -> int:
        """One character of `ranges`: byte paths from `src`, sequences with equal tails
        sharing their states (so a class adds a handful of states, not one per path)."""
        key = tuple(ranges)
        seqs = self._utf8.get(key)
        if seqs is None:
            seqs = self._utf8[key] = cs.utf8_paths(key)
        self.dead_ends |= not seqs
        end = self.new()
        tails: dict[tuple, int] = {(): end}

        def tail(rest: tuple) -> int:
            node = tails.get(rest)
            if node is None:
                node = self.new()
                self.edge(node, rest[0][0], rest[0][1], tail(rest[1:]))
                tails[rest] = node
            return node

        for seq in seqs:
            self.edge(src, seq[0][0], seq[0][1], tail(seq[1:]))
        return end

    def _add_rep(self, rep: Rep, src: int) -> int:
        src = self._copies(rep.item, src, rep.lo, None)
        if rep.hi is None:
            loop = self.new()
            self.eps(src, loop)
            self.eps(self._add(rep.item, loop), loop)
            return loop
        end = self.new()
        src = self._copies(rep.item, src, rep.hi - rep.lo, end)
        self.eps(src, end)
        return end

    def _copies(self, item: RegularExpr, src: int, count: int, skip: int | None) -> int:
        """`count` copies of `item` in a row from `src`, each preceded by an epsilon edge to
        `skip` when given (an optional copy); returns the last copy's end."""
        if count <= 0:
            return src
        if not self.replay or count < REPLAY_MIN:
            for _ in range(count):
                if skip is not None:
                    self.eps(src, skip)
                src = self._add(item, src)
            return src
        s0, e0, p0 = self.num_states, len(self.e_dst), len(self.p_dst)
        if skip is not None:
            self.eps(src, skip)
        end = self._add(item, src)
        if not s0 <= end < self.num_states:  # the item added no state: nothing to shift
            for _ in range(count - 1):
                if skip is not None:
                    self.eps(end, skip)
            return end
        return self._replicate(src, end, s0, e0, p0, count - 1)

    def _replicate(self, src: int, end: int, s0: int, e0: int, p0: int, times: int) -> int:
        """Replay the edges added since (s0, e0, p0) by the copy from `src` to `end` `times`
        more times, each copy starting at the previous one's end; returns the last end."""
        check("building the NFA")
        k = self.num_states - s0
        if self.num_states + k * times > MAX_NFA_STATES:
            raise GrammarError(f"grammar too large (over {MAX_NFA_STATES} NFA states)")
        copy = np.arange(1, times + 1, dtype=np.int64)[:, None]  # [times, 1]

        def shifted(states: list[int]) -> list[int]:
            """Copy 0's states as in copies 1..times, row by row: its own shifted by k per
            copy, `src` as the previous copy's end, any other (outside) state as it is."""
            a = np.asarray(states, dtype=np.int64)[None, :]  # [1, m]
            out = np.where((a >= s0) & (a < s0 + k), a + copy * k, a)
            return np.where(a == src, end + (copy - 1) * k, out).ravel().tolist()

        self.e_src += shifted(self.e_src[e0:])
        self.e_dst += shifted(self.e_dst[e0:])
        self.e_lo += self.e_lo[e0:] * times
        self.e_hi += self.e_hi[e0:] * times
        self.p_src += shifted(self.p_src[p0:])
        self.p_dst += shifted(self.p_dst[p0:])
        self.num_states += k * times
        return end + times * k
