"""Arrays and objects for the JSON Schema converter (see convert.py for the policies)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..errors import GrammarError
from ..regex_syntax import NOTHING, translate
from .convert import _RAW, STRING, _alt, literal
from .merge import merge

if TYPE_CHECKING:
    from .convert import Converter


def _rest(cv: "Converter", first: str, more: list[str], tail: str, lo: int, hi: int | None) -> str:
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


def array(cv: "Converter", s: dict) -> str:
    lo, hi = s.get("minItems", 0), s.get("maxItems")
    if s.get("uniqueItems") and (hi is None or hi > 1):
        raise GrammarError("JSON Schema keyword 'uniqueItems' is not supported")
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


def obj(cv: "Converter", s: dict) -> str:
    props: dict[str, Any] = dict(s.get("properties", {}))
    required = list(s.get("required", []))
    patterns: dict[str, Any] = s.get("patternProperties", {})
    addl = s.get("additionalProperties", True)
    if s.get("unevaluatedProperties") is False and "additionalProperties" not in s:
        addl = False
    lo, hi = s.get("minProperties", 0), s.get("maxProperties")
    for name in props:  # a declared name matching a pattern must satisfy both schemas
        for pat, sub in patterns.items():
            if re.search(pat, name):
                props[name] = merge(props[name], sub, cv.resolve)
    for name in required:
        if name not in props:
            matching = [sub for pat, sub in patterns.items() if re.search(pat, name)]
            props[name] = matching[0] if len(matching) == 1 else (addl if not matching else
                                                                    {"allOf": matching})
    if not props:
        return _free_map(cv, patterns, addl, lo, hi)
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
    if lo > n_req:
        if lo >= len(members):
            members = [(m, True) for m, _ in members]
        else:
            raise GrammarError("'minProperties' above the required count with optional "
                               "properties is not supported")
    if hi is not None and hi < len(members):
        if hi < n_req:
            return NOTHING
        raise GrammarError("'maxProperties' below the number of declared properties is not supported")
    return rf"\{{{cv.ws}{_members(members, f'{cv.ws},{cv.ws}')}{cv.ws}\}}"


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
        first = f"{m}{after}" if req else _alt([f"{m}{after}", first]) if first else f"(?:{m}{after})?"
        after = new_after
    return first


def _free_map(cv: "Converter", patterns: dict, addl: Any, lo: int, hi: int | None) -> str:
    ws = cv.ws
    if patterns:
        if len(patterns) > 1:
            raise GrammarError("several 'patternProperties' on one object are not supported")
        (pat, sub), = patterns.items()
        key = '"' + translate(pat, search=True, allowed=_RAW, ecma_space=True) + '"'
        member = f"{key}{ws}:{ws}{cv.share(cv.conv(sub))}"
    elif addl is False:
        return rf"\{{{ws}\}}" if lo == 0 else NOTHING
    else:
        member = f"{STRING}{ws}:{ws}{cv.share(cv.conv(addl))}"
    if member.endswith(NOTHING):
        return rf"\{{{ws}\}}" if lo == 0 else NOTHING
    if hi is not None and hi == 0:
        return rf"\{{{ws}\}}" if lo == 0 else NOTHING
    a, b = max(lo - 1, 0), "" if hi is None else str(hi - 1)
    rep = "*" if a == 0 and b == "" else f"{{{a},{b}}}"
    body = f"{member}(?:{ws},{ws}{member}){rep}"
    return rf"\{{{ws}" + (f"(?:{body})?" if lo == 0 else body) + rf"{ws}\}}"
