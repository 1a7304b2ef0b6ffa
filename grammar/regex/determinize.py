"""Byte NFA -> trimmed, minimal DFA as numpy tables.

Bytes are first grouped into classes that no NFA edge tells apart, so subset construction and
minimization work on a few dozen columns instead of 256. A DFA state is the frozenset of
"important" NFA states (those with byte edges, and the final state) in an epsilon closure.
"""
from __future__ import annotations

import numpy as np

from ..budget import check
from ..errors import GrammarError
from .byte_nfa import ByteNfa, mark_reaching

_EMPTY: frozenset[int] = frozenset()
MOORE_BUDGET = 10_000_000  # element steps of minimization before settling for what is merged
ROUND_COST = 20_000  # a refinement round's fixed cost, in element steps


def determinize(nfa: ByteNfa, start: int, final: int, max_states: int) -> tuple[np.ndarray, np.ndarray]:
    """(trans int32 [n + 1, 256], accepting bool [n + 1]) of the minimal DFA of the NFA's
    language; state 0 is the start, state n the dead sink. The start state is kept even when
    the language is empty (it then has no live transition and does not accept)."""
    class_of = _byte_classes(nfa)                        # [256] byte -> class
    n_classes = int(class_of[-1]) + 1
    sub = _Subsets(nfa, final, class_of, n_classes)
    rows, accepting = sub.run(start, max_states)         # [m, n_classes] (-1 = none), [m]
    rows, accepting = _trim(rows, accepting)             # dead = len(rows) after trim
    rows, accepting = _minimize(rows, accepting)
    return np.ascontiguousarray(rows[:, class_of].astype(np.int32)), accepting


def _byte_classes(nfa: ByteNfa | None, lo: np.ndarray | None = None, hi: np.ndarray | None = None
                  ) -> np.ndarray:
    """int64 [256]: byte -> class (bytes no edge tells apart share one), from the NFA's edge
    lists or from arrays of its edges' lo and hi bytes."""
    cut = np.zeros(257, dtype=bool)  # cut[b]: a class starts at byte b
    cut[0] = True
    cut[np.asarray(nfa.e_lo if lo is None else lo, dtype=np.int64)] = True
    cut[np.asarray(nfa.e_hi if hi is None else hi, dtype=np.int64) + 1] = True
    return (np.cumsum(cut[:256]) - 1).astype(np.int64)


class _Subsets:
    """Subset construction over byte classes; per-NFA-state rows of target sets are cached."""

    def __init__(self, nfa: ByteNfa, final: int, class_of: np.ndarray, n_classes: int) -> None:
        self.nfa, self.final, self.class_of, self.n_classes = nfa, final, class_of, n_classes
        self.closures: dict[int, frozenset[int]] = {}
        self.moves: dict[int, np.ndarray] = {}

    def closure(self, s: int) -> frozenset[int]:
        """Important states reachable from `s` by epsilon edges (memoized)."""
        c = self.closures.get(s)
        if c is None:
            x = self.nfa.index
            e_start, p_start, eps = x.e_start, x.p_start, x.eps
            seen, todo, out = {s}, [s], []
            while todo:
                q = todo.pop()
                if e_start[q + 1] > e_start[q] or q == self.final:
                    out.append(q)
                for t in eps[p_start[q]:p_start[q + 1]]:
                    if t not in seen:
                        seen.add(t)
                        todo.append(t)
            c = self.closures[s] = frozenset(out)
        return c

    def move(self, q: int) -> np.ndarray:
        """object [n_classes]: the closed target set of important state `q` per byte class."""
        row = self.moves.get(q)
        if row is None:
            row = np.empty(self.n_classes, dtype=object)
            row.fill(_EMPTY)
            for lo, hi, t in self.nfa.out_edges(q):
                a, b, c = int(self.class_of[lo]), int(self.class_of[hi]) + 1, self.closure(t)
                seg = row[a:b]
                if all(x is _EMPTY for x in seg):
                    row[a:b] = [c] * (b - a)
                else:
                    row[a:b] = [x | c for x in seg]
            self.moves[q] = row
        return row

    def run(self, start: int, max_states: int) -> tuple[np.ndarray, np.ndarray]:
        init = self.closure(start)
        if not init:  # nothing reachable: the empty language
            return np.full((1, self.n_classes), -1, dtype=np.int64), np.zeros(1, dtype=bool)
        index: dict[frozenset[int], int] = {_EMPTY: -1, init: 0}
        order = [init]
        rows: list[list[int]] = []
        while len(rows) < len(order):
            if not len(rows) & 63:
                check("building the DFA")
            subset = order[len(rows)]
            it = iter(subset)
            row = self.move(next(it))
            for q in it:
                row = row | self.move(q)
            vals = row.tolist()
            for v in dict.fromkeys(vals):
                if v not in index:
                    index[v] = len(order)
                    order.append(v)
                    if len(order) > max_states:
                        raise GrammarError(f"grammar too large (over {max_states} DFA states)")
            rows.append([index[v] for v in vals])
        accepting = np.array([self.final in s for s in order], dtype=bool)
        return np.array(rows, dtype=np.int64).reshape(len(rows), self.n_classes), accepting


