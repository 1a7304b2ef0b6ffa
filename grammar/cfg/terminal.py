"""`LazyTerminal`: a CFG terminal whose byte DFA is built on first use.

Lowering a grammar used to determinize every terminal up front (seconds for large recursive
JSON schemas, most of whose terminals the first token mask never reaches). A terminal now
keeps its regular expression and the facts the recognizer needs before any DFA (does it
match the empty string? any string?), read off the expression; the Earley recognizer asks
for the DFA when it first predicts the terminal. The DFA is the same minimal `ByteDFA` an
eager build gives, so masks and acceptance do not change (parity tests).

A DFA over its state limit raises GrammarError where it is first needed (then again on every
later use, without rebuilding); matchers report it through `GrammarMatcher.error`. A build
inside a compile (the start symbol's terminals) counts against that compile's budget.
"""
from __future__ import annotations

import threading

from ..budget import remaining
from ..errors import GrammarError
from ..regex.byte_dfa import ByteDFA, expr_to_byte_dfa
from ..regex.ir import RegularExpr
from ..regex.ir_props import inhabited, nullable


class LazyTerminal:
    """A terminal's expression; `dfa()` builds (once) and returns its minimal ByteDFA."""

    def __init__(self, expr: RegularExpr, max_states: int) -> None:
        self.expr = expr
        self.max_states = max_states
        self.nullable = nullable(expr)    # matches the empty string
        self.inhabited = inhabited(expr)  # matches some string
        self._dfa: ByteDFA | None = None
        self._error: str | None = None
        self._lock = threading.Lock()  # the background mask precompute may build it too

    @property
    def built(self) -> bool:
        return self._dfa is not None

    def dfa(self) -> ByteDFA:
        """The minimal byte DFA (built on the first call; GrammarError when too large)."""
        if self._dfa is None:
            with self._lock:
                if self._dfa is None:
                    if self._error is not None:
                        raise GrammarError(self._error)
                    try:
                        self._dfa = expr_to_byte_dfa(self.expr, self.max_states, allow_empty=True)
                    except GrammarError as e:
                        if remaining() is None:  # not a compile's budget: it would fail again
                            self._error = str(e)
                        raise
        return self._dfa
