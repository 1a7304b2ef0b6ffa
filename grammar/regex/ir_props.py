"""Language facts read off a regular IR expression without building an automaton: whether
it matches the empty string, any string at all, or some non-empty string. Exact for the
IR (no intersection or complement), so they equal what its DFA says (parity tests).
Not memoized: hashing a frozen IR tree costs as much as walking it."""
from __future__ import annotations

from . import charset as cs
from .ir import Alt, Cls, Lit, Regex, RegularExpr, Rep, Seq
from .parse import parse_regex


def nullable(e: RegularExpr) -> bool:
    """Whether `e` matches the empty string."""
    if isinstance(e, Lit):
        return not e.data
    if isinstance(e, Cls):
        return False
    if isinstance(e, Seq):
        return all(nullable(i) for i in e.items)
    if isinstance(e, Alt):
        return any(nullable(i) for i in e.items)
    if isinstance(e, Rep):
        return e.lo == 0 or nullable(e.item)
    if isinstance(e, Regex):
        return nullable(parse_regex(e.pattern))
    raise TypeError(f"not a regular expression: {e!r}")


def inhabited(e: RegularExpr) -> bool:
    """Whether `e` matches at least one string (its language is not empty)."""
    if isinstance(e, Lit):
        return True
    if isinstance(e, Cls):
        return bool(cs.intersect(cs.normalize(list(e.ranges)), cs.ANY))
    if isinstance(e, Seq):
        return all(inhabited(i) for i in e.items)
    if isinstance(e, Alt):
        return any(inhabited(i) for i in e.items)
    if isinstance(e, Rep):
        return e.lo == 0 or inhabited(e.item)
    if isinstance(e, Regex):
        return inhabited(parse_regex(e.pattern))
    raise TypeError(f"not a regular expression: {e!r}")


def has_nonempty(e: RegularExpr) -> bool:
    """Whether `e` matches some string of at least one byte."""
    if isinstance(e, Lit):
        return bool(e.data)
    if isinstance(e, Cls):
        return inhabited(e)
    if isinstance(e, Seq):
        return all(inhabited(i) for i in e.items) and any(has_nonempty(i) for i in e.items)
    if isinstance(e, Alt):
        return any(has_nonempty(i) for i in e.items)
    if isinstance(e, Rep):
        return (e.hi is None or e.hi > 0) and has_nonempty(e.item)
    if isinstance(e, Regex):
        return has_nonempty(parse_regex(e.pattern))
    raise TypeError(f"not a regular expression: {e!r}")
