"""`LazyDFA`: a byte DFA whose states are built on demand from the regex's NFA.

Compiling a regex grammar used to determinize and minimize the whole DFA before the first
mask (most of a schema's compile time, seconds for large ones). Here subset construction
runs one state at a time, when a walk first steps out of it (`ensure`). The NFA is trimmed
first (only states that can still reach the final state are kept in a subset), so every
state this DFA builds is live: the non-empty subsets are exactly the live states, and the
empty subset is the dead sink. The automaton is not minimal, but each state's language is
that of its subset, so token masks, forced bytes and acceptance equal those of the minimal
`ByteDFA` of the same regex (the eager twin; parity tests compare them).

States are numbered 0, 1, ... in the order they are discovered (the start is 0); the dead
sink is -1, which indexes a reserved last row of every table (all -1, not accepting), so
numpy walks need no special case for it. Rows of states not yet expanded read dead: callers
`ensure` the states they step from first. Expanded rows never change, and the tables are
swapped in whole when they grow, so readers on other threads need no lock.

Where the grammar's native helpers are built (`grammar.native`), subset construction runs in
C++ (`SubsetBuilder`, writing the rows into these tables in place: same states, same order,
~50x faster per state); `native=False` keeps the Python construction (the parity twin).
"""
from __future__ import annotations

import threading

import numpy as np

from ..errors import GrammarError
from ..masks.small_walk import RowCache
from .. import native as _native_mod
from .byte_dfa import MAX_STATES, ByteDFA
from .byte_nfa import ByteNfa
from .determinize import _EMPTY, _byte_classes
from .lazy_tables import DEAD, Tables, _tables, grown
from .live_subsets import _LiveSubsets, sweep
from .ir import RegularExpr
from .parse import parse_regex

INITIAL_CAP_MAX = 1024  # rows allocated up front at most (native builder: NFA states / 2)


