"""`LazyTerminal`: a CFG terminal whose automaton is built on first use, state by state.

Lowering a grammar used to determinize every terminal up front (seconds for large recursive
JSON schemas, most of whose terminals the first token mask never reaches). A terminal now
keeps its regular expression and the facts the recognizer needs before any automaton (does
it match the empty string? any string?), read off the expression. When the Earley
recognizer first predicts it, only its NFA is built, as a `LazyDFA`: DFA states are made
when a walk first steps out of them. Each state's language is that of the minimal DFA's
state, so masks and acceptance do not change (parity tests against eager building).

The views below give the recognizer per-state rows, acceptance, liveness and first bytes as
plain Python containers filled on first read. A DFA over its state limit raises
GrammarError where it is first needed; matchers report it through `GrammarMatcher.error`.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import numpy as np

from ..errors import GrammarError
from ..regex.byte_nfa import ByteNfa, check_size
from ..regex.ir import RegularExpr
from ..regex.ir_props import inhabited, nullable
from ..regex.lazy_dfa import LazyDFA

PRECOMPUTE_STATES = 4096  # a background precompute completes a terminal up to this many states


class LazyTerminal:
    """A terminal's expression; `dfa()` builds (once) and returns its LazyDFA."""

    def __init__(self, expr: RegularExpr, max_states: int) -> None:
        self.expr = expr
        self.max_states = max_states
        check_size(expr)  # a terminal whose NFA could never be built fails the compile now
        self.nullable = nullable(expr)    # matches the empty string
        self.inhabited = inhabited(expr)  # matches some string
        self._dfa: LazyDFA | None = None
        self._lock = threading.Lock()  # the background mask precompute may build it too

    @property
    def built(self) -> bool:
        return self._dfa is not None

    def dfa(self) -> LazyDFA:
        """The terminal's LazyDFA (its NFA built on the first call; only the start state)."""
        if self._dfa is None:
            with self._lock:
                if self._dfa is None:
                    nfa = ByteNfa()
                    start = nfa.new()
                    final = nfa.add(self.expr, start)
                    self._dfa = LazyDFA(nfa, start, final, self.max_states, allow_empty=True)
        return self._dfa

    def expand_for_precompute(self) -> int:
        """Expand states (breadth first) while fewer than PRECOMPUTE_STATES exist, never
        up to the state limit (that would refuse states a request may need later); returns
        how many states exist."""
        d = self.dfa()
        while not d.complete and d.num_states < min(PRECOMPUTE_STATES, self.max_states // 4):
            d.expand_next(8)
        return d.num_states


def warm_terminals(terminals: list[LazyTerminal], max_seconds: float) -> None:
    """Build the terminals' NFAs (and DFA start states) in grammar order until `max_seconds`
    have passed. A first prediction otherwise builds its
    terminal inside a token mask (~0.15 ms each, a few ms for a large object body), which
    was most of the slowest CFG masks; most grammars build all theirs in ~2 ms (p90 ~9 ms
    over maskbench-dev's recursive schemas). A terminal that cannot be built (too large,
    the compile budget spent) is left for its first prediction to report."""
    deadline = time.perf_counter() + max_seconds
    for t in terminals:
        if time.perf_counter() > deadline:
            break
        try:
            t.dfa()
        except GrammarError:
            break


class StateMap(dict):
    """state -> a value computed by `fill(state)` on first read, then kept."""

    def __init__(self, fill: Callable[[int], Any]) -> None:
        super().__init__()
        self.fill = fill

    def __missing__(self, s: int) -> Any:
        value = self[s] = self.fill(s)
        return value


def rows_view(dfa: LazyDFA) -> StateMap:
    """state -> [256] next state (-1: dead), the state expanded on first read."""
    def fill(s: int) -> list[int]:
        dfa.ensure_one(s)
        return tuple(dfa.table[s].tolist())  # a tuple of ints: the GC untracks it, never scans it again
    return StateMap(fill)


def accepting_view(dfa: LazyDFA) -> StateMap:
    """state -> whether it accepts (known from discovery, no expansion)."""
    return StateMap(lambda s: bool(dfa.tables.accepting[s]))


def live_view(dfa: LazyDFA) -> StateMap:
    """state -> whether some byte may follow (expands the state)."""
    return StateMap(lambda s: dfa.n_out(s) > 0)


def first_bytes_view(dfa: LazyDFA) -> StateMap:
    """state -> frozenset of the bytes that keep the terminal alive (expands the state)."""
    def fill(s: int) -> frozenset[int]:
        dfa.ensure_one(s)
        return frozenset(np.flatnonzero(dfa.table[s] >= 0).tolist())
    return StateMap(fill)


class WalkView:
    """A terminal's LazyDFA as a walk table with end nodes (`masks.token_trie.walk`):
    the dead sink is -1 (the tables' last row), `accept` is re-read after each `ensure`."""

    dead = -1

    def __init__(self, dfa: LazyDFA) -> None:
        self.dfa = dfa
        self.row = dfa.row  # state -> list row (small trie levels)

    @property
    def table(self) -> np.ndarray:
        return self.dfa.table

    @property
    def flat(self) -> np.ndarray:
        return self.dfa.flat

    @property
    def accept(self) -> np.ndarray:
        return self.dfa.tables.accepting

    @property
    def complete(self) -> bool:
        return self.dfa.complete

    def ensure(self, states: np.ndarray) -> None:
        self.dfa.ensure(states)

    def walk_arrays(self) -> tuple:
        """(table, expanded, accepting, the tables) for the native trie walk."""
        t = self.dfa.tables
        return t.table, t.expanded, t.accepting, t

    def walk_builder(self) -> tuple | None:
        return self.dfa.walk_builder()

    def walk_refresh(self, state: int) -> tuple:
        self.dfa.ensure_one(state)
        return self.walk_arrays()
