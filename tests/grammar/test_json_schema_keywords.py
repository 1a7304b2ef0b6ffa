"""Object, array and string keywords (dependencies, contains, min/maxProperties with optional properties,
propertyNames, several patternProperties, pattern with lengths): accepted texts validate with
`jsonschema`; listed valid instances are accepted; random instances never slip through."""
from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sglike.grammar import GrammarCompiler, GrammarError, Vocabulary

P3 = {"a": {"type": "integer"}, "b": {"type": "integer"}, "c": {"type": "integer"}}
CASES: dict[str, tuple[Any, list, list]] = {
    "dependentRequired": ({"type": "object", "properties": P3, "dependentRequired": {"a": ["b"]}},
                          [{}, {"a": 1, "b": 2}, {"b": 1}, {"c": 3}], [{"a": 1}, {"a": 1, "c": 1}]),
    "dependentSchemas": ({"type": "object", "properties": P3, "dependentSchemas": {
        "a": {"properties": {"b": {"minimum": 5}}, "required": ["c"]}}},
        [{}, {"a": 1, "c": 1}, {"a": 1, "b": 6, "c": 1}, {"b": 1}], [{"a": 1}, {"a": 1, "b": 1, "c": 1}]),
    "dependencies draft4": ({"type": "object", "properties": P3, "dependencies": {"c": ["a", "b"]}},
                            [{"a": 1, "b": 1, "c": 1}, {"a": 1}], [{"c": 1}, {"a": 1, "c": 1}]),
    "minProperties": ({"type": "object", "properties": P3, "minProperties": 2},
                      [{"a": 1, "b": 1}, {"a": 1, "c": 1}, {"a": 1, "b": 1, "c": 1}], [{}, {"b": 1}]),
    "maxProperties": ({"type": "object", "properties": P3, "required": ["b"], "maxProperties": 2},
                      [{"b": 1}, {"a": 1, "b": 1}, {"b": 1, "c": 1}], [{"a": 1, "b": 1, "c": 1}, {"a": 1}]),
    "minProperties too high": ({"type": "object", "properties": {"a": {"type": "integer"}}, "minProperties": 2},
                               [], [{"a": 1}, {}]),
    "propertyNames": ({"type": "object", "propertyNames": {"maxLength": 2},
                       "additionalProperties": {"type": "integer"}}, [{}, {"ab": 1}, {"a": 1, "b": 2}],
                      [{"abc": 1}]),
    "propertyNames declared": ({"properties": {"ab": {"type": "integer"}, "abc": {"type": "integer"}},
                                "propertyNames": {"pattern": "^a.?$"}}, [{}, {"ab": 1}], [{"abc": 1}]),
    "patternProperties": ({"type": "object", "patternProperties": {"^a": {"type": "integer"},
                                                                   "^b": {"type": "string"}},
                           "additionalProperties": False},
                          [{"a": 1, "bx": "s"}, {"ab": 2}], [{"a": "s"}, {"b": 1}, {"c": 1}]),
    "patternProperties overlap": ({"type": "object", "patternProperties": {"^a": {"type": "integer"},
                                                                           "b$": {"minimum": 3}}},
                                  [{"ab": 4}, {"xb": 5}], [{"ab": 1}, {"b": "x"}]),
    "contains": ({"type": "array", "items": {"type": "integer"}, "contains": {"minimum": 5}},
                 [[5], [1, 6, 2]], [[], [1], [1, 2], ["a", 6]]),
    "contains optional": ({"type": "array", "contains": {"type": "string"}, "minContains": 0},
                          [[], [1]], []),
    "pattern lengths": ({"type": "string", "pattern": "^[a-z0-9-]+$", "minLength": 2, "maxLength": 4},
                        ["ab", "a-b", "abcd"], ["a", "abcde", "AB", ""]),
    "pattern alternatives": ({"type": "string", "pattern": "^([\\w/-]|[\\w-][\\w/-]*[\\w-])$",
                              "maxLength": 4}, ["a", "a/b", "ab-c"], ["a//bc", "/a", "abcde"]),
    "pattern repeated group": ({"type": "string", "pattern": "^(ab)+$", "minLength": 3, "maxLength": 6},
                               ["abab", "ababab"], ["ab", "abababab", "aba"]),
}


