"""multipleOf for integers and decimal powers of ten, against jsonschema."""
from __future__ import annotations

import pytest
from schema_check import byte_compiler, check_schema

from sglike.grammar import GrammarError


@pytest.fixture(scope="module")
def gc():
    return byte_compiler()


def _split(schema, values):
    import jsonschema
    ref = jsonschema.Draft202012Validator(schema)
    return [v for v in values if ref.is_valid(v)], [v for v in values if not ref.is_valid(v)]


@pytest.mark.parametrize("schema", [
    {"type": "integer", "multipleOf": 25},
    {"type": "integer", "multipleOf": 2, "minimum": 0},
    {"type": "integer", "multipleOf": 3, "minimum": -10, "maximum": 20},
    {"type": "integer", "multipleOf": 0.5},
    {"type": "number", "multipleOf": 5, "minimum": 1},
])
def test_integer_multiples(gc, schema):
    valid, invalid = _split(schema, list(range(-60, 260)) + [0.5, 2.5, "5"])
    check_schema(gc, schema, valid, invalid)


def test_decimal_multiples(gc):
    s = {"type": "number", "multipleOf": 0.01, "minimum": 0}
    check_schema(gc, s, valid=[0, 1, 0.5, 0.25, 12.75, 3.5], invalid=[-1, 0.125, "1"])


@pytest.mark.parametrize("schema", [
    {"type": "integer", "multipleOf": 7},
    {"type": "number", "multipleOf": 0.25},
    {"type": "number", "multipleOf": 0.1, "maximum": 5},
])
def test_unsupported_multiples_name_the_keyword(gc, schema):
    with pytest.raises(GrammarError, match="multipleOf"):
        gc.compile_json_schema(schema)
