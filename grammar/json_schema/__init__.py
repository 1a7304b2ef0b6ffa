"""JSON Schema -> grammar text: a regex, or Lark (recursive.py) when a $ref cycle needs a CFG."""
from __future__ import annotations

import json
from typing import Any

from ..errors import GrammarError
from .common import RecursiveSchema
from .convert import REGEX_MAX_CHARS, Converter
from .recursive import schema_to_lark

__all__ = ["schema_to_grammar", "schema_to_regex", "schema_to_lark", "normalize_schema_input"]


def normalize_schema_input(schema: Any) -> Any:
    """Accept a dict, a bool, JSON text, or a pydantic model class."""
    if isinstance(schema, str):
        try:
            return json.loads(schema)
        except json.JSONDecodeError as e:
            raise GrammarError(f"JSON schema text is not valid JSON: {e}") from None
    if isinstance(schema, type) and hasattr(schema, "model_json_schema"):
        return schema.model_json_schema()
    if isinstance(schema, (dict, bool)):
        return schema
    raise GrammarError(f"unsupported schema object of type {type(schema).__name__}")


def schema_to_regex(schema: Any, whitespace: str = "compact") -> str:
    """A regex for the schema (RecursiveSchema if it needs a CFG). Its pieces are already
    normalized (patterns and formats went through `translate`), so the text is not run
    through `translate` again: that second parse cost as much as the compile itself."""
    rx = Converter(schema, whitespace).conv(schema)
    if len(rx) > REGEX_MAX_CHARS:
        raise RecursiveSchema(f"regex of {len(rx)} characters (over {REGEX_MAX_CHARS})")
    return rx


def schema_to_grammar(schema: Any, whitespace: str = "compact") -> tuple[str, str]:
    """("regex", pattern) or ("lark", grammar) for the schema."""
    try:
        try:
            return "regex", schema_to_regex(schema, whitespace)
        except RecursiveSchema:
            return "lark", schema_to_lark(schema, whitespace)
    except RecursionError:
        raise GrammarError("schema nesting too deep") from None
