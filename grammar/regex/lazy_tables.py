"""The numpy tables of a `LazyDFA` (lazy_dfa.py): one set per capacity, swapped in whole when
it grows, so readers on other threads always see a consistent set."""
from __future__ import annotations

import mmap
from typing import NamedTuple

import numpy as np

DEAD = -1


class Tables(NamedTuple):
    """The arrays of one capacity; row `cap` (= index -1) is the dead sink."""
    table: np.ndarray      # int32 [cap + 1, 256] next state (-1: dead); rows of states not yet
                           # expanded: -1 (Python builder) or unfilled (native, see unfilled_rows)
    flat: np.ndarray       # int32 [(cap + 1) * 256]: next state * 256 by state * 256 + byte
                           # (empty with a native builder: only the Python walk reads it)
    accepting: np.ndarray  # bool [cap + 1]
    expanded: np.ndarray   # bool [cap + 1]; the sink counts as expanded
    n_out: np.ndarray      # int32 [cap + 1] live outgoing bytes (expanded states)
    forced: np.ndarray     # int32 [cap + 1] the one live byte, or -1


_NO_FLAT = np.zeros(0, dtype=np.int32)
MAPPED_BYTES = 4 << 20  # numpy advises transparent huge pages for allocations from this size


def unfilled_rows(cap: int) -> np.ndarray:
    """int32 [cap + 1, 256] with only the dead sink's row (the last) set to DEAD. A native
    builder writes a state's row whole when it expands the state, and every reader expands
    a state before reading its row, so the other rows need no fill. A large table comes
    from an anonymous mapping, whose pages the kernel zeroes on first write: numpy's own
    allocation of 4 MB or more asks for transparent huge pages, and when the kernel has to
    compact memory for one, growing a table inside a token mask stalled for 20-170 ms."""
    nbytes = (cap + 1) * 256 * 4
    if nbytes >= MAPPED_BYTES:
        rows = np.frombuffer(mmap.mmap(-1, nbytes), dtype=np.int32).reshape(cap + 1, 256)
    else:
        rows = np.empty((cap + 1, 256), dtype=np.int32)
    rows[-1] = DEAD
    return rows


def _tables(cap: int, flat: bool = True) -> Tables:
    """A set of capacity `cap`; with `flat` (the Python builder's tables) every row is
    filled with DEAD, as before native builders."""
    expanded = np.zeros(cap + 1, dtype=bool)
    expanded[-1] = True
    return Tables(np.full((cap + 1, 256), DEAD, dtype=np.int32) if flat else unfilled_rows(cap),
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
