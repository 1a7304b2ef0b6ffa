"""Intermediate representation: regular expressions (Expr) and the byte-level CFG."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union


@dataclass(frozen=True)
class Lit:
    """A literal byte string."""
    data: bytes


@dataclass(frozen=True)
class Cls:
    """One character from a set of code point ranges (inclusive)."""
    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Regex:
    """A Python-syntax regular expression (parsed with interegular)."""
    pattern: str


@dataclass(frozen=True)
class Seq:
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class Alt:
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class Rep:
    """`item` repeated lo..hi times (hi None = unbounded)."""
    item: "Expr"
    lo: int
    hi: Optional[int]


@dataclass(frozen=True)
class Ref:
    """A reference to another rule by name."""
    name: str


Expr = Union[Lit, Cls, Regex, Seq, Alt, Rep, Ref]


def term(t: int) -> int:
    """Symbol code of terminal `t` inside a rule body (terminals are negative)."""
    return ~t


@dataclass
class Cfg:
    """A CFG whose terminals are byte DFAs.

    rules: (lhs nonterminal id, body) where body symbols are nonterminal ids (>= 0)
    or `term(t)` (< 0) for terminal t (an index into `terminals`).
    """
    names: list[str]
    rules: list[tuple[int, tuple[int, ...]]]
    terminals: list  # list[ByteDfa]
    terminal_names: list[str]
    start: int
