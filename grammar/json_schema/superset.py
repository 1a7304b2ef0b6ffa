"""Regular OVER-approximations of a schema's valid instances, per JSON type.

The converter emits subsets; `oneOf` and `not` also need to know what another schema might
accept, so that an emitted instance is never valid for a second oneOf branch (or for the
negated schema). `Superset(cv).of(s)` maps each kind of JSON value the schema may accept to a
regex over JSON texts (any whitespace) covering every such valid instance; a kind that is
missing is certainly rejected. Kinds: null, boolean, integer (integral numbers, any
spelling: 1, 1.0, 1e2), fraction (non-integral numbers), string, array, object.
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from ..budget import check, compile_budget
from ..errors import GrammarError
from ..regex.syntax import NOTHING, translate
from .common import RAW, SchemaConverter, literal
from .numbers import NUMBER

ANY_TEXT = r"(?:.|\n)*"
OVERLAP_BUDGET_S = 1.0  # per disjointness check, within the compile budget
WS = r"[ \t\n\r]*"
STRING_ANY = r'"(?:[^"\\]|\\(?:.|\n))*"'
GENERIC = {
    "null": "null", "boolean": "(?:true|false)", "integer": NUMBER, "fraction": NUMBER,
    "string": STRING_ANY, "array": rf"\[{ANY_TEXT}\]", "object": rf"\{{{ANY_TEXT}\}}",
}
KINDS = tuple(GENERIC)
_OF_TYPE = {"null": ["null"], "boolean": ["boolean"], "integer": ["integer"],
            "number": ["integer", "fraction"], "string": ["string"], "array": ["array"],
            "object": ["object"]}
Approx = dict[str, str]
_ANNOTATIONS = {"title", "description", "default", "examples", "$comment", "deprecated",
                "readOnly", "writeOnly", "$id", "$schema", "$anchor", "$defs", "definitions"}


def kinds_of_types(types: list[str]) -> list[str]:
    """JSON Schema type names -> kinds ('number' is integer + fraction)."""
    return list(dict.fromkeys(k for t in types for k in _OF_TYPE.get(t, [])))


def _kind_of_value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "integer" if float(v).is_integer() else "fraction"
    return {str: "string", list: "array", dict: "object"}[type(v)]


def _intersect(a: Approx, b: Approx) -> Approx:
    """Kinds in both; per kind the more specific regex (either one is a superset)."""
    return {k: (a[k] if a[k] != GENERIC[k] else b[k]) for k in a if k in b}


def _union(parts: list[Approx]) -> Approx:
    out: dict[str, list[str]] = {}
    for p in parts:
        for k, rx in p.items():
            out.setdefault(k, []).append(rx)
    return {k: GENERIC[k] if GENERIC[k] in rxs else "(?:" + "|".join(dict.fromkeys(rxs)) + ")"
            for k, rxs in out.items()}


class Superset:
    """Computes `Approx` maps for schemas of one root (uses the converter's $ref lookup)."""

    def __init__(self, cv: SchemaConverter):
        self.cv = cv
        self.active: list[str] = []  # $refs being expanded (a cycle gives the generic map)

    def of(self, s: Any) -> Approx:
        if s is True or s == {}:
            return dict(GENERIC)
        if s is False:
            return {}
        if not isinstance(s, dict):
            raise GrammarError(f"a schema must be an object or a boolean, got {s!r}")
        out = dict(GENERIC)
        if "$ref" in s:
            ref = s["$ref"]
            if ref in self.active or len(self.active) > 32:
                target: Any = True
            else:
                target = self.cv.lookup(ref)
            self.active.append(ref)
            try:
                out = _intersect(out, self.of(target))
            finally:
                self.active.pop()
        if "type" in s:
            ts = [s["type"]] if isinstance(s["type"], str) else list(s["type"])
            out = {k: out[k] for k in kinds_of_types(ts) if k in out}
        if "enum" in s or "const" in s:
            values = list(s["enum"]) if "enum" in s else [s["const"]]
            if "const" in s and "enum" in s:
                values = [s["const"]]
            out = _intersect(out, self.values(values))
        for sub in s.get("allOf", []):
            out = _intersect(out, self.of(sub))
        for key in ("anyOf", "oneOf"):
            if key in s:
                out = _intersect(out, _union([self.of(b) for b in s[key]]))
        if "not" in s:
            excluded = self.excluded_kinds(s["not"])
            out = {k: v for k, v in out.items() if k not in excluded}
        if "string" in out and "pattern" in s and out["string"] == GENERIC["string"]:
            out["string"] = self.pattern(s["pattern"])
        if "object" in out and out["object"] == GENERIC["object"]:
            member = self.required_member(s)
            if member is None:
                del out["object"]
            else:
                out["object"] = member
        return out

    def certain(self, s: Any) -> set[str]:
        """Kinds ALL of whose values the schema accepts (an under-approximation)."""
        if s is True or s == {}:
            return set(KINDS)
        if not isinstance(s, dict):
            return set()
        if "$ref" in s and set(s) - _ANNOTATIONS == {"$ref"}:
            if s["$ref"] in self.active or len(self.active) > 32:
                return set()
            self.active.append(s["$ref"])
            try:
                return self.certain(self.cv.lookup(s["$ref"]))
            finally:
                self.active.pop()
        if set(s) - _ANNOTATIONS == {"anyOf"}:
            return set().union(*(self.certain(b) for b in s["anyOf"]))
        if set(s) - _ANNOTATIONS <= {"type"}:
            t = s.get("type")
            return set(KINDS) if t is None else set(kinds_of_types([t] if isinstance(t, str) else t))
        return set()

    def values(self, values: list[Any]) -> Approx:
        """Enum values: strings, null and booleans exactly (canonical spelling), the rest
        by kind (1 == 1.0 and key order or whitespace vary)."""
        exact: dict[str, list[str]] = {}
        for v in values:
            k = _kind_of_value(v)
            exact.setdefault(k, [])
            if k in ("null", "boolean", "string"):
                exact[k].append(literal(v))
        return {k: "(?:" + "|".join(rxs) + ")" if rxs else GENERIC[k] for k, rxs in exact.items()}

    def excluded_kinds(self, neg: Any) -> set[str]:
        """Kinds that `not: neg` certainly rejects (neg accepts all their values)."""
        if neg is True or neg == {}:
            return set(KINDS)
        if isinstance(neg, dict) and set(neg) <= {"type", "title", "description"} and "type" in neg:
            ts = [neg["type"]] if isinstance(neg["type"], str) else list(neg["type"])
            return set(kinds_of_types(ts))
        return set()

    def pattern(self, pattern: str) -> str:
        """Strings whose raw text matches the pattern, or that contain an escape."""
        core = translate(pattern, search=True, allowed=RAW, ecma_space=True)
        return rf'(?:"{core}"|"{ANY_TEXT}\\{ANY_TEXT}")'

    def required_member(self, s: dict) -> str | None:
        """Objects containing a required key, with its value's regex when that is exact
        (None: no object is valid, a required property accepts nothing)."""
        required = [r for r in s.get("required", []) if isinstance(r, str)]
        if not required:
            return GENERIC["object"]
        props = s.get("properties", {})
        best = None
        for name in required:
            sub = props.get(name, True)
            value = self.of(sub) if isinstance(sub, (dict, bool)) else dict(GENERIC)
            if not value:
                return None
            exact = all(k in ("null", "boolean", "string") and rx != GENERIC[k]
                        for k, rx in value.items())
            key = _key(name)
            if exact:
                return rf"\{{{ANY_TEXT}{key}{WS}:{WS}(?:{'|'.join(value.values())}){ANY_TEXT}\}}"
            best = best or rf"\{{{ANY_TEXT}{key}{WS}:{ANY_TEXT}\}}"
        return best


def _key(name: str) -> str:
    return literal(name)


def matches(approx: Approx) -> str:
    """One regex for all kinds of an Approx (the empty language when there are none)."""
    parts = list(dict.fromkeys(approx.values()))
    return "(?:" + "|".join(parts) + ")" if parts else NOTHING


def overlaps(a: str, b: str) -> bool:
    """Whether two converter regexes share a string (GrammarError when it cannot be told):
    a walk of the product of their lazy byte DFAs (only the state pairs it reaches are
    built), within the compile budget. Converter regexes are normalized already, so they
    are parsed as they are."""
    if a == NOTHING or b == NOTHING:
        return False
    with compile_budget(OVERLAP_BUDGET_S):
        return _product_nonempty(_lazy_dfa(a), _lazy_dfa(b))


@lru_cache(maxsize=32)
def _lazy_dfa(rx: str) -> Any:
    """The LazyDFA of a converter regex, shared by the checks that test it again (a oneOf
    tests each branch against the others; its states, once built, stay built)."""
    from ..regex.byte_nfa import ByteNfa
    from ..regex.lazy_dfa import LazyDFA
    from ..regex.parse import parse_regex
    nfa = ByteNfa()
    start = nfa.new()
    final = nfa.add(parse_regex(rx), start)
    return LazyDFA(nfa, start, final, allow_empty=True)


def _product_nonempty(da: Any, db: Any) -> bool:
    """Whether two LazyDFAs accept a common string (depth first over reachable state
    pairs; their states can all reach acceptance, the dead sink is -1)."""
    seen, todo = {(0, 0)}, [(0, 0)]
    while todo:
        if not len(seen) & 255:
            check("checking that alternatives are disjoint")
        p, q = todo.pop()
        if da.is_accepting(p) and db.is_accepting(q):
            return True
        da.ensure_one(p)
        db.ensure_one(q)
        ra, rb = da.table[p], db.table[q]                      # [256] each
        live = (ra >= 0) & (rb >= 0)
        for pair in set(zip(ra[live].tolist(), rb[live].tolist())):
            if pair not in seen:
                seen.add(pair)
                todo.append(pair)
    return False


def same_value(a: Any, b: Any) -> bool:
    """JSON Schema equality (1 == 1.0, but true != 1)."""
    def norm(v: Any) -> Any:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, (int, float)):
            return "\x00n" + repr(int(v) if float(v).is_integer() else float(v))
        if isinstance(v, list):
            return [norm(x) for x in v]
        return {k: norm(x) for k, x in v.items()}
    return json.dumps(norm(a), sort_keys=True) == json.dumps(norm(b), sort_keys=True)
