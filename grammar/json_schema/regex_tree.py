"""Split a converter regex that contains rule placeholders into Lark syntax.

The JSON Schema converter composes Python-`re` text; in CFG mode a recursive `$ref` becomes
one placeholder character (see `placeholder`). `to_lark` parses that text into a small tree
(groups, alternation, quantifiers, atoms), keeps every placeholder-free, non-nullable
subtree as ONE regex terminal (its exact source text: converter regexes are already
normalized, their patterns and formats went through `translate`, so it is not parsed again), and
spells the rest in Lark's operators. Lark's dynamic Earley rejects zero-width terminals,
so nullable regular parts are split further (`x*`, `x?`) until their pieces are not.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..budget import check
from ..errors import GrammarError
from ..regex.syntax import NOTHING

PLACEHOLDER_BASE = 0xF0000  # Supplementary Private Use Area-A
PLACEHOLDER_LIMIT = 0xFFFFD


def placeholder(i: int) -> str:
    """The character standing for rule number `i` inside converter regexes."""
    if PLACEHOLDER_BASE + i > PLACEHOLDER_LIMIT:
        raise GrammarError("recursive schema has too many $ref targets")
    return chr(PLACEHOLDER_BASE + i)


def is_placeholder(ch: str) -> bool:
    return PLACEHOLDER_BASE <= ord(ch) <= PLACEHOLDER_LIMIT


@dataclass
class Node:
    """kind: 'atom' | 'seq' | 'alt' | 'rep'; [start, end) is the source span."""
    kind: str
    start: int
    end: int
    items: list["Node"] = field(default_factory=list)
    lo: int = 1
    hi: int | None = 1
    rule: int | None = None  # atoms that are placeholders
    regular: bool = True
    nullable: bool = False


class _Parser:
    def __init__(self, text: str):
        self.s, self.i = text, 0

    def alt(self) -> Node:
        start, branches = self.i, [self.seq()]
        while self.i < len(self.s) and self.s[self.i] == "|":
            self.i += 1
            branches.append(self.seq())
        if len(branches) == 1:
            return branches[0]
        return _finish(Node("alt", start, self.i, branches))

    def seq(self) -> Node:
        start, items = self.i, []
        while self.i < len(self.s) and self.s[self.i] not in "|)":
            items.append(self.quantified(self.atom()))
        return _finish(Node("seq", start, self.i, items))

    def atom(self) -> Node:
        check("splitting the schema into rules")
        s, start = self.s, self.i
        c = s[start]
        if c == "(":
            self.i += 3 if s.startswith("(?:", start) else 1
            if s.startswith("(?", start) and not s.startswith("(?:", start):
                raise GrammarError(f"regex construct at {s[start:start + 4]!r} is not supported here")
            inner = self.alt()
            if self.i >= len(s) or s[self.i] != ")":
                raise GrammarError("unbalanced parenthesis in converter regex")
            self.i += 1
            return Node("seq", start, self.i, [inner], regular=inner.regular, nullable=inner.nullable)
        if c == "[":
            j = start + 1 + (s[start + 1] == "^")
            j += s[j] == "]"
            while s[j] != "]":
                j += 2 if s[j] == "\\" else 1
            self.i = j + 1
        elif c == "\\":
            self.i = start + (4 if s[start + 1] == "x" else 2)
        else:
            self.i = start + 1
            if is_placeholder(c):
                return Node("atom", start, self.i, rule=ord(c) - PLACEHOLDER_BASE, regular=False)
        return Node("atom", start, self.i)

    def quantified(self, node: Node) -> Node:
        s, i = self.s, self.i
        if i >= len(s) or s[i] not in "*+?{":
            return node
        if s[i] == "{":
            j = s.index("}", i)
            lo_s, _, hi_s = s[i + 1:j].partition(",")
            lo = int(lo_s)
            hi = lo if "," not in s[i + 1:j] else (int(hi_s) if hi_s else None)
            self.i = j + 1
        else:
            lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[s[i]]
            self.i = i + 1
        if self.i < len(s) and s[self.i] == "?":  # lazy: same language
            self.i += 1
        return Node("rep", node.start, self.i, [node], lo, hi, regular=node.regular,
                    nullable=lo == 0 or node.nullable)


def _finish(node: Node) -> Node:
    node.regular = all(n.regular for n in node.items)
    if node.kind == "alt":
        node.nullable = any(n.nullable for n in node.items)
    else:
        node.nullable = all(n.nullable for n in node.items)
    return node


def parse(text: str) -> Node:
    p = _Parser(text)
    node = p.alt()
    if p.i != len(text):
        raise GrammarError("unbalanced parenthesis in converter regex")
    return node


class LarkWriter:
    """Turns converter regexes into Lark expressions; `rule_name(i)` names placeholders."""

    def __init__(self, rule_name) -> None:
        self.rule_name = rule_name

    def expr(self, text: str) -> str:
        """A Lark expression for the regex `text` ('' only when it matches just '')."""
        return self.node(parse(text), text)

    def terminal(self, src: str) -> str:
        rx = src.replace("/", "\\/").replace(NOTHING, "\\ud800")
        return f"/{rx}/"

    def node(self, n: Node, text: str) -> str:
        if n.regular and not n.nullable:
            return self.terminal(text[n.start:n.end])
        if n.kind == "atom":
            return self.rule_name(n.rule)
        if n.kind == "alt":
            parts = [self.node(b, text) for b in n.items]
            alts = list(dict.fromkeys(p for p in parts if p))
            if not alts:
                return ""
            body = "(" + " | ".join(alts) + ")"
            return body + "?" if "" in parts else body
        if n.kind == "rep":
            inner = self.node(n.items[0], text)
            if not inner:
                return ""
            if n.items[0].nullable:  # (x?){lo,hi} == x{0,hi}: nullable item, keep it simple
                return f"({inner})*" if n.hi is None else f"({inner})" + (f" ~ 0..{n.hi}" if n.hi > 1 else "?")
            return _repeat(inner, n.lo, n.hi)
        return self.seq(n, text)

    def seq(self, n: Node, text: str) -> str:
        out: list[str] = []
        run: list[Node] = []  # adjacent regular items, merged into one terminal when possible

        def flush() -> None:
            if not run:
                return
            if any(not r.nullable for r in run):
                out.append(self.terminal(text[run[0].start:run[-1].end]))
            else:
                out.extend(p for p in (self.node(r, text) for r in run) if p)
            run.clear()

        for item in n.items:
            if item.regular:
                run.append(item)
                continue
            flush()
            part = self.node(item, text)
            if part:
                out.append(part)
        flush()
        return " ".join(out) if len(out) < 2 else "(" + " ".join(out) + ")"


def _repeat(inner: str, lo: int, hi: int | None) -> str:
    x = f"({inner})"
    if hi is None:
        return {0: f"{x}*", 1: f"{x}+"}.get(lo, f"({x} ~ {lo} {x}*)")
    if (lo, hi) == (0, 1):
        return f"{x}?"
    if lo == hi:
        return f"{x} ~ {lo}" if lo > 1 else x
    return f"{x} ~ {lo}..{hi}"


def length_bounds(text: str) -> tuple[int, int | None]:
    """(min, max) number of characters a placeholder-free regex matches (max None = unbounded)."""
    def walk(n: Node) -> tuple[int, int | None]:
        if n.kind == "atom":
            return 1, 1
        if n.kind == "rep":
            lo, hi = walk(n.items[0])
            return lo * n.lo, None if hi is None or n.hi is None else hi * n.hi
        parts = [walk(i) for i in n.items]
        if n.kind == "alt":
            his = [h for _, h in parts]
            return min(lo for lo, _ in parts), None if None in his else max(his)
        his = [h for _, h in parts]
        return sum(lo for lo, _ in parts), None if None in his else sum(his)
    return walk(parse(text))
