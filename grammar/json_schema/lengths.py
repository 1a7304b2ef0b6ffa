"""minLength/maxLength next to `pattern`: narrow the pattern's own repetition to the lengths.

Exact when, in every top-level alternative, at most one item varies in length and it is a
repetition of a fixed-length piece (or a group that again has that shape); e.g.
`^[a-z0-9-]+$` with maxLength 63 becomes `[a-z0-9-]{1,63}`. Anything else returns None
(the caller reports the keyword as unsupported).
"""
from __future__ import annotations

from ..regex.syntax import NOTHING
from .regex_tree import Node, length_bounds, parse


def fit_length(core: str, lo: int, hi: int | None) -> str | None:
    """A regex for the strings of `core` with lo <= length <= hi, or None."""
    return _fit(parse(core), core, lo, hi)


def _bounds(node: Node, text: str) -> tuple[int, int | None]:
    return length_bounds(text[node.start:node.end])


def _fit(node: Node, text: str, lo: int, hi: int | None) -> str | None:
    if node.kind == "alt":
        parts = [_fit(b, text, lo, hi) for b in node.items]
        if any(p is None for p in parts):
            return None
        kept = [p for p in parts if p != NOTHING]
        return "(?:" + "|".join(kept) + ")" if kept else NOTHING
    items = node.items if node.kind == "seq" else [node]
    bounds = [_bounds(i, text) for i in items]
    variable = [k for k, (a, b) in enumerate(bounds) if a != b]
    fixed = sum(a for k, (a, _) in enumerate(bounds) if k not in variable)
    if not variable:
        return text[node.start:node.end] if fixed >= lo and (hi is None or fixed <= hi) else NOTHING
    if len(variable) > 1:
        return None
    k = variable[0]
    item = items[k]
    sub_lo, sub_hi = max(lo - fixed, 0), None if hi is None else hi - fixed
    if sub_hi is not None and sub_hi < 0:
        return NOTHING
    if item.kind == "rep":
        inner = _fit_rep(item, text, sub_lo, sub_hi)
    elif item.kind in ("seq", "alt") and item is not node:
        inner = _fit(item, text, sub_lo, sub_hi)
        inner = None if inner is None else inner if inner == NOTHING else f"(?:{inner})"
    else:
        return None
    if inner is None or inner == NOTHING:
        return inner
    return "".join(text[i.start:i.end] if j != k else inner for j, i in enumerate(items))


def _fit_rep(rep: Node, text: str, lo: int, hi: int | None) -> str | None:
    """child{a,b} limited to total lengths in [lo, hi] (child of fixed length)."""
    child = rep.items[0]
    c_lo, c_hi = _bounds(child, text)
    if c_lo != c_hi or c_lo == 0:
        return None
    n_lo = max(rep.lo, -(-lo // c_lo))
    n_hi = rep.hi if hi is None else (hi // c_lo if rep.hi is None else min(rep.hi, hi // c_lo))
    if n_hi is not None and n_lo > n_hi:
        return NOTHING
    return f"(?:{text[child.start:child.end]}){{{n_lo},{'' if n_hi is None else n_hi}}}"
