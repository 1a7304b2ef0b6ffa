"""unevaluatedProperties/Items (static cases), $anchor and $dynamicRef, against jsonschema."""
from __future__ import annotations

import pytest
from schema_check import byte_compiler, check_schema

from sglike.grammar import GrammarError


@pytest.fixture(scope="module")
def gc():
    return byte_compiler()


A = {"properties": {"a": {"type": "integer"}}}


def test_unevaluated_properties_plain(gc):
    s = {"type": "object", **A, "unevaluatedProperties": False}
    check_schema(gc, s, valid=[{}, {"a": 1}], invalid=[{"b": 1}, {"a": 1, "b": 2}])


def test_unevaluated_properties_sees_allof_and_ref(gc):
    s = {"type": "object", "allOf": [A], "properties": {"b": {"type": "string"}},
         "unevaluatedProperties": False}
    check_schema(gc, s, valid=[{"b": "x"}, {"a": 1}], invalid=[{"c": 1}, {"a": "x"}])
    s = {"type": "object", "$ref": "#/$defs/A", "properties": {"b": {"type": "string"}},
         "unevaluatedProperties": False, "$defs": {"A": A}}
    check_schema(gc, s, valid=[{"a": 1, "b": "x"}, {"a": 1}], invalid=[{"c": 1}])  # schema order: a first


def test_unevaluated_properties_per_oneof_branch(gc):
    s = {"type": "object", "unevaluatedProperties": False, "oneOf": [
        {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
        {"properties": {"b": {"type": "string"}}, "required": ["b"]}]}
    check_schema(gc, s, valid=[{"a": 1}, {"b": "x"}], invalid=[{"a": 1, "b": "x"}, {"c": 1}, {}])


def test_unevaluated_items(gc):
    s = {"type": "array", "prefixItems": [{"type": "integer"}], "unevaluatedItems": False}
    check_schema(gc, s, valid=[[], [1]], invalid=[[1, 2], ["x"]])


def test_inner_unevaluated_is_refused_not_widened(gc):
    s = {"allOf": [{**A, "unevaluatedProperties": False}], "properties": {"b": {"type": "string"}}}
    with pytest.raises(GrammarError, match="unevaluated"):
        gc.compile_json_schema(s)  # {"b": "x"} is invalid: the inner keyword never sees b


def test_anchor_ref(gc):
    s = {"$ref": "#num", "$defs": {"N": {"$anchor": "num", "type": "integer", "minimum": 3}}}
    check_schema(gc, s, valid=[3, 40], invalid=[2, "a"])
    with pytest.raises(GrammarError, match="anchor"):
        gc.compile_json_schema({"$ref": "#nope", "$defs": {"N": {"$anchor": "num"}}})
    with pytest.raises(GrammarError, match="embedded resources"):
        gc.compile_json_schema({"$ref": "#n", "$defs": {"N": {"$id": "x", "$anchor": "n"}}})


def test_dynamic_ref_in_one_document(gc):
    s = {"$dynamicAnchor": "node", "type": "object", "additionalProperties": False,
         "properties": {"kids": {"type": "array", "items": {"$dynamicRef": "#node"}},
                        "v": {"type": "integer"}}}
    check_schema(gc, s, valid=[{"kids": [{"kids": [], "v": 2}], "v": 1}, {}],
                 invalid=[{"kids": [{"v": "x"}]}, {"w": 1}])