def _trim(rows: np.ndarray, accepting: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the start and the states that can reach an accepting state; add the dead sink."""
    n = rows.shape[0]
    src, col = np.nonzero(rows >= 0)
    dst = rows[src, col]
    order = np.argsort(dst, kind="stable")               # reverse edges grouped by target
    src, dst = src[order], dst[order]
    starts = np.searchsorted(dst, np.arange(n + 1))
    live = accepting.copy()
    mark_reaching(starts.tolist(), src.tolist(), live, np.flatnonzero(live).tolist())
    live[0] = True
    keep = np.flatnonzero(live)
    remap = np.full(n + 1, len(keep), dtype=np.int64)    # -1 (index n) and dropped -> dead
    remap[keep] = np.arange(len(keep))
    out = remap[np.where(rows[keep] >= 0, rows[keep], n)]
    out = np.vstack([out, np.full((1, rows.shape[1]), len(keep), dtype=np.int64)])
    return out, np.concatenate([accepting[keep], [False]])


def _partition(sig: np.ndarray, mult: np.ndarray) -> np.ndarray:
    """Class ids [n] of equal rows of `sig` [n, k]: sort a 64-bit hash of each row, then check
    that rows sharing an id are equal (on a collision, fall back to an exact row sort)."""
    with np.errstate(over="ignore"):
        h = (sig.astype(np.uint64) * mult.astype(np.uint64)).sum(axis=1, dtype=np.uint64)
    _, first, ids = np.unique(h, return_index=True, return_inverse=True)
    ids = ids.reshape(-1)
    if (sig == sig[first[ids]]).all():
        return ids
    return np.unique(sig, axis=0, return_inverse=True)[1].reshape(-1)


def _minimize(rows: np.ndarray, accepting: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge equivalent states: first those that become equal rows (`_collapse`: misses only
    equivalent cycles), then exact Moore refinement when it converges within MOORE_BUDGET
    element steps (long counted repeats need one round per repeat)."""
    kind = accepting.astype(np.int64)
    kind[-1] = 2                                          # the dead sink is its own class
    mult = np.random.default_rng(0).integers(1, 2**62, size=rows.shape[1] + 1) * 2 + 1
    rows, accepting = _quotient(rows, accepting, _collapse(rows, kind, mult))
    kind = accepting.astype(np.int64)
    kind[-1] = 2
    cls, count, work = kind, len(np.unique(kind)), 0
    while work < MOORE_BUDGET:                            # refine from {accepting, other, sink}
        check("minimizing the DFA")
        new = _partition(np.concatenate([kind[:, None], cls[rows]], axis=1), mult)
        work += rows.size + ROUND_COST
        k = int(new.max()) + 1
        if k == count:
            return _quotient(rows, accepting, new)
        cls, count = new, k
    return rows, accepting


def _collapse(rows: np.ndarray, kind: np.ndarray, mult: np.ndarray) -> np.ndarray:
    """Class of each state (0..k-1): states of the same kind whose
    successors are in the same classes merge, repeatedly, re-examining only predecessors of
    states whose class changed. Every merge joins equivalent states, so the result is sound."""
    n = rows.shape[0]
    src = np.repeat(np.arange(n), rows.shape[1])
    pairs = np.unique(rows.reshape(-1) * n + src)         # (target, source) edges, by target
    pred_lo = np.searchsorted(pairs // n, np.arange(n + 1)).tolist()
    preds = (pairs % n).tolist()
    cls = np.arange(n)                                    # representative of each state's class
    members: dict[int, list[int]] = {}                    # representative -> merged states
    seen: dict[int, int] = {}                             # signature hash -> representative
    todo = np.arange(n)
    with np.errstate(over="ignore"):
        while len(todo):
            check("minimizing the DFA")
            sig = np.concatenate([kind[todo, None], cls[rows[todo]]], axis=1)
            hashes = (sig.astype(np.uint64) * mult.astype(np.uint64)).sum(axis=1, dtype=np.uint64)
            reps = np.array([seen.setdefault(h, q) for h, q in zip(hashes.tolist(), todo.tolist())])
            merge = reps != todo
            rep_sig = np.concatenate([kind[reps[merge], None], cls[rows[reps[merge]]]], axis=1)
            merge[merge] = (sig[merge] == rep_sig).all(axis=1)  # drop hash collisions
            changed: list[int] = []
            for q, r in zip(todo[merge].tolist(), reps[merge].tolist()):
                r = int(cls[r])                           # r may have merged this round
                if r == q:
                    continue
                group = [q] + members.pop(q, [])
                cls[group] = r
                members.setdefault(r, []).extend(group)
                changed += group
            nxt = {p for q in changed for p in preds[pred_lo[q]:pred_lo[q + 1]]}
            todo = np.array(sorted(p for p in nxt if cls[p] == p), dtype=np.int64)
    return np.unique(cls, return_inverse=True)[1].reshape(-1)  # classes numbered 0..k-1


def _quotient(rows: np.ndarray, accepting: np.ndarray, cls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The DFA of a partition into equivalent states, classes numbered by first appearance
    (start -> 0) and the sink's class last."""
    n = rows.shape[0]                                     # includes the dead sink (last)
    count = int(cls.max()) + 1
    first = np.full(count, -1, dtype=np.int64)
    seen_order = cls[np.sort(np.unique(cls, return_index=True)[1])]
    sink = cls[-1]
    seen_order = seen_order[seen_order != sink]
    first[seen_order] = np.arange(len(seen_order))
    first[sink] = len(seen_order)
    rep = np.zeros(count, dtype=np.int64)
    rep[cls[::-1]] = np.arange(n)[::-1]                   # a representative state per class
    order = rep[np.argsort(first)]
    return first[cls[rows[order]]], accepting[order]
