"""What the JSON Schema converter and its helper modules (structures, exclusive, superset,
recursive) share: JSON-text regex pieces, small regex builders, and the converter's shape
as a Protocol, so the helpers never import the converter itself."""
from __future__ import annotations

import json
import re
from typing import Any, Protocol

from ..errors import GrammarError
from ..regex import charset as cs
from ..regex.syntax import NOTHING

RAW = cs.complement(cs.normalize([(0, 0x1F), (0x22, 0x22), (0x5C, 0x5C)]))  # unescaped string chars
_HEX4 = r"(?:[0-9a-cA-Ce-fE-F][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2})"
_SURR = r"[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
CHAR = r'(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u' + _HEX4 + r"|\\u" + _SURR + ")"
STRING = f'"{CHAR}*"'
IGNORED = {"title", "description", "default", "examples", "$comment", "$id", "$schema",
           "$anchor", "deprecated", "readOnly", "writeOnly", "contentMediaType",
           "contentEncoding", "contentSchema", "format", "$defs", "definitions", "nullable",
           "discriminator", "xml", "externalDocs", "example", "$vocabulary", "$dynamicAnchor"}


class RecursiveSchema(GrammarError):
    """The schema refers to itself; it needs a context-free grammar."""


class SchemaConverter(Protocol):
    """What the helper modules use of `convert.Converter` (and its CFG subclass)."""

    ws: str  # the whitespace regex between JSON tokens ("" when compact)
    key_order: str  # "schema" or "any" (key_order.py)

    def conv(self, s: Any) -> str:
        """The regex of a (sub)schema's instances."""

    def resolve(self, s: Any) -> Any:
        """Inline a top-level $ref."""

    def deep_resolve(self, s: Any) -> Any:
        """Inline $refs and merge allOf at the top level."""

    def lookup(self, ref: str) -> Any:
        """The schema a local $ref points to."""

    def types(self, s: dict) -> list[str]:
        """The JSON types a schema may take."""

    def share(self, rx: str) -> str:
        """A value regex that may be repeated (a rule reference in CFG mode)."""

    def extra_value(self, s: Any) -> str:
        """The regex of an undeclared member's value (`additionalProperties`)."""

    def emitted_superset(self, rx: str) -> str:
        """A regular superset of what a regex from `conv` emits."""

    def state_rule(self, body: str) -> str | None:
        """A rule reference standing for `body` (CFG mode); None where there are no rules."""


def alt(parts: list[str]) -> str:
    """The alternation of the distinct parts that are not the empty language."""
    parts = [p for p in dict.fromkeys(parts) if p != NOTHING]
    if not parts:
        return NOTHING
    return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"


def counts(s: dict, lo_key: str, hi_key: str) -> tuple[int, int | None]:
    """(min, max) of a count keyword pair (minItems/maxItems, ...); 1.0 counts as 1."""
    out = []
    for key, default in ((lo_key, 0), (hi_key, None)):
        v = s.get(key, default)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or int(v) != v:
                raise GrammarError(f"{key!r} must be a non-negative integer, got {v!r}")
            v = int(v)
        out.append(v)
    return out[0], out[1]


def literal(value: Any) -> str:
    """Regex for the compact JSON text of `value`."""
    return re.escape(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
