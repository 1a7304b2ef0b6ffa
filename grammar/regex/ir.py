"""Regular expressions as data: the IR that both the regex path and CFG terminals compile."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union


@dataclass(frozen=True)
class Lit:
    """A literal byte string."""
    data: bytes


@dataclass(frozen=True)
class Cls:
    """One character from a set of code point ranges (inclusive; surrogates never match)."""
    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Regex:
    """A Python-`re`-syntax regular expression (full match; see parse.py for the subset)."""
    pattern: str


@dataclass(frozen=True)
class Seq:
    items: tuple["RegularExpr", ...]


@dataclass(frozen=True)
class Alt:
    items: tuple["RegularExpr", ...]


@dataclass(frozen=True)
class Rep:
    """`item` repeated lo..hi times (hi None = unbounded)."""
    item: "RegularExpr"
    lo: int
    hi: Optional[int]


RegularExpr = Union[Lit, Cls, Regex, Seq, Alt, Rep]