def _text(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


@pytest.fixture(scope="module")
def compiler() -> GrammarCompiler:
    return GrammarCompiler(Vocabulary.from_tokens([b"a"]), cache_dir=False)


def _grammar(compiler: GrammarCompiler, schema: Any):
    try:
        return compiler.compile_json_schema(schema)
    except GrammarError as e:  # an empty language is reported, not compiled
        assert "empty" in str(e)
        return None


@pytest.mark.parametrize("name", sorted(CASES))
def test_accepts_only_valid_instances(compiler, name):
    schema, good, other = CASES[name]
    g = _grammar(compiler, schema)
    validator = jsonschema.Draft7Validator(schema) if "dependencies" in schema else \
        jsonschema.Draft202012Validator(schema)
    for inst in good:
        assert validator.is_valid(inst), inst
        assert g is not None and g.accepts(_text(inst)), inst
    for inst in other:
        if g is not None and g.accepts(_text(inst)):
            assert validator.is_valid(inst), inst


@pytest.mark.parametrize("schema", [
    {"type": "string", "pattern": "^(ab|c)+$", "minLength": 3, "maxLength": 5},  # no split
    {"type": "object", "dependentRequired": {k: ["z"] for k in "abcde"}},
    {"type": "array", "contains": {"type": "string"}, "maxContains": 2},
])
def test_inexpressible_combinations_raise(compiler, schema):
    with pytest.raises(GrammarError):
        compiler.compile_json_schema(schema)


_json = st.recursive(
    st.none() | st.integers(-2, 7) | st.sampled_from(["", "a", "ab", "a-b", "abcd", "abcde", "s", "a/b"]),
    lambda kids: st.lists(kids, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "b", "c", "ab", "abc", "bx", "xb"]), kids, max_size=4),
    max_leaves=6)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(inst=_json)
def test_random_instances_never_accepted_when_invalid(compiler, inst):
    for schema, _good, _other in CASES.values():
        g = _grammar(compiler, schema)
        if g is not None and g.accepts(_text(inst)):
            cls = jsonschema.Draft7Validator if "dependencies" in schema else jsonschema.Draft202012Validator
            assert cls(schema).is_valid(inst), (schema, inst)


def test_min_properties_over_free_keys_is_refused_not_unsound(compiler):
    """Free keys can repeat, and {"x": 1, "x": 2} is one property: minProperties 2 over
    them would admit an invalid instance, so it is refused naming the keyword; 1 is exact."""
    with pytest.raises(GrammarError, match="minProperties"):
        compiler.compile_json_schema({"type": "object", "minProperties": 2})
    with pytest.raises(GrammarError, match="minProperties"):
        compiler.compile_json_schema({"type": "object", "patternProperties": {"^a": {"type": "integer"}}, "minProperties": 3})
    g = compiler.compile_json_schema({"type": "object", "minProperties": 1})
    assert g.accepts('{"x":1}') and not g.accepts("{}")
    assert not jsonschema.Draft202012Validator({"type": "object", "minProperties": 2}).is_valid(json.loads('{"x":1,"x":2}'))


def test_min_properties_above_the_declared_counts_one_run_of_undeclared_members(compiler):
    """One declared property, minProperties 2: an undeclared member makes up the count (its
    key is not the declared one); a repeated undeclared key does not count twice."""
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "minProperties": 2}
    g = compiler.compile_json_schema(schema)
    for text, want in (('{"a":1,"x":2}', True), ('{"a":1,"x":2,"y":3,"x":4}', True), ('{"a":1}', False),
                       ('{"x":1,"x":2}', False), ('{"x":1,"y":2}', False)):
        assert g.accepts(text) == want, text
        if want:
            jsonschema.validate(json.loads(text), schema)
