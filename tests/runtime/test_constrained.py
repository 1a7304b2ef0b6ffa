"""Grammar-constrained generation through the engine (real model, bfloat16 default dtype)."""
from __future__ import annotations

import json
import os
import re
import sys

import jsonschema
import lark
import pytest

from sglike.runtime import Engine

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "grammar"))
from test_cfg_grammars import LARK_JSON  # noqa: E402  (the CFG tests' JSON grammar)

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
SQL_GBNF = r"""
root   ::= "SELECT " cols " FROM " name where? ";"
cols   ::= "*" | name (", " name)*
where  ::= " WHERE " cond
cond   ::= cmp | cmp " AND " cond | cmp " OR " cond
cmp    ::= name " " op " " value
op     ::= "=" | "!=" | "<" | ">" | "<=" | ">="
value  ::= [0-9]+ | "'" [a-zA-Z0-9 ]* "'"
name   ::= [a-z_] [a-z0-9_]*
"""
SQL_LARK = r"""
start: "SELECT" cols "FROM" NAME [where] ";"
cols: "*" | NAME ("," NAME)*
where: "WHERE" cond
?cond: cmp | cmp "AND" cond | cmp "OR" cond
cmp: NAME OP value
OP: "=" | "!=" | "<=" | ">=" | "<" | ">"
value: /[0-9]+/ | /'[a-zA-Z0-9 ]*'/
NAME: /[a-z_][a-z0-9_]*/
%import common.WS
%ignore WS
"""


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


def test_lark_json_grammar_outputs_parse_as_json(engine):
    """A Lark grammar through the `ebnf` parameter; json.loads is the independent check."""
    outs = engine.generate(_chat(engine, "Give me a small JSON object about a city."), {"max_new_tokens": 160, "ebnf": LARK_JSON, "temperature": 0.7, "n": 4, "seed": 3})
    stopped = [o for o in outs if o["meta_info"]["finish_reason"]["type"] == "stop"]
    assert stopped, [o["text"] for o in outs]
    for out in stopped:
        json.loads(out["text"])


def test_sql_subset_outputs_parse_with_lark(engine):
    """A small SQL subset in GBNF; lark's own parser of the same language checks the output."""
    parser = lark.Lark(SQL_LARK, parser="earley")
    prompt = _chat(engine, "Write one SQL query that selects the names of users older than 30 from the users table.")
    outs = engine.generate(prompt, {"max_new_tokens": 48, "ebnf": SQL_GBNF, "temperature": 0.5, "n": 3, "seed": 4})
    stopped = [o for o in outs if o["meta_info"]["finish_reason"]["type"] == "stop"]
    assert stopped, [o["text"] for o in outs]
    for out in stopped:
        assert out["text"].startswith("SELECT ") and out["text"].endswith(";"), out["text"]
        parser.parse(out["text"])


def test_jump_forward_from_the_grammar_start(engine):
    """Text forced from the grammar's start is prefilled with the prompt as whole tokens
    (the model would otherwise spell it out under the mask, e.g. S-EL-EC-T)."""
    regex = r"SELECT (name|age|email) FROM (users|orders) WHERE id = [0-9]{1,3};"
    select = engine.tokenizer.encode("SELECT", add_special_tokens=False)
    before = engine.get_server_info()["jump_forward_tokens"]
    outs = engine.generate([_chat(engine, "Write a SQL query."), "SQL:"], {"max_new_tokens": 32, "regex": regex, "temperature": 0})
    assert engine.get_server_info()["jump_forward_tokens"] - before >= 2 * len(select)
    for out in outs:
        assert re.fullmatch(regex, out["text"]), out["text"]
        assert out["output_ids"][: len(select)] == select


def test_json_key_order_and_whitespace_options_reach_the_grammar(engine):
    # The grammar the engine compiles for each option pair: same schema, four grammars.
    from sglike.runtime.sampling_params import SamplingParams

    hook = engine.scheduler.grammar
    texts = {"schema": '{"the_full_name_of_the_person":"A","the_age_of_the_person_in_years":3,"favourite_language":"go"}',
             "any": '{"favourite_language":"go","the_age_of_the_person_in_years":3,"the_full_name_of_the_person":"A"}'}
    for order in ("schema", "any"):
        sp = SamplingParams.from_dict({"json_schema": PERSON, "json_key_order": order, "json_whitespace": "flexible"})
        assert sp.constraint_options == (("whitespace", "flexible"), ("key_order", order))
        g = hook._compile(*sp.constraint, sp.constraint_options)
        assert g.accepts(texts["any"]) == (order == "any") and g.accepts(texts["schema"])
        assert g.accepts(texts["schema"].replace(",", ", "))  # flexible whitespace
    closed = {**PERSON, "additionalProperties": False}
    outs = engine.generate([_chat(engine, "Describe a person as JSON.")] * 2,
                           [{"max_new_tokens": 160, "json_schema": json.dumps(closed), "json_key_order": order,
                             "temperature": 0.7, "seed": 3} for order in ("schema", "any")])
    for out in outs:
        jsonschema.validate(json.loads(out["text"]), closed)
    with pytest.raises(ValueError, match="json_key_order"):
        engine.generate("x", {"max_new_tokens": 2, "json_schema": json.dumps(PERSON), "json_key_order": "sorted"})