class LazyDFA:
    """A byte DFA expanded on demand (see the module docstring). `from_dfa` wraps a complete
    `ByteDFA` (e.g. one loaded from the disk cache) the same way, with nothing left to build."""

    initial = 0
    dead = DEAD

    def __init__(self, nfa: ByteNfa | None, start: int = 0, final: int = 0,
                 max_states: int = MAX_STATES, *, allow_empty: bool = False,
                 native: bool | None = None) -> None:
        self.max_states = max_states
        self._lock = threading.RLock()  # expansions; a native walk holds it (and expands) throughout
        self._sets: list[frozenset[int]] = []
        self._index: dict[frozenset[int], int] = {}
        self._num_states = 0
        self._num_expanded = 0
        self.row = RowCache(self.ensure_one, lambda: self._t.table)  # state -> list row
        self._core = None  # the native SubsetBuilder, when used
        if nfa is None:
            return
        live = nfa.coreachable(final)
        nfa._utf8 = {}
        if _native_mod.ENABLED if native is None else native:
            self._start_native(nfa, start, final, live, allow_empty)
            return
        self._t = _tables(64)
        self._class_of = _byte_classes(nfa)
        self._sub = _LiveSubsets(nfa, final, self._class_of, live)
        self._final = final
        init = self._sub.closure(start)
        if not init and not allow_empty:
            raise GrammarError("the grammar's language is empty (no string satisfies it)")
        self._add(init)

    def _start_native(self, nfa: ByteNfa, start: int, final: int, live: list[bool] | None,
                      allow_empty: bool) -> None:
        x = nfa.index_arrays()  # int32 arrays: no Python lists converted on the way in
        self._class_of = _byte_classes(None, x.lo, x.hi)
        # the native walk does not read `flat`; room for a share of the NFA's states up front
        # (rows unfilled: a page costs only when a state's row is written), so fewer growths
        # copy the table inside a mask
        self._t = _tables(min(INITIAL_CAP_MAX, max(64, nfa.num_states // 2)), flat=False)
        self._core = _native_mod._native.SubsetBuilder(
            x.e_start, x.lo, x.hi, x.dst, x.p_start, x.eps,
            np.zeros(0, np.uint8) if live is None else np.array(live, dtype=np.uint8),
            self._class_of, final)
        if not self._core.add_start(start, self._t) and not allow_empty:
            raise GrammarError("the grammar's language is empty (no string satisfies it)")

    @classmethod
    def from_dfa(cls, dfa: ByteDFA) -> "LazyDFA":
        """A complete LazyDFA with the same states as `dfa` (whose dead sink becomes -1)."""
        out = cls(None)
        n = dfa.dead
        t = _tables(max(n, 1))
        rows = np.where(dfa.trans[:n] == n, DEAD, dfa.trans[:n]).astype(np.int32)  # [n, 256]
        t.table[:n] = rows
        t.flat[: n * 256] = (rows * 256).reshape(-1)
        t.accepting[:n] = dfa.accepting[:n]
        t.expanded[:n] = True
        live = rows >= 0
        t.n_out[:n] = live.sum(axis=1)
        t.forced[:n] = np.where(t.n_out[:n] == 1, live.argmax(axis=1), -1)
        out._t, out._num_states, out._num_expanded = t, n, n
        return out

    # -- reading -------------------------------------------------------------------------
    @property
    def num_states(self) -> int:
        """States discovered so far (numbered 0 .. num_states - 1)."""
        return self._num_states if self._core is None else self._core.num_states

    @property
    def num_expanded(self) -> int:
        """States whose rows are built."""
        return self._num_expanded if self._core is None else self._core.num_expanded

    @property
    def tables(self) -> Tables:
        """The current arrays (one consistent set; re-read after `ensure`)."""
        return self._t

    @property
    def table(self) -> np.ndarray:
        return self._t.table

    @property
    def flat(self) -> np.ndarray:
        t = self._t
        if len(t.flat) or not len(t.table):
            return t.flat
        return (t.table * 256).reshape(-1)  # not kept with a native builder (a Python walk's fallback)

    accept = None  # as a walk table: no end nodes wanted (see token_trie.walk)

    @property
    def complete(self) -> bool:
        """Every discovered state is expanded: no state will ever be added."""
        return self.num_expanded == self.num_states

    def is_accepting(self, state: int) -> bool:
        return bool(self._t.accepting[state])

    def n_out(self, state: int) -> int:
        self.ensure_one(state)
        return int(self._t.n_out[state])

    def forced(self, state: int) -> int:
        """The only byte that keeps `state` alive, or -1."""
        self.ensure_one(state)
        return int(self._t.forced[state])

    def step(self, state: int, byte: int) -> int:
        self.ensure_one(state)
        return int(self._t.table[state, byte])

    def walk(self, state: int, data: bytes) -> int:
        """State after `data` (DEAD if it leaves the language)."""
        for b in data:
            if state < 0:
                break
            state = self.step(state, b)
        return state

    def accepts(self, text: str) -> bool:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            return False
        s = self.walk(self.initial, data)
        return s >= 0 and self.is_accepting(s)

    def walk_arrays(self) -> tuple:
        """(table, expanded, accept=None, the tables) for the native trie walk
        (`token_trie.walk_states`)."""
        t = self._t
        return t.table, t.expanded, None, t

    def walk_builder(self) -> tuple | None:
        """(native SubsetBuilder, the lock to hold while it expands, max_states), or None."""
        return None if self._core is None else (self._core, self._lock, self.max_states)

    def walk_refresh(self, state: int) -> tuple:
        """Expand `state`, then `walk_arrays()` (the tables may have grown)."""
        self.ensure_one(state)
        return self.walk_arrays()

    # -- building ------------------------------------------------------------------------
    def ensure_one(self, state: int) -> None:
        if not self._t.expanded[state]:
            self._expand_all((state,))

    def ensure(self, states: np.ndarray) -> None:
        """Expand every state in `states` (int array; -1, the sink, is skipped) not yet
        expanded."""
        need = states[~self._t.expanded[states]]
        if len(need):
            self._expand_all(np.flatnonzero(np.bincount(need)).tolist())  # unique, sorted

    def expand_next(self, limit: int) -> int:
        """Expand up to `limit` states not expanded yet, oldest first, those discovered on the
        way included (the background completion); returns how many were expanded."""
        done = 0
        with self._lock:
            while done < limit:
                todo = np.flatnonzero(~self._t.expanded[: self.num_states])[: limit - done].tolist()
                if not todo:
                    break
                for s in todo:
                    self._expand(s)
                done += len(todo)
        return done

    def snapshot(self) -> ByteDFA:
        """The complete DFA as a `ByteDFA` (dead sink last; same state numbers)."""
        assert self.complete, "snapshot of an incomplete LazyDFA"
        n, t = self.num_states, self._t
        trans = np.vstack([np.where(t.table[:n] < 0, n, t.table[:n]),
                           np.full((1, 256), n, dtype=np.int32)]).astype(np.int32)
        return ByteDFA(trans, np.concatenate([t.accepting[:n], [False]]), 0)

    def _expand_all(self, states) -> None:
        with self._lock:
            for s in states:
                if not self._t.expanded[s]:
                    self._expand(int(s))

    def _add(self, subset: frozenset[int]) -> int:
        n = self.num_states
        if n >= self.max_states:
            raise GrammarError(f"grammar too large (over {self.max_states} DFA states)")
        t = self._t
        cap = t.table.shape[0] - 1
        if n == cap:
            t = self._grow(2 * cap)
        self._sets.append(subset)
        self._index[subset] = n
        t.accepting[n] = self._final in subset
        self._num_states = n + 1
        return n

    def _grow(self, cap: int) -> Tables:
        t = grown(self._t, cap, self.num_states)
        self._t = t  # one swap: readers see the old or the new set, both valid
        return t

    def _expand(self, s: int) -> None:
        if self._core is None:
            self._expand_py(s)
            return
        while True:
            n = self._core.expand(s, self._t, self.max_states)
            if n >= 0:
                return
            if n == -2:
                raise GrammarError(f"grammar too large (over {self.max_states} DFA states)")
            self._grow(2 * (self._t.table.shape[0] - 1))

    def _expand_py(self, s: int) -> None:
        """Subset construction for state `s` in Python (`live_subsets.sweep`)."""
        ids = sweep(self._sub, self._sets[s], self._state_of)
        t = self._t
        brow = ids[self._class_of]  # [256]
        t.table[s] = brow
        t.flat[s * 256:(s + 1) * 256] = brow * 256
        live = brow >= 0
        t.n_out[s] = int(live.sum())
        t.forced[s] = int(live.argmax()) if t.n_out[s] == 1 else -1
        t.expanded[s] = True
        self._num_expanded += 1
        self._sets[s] = _EMPTY  # no longer needed

    def _state_of(self, subset: frozenset[int]) -> int:
        i = self._index.get(subset)
        return self._add(subset) if i is None else i


def expr_to_lazy_dfa(expr: RegularExpr, max_states: int = MAX_STATES) -> LazyDFA:
    """A LazyDFA of a regular IR expression (only the start state built); GrammarError when
    its language is empty."""
    nfa = ByteNfa()
    start = nfa.new()
    final = nfa.add(expr, start)
    return LazyDFA(nfa, start, final, max_states)


def regex_to_lazy_dfa(pattern: str) -> LazyDFA:
    """The LazyDFA of a Python-`re`-syntax regex (full match); twin of `regex_to_byte_dfa`."""
    return expr_to_lazy_dfa(parse_regex(pattern))
