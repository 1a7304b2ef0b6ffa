"""`unevaluatedProperties` / `unevaluatedItems` where the evaluated set is static.

When the only in-place applicators are `$ref` and `allOf` (all of which must pass), the
properties (items) they evaluate are those of the merged schema, so the keyword becomes
that merged schema's `additionalProperties` (`items`). `anyOf`/`oneOf` are left to the
converter, which merges this schema into each branch (exact for oneOf, a subset for anyOf).
Anything dynamic (`if`, `dependentSchemas`, `contains`, or a subschema merged in place
that has its own `unevaluated*`) raises GrammarError naming the keyword.
"""
from __future__ import annotations

from typing import Any

from ..errors import GrammarError
from .common import SchemaConverter

KEYS = ("unevaluatedProperties", "unevaluatedItems")
_DYNAMIC = ("if", "then", "else", "dependentSchemas", "dependencies", "$dynamicRef")


def has_unevaluated(s: Any) -> bool:
    return isinstance(s, dict) and any(k in s for k in KEYS)


def _in_place(cv: SchemaConverter, s: Any, depth: int = 0) -> list[Any]:
    """Subschemas applied to the same instance as `s` (through $ref, allOf, anyOf, oneOf)."""
    if not isinstance(s, dict) or depth > 32:
        return []
    out = []
    subs = list(s.get("allOf", [])) + list(s.get("anyOf", [])) + list(s.get("oneOf", []))
    if "$ref" in s:
        subs.append(cv.lookup(s["$ref"]))
    for sub in subs:
        out.append(sub)
        out.extend(_in_place(cv, sub, depth + 1))
    return out


def static_unevaluated(cv: SchemaConverter, s: dict) -> Any:
    """An equivalent schema without unevaluated* at its top (see the module docstring)."""
    keys = [k for k in KEYS if k in s]
    name = keys[0]
    for k in _DYNAMIC:
        if k in s:
            raise GrammarError(f"JSON Schema keyword {name!r} next to {k!r} is not supported")
    if "unevaluatedItems" in s and "contains" in s:
        raise GrammarError("JSON Schema keyword 'unevaluatedItems' next to 'contains' is not supported")
    for sub in _in_place(cv, s):
        if has_unevaluated(sub) or (isinstance(sub, dict) and any(k in sub for k in _DYNAMIC)):
            raise GrammarError(f"JSON Schema keyword {name!r} over subschemas that are "
                               "conditional or have their own unevaluated* is not supported")
    rest = {k: v for k, v in s.items() if k not in KEYS}
    merged = cv.deep_resolve(rest)
    if not isinstance(merged, dict):
        return merged
    if "anyOf" in merged or "oneOf" in merged:
        return {**merged, **{k: s[k] for k in keys}}  # per branch, by the converter
    out = dict(merged)
    if "unevaluatedProperties" in s and "additionalProperties" not in out:
        out["additionalProperties"] = s["unevaluatedProperties"]
    if "unevaluatedItems" in s:
        u = s["unevaluatedItems"]
        if isinstance(out.get("items"), list):
            out.setdefault("additionalItems", u)
        elif "items" not in out:
            out["items"] = u
    return out
