"""Recursive JSON schemas -> a Lark grammar for the CFG backend (sglike.grammar.cfg).

The regex converter runs unchanged, except that every plain `$ref` (no sibling keywords)
becomes a placeholder character standing for a rule; each referenced schema is converted
once into that rule's body. `regex_tree.LarkWriter` then cuts each body at the placeholders:
regular stretches become regex terminals, the rest Lark operators. So leaves and
non-recursive parts keep exactly the regex converter's language (a subset of the valid
instances), and recursion is exact. A `$ref` with sibling keywords is merged as in regex
mode (inlined); if it refers back to itself that is unsupported (GrammarError). Objects in
any key order (key_order.py) get one rule per set of emitted keys (`state_rule`).
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..budget import CFG_CHARS_PER_S, check_text
from ..errors import GrammarError
from ..regex.syntax import NOTHING
from .common import IGNORED, RecursiveSchema
from .convert import Converter
from .regex_tree import PLACEHOLDER_BASE, PLACEHOLDER_LIMIT, LarkWriter, placeholder

_PLACEHOLDERS = re.compile(f"[{chr(PLACEHOLDER_BASE)}-{chr(PLACEHOLDER_LIMIT)}]")
_ANY_TEXT = r"(?:.|\n)*"
SHARE_MIN_CHARS = 400  # value regexes at least this long become rules of their own


class RuleConverter(Converter):
    """Converter whose plain `$ref`s are rule references (see the module docstring)."""

    def __init__(self, root: Any, whitespace: str = "compact", key_order: str = "schema"):
        super().__init__(root, whitespace, key_order=key_order)
        self.rule_ids: dict[str, int] = {}  # $ref (or a shared regex's key) -> rule number
        self.bodies: dict[int, str] = {}  # rule number -> converter regex with placeholders
        self.preset: dict[str, str] = {}  # rule key -> body known up front (shared parts)

    def ref(self, s: dict) -> str:
        ref = s["$ref"]
        if any(k != "$ref" and k not in IGNORED for k in s):
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

    def rule(self, key: str, body: str | None = None) -> str:
        """The placeholder for rule `key` (created on first use; `body` if known)."""
        if key not in self.rule_ids:
            self.rule_ids[key] = len(self.rule_ids)
            if body is not None:
                self.preset[key] = body
        return placeholder(self.rule_ids[key])

    def share(self, rx: str) -> str:
        """Long value regexes become rules, so repeating them costs one character."""
        if len(rx) < SHARE_MIN_CHARS:
            return rx
        return self.rule("\x00shared:" + rx, rx)

    def state_rule(self, body: str) -> str:
        """A rule for `body` (a state of key_order.py, shared by every path to it). Its
        extra alternative matches nothing but refers to the rule itself: the CFG lowering
        inlines non-recursive rules, which would spell the states out once per key order."""
        key = "\x00state:" + body
        if key not in self.rule_ids:
            me = self.rule(key, "")
            self.preset[key] = f"(?:{body}|{NOTHING}{me})"
        return self.rule(key)

    def any_value(self) -> str:
        """Any JSON value, nested to any depth (one rule referring to itself)."""
        if "\x00any" not in self.rule_ids:
            me = self.rule("\x00any", "")
            self.preset["\x00any"] = self.compound_value(me)
        return self.rule("\x00any")

    def extra_value(self, s: Any) -> str:
        """An undeclared member's value, any JSON value nesting freely (a rule)."""
        return self.conv(s)

    def emitted_superset(self, rx: str) -> str:
        return _PLACEHOLDERS.sub(lambda _: _ANY_TEXT, rx)

    def to_lark(self) -> str:
        """The whole grammar as Lark text (rule `start`, rules r0, r1, ... for $refs)."""
        if _PLACEHOLDERS.search(json.dumps(self.root, ensure_ascii=False)):
            raise GrammarError("schemas containing characters U+F0000..U+FFFFD are not "
                               "supported when recursive")
        try:
            # the root as rule r0, so a schema that refers to "#" is not converted twice
            start = self.ref({"$ref": "#"}) if isinstance(self.root, dict) else self.conv(self.root)
            while pending := [(k, i) for k, i in self.rule_ids.items() if i not in self.bodies]:
                for key, i in pending:  # bodies may add rules
                    self.bodies[i] = self.preset[key] if key in self.preset else \
                        self.conv(self.resolve({"$ref": key}))
            refs = {i: ("any JSON value" if k == "\x00any" else "shared part" if k.startswith("\x00")
                        else k) for k, i in self.rule_ids.items()}
        except RecursiveSchema as e:
            raise GrammarError(f"{e}: a $ref chain that never reaches a schema") from None
        except RecursionError:
            raise GrammarError("schema nesting too deep (self-referencing allOf/anyOf?)") from None
        check_text(len(start) + sum(map(len, self.bodies.values())), CFG_CHARS_PER_S,
                   "the rules of a schema")
        writer = LarkWriter(lambda i: f"r{i}")
        lines = [f"start: {_required(writer.expr(start), 'start')}"]
        for i, body in sorted(self.bodies.items()):
            lines.append(f"r{i}: {_required(writer.expr(body), refs[i])}")
        return "\n".join(lines) + "\n"


def _required(expr: str, what: str) -> str:
    if not expr:
        raise GrammarError(f"schema {what!r} only matches the empty string")
    return expr


def schema_to_lark(schema: Any, whitespace: str = "compact", key_order: str = "schema") -> str:
    """Lark grammar text for a (recursive) schema."""
    return RuleConverter(schema, whitespace, key_order).to_lark()
