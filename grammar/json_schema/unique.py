"""`uniqueItems` over a small finite item domain (enums, consts, booleans, null): arrays of
distinct values, spelled out as a tree of choices. Other item schemas, or domains whose
distinct arrays would be too many, raise GrammarError naming 'uniqueItems'."""
from __future__ import annotations

import json
import re
from typing import Any

from ..errors import GrammarError
from ..regex.syntax import NOTHING, translate
from .common import SchemaConverter, alt, counts, literal
from .superset import same_value

MAX_ARRAYS = 2000  # distinct arrays at most (sum over lengths of k! / (k - n)!)
_PLAIN = {"title", "description", "default", "examples", "$comment"}


def _domain(cv: SchemaConverter, items: Any) -> list[Any] | None:
    """The finite list of values `items` accepts, or None."""
    items = cv.deep_resolve(items)
    if not isinstance(items, dict):
        return None
    keys = set(items) - _PLAIN
    if keys <= {"type", "enum", "const"} and ("enum" in items or "const" in items):
        values = [items["const"]] if "const" in items else list(items["enum"])
        rx = cv.conv(items)  # the converter's own filter (type next to enum)
        check = re.compile(translate(rx)) if rx != NOTHING else None
        values = [v for v in values if check is not None and check.fullmatch(_text(v))]
    elif keys == {"type"} and items["type"] in ("boolean", "null"):
        values = [True, False] if items["type"] == "boolean" else [None]
    else:
        return None
    out: list[Any] = []
    for v in values:
        if not any(same_value(v, w) for w in out):
            out.append(v)
    return out


def _text(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def unique_array(cv: SchemaConverter, s: dict) -> str:
    """Regex for an array with uniqueItems over a finite domain (see the module doc)."""
    if "prefixItems" in s or isinstance(s.get("items"), list) or "contains" in s:
        raise GrammarError("JSON Schema keyword 'uniqueItems' is only supported with a plain "
                           "'items' schema")
    values = _domain(cv, s.get("items", True))
    if values is None:
        raise GrammarError("JSON Schema keyword 'uniqueItems' is only supported when 'items' "
                           "is an enum, a const, boolean or null")
    lo, hi = counts(s, "minItems", "maxItems")
    k = len(values)
    hi = k if hi is None else min(hi, k)
    total, perm = 0, 1
    for n in range(1, hi + 1):
        perm *= k - n + 1
        total += perm
    if total > MAX_ARRAYS:
        raise GrammarError(f"JSON Schema keyword 'uniqueItems' over {k} values is too large "
                           f"(over {MAX_ARRAYS} distinct arrays)")
    lits = [literal(v) for v in values]
    ws, sep = cv.ws, f"{cv.ws},{cv.ws}"

    def rest(used: frozenset, n: int) -> str:  # n items emitted so far (n >= 1)
        more = [sep + lits[i] + rest(used | {i}, n + 1) for i in range(k) if i not in used] \
            if n < hi else []
        parts = ([""] if n >= lo else []) + more
        return alt(parts) if parts else NOTHING

    first = [lits[i] + rest(frozenset([i]), 1) for i in range(k)] if hi >= 1 else []
    body = alt(([""] if lo == 0 else []) + first)
    return NOTHING if body == NOTHING else rf"\[{ws}{body}{ws}\]"
