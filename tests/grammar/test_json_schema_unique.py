"""uniqueItems over small finite item domains, against jsonschema (every short array)."""
from __future__ import annotations

import itertools
import json

import jsonschema
import pytest
from schema_check import byte_compiler, check_schema

from sglike.grammar import GrammarError


@pytest.fixture(scope="module")
def gc():
    return byte_compiler()


@pytest.mark.parametrize("schema", [
    {"type": "array", "items": {"enum": ["a", "b", "c"]}, "uniqueItems": True},
    {"type": "array", "items": {"type": "boolean"}, "uniqueItems": True, "minItems": 1},
    {"type": "array", "items": {"enum": [1, 2, "x", None]}, "uniqueItems": True, "maxItems": 2},
])
def test_unique_items_exact_on_short_arrays(gc, schema):
    ref = jsonschema.Draft202012Validator(schema)
    g = gc.compile_json_schema(schema)
    for n in range(4):
        for arr in itertools.product(["a", "b", "c", True, False, 1, 2, "x", None], repeat=n):
            text = json.dumps(list(arr), separators=(",", ":"))
            assert g.accepts(text) == ref.is_valid(list(arr)), text
    check_schema(gc, schema, valid=[], invalid=[])  # sampled arrays validate


@pytest.mark.parametrize("schema, match", [
    ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, "uniqueItems"),
    ({"type": "array", "items": {"enum": list(range(12))}, "uniqueItems": True}, "too large"),
])
def test_unique_items_refused_with_the_keyword(gc, schema, match):
    with pytest.raises(GrammarError, match=match):
        gc.compile_json_schema(schema)
