"""key_order="any" for JSON-schema grammars, checked by brute force: every sequence of keys
(all subsets in all orders, repeats, unknown keys) is walked through the matcher byte by
byte and must pass exactly when it has no repeated declared key and `jsonschema` accepts it.
Both paths are covered: the regex (small objects) and the CFG (rules per key set)."""
from __future__ import annotations

import itertools
import json
import random
import re
from typing import Any

import jsonschema
import pytest

from schema_check import EOS, byte_compiler, sample
from sglike.grammar import GrammarError
from sglike.grammar.json_schema import key_order, schema_to_grammar


def walk(g: Any, text: str) -> bool:
    """Whether the matcher takes `text` byte by byte (each byte allowed by the mask) and
    then allows EOS; `g.accepts` must agree."""
    m = g.matcher()
    ok = True
    for b in text.encode("utf-8"):
        if not m.allowed_tokens()[b]:
            assert not m.advance(b)
            ok = False
            break
        assert m.advance(b)
    ok = ok and bool(m.allowed_tokens()[EOS])
    assert g.accepts(text) == ok, text
    return ok


def text_of(pairs: list[tuple[str, Any]]) -> str:
    return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}"


def twin(g: Any, schema: dict, values: dict[str, list[Any]], max_len: int) -> int:
    """Every key sequence up to max_len over `values` (each key with each of its values):
    the grammar accepts it exactly when no declared key repeats and jsonschema says valid.
    Repeated undeclared keys are skipped (members.py does not exclude them)."""
    declared = set(schema.get("properties", {}))
    ref = jsonschema.Draft202012Validator(schema)
    checked = 0
    for n in range(max_len + 1):
        for keys in itertools.product(sorted(values), repeat=n):
            if any(keys.count(k) > 1 for k in set(keys) - declared):
                continue
            for vals in itertools.product(*(values[k] for k in keys)):
                pairs = list(zip(keys, vals))
                expected = len(set(keys)) == len(keys) and ref.is_valid(dict(pairs))
                assert walk(g, text_of(pairs)) == expected, (text_of(pairs), expected)
                checked += 1
    return checked


@pytest.fixture()
def gc():
    return byte_compiler()  # per test: compiled grammars are cached per compiler


@pytest.fixture(params=["regex", "cfg"])
def path(request, monkeypatch):
    """The regex path, or the CFG path (any object body is over the regex limit)."""
    if request.param == "cfg":
        monkeypatch.setattr(key_order, "REGEX_MAX_CHARS", 0)
    return request.param


CLOSED = {"type": "object", "additionalProperties": False, "required": ["a"],
          "properties": {"a": {"type": "integer"}, "b": {"const": 2}, "c": {"type": "boolean"}}}
OPEN = {"type": "object", "required": ["b"],
        "properties": {"a": {"type": "integer"}, "b": {"enum": [1, 2]}}}
COUNTED = {"type": "object", "additionalProperties": False, "minProperties": 2,
           "maxProperties": 2, "properties": {"a": {}, "b": {}, "c": {}}}


def test_closed_object_brute_force(gc, path):
    g = gc.compile_json_schema(CLOSED, key_order="any")
    assert schema_to_grammar(CLOSED, key_order="any")[0] == ("regex" if path == "regex" else "lark")
    values = {"a": [1, "s"], "b": [2, 3], "c": [True], "z": [0]}
    assert twin(g, CLOSED, values, 4) > 1000


def test_open_object_brute_force(gc, path):
    g = gc.compile_json_schema(OPEN, key_order="any")
    assert twin(g, OPEN, {"a": [1, "s"], "b": [2, 3], "x": [0, None], "y": [True]}, 4) > 500


def test_property_counts_brute_force(gc, path):
    g = gc.compile_json_schema(COUNTED, key_order="any")
    assert twin(g, COUNTED, {"a": [0], "b": [0], "c": [0], "z": [0]}, 4) > 200


def test_nested_objects(gc, path):
    inner = {"type": "object", "properties": {"u": {"const": 1}, "v": {"const": 2}},
             "required": ["u"], "additionalProperties": False}
    schema = {"type": "object", "properties": {"p": inner, "q": {"type": "integer"}},
              "required": ["p", "q"], "additionalProperties": False}
    g = gc.compile_json_schema(schema, key_order="any")
    inners = [{"u": 1}, {"u": 1, "v": 2}, {"v": 2, "u": 1}, {"v": 2}]
    for p in inners:
        for pairs in ([("p", p), ("q", 3)], [("q", 3), ("p", p)]):
            assert walk(g, json.dumps(dict(pairs), separators=(",", ":"))) == ("u" in p)
    assert not walk(g, '{"p":{"u":1,"u":1},"q":3}')
    assert not walk(g, '{"q":3,"p":{"u":1},"q":3}')


