"""minLength/maxLength next to `pattern`/`format`: narrow the pattern's own repetition to the
lengths (`fit_length`, exact), else split the length budget among its pieces (`cap_length`,
a subset).

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


def _alternatives(parts: list[str | None]) -> str | None:
    """The alternation of the branches' limited forms: None if any branch cannot be
    limited, NOTHING if none keeps a string."""
    if any(p is None for p in parts):
        return None
    kept = [p for p in parts if p != NOTHING]
    return "(?:" + "|".join(kept) + ")" if kept else NOTHING


def _bounds(node: Node, text: str) -> tuple[int, int | None]:
    return length_bounds(text[node.start:node.end])


def _fit(node: Node, text: str, lo: int, hi: int | None) -> str | None:
    if node.kind == "alt":
        return _alternatives([_fit(b, text, lo, hi) for b in node.items])
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


def cap_length(core: str, lo: int, hi: int | None) -> str | None:
    """A SUBSET of `core`'s strings, all with lo <= length <= hi, for patterns where several
    pieces vary (fit_length's exact form does not apply): the length budget is split among
    the varying pieces (e.g. `[a-z]+:[a-z]+` with maxLength 9 -> `[a-z]{1,4}:[a-z]{1,4}`),
    each piece at most PIECE_MAX long. None when a piece cannot be limited this way."""
    out = _cap(parse(core), core, lo, hi)
    if out is None or out == NOTHING:
        return out
    a, b = length_bounds(out)
    return out if a >= lo and (hi is None or (b is not None and b <= hi)) else None


SMALL_ROOM = 16  # `-?`, `\d{0,4}`: pieces served before the long ones
PIECE_MAX = 256  # a longer bounded repetition costs NFA/DFA states for little gain
_INF = 1 << 30


def _cap(node: Node, text: str, lo: int, hi: int | None) -> str | None:
    a, b = _bounds(node, text)
    if (hi is not None and a > hi) or (b is not None and b < lo):
        return NOTHING
    if a >= lo and (hi is None or (b is not None and b <= hi)):
        return text[node.start:node.end]
    if node.kind == "alt":
        return _alternatives([_cap(i, text, lo, hi) for i in node.items])
    if node.kind == "rep":
        return _cap_rep(node, text, lo, hi)
    if node.kind != "seq":
        return None
    caps = _split([_bounds(i, text) for i in node.items], hi, lo)
    if caps is None:
        return None
    parts = []
    for item, (i_lo, i_hi) in zip(node.items, caps):
        p = _cap(item, text, i_lo, i_hi)
        if p is None or p == NOTHING:
            return p
        parts.append(f"(?:{p})")
    return "".join(parts)


def _split(bounds: list[tuple[int, int | None]], hi: int | None,
           lo: int) -> list[tuple[int, int | None]] | None:
    """Per-item (min, max) lengths. Maxima (hi given): the slack above the minima goes first
    to items with at most SMALL_ROOM of room, then to the others; within a tier evenly
    (an item needing less hands the rest on), at most PIECE_MAX each. The minimum's shortfall goes
    to the items with the most room."""
    mins = [a for a, _ in bounds]
    room = [_INF if b is None else b - a for a, b in bounds]
    if hi is None:
        extra = room
    else:
        slack = hi - sum(mins)
        if slack < 0:
            return None
        extra = [0] * len(bounds)
        small = [k for k in range(len(bounds)) if 0 < room[k] <= SMALL_ROOM]
        rest = [k for k in range(len(bounds)) if room[k] > SMALL_ROOM]
        for tier in (small, rest):  # short optional bits first, then the long pieces
            for n, k in enumerate(sorted(tier, key=lambda k: room[k])):
                extra[k] = min(room[k], slack // (len(tier) - n), PIECE_MAX)
                slack -= extra[k]
    need, low = lo - sum(mins), list(mins)
    for k in sorted(range(len(bounds)), key=lambda k: -extra[k]):
        take = min(max(need, 0), extra[k])
        low[k] += take
        need -= take
    if need > 0:
        return None
    return [(low[k], None if extra[k] >= _INF else mins[k] + extra[k]) for k in range(len(bounds))]


def _cap_rep(rep: Node, text: str, lo: int, hi: int | None) -> str | None:
    """child{m,n} limited to lengths in [lo, hi]: exact for a fixed-length child; for a
    varying child the first repetition carries the minimum and, under a maximum, at most
    2 repetitions (or `m`) share it."""
    child = rep.items[0]
    c_lo, c_hi = _bounds(child, text)
    src = text[child.start:child.end]
    if c_lo == c_hi:
        return _fit_rep(rep, text, lo, hi) if c_lo > 0 else (src if lo == 0 else NOTHING)
    if hi is None:
        if rep.lo < 1:
            return None
        first = _cap(child, text, lo, None)
        if first is None or first == NOTHING:
            return first
        n_hi = "" if rep.hi is None else rep.hi - 1
        return f"(?:{first})(?:{src}){{{rep.lo - 1},{n_hi}}}"
    if rep.lo == 0 and hi < c_lo:
        return ""  # no repetition fits
    count = max(rep.lo, 1, min(2 if rep.hi is None else rep.hi, 2))
    while count > max(rep.lo, 1) and hi // count < max(c_lo, 1):
        count -= 1
    share = hi // count
    if lo > 0 and lo > rep.lo * c_lo:
        if rep.lo != 1 or lo > share:
            return None
        first = _cap(child, text, lo, share)  # the one repetition carries the minimum
        return first if first is None or first == NOTHING or count == 1 else \
            f"(?:{first})(?:{_cap(child, text, 0, share)}){{0,{count - 1}}}"
    inner = _cap(child, text, 0, share)
    if inner is None or inner == NOTHING:
        return inner
    return f"(?:{inner}){{{rep.lo},{count}}}"
