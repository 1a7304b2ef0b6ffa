"""The ``structural_tag`` sampling parameter (SGLang's shape): free text with triggered
constrained sections.

``{"structures": [{"begin": str, "schema": {...}, "end": str}, ...], "triggers": [str, ...]}``

Generation is free text until the generated text contains a trigger; from there the text
must continue as one structure whose ``begin`` starts with that trigger: the rest of
``begin``, a JSON value valid for ``schema``, then ``end``. After ``end`` the text is free
again (another trigger starts another section). Checked here, compiled in
``triggered.py``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import GrammarError

_FIELD = "sampling_params.structural_tag"


@dataclass(frozen=True)
class Structure:
    begin: str
    schema: Any  # a JSON schema (dict or bool)
    end: str


@dataclass(frozen=True)
class StructuralTag:
    structures: tuple[Structure, ...]
    triggers: tuple[str, ...]

    @classmethod
    def parse(cls, value: str | dict[str, Any]) -> "StructuralTag":
        """Parse and check a structural tag; GrammarError (a ValueError) names the bad field."""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise GrammarError(f"{_FIELD} is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise GrammarError(f"{_FIELD} must be an object with structures and triggers")
        unknown = sorted(set(value) - {"type", "structures", "triggers"})
        if unknown:
            raise GrammarError(f"{_FIELD} has unknown field(s): {', '.join(unknown)}")
        structures = tuple(_structure(s, i) for i, s in enumerate(_list(value.get("structures"), "structures")))
        raw = value.get("triggers")
        triggers = [s.begin for s in structures] if raw is None else _list(raw, "triggers")
        if any(not isinstance(t, str) or not t for t in triggers):
            raise GrammarError(f"{_FIELD}.triggers must be non-empty strings")
        tag = cls(structures, tuple(dict.fromkeys(triggers)))
        tag._check_triggers()
        return tag

    def to_json(self) -> str:
        return json.dumps({"structures": [s.__dict__ for s in self.structures], "triggers": list(self.triggers)})

    def trigger_of(self, structure: Structure) -> int:
        """Index of the trigger that ``structure.begin`` starts with."""
        return next(i for i, t in enumerate(self.triggers) if structure.begin.startswith(t))

    def _check_triggers(self) -> None:
        for a in self.triggers:
            for b in self.triggers:
                if a != b and a in b:
                    raise GrammarError(f"{_FIELD}.triggers: {a!r} occurs inside {b!r}; triggers must not contain each other")
        for i, s in enumerate(self.structures):
            if not any(s.begin.startswith(t) for t in self.triggers):
                raise GrammarError(f"{_FIELD}.structures[{i}].begin {s.begin!r} does not start with any trigger")
        for t in self.triggers:
            begins = sorted(s.begin for s in self.structures if s.begin.startswith(t))
            if not begins:
                raise GrammarError(f"{_FIELD}.triggers: no structure begins with {t!r}")
            for a, b in zip(begins, begins[1:]):
                if b.startswith(a):
                    raise GrammarError(f"{_FIELD}.structures: begin {a!r} is a prefix of begin {b!r}; "
                                     "begins must tell the structures apart")


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise GrammarError(f"{_FIELD}.{name} must be a non-empty list")
    return value


def _structure(value: Any, i: int) -> Structure:
    where = f"{_FIELD}.structures[{i}]"
    if not isinstance(value, dict):
        raise GrammarError(f"{where} must be an object with begin, schema and end")
    unknown = sorted(set(value) - {"begin", "schema", "end"})
    if unknown:
        raise GrammarError(f"{where} has unknown field(s): {', '.join(unknown)}")
    begin, schema, end = value.get("begin"), value.get("schema"), value.get("end", "")
    if not isinstance(begin, str) or not begin:
        raise GrammarError(f"{where}.begin must be a non-empty string")
    if not isinstance(schema, (dict, bool)):
        raise GrammarError(f"{where}.schema must be a JSON schema object")
    if not isinstance(end, str):
        raise GrammarError(f"{where}.end must be a string")
    return Structure(begin, schema, end)
