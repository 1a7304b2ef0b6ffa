"""Arrays and objects for the JSON Schema converter (see convert.py for the policies)."""
from __future__ import annotations

import json
import re
from typing import Any

from ..errors import GrammarError
from ..regex.syntax import NOTHING, translate
from .common import RAW, STRING, SchemaConverter, alt, counts, literal
from .key_order import any_order
from .members import extra_key, open_members
from .merge import merge
from .superset import overlaps
from .unique import unique_array


def _rest(cv: SchemaConverter, first: str, more: list[str], tail: str, lo: int, hi: int | None) -> str:
    """`first` then elements: fixed `more` (each optional positionally) then `tail` repeated;
    total count (including first) in [lo, hi]."""
    sep = f"{cv.ws},{cv.ws}"

    def after(i: int) -> str:  # elements from position i on, i >= 1 already emitted
        if hi is not None and i >= hi:
            return ""
        if i - 1 < len(more):
            if more[i - 1] == NOTHING:
                return "" if i >= lo else NOTHING
            nxt = sep + more[i - 1] + after(i + 1)
            return nxt if i < lo else f"(?:{nxt})?"
        if tail == NOTHING:
            return "" if i >= lo else NOTHING
        a = max(0, lo - i)
        b = "" if hi is None else str(hi - i)
        if a == 0 and b == "":
            return f"(?:{sep}{tail})*"
        return f"(?:{sep}{tail}){{{a},{b}}}"

    return first + after(1)


def array(cv: SchemaConverter, s: dict) -> str:
    lo, hi = counts(s, "minItems", "maxItems")
    if s.get("uniqueItems") and (hi is None or hi > 1):
        return unique_array(cv, s)
    if "contains" in s or "maxContains" in s:
        return _contains(cv, s, lo, hi)
    prefix = [cv.share(cv.conv(x)) for x in s.get("prefixItems", [])]
    items = s.get("items", True)
    if isinstance(items, list):  # draft 4-2019 tuple form
        prefix, items = [cv.share(cv.conv(x)) for x in items], s.get("additionalItems", True)
    if s.get("unevaluatedItems") is False and "items" not in s:
        items = False
    tail = cv.share(cv.conv(items))
    ws = cv.ws
    elems = prefix + [tail]
    first = elems[0]
    if first == NOTHING or (hi is not None and hi < 1):
        body = ""
        if lo > 0:
            return NOTHING
    else:
        body = _rest(cv, first, prefix[1:], tail, lo, hi)
        if NOTHING in body and body.endswith(NOTHING):
            body = NOTHING
        if lo == 0:
            body = f"(?:{body})?"
    return rf"\[{ws}{body}{ws}\]"


def _contains(cv: SchemaConverter, s: dict, lo: int, hi: int | None) -> str:
    """`contains` (at least one element matching): elements, one of them also `contains`."""
    min_c = counts(s, "minContains", "maxContains")[0] if "minContains" in s else 1
    rest = {k: v for k, v in s.items() if k not in ("contains", "minContains", "maxContains")}
    if min_c == 0 and "maxContains" not in s:
        return array(cv, rest)
    if min_c != 1 or "maxContains" in s or "prefixItems" in s or isinstance(s.get("items"), list) \
            or lo > 1 or hi is not None or "unevaluatedItems" in s:
        raise GrammarError("JSON Schema keyword 'contains' is only supported with at least one "
                           "match, 'items' and no other array bounds")
    items = s.get("items", True)
    tail = cv.share(cv.conv(items))
    hit = cv.share(cv.conv(merge(items, s["contains"], cv.resolve)))
    if hit == NOTHING:
        return NOTHING
    ws, sep = cv.ws, f"{cv.ws},{cv.ws}"
    body = hit if tail == NOTHING else f"(?:{tail}{sep})*{hit}(?:{sep}{tail})*"
    return rf"\[{ws}{body}{ws}\]"


