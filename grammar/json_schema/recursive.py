"""Recursive JSON schemas -> a Lark grammar for the CFG backend (sglike.grammar.cfg).

The regex converter runs unchanged, except that every plain `$ref` (no sibling keywords)
becomes a placeholder character standing for a rule; each referenced schema is converted
once into that rule's body. `regex_tree.LarkWriter` then cuts each body at the placeholders:
regular stretches become regex terminals, the rest Lark operators. So leaves and
non-recursive parts keep exactly the regex converter's language (a subset of the valid
instances), and recursion is exact. A `$ref` with sibling keywords is merged as in regex
mode (inlined); if it refers back to itself that is unsupported (GrammarError).
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..errors import GrammarError
from .convert import _IGNORED, Converter, RecursiveSchema, _check_disjoint
from .regex_tree import PLACEHOLDER_BASE, PLACEHOLDER_LIMIT, LarkWriter, placeholder

_PLACEHOLDERS = re.compile(f"[{chr(PLACEHOLDER_BASE)}-{chr(PLACEHOLDER_LIMIT)}]")
_ANY_TEXT = r"(?:.|\n)*"


class RuleConverter(Converter):
    """Converter whose plain `$ref`s are rule references (see the module docstring)."""

    def __init__(self, root: Any, whitespace: str = "compact"):
        super().__init__(root, whitespace)
        self.rule_ids: dict[str, int] = {}  # $ref -> rule number, in creation order
        self.bodies: list[str] = []  # rule number -> converter regex with placeholders
        self.deferred_oneofs: list[list[str]] = []

    def ref(self, s: dict) -> str:
        ref = s["$ref"]
        if any(k != "$ref" and k not in _IGNORED for k in s):
            try:
                return super().ref(s)
            except RecursiveSchema:
                raise GrammarError(f"recursive $ref {ref!r} with sibling keywords is not "
                                   "supported") from None
        if not isinstance(ref, str):
            raise GrammarError(f"$ref must be a string, got {ref!r}")
        if ref not in self.rule_ids:
            self.lookup(ref)  # fail early when it does not resolve
            self.rule_ids[ref] = len(self.rule_ids)
        return placeholder(self.rule_ids[ref])

    def check_disjoint(self, regexes: list[str]) -> None:
        if any(_PLACEHOLDERS.search(r) for r in regexes):
            self.deferred_oneofs.append(regexes)  # checked once every rule body is known
        else:
            _check_disjoint(regexes)

    def enum_filter(self, rest: dict) -> str:
        rx = self.conv(rest)
        if _PLACEHOLDERS.search(rx):
            raise GrammarError("'enum'/'const' next to a recursive $ref is not supported")
        return rx

    def to_lark(self) -> str:
        """The whole grammar as Lark text (rule `start`, rules r0, r1, ... for $refs)."""
        if _PLACEHOLDERS.search(json.dumps(self.root, ensure_ascii=False)):
            raise GrammarError("schemas containing characters U+F0000..U+FFFFD are not "
                               "supported when recursive")
        try:
            # the root as rule r0, so a schema that refers to "#" is not converted twice
            start = self.ref({"$ref": "#"}) if isinstance(self.root, dict) else self.conv(self.root)
            refs = list(self.rule_ids)
            while len(self.bodies) < len(self.rule_ids):  # bodies may add rules
                refs = list(self.rule_ids)
                self.bodies.append(self.conv(self.resolve({"$ref": refs[len(self.bodies)]})))
        except RecursiveSchema as e:
            raise GrammarError(f"{e}: a $ref chain that never reaches a schema") from None
        except RecursionError:
            raise GrammarError("schema nesting too deep (self-referencing allOf/anyOf?)") from None
        for regexes in self.deferred_oneofs:
            _check_disjoint([self.over_approximation(r) for r in regexes])
        writer = LarkWriter(lambda i: f"r{i}")
        lines = [f"start: {_required(writer.expr(start), 'start')}"]
        for i, body in enumerate(self.bodies):
            lines.append(f"r{i}: {_required(writer.expr(body), refs[i])}")
        return "\n".join(lines) + "\n"

    def over_approximation(self, rx: str) -> str:
        """A regular superset of `rx`: each rule unrolled once, deeper rules any text."""
        def body(m: re.Match) -> str:
            inner = self.bodies[ord(m.group()) - PLACEHOLDER_BASE]
            return "(?:" + _PLACEHOLDERS.sub(lambda _: _ANY_TEXT, inner) + ")"
        return _PLACEHOLDERS.sub(body, rx)


def _required(expr: str, what: str) -> str:
    if not expr:
        raise GrammarError(f"schema {what!r} only matches the empty string")
    return expr


def schema_to_lark(schema: Any, whitespace: str = "compact") -> str:
    """Lark grammar text for a (recursive) schema."""
    return RuleConverter(schema, whitespace).to_lark()
