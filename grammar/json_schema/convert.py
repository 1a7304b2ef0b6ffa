"""JSON Schema -> one regular expression over compact (or flexible) JSON text.

Every emitted language is a SUBSET of the schema's valid instances; what cannot be
expressed exactly raises GrammarError naming the keyword. Policies:
- whitespace: "compact" emits none (like json.dumps(separators=(",", ":"))); "flexible"
  allows [ \\t\\n\\r]* wherever JSON allows whitespace.
- objects: declared properties in schema order (key_order "schema"; "any": each at most
  once in any order, key_order.py), optional ones may be skipped; undeclared members (any
  key but a declared one) after them ("any": anywhere) unless additionalProperties is false
  (members.py; not next to patternProperties/propertyNames/maxProperties); their free-form
  values nest at most EXTRA_DEPTH levels in a regex.
- untyped schemas take the types their keywords imply; a schema with no constraining
  keyword is any JSON value nested at most ANY_DEPTH levels.
- strings: a `pattern`/`format` value may not contain JSON escapes; numbers with bounds
  are emitted without exponent and need integer-valued bounds; integers stay integers.
- recursive $ref cycles raise RecursiveSchema (the caller switches to the CFG backend).
"""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from ..budget import check
from ..errors import GrammarError
from ..regex.syntax import NOTHING, translate
from .common import IGNORED, RAW, STRING, RecursiveSchema, alt, counts, literal
from .conditional import conditional, has_conditional
from .dependencies import expand
from .anchors import dynamic_ref, find_anchor
from .unevaluated import KEYS as UNEVALUATED, has_unevaluated, static_unevaluated
from .exclusive import negate, one_of
from .formats import FORMATS
from .key_order import check_key_order
from .lengths import cap_length, fit_length
from .merge import merge
from .multiples import int_multiples, number_multiples
from .numbers import NUMBER, int_bounds, int_range, num_bounds, number_range
from .regex_tree import length_bounds
from .structures import array, obj