def obj(cv: SchemaConverter, s: dict) -> str:
    props: dict[str, Any] = dict(s.get("properties", {}))
    required = list(s.get("required", []))
    patterns: dict[str, Any] = s.get("patternProperties", {})
    addl = s.get("additionalProperties", True)
    if s.get("unevaluatedProperties") is False and "additionalProperties" not in s:
        addl = False
    lo, hi = counts(s, "minProperties", "maxProperties")
    for name in props:  # a declared name matching a pattern must satisfy both schemas
        for pat, sub in patterns.items():
            if re.search(pat, name):
                props[name] = merge(props[name], sub, cv.resolve)
    for name in required:
        if name not in props:
            matching = [sub for pat, sub in patterns.items() if re.search(pat, name)]
            props[name] = matching[0] if len(matching) == 1 else (addl if not matching else
                                                                    {"allOf": matching})
    key_rx = _property_names(cv, s.get("propertyNames", True))
    if key_rx is not None:
        for name in props:
            if not re.fullmatch(translate(key_rx), json.dumps(name, ensure_ascii=False)):
                props[name] = False
    if not props:
        return _free_map(cv, patterns, addl, lo, hi, key_rx)
    members = []
    for name, sub in props.items():
        value = cv.share(cv.conv(sub))
        key = literal(name)
        is_req = name in required
        if value == NOTHING:
            if is_req:
                return NOTHING
            continue
        members.append((f"{key}{cv.ws}:{cv.ws}{value}", is_req))
    n_req = sum(r for _, r in members)
    sep = f"{cv.ws},{cv.ws}"
    if cv.key_order == "any":
        extra = None if hi is not None else _extra_member(cv, s, props, addl, key_rx)
        body = any_order(cv, members, sep, extra, lo, hi)
        return NOTHING if body == NOTHING else rf"\{{{cv.ws}{body}{cv.ws}\}}"
    if lo > n_req or (hi is not None and hi < len(members)):
        # without maxProperties, a run of undeclared members counts as one: its first key is
        # none of the declared ones, the others may repeat it (and count once)
        extra = None if hi is not None else _extra_member(cv, s, props, addl, key_rx)
        counted = members if extra is None else [*members, (f"{extra}(?:{sep}{extra})*", False)]
        body = _counted(counted, sep, lo, hi)
        return NOTHING if body is None else rf"\{{{cv.ws}{body}{cv.ws}\}}"
    # maxProperties counts undeclared members too: none are emitted then (a subset)
    extra = None if hi is not None else _extra_member(cv, s, props, addl, key_rx)
    body = _members(members, sep) if extra is None else open_members(members, sep, extra)
    return rf"\{{{cv.ws}{body}{cv.ws}\}}"


def _extra_member(cv: SchemaConverter, s: dict, props: dict, addl: Any, key_rx: str | None) -> str | None:
    """The regex of one undeclared member (a key no declared property has, a value of
    `additionalProperties`), or None where none is emitted: additionalProperties false,
    patternProperties, propertyNames or unevaluatedProperties (a subset there)."""
    if addl is False or key_rx is not None or s.get("patternProperties") \
            or "unevaluatedProperties" in s:
        return None
    key = extra_key(list(props))
    value = cv.extra_value(addl)
    if key is None or value == NOTHING:
        return None
    return f"{key}{cv.ws}:{cv.ws}{cv.share(value)}"


_COUNTED_MAX_CHARS = 400_000


def _counted(members: list[tuple[str, bool]], sep: str, lo: int, hi: int | None) -> str | None:
    """Members in order with between lo and hi of them emitted (None: impossible)."""
    n = len(members)
    memo: dict[tuple[int, int, bool], str | None] = {}

    def rest(i: int, c: int, started: bool) -> str | None:  # c members emitted before i
        key = (i, c, started)
        if key in memo:
            return memo[key]
        if c >= lo and (hi is None or c + n - i <= hi):  # no count limit left
            out = _members(members[i:], sep) if not started else _after(members[i:], sep)
            memo[key] = out
            return out
        if i == n:
            return None
        m, req = members[i]
        take = None
        if hi is None or c < hi:
            r = rest(i + 1, c + 1, True)
            take = None if r is None else (sep if started else "") + m + r
        skip = None if req else rest(i + 1, c, started)
        if take is None or skip is None:
            out = take if skip is None else skip
        else:
            out = f"(?:{take})?" if skip == "" else f"(?:{take}|{skip})"
        if out is not None and len(out) > _COUNTED_MAX_CHARS:
            raise GrammarError("'minProperties'/'maxProperties' with many optional properties "
                               "is not supported (too large)")
        memo[key] = out
        return out

    return rest(0, 0, False)


