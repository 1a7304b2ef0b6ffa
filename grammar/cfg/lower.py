"""Lower rules of `Expr` bodies into a `Cfg`: maximal regular pieces become terminals (their
DFAs built on first use, see terminal.py)."""
from __future__ import annotations

from ..budget import check
from ..errors import GrammarError
from ..regex.ir_props import has_nonempty
from .ir import Alt, Cfg, Cls, Expr, Lit, Ref, Regex, Rep, Seq, term
from .terminal import LazyTerminal

MAX_DFA_STATES = 20000  # per terminal


def lower(rules: dict[str, Expr], start: str) -> Cfg:
    """Build the byte-level CFG for `rules`, starting at rule `start`."""
    return _Lowerer(rules).run(start)


def _refs(e: Expr):
    if isinstance(e, Ref):
        yield e.name
    elif isinstance(e, (Seq, Alt)):
        for i in e.items:
            yield from _refs(i)
    elif isinstance(e, Rep):
        yield from _refs(e.item)


def _is_regular(e: Expr) -> bool:
    return next(_refs(e), None) is None


class _Lowerer:
    def __init__(self, rules: dict[str, Expr]) -> None:
        self.src = rules
        for name, body in rules.items():
            for ref in _refs(body):
                if ref not in rules:
                    raise GrammarError(f"rule {name!r} refers to undefined rule {ref!r}")
        self.inlined: dict[str, Expr] = {}
        self.names: list[str] = []
        self.ids: dict[str, int] = {}
        self.rules: list[tuple[int, tuple[int, ...]]] = []
        self.terminals: list[LazyTerminal] = []
        self.terminal_names: list[str] = []
        self.term_ids: dict[Expr, int] = {}
        self.helpers: dict[Expr, int] = {}

    def run(self, start: str) -> Cfg:
        self._find_regular()
        root = self._nonterminal(start)
        todo = [start]
        done = set()
        while todo:  # lower every rule reachable from the start
            check("lowering the grammar")
            name = todo.pop()
            if name in done:
                continue
            done.add(name)
            body = self._inline(self.src[name])
            lhs = self._nonterminal(name)
            for alt in self._alternatives(body):
                self.rules.append((lhs, self._sequence(alt, todo)))
        return Cfg(self.names, self.rules, self.terminals, self.terminal_names, root)

    def _find_regular(self) -> None:
        """Rules whose bodies expand (non-recursively) to regular expressions get inlined."""
        state: dict[str, int] = {}  # 1 = visiting, 2 = done

        def visit(name: str) -> bool:
            if state.get(name) == 1:
                return False
            if state.get(name) == 2:
                return name in self.inlined
            state[name] = 1
            ok = all([visit(r) for r in set(_refs(self.src[name]))])
            state[name] = 2
            if ok:
                self.inlined[name] = self._inline(self.src[name])
            return ok

        for name in self.src:
            visit(name)

    def _inline(self, e: Expr) -> Expr:
        if isinstance(e, Ref):
            return self.inlined.get(e.name, e)
        if isinstance(e, Seq):
            return Seq(tuple(self._inline(i) for i in e.items))
        if isinstance(e, Alt):
            return Alt(tuple(self._inline(i) for i in e.items))
        if isinstance(e, Rep):
            return Rep(self._inline(e.item), e.lo, e.hi)
        return e

    def _nonterminal(self, name: str) -> int:
        if name not in self.ids:
            self.ids[name] = len(self.names)
            self.names.append(name)
        return self.ids[name]

    def _alternatives(self, e: Expr) -> list[Expr]:
        if isinstance(e, Alt) and not _is_regular(e):
            return [a for i in e.items for a in self._alternatives(i)]
        return [e]

    def _sequence(self, e: Expr, todo: list[str]) -> tuple[int, ...]:
        items = list(_flatten(e))
        out: list[int] = []
        run: list[Expr] = []
        for item in items + [None]:
            if item is not None and _is_regular(item):
                run.append(item)
                continue
            if run:
                t = self._terminal(run[0] if len(run) == 1 else Seq(tuple(run)))
                if t is not None:
                    out.append(term(t))
                run = []
            if item is not None:
                out.append(self._symbol(item, todo))
        return tuple(out)

    def _symbol(self, e: Expr, todo: list[str]) -> int:
        if isinstance(e, Ref):
            todo.append(e.name)
            return self._nonterminal(e.name)
        if e in self.helpers:
            return self.helpers[e]
        nt = self._nonterminal(f"__helper{len(self.helpers)}")
        self.helpers[e] = nt
        if isinstance(e, Alt):
            for alt in self._alternatives(e):
                self.rules.append((nt, self._sequence(alt, todo)))
        elif isinstance(e, Rep):
            self._repetition(nt, e, todo)
        else:
            self.rules.append((nt, self._sequence(e, todo)))
        return nt

    def _repetition(self, nt: int, e: Rep, todo: list[str]) -> None:
        item = self._symbol(e.item, todo)
        prefix = (item,) * e.lo
        if e.hi is None:  # nt -> item^lo loop ; loop -> loop item | ε  (left recursion: Earley-friendly)
            loop = self._nonterminal(f"__loop{len(self.helpers)}_{nt}")
            self.rules += [(loop, ()), (loop, (loop, item)), (nt, prefix + (loop,))]
            return
        opt: tuple[int, ...] = ()
        for k in range(e.hi - e.lo):  # nested optionals: o_k -> ε | item o_{k-1}
            o = self._nonterminal(f"__opt{k}_{nt}")
            self.rules += [(o, ()), (o, (item,) + opt)]
            opt = (o,)
        self.rules.append((nt, prefix + opt))

    def _terminal(self, e: Expr) -> int | None:
        if e in self.term_ids:
            return self.term_ids[e]
        check("lowering the grammar")
        terminal = LazyTerminal(e, MAX_DFA_STATES)
        if terminal.nullable and not has_nonempty(e):
            self.term_ids[e] = None  # matches only the empty string: drop it
            return None
        self.term_ids[e] = len(self.terminals)
        self.terminals.append(terminal)
        self.terminal_names.append(_describe(e))
        return self.term_ids[e]


def _flatten(e: Expr):
    if isinstance(e, Seq):
        for i in e.items:
            yield from _flatten(i)
    else:
        yield e


def _describe(e: Expr) -> str:
    if isinstance(e, Lit):
        return repr(e.data)
    if isinstance(e, Regex):
        return f"/{e.pattern}/"
    if isinstance(e, Cls):
        return "[class]"
    return type(e).__name__.lower()
