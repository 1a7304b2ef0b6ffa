"""`ByteDFA`, the one byte automaton of sglike.grammar, and how a regex or a regular IR
expression becomes one (parse -> byte_nfa -> determinize). Regex grammars walk its numpy
table; the CFG's terminals are ByteDFAs too and read its plain-list views.

`reference.regex_to_byte_dfa_reference` builds the same language through interegular's
character FSM; it is the independent twin the parity tests compare against."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import GrammarError
from .byte_nfa import ByteNfa
from .determinize import determinize
from .ir import RegularExpr
from .parse import parse_regex

MAX_STATES = 200_000


@dataclass(frozen=True, eq=False)
class ByteDFA:
    """Byte transitions over live states; state `dead` (= num_states) is the sink.

    trans: int32 [num_states + 1, 256]; accepting: bool [num_states + 1].
    """

    trans: np.ndarray
    accepting: np.ndarray
    initial: int = 0

    @property
    def dead(self) -> int:
        return self.trans.shape[0] - 1

    @cached_property
    def rows(self) -> list[list[int]]:
        """rows[s][b] = next state, or -1 for the dead sink; live states only (plain lists,
        for per-byte Python loops such as the Earley recognizer's)."""
        live = self.trans[: self.dead]  # [num_states, 256]
        return np.where(live == self.dead, -1, live).tolist()

    @cached_property
    def accept(self) -> list[bool]:
        """accept[s]: whether live state s accepts (plain list, like `rows`)."""
        return self.accepting[: self.dead].tolist()

    def walk(self, state: int, data: bytes) -> int:
        """State after `data` (the dead state if it leaves the language)."""
        for b in data:
            state = int(self.trans[state, b])
        return state

    def accepts(self, text: str) -> bool:
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return bool(self.accepting[self.walk(self.initial, data)])


def regex_to_byte_dfa(pattern: str) -> ByteDFA:
    """The minimal byte DFA of a Python-`re`-syntax regex, full-match semantics; GrammarError
    when the pattern is unsupported or its language is empty."""
    return expr_to_byte_dfa(parse_regex(pattern))


def expr_to_byte_dfa(expr: RegularExpr, max_states: int = MAX_STATES, *,
                     allow_empty: bool = False) -> ByteDFA:
    """The trimmed, minimal byte DFA of a regular IR expression; GrammarError when it needs
    more than `max_states` states, or when its language is empty unless `allow_empty`."""
    nfa = ByteNfa()
    start = nfa.new()
    final = nfa.add(expr, start)
    trans, accepting = determinize(nfa, start, final, max_states)  # dead = last row
    if not allow_empty and not accepting[0] and (trans[0] == trans.shape[0] - 1).all():
        raise GrammarError("the grammar's language is empty (no string satisfies it)")
    return ByteDFA(trans, accepting, 0)
