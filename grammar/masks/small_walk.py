"""Trie levels with few children stepped in plain Python.

A numpy step of one trie level costs ~10 array calls (~15 us) whatever its size, so deep,
narrow walks (runs of spaces or dashes, up to 81 bytes; narrow lexer states) paid ~1 ms in
per-call overhead alone. Below SMALL_STEP children a level is cheaper as a Python loop over
the children (~0.1 us each) reading DFA rows as Python lists (`rows`, cached per state).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

SMALL_STEP = 128  # children of a frontier up to which a level is stepped in Python


class PyTrie:
    """The trie's child ranges and edge bytes as Python containers: the children of node n
    are lo[n] .. lo[n + 1] - 1 (breadth-first numbering keeps them contiguous and in order)."""
    __slots__ = ("lo", "byte", "kids")

    def __init__(self, child_lo: np.ndarray, child_hi: np.ndarray, byte: np.ndarray) -> None:
        lo = np.append(child_lo, child_hi[-1] if len(child_hi) else 1)
        assert (lo[1:] == child_hi).all(), "children ranges must tile the node ids"
        self.lo: list[int] = lo.tolist()
        self.kids: list[int] = np.diff(lo).tolist()  # children per node
        self.byte: bytes = byte.astype(np.uint8).tobytes()


class RowCache:
    """Python-list rows of a walk table's states, each made once (rows never change once
    built). `table` returns the current int [S + 1, 256] array after `ensure_one(s)`."""
    __slots__ = ("rows", "ensure_one", "table", "plain_next", "plain_safe")

    def __init__(self, ensure_one: Callable[[int], None], table: Callable[[], np.ndarray]) -> None:
        self.rows: dict[int, list[int]] = {}
        self.plain_next: dict[int, int] = {}  # see plain_walk.PlainIndex.start
        self.plain_safe: tuple[dict[int, bool], ...] = ({}, {})  # see plain_closure.plain_safe
        self.ensure_one, self.table = ensure_one, table

    def __call__(self, s: int) -> list[int]:
        row = self.rows.get(s)
        if row is None:
            self.ensure_one(s)
            row = self.rows[s] = tuple(self.table()[s].tolist())  # of ints: the GC untracks it
        return row


def step_small(py: PyTrie, row: RowCache, dead: int, nodes: list[int],
               states: list[int]) -> tuple[list[int], list[int], int]:
    """One trie level below `nodes` (in DFA `states`): the live children and their states
    (breadth-first order kept), and how many children those have."""
    lo, byte, rows = py.lo, py.byte, row.rows
    out_nodes: list[int] = []
    out_states: list[int] = []
    for n, s in zip(nodes, states):
        r = rows.get(s) or row(s)
        for k in range(lo[n], lo[n + 1]):
            t = r[byte[k]]
            if t != dead:
                out_nodes.append(k)
                out_states.append(t)
    return out_nodes, out_states, sum(map(py.kids.__getitem__, out_nodes))
