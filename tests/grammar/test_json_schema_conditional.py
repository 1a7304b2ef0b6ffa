"""if/then/else, `not` over string enums and discriminator exclusion, against jsonschema."""
from __future__ import annotations

import pytest

from sglike.grammar import GrammarError

from schema_check import byte_compiler, check_schema


@pytest.fixture(scope="module")
def gc():
    return byte_compiler()


def test_if_then_else_on_types(gc):
    s = {"if": {"type": "string"}, "then": {"maxLength": 3}, "else": {"type": "integer"}}
    check_schema(gc, s, valid=["ab", "", 7, -3], invalid=["abcd", None, True, 1.5, []])


def test_if_then_else_discriminator(gc):
    s = {"type": "object", "required": ["kind"],
         "properties": {"kind": {"enum": ["a", "b"]}, "x": {"type": "integer"}, "y": {"type": "string"}},
         "if": {"properties": {"kind": {"const": "a"}}},
         "then": {"required": ["x"]}, "else": {"required": ["y"]}}
    check_schema(gc, s, valid=[{"kind": "a", "x": 1}, {"kind": "b", "y": "q"}],
                 invalid=[{"kind": "a"}, {"kind": "b"}, {"kind": "b", "x": 1}, {"x": 1}])


def test_if_with_plain_string_discriminator(gc):
    s = {"type": "object", "properties": {"kind": {"type": "string"}, "n": {"type": "integer"}},
         "if": {"properties": {"kind": {"const": "num"}}}, "then": {"required": ["n"]}}
    check_schema(gc, s, valid=[{"kind": "num", "n": 2}, {"kind": "other"}, {"kind": "nu"}],
                 invalid=[{"kind": "num"}, {"kind": 3}])


def test_then_else_without_if_mean_nothing(gc):
    check_schema(gc, {"type": "integer", "then": False, "else": False}, valid=[1, 0], invalid=["a"])


def test_not_string_enum(gc):
    s = {"type": "string", "not": {"enum": ["ab", "abc", "b/"]}}
    check_schema(gc, s, valid=["", "a", "abcd", "b", "x/"], invalid=["ab", "abc", "b/"])
    g = gc.compile_json_schema(s)
    assert not g.accepts('"b\\/"') and not g.accepts('"\\u0061b"')  # no other spelling


def test_if_that_cannot_be_excluded_names_the_keyword(gc):
    s = {"type": "object", "if": {"properties": {"a": {"pattern": "^x"}}}, "then": {"required": ["b"]},
         "else": {"required": ["c"]}, "properties": {"a": {"type": "string"}}}
    with pytest.raises(GrammarError, match="'if'"):
        gc.compile_json_schema(s)
