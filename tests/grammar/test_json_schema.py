"""JSON Schema grammars: flexible whitespace, pydantic classes and recursive ($ref cycle)
schemas, checked with `jsonschema` on strings the grammar accepts and on random token walks
over the real SmolLM2 vocabulary."""
from __future__ import annotations

import json
import random
from typing import Any, Literal, Optional

import jsonschema
import pytest
from pydantic import BaseModel, Field

from sglike.grammar import GrammarCompiler, GrammarError, Vocabulary

TREE = {"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 8},
    "children": {"type": "array", "items": {"$ref": "#"}, "maxItems": 3}},
    "required": ["name"], "additionalProperties": False}
LINKED = {"$defs": {"node": {"type": "object", "properties": {
    "v": {"type": "integer", "minimum": 0, "maximum": 99},
    "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}},
    "required": ["v", "next"]}}, "$ref": "#/$defs/node"}
EXPR = {"$defs": {  # mutual recursion: expr -> op -> expr
    "expr": {"anyOf": [{"type": "integer"}, {"$ref": "#/$defs/op"}]},
    "op": {"type": "object", "properties": {"op": {"enum": ["+", "*"]},
                                            "args": {"type": "array", "items": {"$ref": "#/$defs/expr"},
                                                     "minItems": 2, "maxItems": 2}},
           "required": ["op", "args"], "additionalProperties": False}},
    "$ref": "#/$defs/expr"}
ORDER = {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"},
    "status": {"enum": ["new", "paid", "sent"]},
    "note": {"type": "string", "maxLength": 10},
    "items": {"type": "array", "maxItems": 3, "items": {"type": "object", "properties": {
        "sku": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{2}$"},
        "qty": {"type": "integer", "minimum": 1, "maximum": 9}},
        "required": ["sku", "qty"], "additionalProperties": False}}},
    "required": ["id", "status", "items"], "additionalProperties": False}

VALID = {
    "tree": (TREE, [{"name": "a"}, {"name": "a", "children": [{"name": "b", "children": []}]}]),
    "linked": (LINKED, [{"v": 1, "next": None}, {"v": 1, "next": {"v": 2, "next": None}}]),
    "expr": (EXPR, [3, {"op": "+", "args": [1, {"op": "*", "args": [2, 3]}]}]),
    "order": (ORDER, [{"id": "12345678-1234-1234-1234-123456789abc", "status": "new",
                       "items": [{"sku": "AB12", "qty": 2}]}]),
}
INVALID = {
    "tree": [{"name": "a", "children": [{}]}, {"name": "a", "children": [{"name": 1}]}, {"x": 1}],
    "linked": [{"v": 1, "next": {"v": 200, "next": None}}, {"v": 1}, {"v": 1, "next": {"next": None}}],
    "expr": [{"op": "-", "args": [1, 2]}, {"op": "+", "args": [1]}, {"op": "+", "args": [1, {"op": "+"}]}],
    "order": [{"id": "x", "status": "new", "items": []},
              {"id": "12345678-1234-1234-1234-123456789abc", "status": "new",
               "items": [{"sku": "ab12", "qty": 2}]}],
}


def validate(instance: Any, schema: Any) -> None:
    """jsonschema validation with format checks (uuid, date, ...) switched on."""
    jsonschema.validate(instance, schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture(scope="module")
def accept_compiler() -> GrammarCompiler:
    return GrammarCompiler(Vocabulary.from_tokens([b"a"]), cache_dir=False)


@pytest.mark.parametrize("name", sorted(VALID))
def test_accepts_valid_and_rejects_invalid(accept_compiler, name):
    schema, valid = VALID[name]
    compact = accept_compiler.compile_json_schema(schema)
    flexible = accept_compiler.compile_json_schema(schema, whitespace="flexible")
    for inst in valid:
        validate(inst, schema)
        assert compact.accepts(json.dumps(inst, separators=(",", ":")))
        for text in (json.dumps(inst), json.dumps(inst, indent=2), json.dumps(inst, indent="\t")):
            assert flexible.accepts(text), text
            assert not flexible.accepts(f" {text}") and not flexible.accepts(f"{text}\n"), text
            assert compact.accepts(text) == (text == json.dumps(inst, separators=(",", ":")))
    for inst in INVALID[name]:
        with pytest.raises(jsonschema.ValidationError):
            validate(inst, schema)
        for text in (json.dumps(inst, separators=(",", ":")), json.dumps(inst, indent=2)):
            assert not flexible.accepts(text) and not compact.accepts(text), text


def test_recursive_schemas_use_the_cfg_backend(accept_compiler):
    for schema in (TREE, LINKED, EXPR):
        assert type(accept_compiler.compile_json_schema(schema)).__name__ == "CompiledCfg"
    assert type(accept_compiler.compile_json_schema(ORDER)).__name__ == "DFAGrammar"


@pytest.mark.parametrize("schema, words", [
    ({"properties": {"a": {"$ref": "#", "type": "object"}}}, ["sibling"]),
    ({"$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"},
                      "contains": {"type": "array"}, "maxItems": 3}}, "$ref": "#/$defs/n"}, ["contains"]),
    ({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, ["$ref"]),
    ({"type": "array", "items": {"$ref": "#/$defs/missing"}}, ["does not resolve"]),
])
def test_unsupported_recursive_input_names_the_problem(accept_compiler, schema, words):
    with pytest.raises(GrammarError) as e:
        accept_compiler.compile_json_schema(schema)
    assert all(w in str(e.value) for w in words), str(e.value)


