"""Grammar-constrained generation through the engine (real model, bfloat16 default dtype)."""
from __future__ import annotations

import json
import re

import jsonschema
import lark
import pytest

from sglike.runtime import Engine

IPV4 = r"((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)"
PERSON = {
    "type": "object",
    "properties": {
        "the_full_name_of_the_person": {"type": "string", "maxLength": 24},
        "the_age_of_the_person_in_years": {"type": "integer", "minimum": 0, "maximum": 130},
        "favourite_language": {"enum": ["python", "rust", "go"]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 3},
    },
    "required": ["the_full_name_of_the_person", "the_age_of_the_person_in_years", "favourite_language"],
}
ARITH_GBNF = r'''
root ::= expr
expr ::= term (("+" | "-") term)*
term ::= factor (("*" | "/") factor)*
factor ::= [0-9]+ | "(" expr ")"
'''
ARITH_LARK = r'''
start: expr
expr: term (("+" | "-") term)*
term: factor (("*" | "/") factor)*
factor: /[0-9]+/ | "(" expr ")"
'''


@pytest.fixture(scope="module")
def engine():
    eng = Engine(max_total_tokens=8192)
    yield eng
    eng.shutdown()


def _chat(engine, text: str) -> str:
    return engine.tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)


def test_regex_outputs_fullmatch(engine):
    outs = engine.generate(["The server's IP address is", "Router:"], {"max_new_tokens": 20, "regex": IPV4, "temperature": 0.9, "seed": 1})
    for out in outs:
        assert re.fullmatch(IPV4, out["text"]), out["text"]
        assert out["meta_info"]["finish_reason"]["type"] == "stop"


def test_json_schema_outputs_validate_with_n_samples(engine):
    outs = engine.generate(_chat(engine, "Describe a person as JSON."), {"max_new_tokens": 128, "json_schema": json.dumps(PERSON), "temperature": 1.0, "n": 3, "seed": 5})
    for out in outs:
        jsonschema.validate(json.loads(out["text"]), PERSON)


def test_ebnf_arithmetic_parses_with_lark(engine):
    parser = lark.Lark(ARITH_LARK)
    out = engine.generate("Write an arithmetic expression: ", {"max_new_tokens": 24, "ebnf": ARITH_GBNF, "temperature": 0.8, "seed": 2})
    text = out["text"]
    if out["meta_info"]["finish_reason"]["type"] == "stop":
        parser.parse(text)
    else:  # cut by max_new_tokens: still a prefix of the language
        assert re.fullmatch(r"[0-9+\-*/()]+", text), text


def test_invalid_constraint_fails_only_its_request(engine):
    outs = engine.generate(["a", "b", "c"], [{"max_new_tokens": 4, "regex": "(unclosed"}, {"max_new_tokens": 4}, {"max_new_tokens": 4, "json_schema": '{"type": "frobnicate"}'}])
    assert outs[0]["meta_info"]["finish_reason"]["type"] == "abort"
    assert "regex" in outs[0]["meta_info"]["finish_reason"]["message"]
    assert outs[1]["meta_info"]["completion_tokens"] == 4
    assert outs[2]["meta_info"]["finish_reason"]["type"] == "abort"
    assert "frobnicate" in outs[2]["meta_info"]["finish_reason"]["message"]


def test_jump_forward_saves_decode_steps_and_keeps_output_valid(engine):
    prompt = _chat(engine, "Give me a person as JSON.")
    params = {"max_new_tokens": 128, "json_schema": json.dumps(PERSON), "temperature": 0}
    before = engine.get_server_info()
    out = engine.generate(prompt, params)
    after = engine.get_server_info()
    jsonschema.validate(json.loads(out["text"]), PERSON)
    jumped = after["jump_forward_tokens"] - before["jump_forward_tokens"]
    steps = after["decode_steps"] - before["decode_steps"]
    assert jumped >= len(engine.tokenizer.encode('"the_age_of_the_person_in_years":')) - 2
    assert steps < out["meta_info"]["completion_tokens"]
