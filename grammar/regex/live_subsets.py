"""Subset construction of a `LazyDFA` in Python, one state at a time: the twin of the native
`SubsetBuilder` (grammar/native/subsets.cpp), used where the native helpers are not built."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .byte_nfa import ByteNfa
from .determinize import _Subsets


class _LiveSubsets(_Subsets):
    """Subset construction pieces over the trimmed NFA (subsets hold live states only)."""

    def __init__(self, nfa: ByteNfa, final: int, class_of: np.ndarray,
                 live: list[bool] | None) -> None:
        super().__init__(nfa, final, class_of, int(class_of[-1]) + 1)
        self.live = live
        self.segs: dict[int, list[tuple[int, int, frozenset[int]]]] = {}

    def closure(self, s: int) -> frozenset[int]:
        c = self.closures.get(s)
        if c is None:
            c = super().closure(s)
            if self.live is not None:
                c = self.closures[s] = frozenset(q for q in c if self.live[q])
        return c

    def segments(self, q: int) -> list[tuple[int, int, frozenset[int]]]:
        """(first class, end class, closed live target set) of each byte edge of `q`, the
        empty targets left out (memoized)."""
        segs = self.segs.get(q)
        if segs is None:
            class_of = self.class_of
            segs = [(int(class_of[lo]), int(class_of[hi]) + 1, c) for lo, hi, t in self.nfa.out_edges(q)
                    if (c := self.closure(t))]
            self.segs[q] = segs
        return segs


def sweep(sub: _LiveSubsets, subset: frozenset[int], state_of: Callable[[frozenset[int]], int]) -> np.ndarray:
    """int32 [n_classes]: the DFA state (`state_of` a target subset, numbering new ones) of
    each byte class from `subset`, -1 where none. The classes are swept once in order,
    keeping the targets of the NFA edges that cover the current run of classes, so each run
    of classes with the same covering edges costs one union (not one per class and state);
    new subsets are numbered in class order, as a per-class pass would."""
    opens: dict[int, list[frozenset[int]]] = {}
    closes: dict[int, list[frozenset[int]]] = {}
    for q in subset:
        for a, b, c in sub.segments(q):
            opens.setdefault(a, []).append(c)
            closes.setdefault(b, []).append(c)
    ids = np.full(sub.n_classes, -1, dtype=np.int32)
    bounds = sorted(opens.keys() | closes.keys())
    active: dict[frozenset[int], int] = {}  # covering targets -> how many edges bring them
    for x, y in zip(bounds, bounds[1:]):
        for c in closes.get(x, ()):
            if active[c] == 1:
                del active[c]
            else:
                active[c] -= 1
        for c in opens.get(x, ()):
            active[c] = active.get(c, 0) + 1
        if active:
            ids[x:y] = state_of(next(iter(active)) if len(active) == 1 else frozenset().union(*active))
    return ids
