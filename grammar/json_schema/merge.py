"""allOf as a real merge of (already $ref-resolved) subschemas into one schema."""
from __future__ import annotations

import json
from typing import Any, Callable

from ..errors import GrammarError

_TYPES = {"string", "number", "integer", "boolean", "null", "array", "object"}
VALIDATION = {  # the keywords that decide validity (format included: it is asserted here)
    "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "format", "maxItems", "minItems",
    "uniqueItems", "maxContains", "minContains", "contains", "items", "prefixItems",
    "additionalItems", "unevaluatedItems", "maxProperties", "minProperties", "required",
    "properties", "patternProperties", "additionalProperties", "propertyNames",
    "unevaluatedProperties", "dependentRequired", "dependentSchemas", "dependencies",
    "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref", "$dynamicRef",
    "$recursiveRef"}


def _types(s: dict) -> set[str] | None:
    t = s.get("type")
    if t is None:
        return None
    return {t} if isinstance(t, str) else set(t)


def _merge_types(a: set[str] | None, b: set[str] | None) -> set[str] | None:
    if a is None or b is None:
        return a if b is None else b
    out = a & b
    if "integer" in a and "number" in b or "number" in a and "integer" in b:
        out.add("integer")
    return out


def _canon(v: Any) -> str:
    return json.dumps(v, sort_keys=True)


def merge(a: Any, b: Any, resolve: Callable[[Any], Any]) -> Any:
    """Schema accepting exactly the instances both accept (or GrammarError)."""
    a, b = resolve(a), resolve(b)
    if a is True or a == {}:
        return b
    if b is True or b == {}:
        return a
    if a is False or b is False:
        return False
    for side in (a, b):
        if isinstance(side, dict) and ("unevaluatedProperties" in side or "unevaluatedItems" in side):
            raise GrammarError("'unevaluatedProperties'/'unevaluatedItems' inside allOf, a $ref "
                               "with siblings or a oneOf/anyOf branch is not supported")
    if ("prefixItems" in a or "prefixItems" in b) and _canon(a.get("prefixItems")) != _canon(b.get("prefixItems")):
        raise GrammarError("allOf: cannot merge arrays with different 'prefixItems'")
    out = dict(a)
    for k, v in b.items():
        if k not in out:
            out[k] = v
            continue
        w = out[k]
        if _canon(w) == _canon(v):
            continue
        if k == "type":
            t = _merge_types(_types(a), _types(b))
            out[k] = sorted(t) if t else []
        elif k in ("minimum", "minLength", "minItems", "minProperties") and not isinstance(v, bool):
            out[k] = max(w, v)
        elif k in ("maximum", "maxLength", "maxItems", "maxProperties") and not isinstance(v, bool):
            out[k] = min(w, v)
        elif k == "exclusiveMinimum" and not isinstance(v, bool) and not isinstance(w, bool):
            out[k] = max(w, v)
        elif k == "exclusiveMaximum" and not isinstance(v, bool) and not isinstance(w, bool):
            out[k] = min(w, v)
        elif k == "required":
            out[k] = list(dict.fromkeys(list(w) + list(v)))
        elif k in ("enum", "const"):
            wv = w if k == "enum" else [w]
            vv = {_canon(x) for x in (v if k == "enum" else [v])}
            out.pop("const", None)
            out["enum"] = [x for x in wv if _canon(x) in vv]
        elif k == "properties":
            out[k] = _merge_props(a, b, resolve)
        elif k in ("items", "additionalProperties", "propertyNames"):
            out[k] = merge(w, v, resolve)
        elif k in ("anyOf", "oneOf"):  # exactly one of each <=> exactly one pair
            out[k] = [merge(x, y, resolve) for x in w for y in v]
            if len(out[k]) > 64:
                raise GrammarError(f"allOf of two large {k} lists is not supported")
        elif k == "not":
            out[k] = {"anyOf": [w, v]}
        elif k not in VALIDATION:  # annotations, $defs, vendor keywords: the first one stays
            continue
        else:
            raise GrammarError(f"allOf: cannot merge two different {k!r} keywords")
    if "enum" in out and "const" in a and "const" in b:
        out.pop("const", None)
    _restrict_props(out, a, b, resolve)
    return out


def _merge_props(a: dict, b: dict, resolve) -> dict:
    pa, pb = a.get("properties", {}), b.get("properties", {})
    out = dict(pa)
    for k, v in pb.items():
        out[k] = merge(pa[k], v, resolve) if k in pa else v
    return out


def _restrict_props(out: dict, a: dict, b: dict, resolve) -> None:
    """A property declared only on one side is 'additional' to the other side."""
    props = dict(out.get("properties", {}))
    for side, other in ((a, b), (b, a)):
        addl = side.get("additionalProperties", True)
        if addl is True or "patternProperties" in side:
            continue
        for name in other.get("properties", {}):
            if name not in side.get("properties", {}):
                props[name] = merge(props[name], addl, resolve)
    if props:
        out["properties"] = props