# -- random walks over the real vocabulary ---------------------------------------------------

_CLOSERS = tuple(b'"]},0123456789')


def random_walk(g, vocab: Vocabulary, rng: random.Random, max_steps: int = 160) -> bytes | None:
    """Sample allowed tokens (biased towards closing tokens so walks end); the output bytes
    if EOS was reached, else None. Every step checks advance() agrees with the mask."""
    m, out, eos = g.matcher(), b"", min(vocab.eos_ids)
    for _ in range(max_steps):
        allowed = m.allowed_tokens().nonzero().flatten().tolist()
        assert allowed, out
        if eos in allowed and rng.random() < 0.7:
            assert m.advance(eos) and m.is_finished()
            return out
        pool = [t for t in allowed if t != eos] or [eos]
        closing = [t for t in pool if t != eos and vocab.token_bytes[t][-1:] and vocab.token_bytes[t][-1] in _CLOSERS]
        tok = rng.choice(closing if closing and rng.random() < 0.6 else pool)
        assert m.advance(tok)
        if tok == eos:
            return out
        out += vocab.token_bytes[tok]
    return None


def _check_walks(g, vocab: Vocabulary, validate, seed: int, n: int = 5) -> int:
    rng, finished = random.Random(seed), 0
    for _ in range(n):
        out = random_walk(g, vocab, rng)
        if out is None:
            continue
        text = out.decode("utf-8")
        validate(json.loads(text), text)
        assert g.accepts(text), text
        finished += 1
    return finished


@pytest.mark.slow
@pytest.mark.parametrize("name", ["order", "tree", "expr"])
@pytest.mark.parametrize("whitespace", ["compact", "flexible"])
def test_random_walks_validate(real_compiler, name, whitespace):
    schema = VALID[name][0]
    g = real_compiler.compile_json_schema(schema, whitespace=whitespace)
    done = _check_walks(g, real_compiler.vocab, lambda v, _t: validate(v, schema), seed=7)
    assert done >= 2, f"only {done} walks reached EOS"


class Address(BaseModel):
    street: str = Field(max_length=12)
    zip: int = Field(ge=0, le=99999)


class Person(BaseModel):
    name: str = Field(max_length=10)
    kind: Literal["a", "b"]
    age: Optional[int] = None
    addresses: list[Address] = Field(max_length=2)
    score: float = Field(ge=0, le=1)


class Tree(BaseModel):
    label: Literal["x", "y"]
    children: list["Tree"] = Field(default=[], max_length=2)


def test_pydantic_classes_accept_their_dumps(accept_compiler):
    person = Person(name="Ann", kind="b", age=3, addresses=[Address(street="Main", zip=1)], score=0.25)
    tree = Tree(label="x", children=[Tree(label="y"), Tree(label="x", children=[Tree(label="y")])])
    for model in (person, tree):
        for ws in ("compact", "flexible"):
            g = accept_compiler.compile_json_schema(type(model), whitespace=ws)
            assert g.accepts(model.model_dump_json())
            assert g.accepts(json.dumps(model.model_dump(), indent=2)) == (ws == "flexible")
    g = accept_compiler.compile_json_schema(Person)
    assert not g.accepts(person.model_dump_json().replace('"b"', '"c"'))
    assert not g.accepts(person.model_dump_json().replace('0.25', '1.5'))


@pytest.mark.slow
@pytest.mark.parametrize("model", [Person, Tree])
@pytest.mark.parametrize("whitespace", ["compact", "flexible"])
def test_pydantic_random_walks_validate(real_compiler, model: Any, whitespace):
    g = real_compiler.compile_json_schema(model, whitespace=whitespace)
    schema = model.model_json_schema()

    def check(value: Any, text: str) -> None:
        validate(value, schema)
        model.model_validate_json(text)

    assert _check_walks(g, real_compiler.vocab, check, seed=11) >= 2