def test_recursive_schema(gc):
    schema = {"$defs": {"node": {"type": "object", "additionalProperties": False,
                                 "required": ["v"],
                                 "properties": {"v": {"type": "integer"},
                                                "kids": {"type": "array",
                                                         "items": {"$ref": "#/$defs/node"}}}}},
              "$ref": "#/$defs/node"}
    g = gc.compile_json_schema(schema, key_order="any")
    assert walk(g, '{"kids":[{"v":2},{"kids":[],"v":3}],"v":1}')
    assert not walk(g, '{"kids":[{"v":2,"v":2}],"v":1}')
    assert not walk(g, '{"kids":[{"kids":[]}],"v":1}')


def test_enum_objects_keep_their_key_order(gc):
    schema = {"enum": [{"b": 2, "a": 1}], "additionalProperties": False,
              "properties": {"a": {"type": "integer"}, "b": {"const": 2}}}
    assert walk(gc.compile_json_schema(schema, key_order="any"), '{"b":2,"a":1}')
    with pytest.raises(GrammarError, match="empty"):  # schema order: the value is left out
        gc.compile_json_schema(schema)
    free = {"enum": [{"b": 2, "a": 1}, {"a": 1, "b": 2}], "properties": {"a": {}, "b": {}}}
    g = gc.compile_json_schema(free, key_order="any")  # too large in any order: schema order
    assert walk(g, '{"a":1,"b":2}') and not walk(g, '{"b":2,"a":1}')


def test_flexible_whitespace(gc):
    g = gc.compile_json_schema(CLOSED, whitespace="flexible", key_order="any")
    assert walk(g, '{ "c" : true ,\n "a": 1 }')
    assert not walk(g, '{ "a" : 1 , "a": 1 }')


def test_sampled_texts_are_valid_without_repeated_keys(gc):
    ref = jsonschema.Draft202012Validator(CLOSED)
    g = gc.compile_json_schema(CLOSED, key_order="any")
    rng, orders = random.Random(0), set()
    for _ in range(60):
        text = sample(g, rng)
        if text is None:
            continue
        keys = re.findall(r'"([abcz])":', text)
        assert len(keys) == len(set(keys)) and ref.is_valid(json.loads(text)), text
        orders.add(tuple(keys))
    assert len(orders) > 3  # not only the schema order


def test_default_is_schema_order(gc):
    for g in (gc.compile_json_schema(CLOSED), gc.compile_json_schema(CLOSED, key_order="schema")):
        assert walk(g, '{"a":1,"b":2,"c":true}')
        assert not walk(g, '{"c":true,"a":1}')


def test_many_properties_on_the_cfg_path(gc):
    names = [f"k{i}" for i in range(key_order.MAX_KEYS)]
    schema = {"type": "object", "properties": {k: {"type": "integer"} for k in names},
              "required": names[::2], "additionalProperties": False}
    g = gc.compile_json_schema(schema, key_order="any")
    assert schema_to_grammar(schema, key_order="any")[0] == "lark"
    shuffled = names[::-1]
    assert walk(g, text_of([(k, i) for i, k in enumerate(shuffled)]))
    assert not walk(g, text_of([(k, i) for i, k in enumerate(shuffled + names[:1])]))
    assert not walk(g, text_of([(k, 0) for k in names[1::2]]))  # required ones missing


def test_too_many_properties_raise(gc):
    n = key_order.MAX_KEYS + 1
    schema = {"type": "object", "properties": {f"k{i}": {"type": "integer"} for i in range(n)}}
    with pytest.raises(GrammarError, match=f"at most {key_order.MAX_KEYS} properties.*has {n}"):
        gc.compile_json_schema(schema, key_order="any")
    gc.compile_json_schema(schema)  # schema order has no such limit


def test_unknown_key_order(gc):
    with pytest.raises(GrammarError, match="key_order must be 'schema' or 'any'"):
        gc.compile_json_schema(CLOSED, key_order="sorted")
