"""Earley recognizer over bytes for a `Cfg` whose terminals are byte DFAs.

A chart is a list of immutable `EarleySet`s, one per step. An item is (rule, dot, origin).
Items about to read a terminal are kept in `scans`, grouped by (terminal, DFA state), in their
*advanced* form (dot already past the terminal), so one byte moves a whole group at once.
A terminal's DFA tables are loaded when it is first predicted (a scan group is created).
"""
from __future__ import annotations

import threading

from ..errors import GrammarError
from .ir import Cfg
from .terminal import accepting_view, first_bytes_view, live_view, rows_view

Item = tuple[int, int, int]


class EarleySet:
    __slots__ = ("scans", "waiting", "accepting", "popped", "next_bytes", "next_bits")

    def __init__(self, scans: dict[tuple[int, int], frozenset], waiting: dict[int, list[Item]],
                 accepting: bool, popped: bool = False) -> None:
        self.scans = scans          # (terminal, dfa state) -> advanced items
        self.waiting = waiting      # nonterminal -> items whose dot is before it
        self.accepting = accepting  # the start symbol spans the whole input
        self.popped = popped        # an item with the `barrier` origin completed here
        self.next_bytes: frozenset[int] | None = None  # filled lazily by Recognizer.allowed_bytes
        self.next_bits = -1  # the same as a 256-bit int (-1 = not computed yet)


