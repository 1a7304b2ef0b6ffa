"""oneOf, not, and any-depth values: accepted texts must validate with `jsonschema`, the listed
valid instances must be accepted, and what cannot be honoured raises GrammarError."""
from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sglike.grammar import GrammarCompiler, GrammarError, Vocabulary

OBJ_T = {"type": "object", "properties": {"t": {"const": "x"}, "v": {"type": "string"}}, "required": ["t"]}
OBJ_U = {"type": "object", "properties": {"t": {"const": "y"}, "v": {"type": "integer"}}, "required": ["t"]}
# name: (schema, instances that must be accepted, other instances to try)
CASES: dict[str, tuple[Any, list, list]] = {
    "oneOf types": ({"oneOf": [{"type": "integer"}, {"type": "string"}, {"type": "number"},
                               {"type": "null"}]}, [1.5, "a", None], [1, 0, -3, True, [], 2.0]),
    "oneOf enums": ({"oneOf": [{"enum": ["red", "blue", 3]}, {"enum": ["blue", "orange", 6, 3.0]}]},
                    ["red", "orange", 6], ["blue", 3, "green"]),
    "oneOf discriminator": ({"oneOf": [OBJ_T, OBJ_U]}, [{"t": "x", "v": "a"}, {"t": "y", "v": 1}],
                            [{"t": "y", "v": "a"}, {"t": "z"}, {"v": 1}]),
    "oneOf required": ({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"},
                                                         "c": {}},
                        "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
                       [{"a": 1}, {"b": 1}, {"a": 1, "c": [1]}], [{}, {"a": 1, "b": 2}, {"c": 1}]),
    "oneOf patterns": ({"oneOf": [{"type": "string", "pattern": "^https?://.+$"},
                                  {"type": "string", "pattern": "^\\./.+$"}]},
                       ["http://a", "./b"], ["x", "", "./", "https:/"]),
    "oneOf ref": ({"$defs": {"c": {"enum": ["a", "b"]}}, "oneOf": [{"$ref": "#/$defs/c"}, {"const": "b"}]},
                  ["a"], ["b", "c"]),
    "not type": ({"not": {"type": ["array", "object", "null"]}}, [1, "a", True, 2.5],
                 [None, [], {}, [1], {"a": 1}]),
    "not empty": ({"properties": {"a": {"not": {}}, "b": {"type": "integer"}}},
                  [{}, {"b": 1}], [{"a": 1}, {"a": None, "b": 2}]),
    "not enum": ({"enum": ["a", "c", "d", 1], "not": {"enum": ["a", 1.0]}}, ["c", "d"], ["a", 1]),
    "not required": ({"type": "object", "properties": {"k": {"const": "a"}, "x": {"type": "integer"}},
                      "required": ["k"], "not": {"required": ["x"]}},
                     [{"k": "a"}], [{"k": "a", "x": 1}, {}]),
    "not integer": ({"type": "number", "not": {"type": "integer"}}, [1.5, -0.25], [1, 0, -2]),
    "any depth": ({"type": "object", "properties": {"meta": {}}, "required": ["meta"]},
                  [{"meta": {"a": [1, {"b": [[{"c": None}]]}]}}, {"meta": 1}], [{}, {"meta2": 1}]),
}
UNSUPPORTED = [  # overlapping branches that no branch can be cut down to
    ({"oneOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                {"type": "object", "properties": {"b": {"type": "integer"}}}]}, "oneOf"),
    ({"oneOf": [{"type": "string", "maxLength": 3}, {"type": "string", "minLength": 2}]}, "oneOf"),
    ({"type": "string", "not": {"pattern": "^a"}}, "not"),
]


def _text(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


@pytest.fixture(scope="module")
def compiler() -> GrammarCompiler:
    return GrammarCompiler(Vocabulary.from_tokens([b"a"]), cache_dir=False)


@pytest.mark.parametrize("name", sorted(CASES))
def test_accepts_only_valid_instances(compiler, name):
    schema, good, other = CASES[name]
    g = compiler.compile_json_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for inst in good:
        assert validator.is_valid(inst), inst
        assert g.accepts(_text(inst)), inst
    for inst in other:
        if g.accepts(_text(inst)):
            assert validator.is_valid(inst), inst


@pytest.mark.parametrize("schema, word", UNSUPPORTED)
def test_overlap_that_cannot_be_cut_raises(compiler, schema, word):
    with pytest.raises(GrammarError, match=word):
        compiler.compile_json_schema(schema)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 7) | st.sampled_from([1.5, -0.25, 2.0])
    | st.sampled_from(["a", "b", "c", "x", "y", "./b", "http://a", "red", "blue", "orange"]),
    lambda kids: st.lists(kids, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "b", "t", "v", "k", "x", "meta"]), kids, max_size=3),
    max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(inst=_json)
def test_random_instances_never_accepted_when_invalid(compiler, inst):
    for schema, _good, _other in CASES.values():
        if compiler.compile_json_schema(schema).accepts(_text(inst)):
            assert jsonschema.Draft202012Validator(schema).is_valid(inst), (schema, inst)
