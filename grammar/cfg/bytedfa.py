"""Byte-level NFA construction from `Expr` and determinization into a `ByteDfa`."""
from __future__ import annotations

from dataclasses import dataclass

import interegular
import numpy as np
from interegular.fsm import anything_else

from ..errors import GrammarError
from .ir import Alt, Cls, Expr, Lit, Regex, Rep, Seq
from .utf8 import chars_to_ranges, complement, utf8_sequences

MAX_DFA_STATES = 20000


class ByteNfa:
    """Thompson NFA over bytes: byte-range edges and epsilon edges."""

    def __init__(self) -> None:
        self.edges: list[list[tuple[int, int, int]]] = []  # state -> [(lo, hi, target)]
        self.eps: list[list[int]] = []

    def new(self) -> int:
        self.edges.append([])
        self.eps.append([])
        return len(self.edges) - 1

    def add(self, expr: Expr, src: int) -> int:
        """Add `expr` starting at state `src`; return its end state."""
        if isinstance(expr, Lit):
            for b in expr.data:
                dst = self.new()
                self.edges[src].append((b, b, dst))
                src = dst
            return src
        if isinstance(expr, Cls):
            return self._add_ranges(expr.ranges, src)
        if isinstance(expr, Seq):
            for item in expr.items:
                src = self.add(item, src)
            return src
        if isinstance(expr, Alt):
            end = self.new()
            for item in expr.items:
                start = self.new()
                self.eps[src].append(start)
                self.eps[self.add(item, start)].append(end)
            return end
        if isinstance(expr, Rep):
            return self._add_rep(expr, src)
        if isinstance(expr, Regex):
            return self._add_regex(expr.pattern, src)
        raise GrammarError(f"not a regular expression: {expr!r}")

    def _add_ranges(self, ranges, src: int) -> int:
        end = self.new()
        for lo, hi in ranges:
            for seq in utf8_sequences(lo, hi):
                cur = src
                for i, (blo, bhi) in enumerate(seq):
                    dst = end if i == len(seq) - 1 else self.new()
                    self.edges[cur].append((blo, bhi, dst))
                    cur = dst
        return end

    def _add_rep(self, rep: Rep, src: int) -> int:
        for _ in range(rep.lo):
            src = self.add(rep.item, src)
        if rep.hi is None:
            loop = self.new()
            self.eps[src].append(loop)
            self.eps[self.add(rep.item, loop)].append(loop)
            return loop
        end = self.new()
        for _ in range(rep.hi - rep.lo):
            self.eps[src].append(end)
            src = self.add(rep.item, src)
        self.eps[src].append(end)
        return end

    def _add_regex(self, pattern: str, src: int) -> int:
        try:
            fsm = interegular.parse_pattern(pattern).to_fsm()
        except Exception as e:  # interegular raises several unrelated types
            raise GrammarError(f"unsupported regular expression {pattern!r}: {e}") from None
        by_symbol = fsm.alphabet.by_transition
        explicit = [c for chars in by_symbol.values() for c in chars if c is not anything_else]
        ranges = {}
        for sym, chars in by_symbol.items():
            if anything_else in chars:
                ranges[sym] = complement(chars_to_ranges(explicit))
            else:
                ranges[sym] = chars_to_ranges(chars)
        states = {q: self.new() for q in fsm.states}
        self.eps[src].append(states[fsm.initial])
        end = self.new()
        for q, row in fsm.map.items():
            for sym, q2 in row.items():
                mid = self._add_ranges(ranges[sym], states[q])
                self.eps[mid].append(states[q2])
        for q in fsm.finals:
            self.eps[states[q]].append(end)
        return end

    def closure(self, states) -> frozenset[int]:
        seen, todo = set(states), list(states)
        while todo:
            for t in self.eps[todo.pop()]:
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        return frozenset(seen)


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
    """Compile a regular `Expr` to a trimmed, minimized byte DFA."""
    nfa = ByteNfa()
    start = nfa.new()
    final = nfa.add(expr, start)
    init = nfa.closure([start])
    index = {init: 0}
    subsets, rows, accept = [init], [], []
    while len(rows) < len(subsets):
        cur = subsets[len(rows)]
        accept.append(final in cur)
        targets: list[set[int]] = [set() for _ in range(256)]
        for q in cur:
            for lo, hi, t in nfa.edges[q]:
                for b in range(lo, hi + 1):
                    targets[b].add(t)
        row = []
        for b in range(256):
            if not targets[b]:
                row.append(-1)
                continue
            nxt = nfa.closure(targets[b])
            if nxt not in index:
                index[nxt] = len(subsets)
                subsets.append(nxt)
                if len(subsets) > MAX_DFA_STATES:
                    raise GrammarError("terminal too large: DFA exceeds state limit")
            row.append(index[nxt])
        rows.append(row)
    return _minimize(_trim(rows, accept))


def _trim(rows: list[list[int]], accept: list[bool]) -> ByteDfa:
    """Drop states that cannot reach an accepting state (start is always kept)."""
    live = {s for s, a in enumerate(accept) if a}
    changed = True
    while changed:
        changed = False
        for s, row in enumerate(rows):
            if s not in live and any(t in live for t in row if t >= 0):
                live.add(s)
                changed = True
    keep = [0] + [s for s in range(1, len(rows)) if s in live]
    remap = {s: i for i, s in enumerate(keep)}
    new_rows = [[remap.get(t, -1) for t in rows[s]] for s in keep]
    return ByteDfa(new_rows, [accept[s] for s in keep])


def _minimize(dfa: ByteDfa) -> ByteDfa:
    """Moore partition refinement."""
    cls = [int(a) for a in dfa.accept]
    while True:
        sigs = [(cls[s], tuple(cls[t] if t >= 0 else -1 for t in row)) for s, row in enumerate(dfa.rows)]
        ids: dict = {}
        new = [ids.setdefault(sig, len(ids)) for sig in sigs]
        if len(ids) == len(set(cls)):
            break
        cls = new
    # renumber so the start state's class is 0
    order = {cls[0]: 0}
    for c in cls:
        order.setdefault(c, len(order))
    rows: list = [None] * len(order)
    accept = [False] * len(order)
    for s, row in enumerate(dfa.rows):
        c = order[cls[s]]
        rows[c] = [order[cls[t]] if t >= 0 else -1 for t in row]
        accept[c] = dfa.accept[s]
    return ByteDfa(rows, accept)