class Recognizer:
    """Tables derived from a `Cfg`, plus the step functions over charts."""

    def __init__(self, cfg: Cfg) -> None:
        self.cfg = cfg
        rules = _productive_rules(cfg)
        if not any(lhs == cfg.start for lhs, _ in rules):
            raise GrammarError("the grammar generates no string (start rule is unproductive)")
        self.lhs = [lhs for lhs, _ in rules]
        self.bodies = [body for _, body in rules]
        self.by_lhs: dict[int, list[int]] = {}
        for r, lhs in enumerate(self.lhs):
            self.by_lhs.setdefault(lhs, []).append(r)
        n = len(cfg.terminals)
        # per terminal, set by `load` when the terminal is first predicted (None until then):
        # views of its lazy DFA by state, each state filled on first read (see terminal.py)
        self.rows: list[Rows | None] = [None] * n
        self.accept: list[Accepting | None] = [None] * n
        self.live: list[Live | None] = [None] * n
        self.first: list[FirstBytes | None] = [None] * n
        self.term_nullable = [d.nullable for d in cfg.terminals]
        self.nullable = _nullable(rules, self.term_nullable)
        self.start = cfg.start
        self._load_lock = threading.Lock()

    def load(self, t: int) -> None:
        """Build terminal t's NFA and the views of its lazy DFA."""
        if self.rows[t] is not None:
            return
        with self._load_lock:
            if self.rows[t] is not None:
                return
            d = self.cfg.terminals[t].dfa()
            self.accept[t] = accepting_view(d)
            self.live[t] = live_view(d)
            self.first[t] = first_bytes_view(d)
            self.rows[t] = rows_view(d)  # last: a set row means the others are ready

    def live_states(self, t: int) -> list[bool]:
        """Per DFA state of terminal t (the states a precompute expands, see
        LazyTerminal.expand_for_precompute): whether a byte can follow."""
        self.load(t)
        n = self.cfg.terminals[t].expand_for_precompute()
        return [self.live[t][s] for s in range(n)]

    def initial(self) -> list[EarleySet]:
        return [self.build(None, 0, {}, [(r, 0, 0) for r in self.by_lhs[self.start]])]

    def step(self, chart: list[EarleySet], b: int) -> EarleySet | None:
        """The set after reading byte `b`, or None when `b` cannot come next."""
        scans: dict[tuple[int, int], set] = {}
        agenda: list[Item] = []
        rows, accept, live = self.rows, self.accept, self.live
        moved = False
        for (t, s), items in chart[-1].scans.items():
            s2 = rows[t][s][b]
            if s2 < 0:
                continue
            moved = True
            if live[t][s2]:  # groups at a state with no way out are dropped
                key = (t, s2)
                if key in scans:
                    scans[key] |= items
                else:
                    scans[key] = set(items)
            if accept[t][s2]:
                agenda.extend(items)
        if not moved:
            return None
        return self.build(chart, len(chart), scans, agenda)

    def complete_terminal(self, chart: list[EarleySet], items, barrier: int = -1) -> EarleySet:
        """The set after a terminal ends, for the group `items` only (new position len(chart))."""
        return self.build(chart, len(chart), {}, list(items), barrier)

    def build(self, chart, pos: int, scans: dict, agenda: list[Item], barrier: int = -1) -> EarleySet:
        """Run completion and prediction to a fixed point for the set at `pos`. Items with
        origin `barrier` are not completed into that set; `popped` records that one would be."""
        bodies, lhs_of, by_lhs, nullable = self.bodies, self.lhs, self.by_lhs, self.nullable
        seen: set[Item] = set()
        waiting: dict[int, list[Item]] = {}
        accepting = popped = False
        while agenda:
            item = agenda.pop()
            if item in seen:
                continue
            seen.add(item)
            r, d, o = item
            body = bodies[r]
            if d == len(body):
                lhs = lhs_of[r]
                if o == barrier:
                    popped = True
                    continue
                if o == pos:  # empty span: handled when predicting the nullable nonterminal
                    if lhs == self.start and pos == 0:
                        accepting = True
                    continue
                if lhs == self.start and o == 0:
                    accepting = True
                for r2, d2, o2 in chart[o].waiting.get(lhs, ()):
                    agenda.append((r2, d2 + 1, o2))
                continue
            sym = body[d]
            if sym >= 0:
                if sym not in waiting:
                    waiting[sym] = []
                    agenda.extend((r2, 0, pos) for r2 in by_lhs.get(sym, ()))
                waiting[sym].append(item)
                if sym in nullable:
                    agenda.append((r, d + 1, o))
            else:
                t = ~sym
                key = (t, 0)
                if key in scans:
                    scans[key].add((r, d + 1, o))
                else:
                    if self.rows[t] is None:  # first prediction of this terminal
                        self.load(t)
                    scans[key] = {(r, d + 1, o)}
                if self.term_nullable[t]:
                    agenda.append((r, d + 1, o))
        frozen = {k: frozenset(v) for k, v in scans.items()}
        return EarleySet(frozen, waiting, accepting, popped)

    def allowed_bytes(self, es: EarleySet) -> frozenset[int]:
        """Bytes that may come next after `es` (cached on the set)."""
        if es.next_bytes is None:
            first = self.first
            groups = [first[t][s] for t, s in es.scans]
            es.next_bytes = groups[0] if len(groups) == 1 else frozenset().union(*groups)
        return es.next_bytes

    def allowed_bits(self, es: EarleySet) -> int:
        """`allowed_bytes` as an int with bit b set for each allowed byte b."""
        if es.next_bits < 0:
            es.next_bits = sum(1 << b for b in self.allowed_bytes(es))
        return es.next_bits

    def run(self, chart: list[EarleySet], data: bytes) -> list[EarleySet] | None:
        """Sets appended by reading `data` (chart untouched), or None if rejected."""
        work = list(chart)
        for b in data:
            es = self.step(work, b)
            if es is None:
                return None
            work.append(es)
        return work[len(chart):]


def _productive_rules(cfg: Cfg) -> list[tuple[int, tuple[int, ...]]]:
    term_ok = [d.inhabited for d in cfg.terminals]
    good: set[int] = set()
    changed = True
    while changed:
        changed = False
        for lhs, body in cfg.rules:
            if lhs not in good and all(term_ok[~s] if s < 0 else s in good for s in body):
                good.add(lhs)
                changed = True
    return [(lhs, body) for lhs, body in cfg.rules
            if lhs in good and all(term_ok[~s] if s < 0 else s in good for s in body)]


def _nullable(rules, term_nullable: list[bool]) -> set[int]:
    out: set[int] = set()
    changed = True
    while changed:
        changed = False
        for lhs, body in rules:
            if lhs not in out and all(term_nullable[~s] if s < 0 else s in out for s in body):
                out.add(lhs)
                changed = True
    return out