ANY_DEPTH: int | None = None  # None: any JSON value nests freely (CFG); n: at most n+1 levels
EXTRA_DEPTH = 0  # nesting of undeclared members' values in a regex (true, {})
REGEX_MAX_CHARS = 100_000  # a longer regex is compiled through the CFG path instead
# length-bounded strings: no \u escapes (a subset: far fewer DFA states per repetition)
SHORT_CHAR = r'(?:[^"\\\x00-\x1f]|\\["\\/bfnrt])'
SCALARS = ["null", "true", "false", NUMBER, STRING]
_UNSUPPORTED = {"$dynamicRef", "$recursiveRef"}
_BY_TYPE = {
    "object": {"properties", "required", "additionalProperties", "patternProperties",
               "minProperties", "maxProperties", "unevaluatedProperties", "propertyNames",
               "dependentRequired", "dependentSchemas"},
    "array": {"items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains",
              "minContains", "maxContains"},
    "string": {"minLength", "maxLength", "pattern", "format"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"},
}


def _depth(v: Any) -> int:
    if isinstance(v, list):
        return 1 + max(map(_depth, v), default=0)
    if isinstance(v, dict):
        return 1 + max(map(_depth, v.values()), default=0)
    return 0


class Converter:
    def __init__(self, root: Any, whitespace: str = "compact", any_depth: int | None = ANY_DEPTH,
                 key_order: str = "schema"):
        self.key_order = check_key_order(key_order)
        if whitespace not in ("compact", "flexible"):
            raise GrammarError(f"whitespace must be 'compact' or 'flexible', got {whitespace!r}")
        self.root = root
        self.ws = "" if whitespace == "compact" else r"[ \t\n\r]*"
        self.stack: list[str] = []
        self.any_depth = any_depth

    # -- references ----------------------------------------------------------------------
    def lookup(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise GrammarError(f"$ref {ref!r}: only local references ('#/...') are supported")
        pointer = unquote(ref[1:])
        if pointer and not pointer.startswith("/"):
            return find_anchor(self.root, pointer, ref)
        node = self.root
        for part in pointer.split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError, TypeError):
                raise GrammarError(f"$ref {ref!r} does not resolve") from None
        return node

    def resolve(self, s: Any) -> Any:
        """Inline a top-level $ref (merging its siblings); RecursiveSchema on a cycle."""
        seen = []
        while isinstance(s, dict) and "$ref" in s:
            ref = s["$ref"]
            if ref in seen or ref in self.stack:
                raise RecursiveSchema(f"recursive schema ($ref {ref!r} refers to itself)")
            seen.append(ref)
            rest = {k: v for k, v in s.items() if k != "$ref" and k not in IGNORED}
            target = self.lookup(ref)
            outer = {k: rest.pop(k) for k in UNEVALUATED if k in rest}  # they see the target
            s = target if not rest else {"allOf": [target, rest]}
            if outer:
                s = {"allOf": [s], **outer}
        return s

    # -- dispatch ------------------------------------------------------------------------
    def conv(self, s: Any) -> str:
        check("converting the schema")
        if isinstance(s, dict) and "$ref" in s:
            return self.ref(s)
        if s is True or s == {}:
            return self.any_value()
        if s is False:
            return NOTHING
        if not isinstance(s, dict):
            raise GrammarError(f"a schema must be an object or a boolean, got {s!r}")
        if has_unevaluated(s) and not ("anyOf" in s or "oneOf" in s):
            return self.conv(static_unevaluated(self, s))
        if "allOf" in s:
            merged = {k: v for k, v in s.items() if k != "allOf"}
            for sub in s["allOf"]:
                merged = merge(merged, self.deep_resolve(sub), self.resolve)
            return self.conv(merged)
        if any(k in s for k in ("dependentRequired", "dependentSchemas", "dependencies")):
            return self.conv(expand(s, self.resolve))
        if has_conditional(s):
            return conditional(self, s)
        if "not" in s:
            return negate(self, {k: v for k, v in s.items() if k != "not"}, s["not"])
        for key in ("anyOf", "oneOf"):
            if key in s:
                rest = {k: v for k, v in s.items() if k != key}
                outer = {k: rest.pop(k) for k in UNEVALUATED if k in rest}  # per branch
                branches = [merge(rest, self.deep_resolve(b), self.resolve) if rest else b
                            for b in s[key]]
                branches = [{"allOf": [b], **outer} if outer else b for b in branches]
                if key == "oneOf" and len(branches) > 1:
                    return alt(one_of(self, branches))
                return alt([self.conv(b) for b in branches])
        if "$dynamicRef" in s:
            return self.conv(dynamic_ref(self.root, s))
        for k in s:
            if k in _UNSUPPORTED:
                raise GrammarError(f"JSON Schema keyword {k!r} is not supported")
        if "enum" in s or "const" in s:
            return self.enum(s)
        return alt([self.typed(t, s) for t in self.types(s)])

    def ref(self, s: dict) -> str:
        """A schema with `$ref`: inlined here (RecursiveSchema on a cycle)."""
        target = self.resolve(s)
        self.stack.append(s["$ref"])
        try:
            return self.conv(target)
        finally:
            self.stack.pop()

    def emitted_superset(self, rx: str) -> str:
        """A regular superset of what a converter regex emits (itself, here)."""
        return rx

    def deep_resolve(self, s: Any) -> Any:
        s = self.resolve(s)
        if isinstance(s, dict) and "allOf" in s:
            merged = {k: v for k, v in s.items() if k != "allOf"}
            for sub in s["allOf"]:
                merged = merge(merged, self.deep_resolve(sub), self.resolve)
            return merged
        return s

    def types(self, s: dict) -> list[str]:
        t = s.get("type")
        if t is not None:
            ts = [t] if isinstance(t, str) else list(t)
            if "number" in ts and "integer" in ts:
                ts.remove("integer")
            return ts
        implied = [k for k, keys in _BY_TYPE.items() if keys & s.keys()]
        return implied or ["null", "boolean", "number", "string", "array", "object"]

    def enum(self, s: dict) -> str:
        values = s["enum"] if "enum" in s else [s["const"]]
        if "enum" in s and "const" in s:
            values = [v for v in values if json.dumps(v, sort_keys=True) == json.dumps(s["const"], sort_keys=True)]
        rest = {k: v for k, v in s.items() if k not in ("enum", "const") and k not in IGNORED}
        if rest:
            check = re.compile(self.enum_filter(rest, values), re.DOTALL)
            values = [v for v in values
                      if check.fullmatch(json.dumps(v, separators=(",", ":"), ensure_ascii=False))]
        return alt([literal(v) for v in values])

    def enum_filter(self, rest: dict, values: list[Any]) -> str:
        """A Python regex (compact JSON) for the enum's sibling keywords: values outside it
        are dropped. Free-form parts nest as deep as the values do; objects in the key order,
        else (too large in any order) in schema order, a subset."""
        depth = max((_depth(v) for v in values), default=0)
        for order in dict.fromkeys((self.key_order, "schema")):
            try:
                return Converter(self.root, "compact", min(depth, 3), order).conv(rest)
            except RecursiveSchema as e:
                error = e
        raise GrammarError(f"'enum'/'const' next to a recursive $ref is not supported ({error})")

    def typed(self, t: str, s: dict) -> str:
        if t == "null":
            return "null"
        if t == "boolean":
            return "(?:true|false)"
        if t == "integer":
            return self.integer(s)
        if t == "number":
            if "multipleOf" in s:
                rx = number_multiples(s, s.get("minimum"), s.get("maximum"))
                return self.integer(s) if rx is None else rx
            return number_range(*num_bounds(s))
        if t == "string":
            return self.string(s)
        if t == "array":
            return array(self, s)
        if t == "object":
            return obj(self, s)
        raise GrammarError(f"unknown JSON Schema type {t!r}")

    def integer(self, s: dict) -> str:
        lo, hi = int_bounds(s)
        if lo is not None and hi is not None and lo > hi:
            return NOTHING
        if "multipleOf" in s:
            return int_multiples(s["multipleOf"], lo, hi)
        return int_range(lo, hi)

    def string(self, s: dict) -> str:
        lo, hi = counts(s, "minLength", "maxLength")
        kinds = [k for k in ("pattern", "format") if k in s and not (k == "format" and s[k] not in FORMATS)]
        if len(kinds) > 1:
            raise GrammarError("'pattern' together with 'format' is not supported")
        if kinds:
            if kinds[0] == "pattern":
                core = translate(s["pattern"], search=True, allowed=RAW, ecma_space=True)
            else:
                core = FORMATS[s["format"]]
            if lo or hi is not None:  # fine when every match already has a length in range
                cmin, cmax = length_bounds(core)
                if cmin < lo or (hi is not None and (cmax is None or cmax > hi)):
                    fitted = fit_length(core, lo, hi)
                    if fitted is None:
                        fitted = cap_length(core, lo, hi)
                    if fitted is None:
                        raise GrammarError(f"'{kinds[0]}' together with minLength/maxLength is "
                                           "not supported (its pieces cannot share the lengths)")
                    return NOTHING if fitted == NOTHING else '"' + fitted + '"'
            return '"' + core + '"'
        if not lo and hi is None:
            return STRING
        return f'"{SHORT_CHAR}{{{lo},{"" if hi is None else hi}}}"'

    def share(self, rx: str) -> str:
        """Hook: a value regex that may be repeated (rules in CFG mode)."""
        return rx

    def state_rule(self, body: str) -> str | None:
        """Hook: a rule reference standing for `body` (CFG mode); None: no rules here."""
        return None

    def any_value(self) -> str:
        """Any JSON value: needs a CFG, unless ANY_DEPTH caps the nesting (a subset)."""
        if self.any_depth is None:
            raise RecursiveSchema("any JSON value (nested to any depth)")
        rx = alt(SCALARS)
        for _ in range(self.any_depth + 1):
            rx = self.compound_value(rx)
        return rx

    def extra_value(self, s: Any) -> str:
        """An undeclared member's value: `s`, where any JSON value (true, {}) is capped at
        EXTRA_DEPTH levels of nesting in a regex, its strings without \\u escapes (a
        subset, for a small regex; the CFG nests freely)."""
        if (s is True or s == {}) and self.any_depth is None:
            rx = alt(SCALARS[:-1] + [f'"{SHORT_CHAR}*"'])
            for _ in range(EXTRA_DEPTH):
                rx = self.compound_value(rx)
            return rx
        return self.conv(s)

    def compound_value(self, inner: str) -> str:
        """Scalars, or arrays and objects whose values are `inner`."""
        ws = self.ws
        arr = rf"\[{ws}(?:{inner}(?:{ws},{ws}{inner})*)?{ws}\]"
        member = f"{STRING}{ws}:{ws}{inner}"
        objr = rf"\{{{ws}(?:{member}(?:{ws},{ws}{member})*)?{ws}\}}"
        return alt(SCALARS + [arr, objr])
