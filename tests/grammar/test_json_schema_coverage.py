"""Issue #15 coverage: each keyword fix checked against jsonschema (the reference) on chosen
instances and on texts sampled from the grammar (never an invalid one)."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

from schema_check import byte_compiler, check_schema
from sglike.grammar.json_schema.words import other_strings
from sglike.grammar.regex.syntax import translate

CASES: dict[str, tuple[Any, list, list]] = {
    "pattern with top-level alternation": (
        {"type": "string", "pattern": "^p([0-9]+)|t$"},
        ["p1", "t", "xt", "p1x"], ["x", "1p", "tx"]),
    "pattern alternation as a property": (
        {"type": "object", "properties": {"id": {"type": "string", "pattern": "^a|b$"}},
         "required": ["id"], "additionalProperties": False},
        [{"id": "a"}, {"id": "ax"}, {"id": "xb"}], [{"id": "x"}, {"id": 1}]),
    "undeclared members after the declared ones": (
        {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
         "required": ["b"]},
        [{"b": "x"}, {"b": "x", "z": 1}, {"a": 1, "b": "x", "y": 1.5, "c": "d"},
         {"b": "", "ab": 1}, {"b": "x", "b ": True}],
        [{"a": 1}, {"a": "s", "b": "x"}, {"b": 2}, {"z": 1}, {}]),
    "undeclared members, all optional": (
        {"properties": {"a": {"const": 1}, "b": {"const": 2}}},
        [{}, {"x": 0}, {"a": 1}, {"b": 2, "x": 0}, {"a": 1, "b": 2, "x": "", "y": 2, "z": None},
         {"x": 0, "y": False}],
        [{"a": 2}, {"x": 0, "b": 3}]),
    "additionalProperties schema": (
        {"type": "object", "properties": {"a": {"type": "integer"}},
         "additionalProperties": {"type": "string"}},
        [{"a": 1, "b": "x"}, {"b": "x"}, {"c": ""}], [{"b": 1}, {"a": "x"}]),
    "maxProperties next to undeclared members": (
        {"properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "maxProperties": 2},
        [{}, {"a": 1}, {"a": 1, "b": 2}], [{"a": 1, "b": 2, "x": 3}, {"x": 1, "y": 2, "z": 3}]),
    "additionalProperties false": (
        {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False},
        [{}, {"a": 1}], [{"b": 1}, {"a": 1, "b": 1}]),
    "declared names not reachable through escapes": (
        {"type": "object", "properties": {"a/b": {"type": "integer"}, "ab": {"type": "integer"}}},
        [{"a/b": 1}, {"ax": "s"}, {"a/c": "s"}], [{"a/b": "s"}, {"ab": "s"}]),
    "pattern pieces share maxLength": (
        {"type": "string", "pattern": "^[a-z]+:[a-z]+$", "maxLength": 9},
        ["a:b", "abcd:efgh"], ["abcde:fghij", "a:", "ab"]),
    "pattern pieces and minLength": (
        {"type": "string", "pattern": "^[a-z]*-?[a-z]*$", "minLength": 2},
        ["ab", "abc-", "abcdef"], ["a", "", "a_b"]),
    "search pattern with both lengths": (
        {"type": "string", "pattern": "[0-9a-f]+", "minLength": 4, "maxLength": 6},
        ["00ff"], ["0ff", "zzzz", "0123456"]),
    "format with maxLength": (
        {"type": "string", "format": "email", "maxLength": 40},
        ["a@b.co", "john.doe@example.com"], ["a" * 40 + "@b.co"]),
    "allOf with differing annotations": (
        {"allOf": [{"type": "integer", "help": "a", "x-doc": 1}, {"minimum": 2, "help": "b"}]},
        [2, 5], [1, "a"]),
    "allOf of two oneOfs": (
        {"allOf": [{"oneOf": [{"type": "integer"}, {"type": "string"}]},
                   {"oneOf": [{"type": "integer", "minimum": 5},
                              {"type": "string", "maxLength": 1}]}]},
        [7, "a", "", 6], [3, "ab", None]),
    "double negation": (
        {"allOf": [{"type": ["integer", "string"]}, {"not": {"not": {"minimum": 3}}}]},
        [3, 7, "a"], [1, None]),
}


@pytest.fixture(scope="module")
def gc():
    return byte_compiler()


@pytest.mark.parametrize("name", sorted(CASES))
def test_grammar_agrees_with_jsonschema(gc, name):
    schema, valid, invalid = CASES[name]
    check_schema(gc, schema, valid, invalid)


@pytest.mark.parametrize("text", ['{"a\\/b":"s"}', '{"\\u0061b":"s"}', '{"a\\u002fb":"s"}'])
def test_escaped_spellings_of_declared_names_are_not_extra_keys(gc, text):
    schema = CASES["declared names not reachable through escapes"][0]
    assert not gc.compile_json_schema(schema).accepts(text)


@pytest.mark.parametrize("max_nodes", [None, 0, 2, 5])
def test_other_strings_never_spell_a_word(max_nodes):
    words = {"name", "nam", "group", "g/x", "é"}
    rx = re.compile(translate(other_strings(words, escapes=False, max_nodes=max_nodes)))
    texts = ["", "n", "na", "nam", "name", "name ", "names", "group", "grou", "g", "g/", "g/x",
             "g/xy", "é", "x", "group x"]
    for t in texts:
        if rx.fullmatch(json.dumps(t, ensure_ascii=False)):
            assert t not in words, t
    if max_nodes is None:  # the whole trie: every other string of raw characters
        assert all(bool(rx.fullmatch(json.dumps(t, ensure_ascii=False))) == (t not in words)
                   for t in texts)


def test_pydantic_models_are_closed_unless_they_allow_extra(gc):
    pydantic = pytest.importorskip("pydantic")

    class Inner(pydantic.BaseModel):
        properties: int

    class Closed(pydantic.BaseModel):
        name: str
        inner: Inner

    class Open(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="allow")
        name: str

    closed = gc.compile_json_schema(Closed)
    assert closed.accepts('{"name":"a","inner":{"properties":1}}')
    assert not closed.accepts('{"name":"a","inner":{"properties":1},"x":1}')
    assert not closed.accepts('{"name":"a","inner":{"properties":1,"x":1}}')
    assert gc.compile_json_schema(Closed.model_json_schema()).accepts(
        '{"name":"a","inner":{"properties":1},"x":1}')  # a plain schema follows the spec
    assert gc.compile_json_schema(Open).accepts('{"name":"a","x":1}')
