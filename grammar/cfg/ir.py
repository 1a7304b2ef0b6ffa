"""Intermediate representation: rule bodies (Expr = regular IR + Ref) and the byte-level CFG."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..regex.ir import Alt, Cls, Lit, Regex, Rep, Seq


@dataclass(frozen=True)
class Ref:
    """A reference to another rule by name."""
    name: str


Expr = Union[Lit, Cls, Regex, Seq, Alt, Rep, Ref]
__all__ = ["Alt", "Cfg", "Cls", "Expr", "Lit", "Ref", "Regex", "Rep", "Seq", "term"]


def term(t: int) -> int:
    """Symbol code of terminal `t` inside a rule body (terminals are negative)."""
    return ~t


@dataclass
class Cfg:
    """A CFG whose terminals are byte DFAs (`LazyTerminal`s: built on first use).

    rules: (lhs nonterminal id, body) where body symbols are nonterminal ids (>= 0)
    or `term(t)` (< 0) for terminal t (an index into `terminals`).
    """
    names: list[str]
    rules: list[tuple[int, tuple[int, ...]]]
    terminals: list  # list[cfg.terminal.LazyTerminal]
    terminal_names: list[str]
    start: int
