"""A parsed ``structural_tag`` -> its `TriggeredGrammar` (each structure's schema compiled)."""
from __future__ import annotations

from typing import Any, Callable

from ..base import CompiledGrammar
from ..errors import GrammarError
from .tag import StructuralTag
from .token_index import TokenIndex
from .triggered import TriggeredGrammar


def triggered_grammar(tag: StructuralTag, compile_schema: Callable[[Any], CompiledGrammar],
                      index: TokenIndex) -> TriggeredGrammar:
    """Compile every structure's schema with `compile_schema`; a bad one raises GrammarError
    naming its index."""
    schemas = []
    for i, s in enumerate(tag.structures):
        try:
            schemas.append(compile_schema(s.schema))
        except ValueError as exc:
            raise GrammarError(f"structures[{i}].schema: {exc}") from None
    return TriggeredGrammar(tag, schemas, index)
