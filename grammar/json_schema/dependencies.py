"""dependentRequired / dependentSchemas / draft-4 `dependencies` as an exact case split.

For each trigger property p that is not already required, the object either lacks p
(`properties: {p: false}`) or has it (`required: [p]` plus the dependency); the two cases
share no instance, so `anyOf` of them is exact. Each open trigger doubles the grammar, so
at most MAX_TRIGGERS are split.
"""
from __future__ import annotations

from typing import Any, Callable

from ..errors import GrammarError
from .merge import merge

KEYWORDS = ("dependentRequired", "dependentSchemas", "dependencies")
MAX_TRIGGERS = 4


def _rules(s: dict) -> list[tuple[str, Any]]:
    """(trigger, schema to add when the trigger is present), in schema order."""
    out = []
    for key in KEYWORDS:
        for name, dep in (s.get(key) or {}).items():
            if isinstance(dep, list):
                out.append((name, {"required": list(dep)}))
            elif isinstance(dep, (dict, bool)):
                out.append((name, dep))
            else:
                raise GrammarError(f"{key!r}: the dependency of {name!r} is not a list or a schema")
    return out


def expand(s: dict, resolve: Callable[[Any], Any]) -> Any:
    """`s` without dependency keywords: an equivalent schema, anyOf over trigger presence."""
    rules = _rules(s)
    base = {k: v for k, v in s.items() if k not in KEYWORDS}
    cases: list[Any] = [base]
    open_triggers = 0
    for name, dep in rules:
        if dep is True or dep == {}:
            continue
        nxt = []
        for case in cases:
            if case is False:
                continue
            if name in case.get("required", []):
                nxt.append(merge(case, dep, resolve))
                continue
            nxt.append(merge(case, {"properties": {name: False}}, resolve))
            nxt.append(merge(merge(case, {"required": [name]}, resolve), dep, resolve))
        if len(nxt) > len(cases):
            open_triggers += 1
            if open_triggers > MAX_TRIGGERS:
                raise GrammarError(f"more than {MAX_TRIGGERS} dependentRequired/dependentSchemas "
                                   "triggers on one object are not supported")
        cases = nxt
    cases = [c for c in cases if c is not False]
    if not cases:
        return False
    return cases[0] if len(cases) == 1 else {"anyOf": cases}
