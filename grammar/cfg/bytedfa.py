"""Terminal DFAs for the CFG: a regular `Expr` compiled by the shared byte NFA/DFA code."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..byte_nfa import ByteNfa
from ..determinize import determinize
from .ir import Expr

MAX_DFA_STATES = 20000


@dataclass
class ByteDfa:
    """Trimmed, minimal DFA over bytes. rows[s][b] = next state or -1 (dead); start = 0."""
    rows: list[list[int]]
    accept: list[bool]

    @property
    def table(self) -> np.ndarray:
        """[num_states + 1, 256] int32; row num_states is the absorbing dead state."""
        n = len(self.rows)
        t = np.array(self.rows + [[-1] * 256], dtype=np.int32)
        t[t < 0] = n
        return t

    def matches(self, data: bytes) -> bool:
        s = 0
        for b in data:
            s = self.rows[s][b]
            if s < 0:
                return False
        return self.accept[s]


def compile_dfa(expr: Expr) -> ByteDfa:
    """Compile a regular `Expr` to a trimmed, minimized byte DFA (GrammarError when too large)."""
    nfa = ByteNfa()
    start = nfa.new()
    final = nfa.add(expr, start)
    trans, accepting = determinize(nfa, start, final, MAX_DFA_STATES)  # dead = last row
    dead = trans.shape[0] - 1
    rows = np.where(trans[:dead] == dead, -1, trans[:dead])
    return ByteDfa(rows.tolist(), accepting[:dead].tolist())
