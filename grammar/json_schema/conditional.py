"""`if`/`then`/`else`: the instances that pass `if` and `then`, or that fail `if` and pass
`else`. The second part is exclusive.exclude (everything `if` may accept is left out), so
what is emitted stays a subset of the valid instances; what cannot be excluded exactly
raises GrammarError naming 'if'."""
from __future__ import annotations

from typing import Any

from ..errors import GrammarError
from ..regex.syntax import NOTHING
from .common import RecursiveSchema, SchemaConverter, alt
from .exclusive import exclude
from .merge import merge

KEYS = ("if", "then", "else")


def conditional(cv: SchemaConverter, s: dict) -> str:
    """Regex for a schema with `if` (and `then`/`else`; alone they mean nothing)."""
    rest = {k: v for k, v in s.items() if k not in KEYS}
    if "if" not in s:
        return cv.conv(rest)
    cond = cv.deep_resolve(s["if"])
    then, other = s.get("then", True), s.get("else", True)
    if cond is True or cond == {}:
        return cv.conv(merge(rest, then, cv.resolve))
    if cond is False:
        return cv.conv(merge(rest, other, cv.resolve))
    yes = merge(merge(rest, cond, cv.resolve), then, cv.resolve)
    no = merge(rest, other, cv.resolve)
    try:
        no_rx = NOTHING if no is False else exclude(cv, no, [cond])
    except RecursiveSchema:
        raise
    except GrammarError as e:
        raise GrammarError(f"JSON Schema keyword 'if' is not supported here: the 'else' side "
                           f"cannot leave out what 'if' accepts ({e})") from None
    return alt([cv.conv(yes), no_rx])


def has_conditional(s: Any) -> bool:
    return isinstance(s, dict) and any(k in s for k in KEYS)
