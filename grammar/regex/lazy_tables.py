"""The numpy tables of a `LazyDFA` (lazy_dfa.py): one set per capacity, swapped in whole when
it grows, so readers on other threads always see a consistent set."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

DEAD = -1


class Tables(NamedTuple):
    """The arrays of one capacity; row `cap` (= index -1) is the dead sink."""
    table: np.ndarray      # int32 [cap + 1, 256] next state (-1: dead or not yet expanded)
    flat: np.ndarray       # int32 [(cap + 1) * 256]: next state * 256 by state * 256 + byte
                           # (empty with a native builder: only the Python walk reads it)
    accepting: np.ndarray  # bool [cap + 1]
    expanded: np.ndarray   # bool [cap + 1]; the sink counts as expanded
    n_out: np.ndarray      # int32 [cap + 1] live outgoing bytes (expanded states)
    forced: np.ndarray     # int32 [cap + 1] the one live byte, or -1


_NO_FLAT = np.zeros(0, dtype=np.int32)


def _tables(cap: int, flat: bool = True) -> Tables:
    expanded = np.zeros(cap + 1, dtype=bool)
    expanded[-1] = True
    return Tables(np.full((cap + 1, 256), DEAD, dtype=np.int32),
                  np.full((cap + 1) * 256, DEAD * 256, dtype=np.int32) if flat else _NO_FLAT,
                  np.zeros(cap + 1, dtype=bool), expanded,
                  np.zeros(cap + 1, dtype=np.int32), np.full(cap + 1, -1, dtype=np.int32))


def grown(old: Tables, cap: int, n: int) -> Tables:
    """A set of capacity `cap` holding the first `n` states of `old` (`flat` kept only where
    `old` keeps it)."""
    t = _tables(cap, flat=len(old.flat) > 0)
    t.table[:n] = old.table[:n]
    if len(t.flat):
        t.flat[: n * 256] = old.flat[: n * 256]
    for a, b in ((t.accepting, old.accepting), (t.expanded, old.expanded),
                 (t.n_out, old.n_out), (t.forced, old.forced)):
        a[:n] = b[:n]
    return t
