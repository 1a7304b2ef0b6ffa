"""Up-front size estimates of the NFA `ByteNfa.add` builds for an IR expression (cheap, no
state built), so a grammar that could never be built fails at once."""
from __future__ import annotations

from functools import lru_cache

from ..errors import GrammarError
from . import charset as cs
from .ir import Alt, Cls, Lit, Regex, RegularExpr, Rep, Seq
from .parse import parse_regex

MAX_NFA_STATES = 600_000  # a larger NFA would not be built (and walked) within the compile budget


def check_size(expr: RegularExpr, existing: int = 0) -> None:
    """GrammarError when adding `expr` to an NFA of `existing` states would pass
    MAX_NFA_STATES (by an upper-bound estimate: cheap, no state is built)."""
    size = _size(expr, {})
    if existing + size > MAX_NFA_STATES:
        raise GrammarError(f"grammar too large (about {size} NFA states, over "
                           f"{MAX_NFA_STATES}; long bounded repeats multiply)")


def _size(expr: RegularExpr, memo: dict[int, int]) -> int:
    """An upper-bound estimate of the NFA states `ByteNfa.add` creates for `expr`; `memo` by
    node identity (parse.py shares equal sub-expressions; hashing deep IR would cost more)."""
    if isinstance(expr, Regex):
        return _pattern_size(expr.pattern)
    n = memo.get(id(expr))
    if n is not None:
        return n
    if isinstance(expr, Lit):
        n = len(expr.data)
    elif isinstance(expr, Cls):  # the end state plus shared UTF-8 tails (about one per range)
        n = 1 + sum(len(chr(min(hi, cs.MAX_CP)).encode("utf-8", "surrogatepass")) - 1
                    for _lo, hi in expr.ranges)
    elif isinstance(expr, (Seq, Alt)):
        n = 2 * len(expr.items) + sum(_size(i, memo) for i in expr.items)
    elif isinstance(expr, Rep):
        n = 2 + _size(expr.item, memo) * max(expr.lo + 1, expr.hi or 0)
    else:
        n = 1
    memo[id(expr)] = n
    return n


@lru_cache(maxsize=4096)
def _pattern_size(pattern: str) -> int:
    return _size(parse_regex(pattern), {})
