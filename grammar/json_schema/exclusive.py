"""`oneOf` and `not`: emit only instances that no other branch (or the negated schema) accepts.

Both keep the converter's subset guarantee with the help of superset.py: an emitted piece
is kept when it shares no text with an over-approximation of what the other schemas accept.
When a whole branch overlaps, it is split by JSON type, enum values are filtered one by one,
integral numbers are left out of a plain `number` branch, and objects leave out a property
each other schema requires (`not: {required: [...]}`, oneOf branches told apart by their
required properties); what still overlaps raises GrammarError.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..errors import GrammarError
from ..regex.syntax import NOTHING, translate
from .common import RecursiveSchema, SchemaConverter, alt
from .merge import merge
from .words import other_strings
from .superset import Approx, Superset, kinds_of_types, matches, overlaps, same_value

FRACTION = r"-?(?:0|[1-9][0-9]*)\.[0-9]*[1-9][0-9]*"  # non-integral, no exponent
_NUMERIC = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}


def one_of(cv: SchemaConverter, branches: list[Any]) -> list[str]:
    """Regexes for the branches, each limited to instances valid for that branch only."""
    out = []
    for i, b in enumerate(branches):
        try:
            out.append(exclude(cv, b, branches[:i] + branches[i + 1:]))
        except RecursiveSchema:
            raise
        except GrammarError as e:
            raise GrammarError(f"oneOf with overlapping alternatives is not supported "
                               f"(branch {i}: {e})") from None
    return out


def negate(cv: SchemaConverter, rest: Any, neg: Any) -> str:
    """Regex for `rest` without the instances `neg` may accept."""
    neg = cv.deep_resolve(neg)
    if neg is True or neg == {}:
        return NOTHING
    if neg is False:
        return cv.conv(rest)
    if isinstance(neg, dict) and "not" in neg and set(neg) <= {"not", "title", "description", "$comment"}:
        return cv.conv(merge(rest, neg["not"], cv.resolve))  # not(not(x)) is x
    try:
        return exclude(cv, rest, [neg])
    except RecursiveSchema:
        raise
    except GrammarError as e:
        raise GrammarError(f"JSON Schema keyword 'not' is not supported here ({e})") from None


def exclude(cv: SchemaConverter, s: Any, others: list[Any]) -> str:
    """Regex for `s` minus every instance some schema in `others` may accept
    (GrammarError when that is not expressible)."""
    sup = Superset(cv)
    banned = _union([sup.of(o) for o in others])
    rx = cv.conv(s)
    if rx == NOTHING or not banned or not overlaps(cv.emitted_superset(rx), matches(banned)):
        return rx
    s = cv.deep_resolve(s)
    if isinstance(s, dict) and ("enum" in s or "const" in s) and "anyOf" not in s and "oneOf" not in s:
        return cv.conv(_filter_enum(cv, s, banned, others))
    certain = set().union(*(sup.certain(o) for o in others))
    s = {} if s is True else s
    parts = []
    for t in cv.types(s) if isinstance(s, dict) else []:
        kinds = kinds_of_types([t])
        if set(kinds) <= certain:
            continue  # another schema accepts every value of this type
        piece = merge(s, {"type": t}, cv.resolve)
        rx_t = cv.conv(piece)
        near = {k: banned[k] for k in kinds if k in banned}
        if rx_t == NOTHING or not near or not overlaps(cv.emitted_superset(rx_t), matches(near)):
            parts.append(rx_t)
        elif t == "number" and "fraction" not in banned and not _NUMERIC & s.keys():
            parts.append(FRACTION)
        elif t == "object" and (fixed := _forbid_required(cv, piece, others)) is not None:
            parts.append(fixed)
        elif t == "object" and (fixed := _forbid_value(cv, piece, others)) is not None:
            parts.append(fixed)
        elif t == "string" and (fixed := _other_strings(cv, piece, others)) is not None:
            parts.append(fixed)
        else:
            raise GrammarError(f"instances of type {t!r} may also match")
    return alt(parts)


def _union(parts: list[Approx]) -> Approx:
    out: Approx = {}
    for p in parts:
        for k, rx in p.items():
            out[k] = rx if k not in out else f"(?:{out[k]}|{rx})"
    return out


def _pure_enum(s: Any) -> list[Any] | None:
    """The values of a schema that is only an enum/const (None otherwise)."""
    if isinstance(s, dict) and ("enum" in s or "const" in s) and \
            set(s) <= {"enum", "const", "title", "description", "default", "$comment"}:
        return [s["const"]] if "const" in s else list(s["enum"])
    return None


def _filter_enum(cv: SchemaConverter, s: dict, banned: Approx, others: list[Any]) -> dict:
    """The enum without values another schema may accept."""
    values = list(s["enum"]) if "enum" in s else [s["const"]]
    if "enum" in s and "const" in s:
        values = [v for v in values if same_value(v, s["const"])]
    exact = [_pure_enum(cv.deep_resolve(o)) for o in others]
    inexact = _union([Superset(cv).of(o) for o, e in zip(others, exact) if e is None])
    kept = []
    for v in values:
        if any(e is not None and any(same_value(v, w) for w in e) for e in exact):
            continue
        text = json.dumps(v, separators=(",", ":"), ensure_ascii=False)
        if not any(re.fullmatch(translate(rx), text) for rx in inexact.values()):
            kept.append(v)
    out = {k: v for k, v in s.items() if k != "const"}
    out["enum"] = kept
    return out

def _forbid_required(cv: SchemaConverter, s: dict, others: list[Any]) -> str | None:
    """Objects of `s` that lack, for every other schema accepting objects, one property that
    schema requires (so it rejects them); emitted objects only carry declared properties."""
    props, required = dict(s.get("properties", {})), set(s.get("required", []))
    sup = Superset(cv)
    for o in others:
        o = cv.deep_resolve(o)
        if "object" not in sup.of(o):
            continue
        names = [n for n in (o.get("required", []) if isinstance(o, dict) else []) if n not in required]
        if not names:
            return None
        if not any(props.get(n) is False for n in names):
            props[names[0]] = False
    return cv.conv({**s, "properties": props})


def _forbid_value(cv: SchemaConverter, s: dict, others: list[Any]) -> str | None:
    """Objects of `s` that, for every other schema accepting objects, carry one property
    that schema declares with a value it rejects (a discriminator such as
    `if: {properties: {kind: {const: "a"}}}`); None when no property allows that."""
    props, required = dict(s.get("properties", {})), list(s.get("required", []))
    sup = Superset(cv)
    for o in others:
        o = cv.deep_resolve(o)
        if "object" not in sup.of(o):
            continue
        chosen = None
        for name, theirs in (o.get("properties", {}) if isinstance(o, dict) else {}).items():
            if name not in props or props[name] is False:
                continue
            candidate = {"allOf": [props[name], {"not": theirs}]}
            try:
                if cv.conv(candidate) != NOTHING:
                    chosen = name, candidate
                    break
            except RecursiveSchema:
                raise
            except GrammarError:
                continue
        if chosen is None:
            return None
        props[chosen[0]] = chosen[1]
        required = list(dict.fromkeys(required + [chosen[0]]))
    return cv.conv({**s, "properties": props, "required": required})


_PLAIN_STRING = {"type", "title", "description", "default", "examples", "$comment"}


def _other_strings(cv: SchemaConverter, s: dict, others: list[Any]) -> str | None:
    """Plain strings (no other string keyword in `s`) that are none of the string values
    the other schemas enumerate; None unless every other schema accepting strings is a
    pure enum/const. Texts without \\u escapes, so no spelling of a banned word slips by."""
    if set(s) - _PLAIN_STRING:
        return None
    words: set[str] = set()
    sup = Superset(cv)
    for o in others:
        o = cv.deep_resolve(o)
        if "string" not in sup.of(o):
            continue
        values = _pure_enum(o)
        if values is None:
            return None
        words |= {v for v in values if isinstance(v, str)}
    return other_strings(words)