def _after(members: list[tuple[str, bool]], sep: str) -> str:
    """The members after something was already emitted: each with a leading comma."""
    return "".join(f"{sep}{m}" if req else f"(?:{sep}{m})?" for m, req in members)


def _members(members: list[tuple[str, bool]], sep: str) -> str:
    """Members in order, optional ones skippable, commas only between emitted ones.
    Optional members before the first required one take a trailing comma (linear size);
    without required members the choice of the first emitted one is quadratic."""
    first_req = next((i for i, (_, req) in enumerate(members) if req), None)
    if first_req is not None and first_req > 0:
        head = "".join(f"(?:{m}{sep})?" for m, _ in members[:first_req])
        return head + _members(members[first_req:], sep)
    after = ""  # after(i): the rest from i when something was emitted before
    first = ""  # first(i): the rest from i when nothing was emitted yet
    for m, req in reversed(members):
        new_after = f"{sep}{m}{after}" if req else f"(?:{sep}{m})?{after}"
        first = f"{m}{after}" if req else alt([f"{m}{after}", first]) if first else f"(?:{m}{after})?"
        after = new_after
    return first


def _property_names(cv: SchemaConverter, names: Any) -> str | None:
    """Regex (a JSON string) for the allowed keys, None when any key is allowed."""
    names = cv.deep_resolve(names)
    if names is True or names == {}:
        return None
    rx = cv.conv(merge(names, {"type": "string"}, cv.resolve))
    if cv.emitted_superset(rx) != rx:
        raise GrammarError("'propertyNames' referring to a recursive schema is not supported")
    return rx


def _free_map(cv: SchemaConverter, patterns: dict, addl: Any, lo: int, hi: int | None,
              key_rx: str | None = None) -> str:
    """An object without declared properties: keys from patternProperties (each value
    satisfying every pattern its key may also match), else any key (or propertyNames)."""
    ws = cv.ws
    if patterns:
        if key_rx is not None:
            raise GrammarError("'propertyNames' together with 'patternProperties' is not supported")
        keys = {p: '"' + translate(p, search=True, allowed=RAW, ecma_space=True) + '"' for p in patterns}
        alts = []
        for p, key in keys.items():
            value = patterns[p]
            for q, other in keys.items():
                if q != p and overlaps(key, other):
                    value = merge(value, patterns[q], cv.resolve)
            rx = cv.share(cv.conv(value))
            if rx != NOTHING:
                alts.append(f"{key}{ws}:{ws}{rx}")
        member = alt(alts)
    elif addl is False:
        return rf"\{{{ws}\}}" if lo == 0 else NOTHING
    else:
        member = f"{key_rx or STRING}{ws}:{ws}{cv.share(cv.conv(addl))}"
    if member == NOTHING or member.endswith(NOTHING) or key_rx == NOTHING:
        return rf"\{{{ws}\}}" if lo == 0 else NOTHING
    if hi is not None and hi == 0:
        return rf"\{{{ws}\}}" if lo == 0 else NOTHING
    if lo >= 2:  # "x": 1, "x": 2 is two members but one property (the last wins)
        raise GrammarError(f"'minProperties' {lo} on an object without declared properties is not supported: "
                           "a grammar cannot keep its keys distinct, and a repeated key counts once")
    a, b = max(lo - 1, 0), "" if hi is None else str(hi - 1)
    rep = "*" if a == 0 and b == "" else f"{{{a},{b}}}"
    body = f"{member}(?:{ws},{ws}{member}){rep}"
    return rf"\{{{ws}" + (f"(?:{body})?" if lo == 0 else body) + rf"{ws}\}}"
