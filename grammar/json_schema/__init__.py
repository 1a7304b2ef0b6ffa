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
        return _pydantic_schema(schema)
    if isinstance(schema, (dict, bool)):
        return schema
    raise GrammarError(f"unsupported schema object of type {type(schema).__name__}")


def schema_to_regex(schema: Any, whitespace: str = "compact", key_order: str = "schema") -> str:
    """A regex for the schema (RecursiveSchema if it needs a CFG). Its pieces are already
    normalized (patterns and formats went through `translate`), so the text is not run
    through `translate` again: that second parse cost as much as the compile itself."""
    rx = Converter(schema, whitespace, key_order=key_order).conv(schema)
    if len(rx) > REGEX_MAX_CHARS:
        raise RecursiveSchema(f"regex of {len(rx)} characters (over {REGEX_MAX_CHARS})")
    return rx


def schema_to_grammar(schema: Any, whitespace: str = "compact",
                      key_order: str = "schema") -> tuple[str, str]:
    """("regex", pattern) or ("lark", grammar) for the schema."""
    try:
        try:
            return "regex", schema_to_regex(schema, whitespace, key_order)
        except RecursiveSchema:
            return "lark", schema_to_lark(schema, whitespace, key_order)
    except RecursionError:
        raise GrammarError("schema nesting too deep") from None


def _pydantic_schema(model: type) -> Any:
    """The model's JSON schema, objects closed (`additionalProperties: false` where left
    out) unless the model allows extra fields: pydantic ignores undeclared keys, so they
    are not generated (the DSL's `sglike.primitives.pydantic_schema` does the same)."""
    out = model.model_json_schema()
    if getattr(model, "model_config", {}).get("extra") != "allow":
        _close(out)
    return out


def _close(node: Any) -> None:
    """additionalProperties: false on each object schema with properties that leaves it
    out; subschemas only (never enum/const/default values)."""
    if not isinstance(node, dict):
        return
    if "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    for key in ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas"):
        for sub in (node.get(key) or {}).values():
            _close(sub)
    for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
        for sub in node.get(key) or []:
            _close(sub)
    for key in ("items", "additionalProperties", "not", "if", "then", "else", "contains"):
        _close(node.get(key))
