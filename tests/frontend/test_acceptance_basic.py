"""Acceptance programs on the real default model (structure, not knowledge)."""
from __future__ import annotations

import ipaddress
import json
import re

import jsonschema
import pydantic
import pytest

import sglike as sgl

pytestmark = pytest.mark.slow


def test_few_shot_qa_with_stop(runtime):
    @sgl.program
    def few_shot(s, question):
        s += "Q: What is 2 + 2?\nA: 4\n"
        s += "Q: What color is grass?\nA: green\n"
        s += "Q: " + question + "\nA:" + sgl.gen("answer", max_tokens=12, stop="\n")

    state = few_shot.run(question="What is the opposite of hot?", backend=runtime, temperature=0)
    assert "\n" not in state["answer"]
    reason = state.get_meta_info("answer")["finish_reason"]
    assert reason["type"] in ("stop", "length")
    assert state.text().endswith(state["answer"])


def test_two_turn_chat_roles(runtime):
    @sgl.program
    def chat(s):
        s += sgl.user("Say hi.")
        s += sgl.assistant(sgl.gen("first", max_tokens=6))
        s += sgl.user("Now say bye.")
        s += sgl.assistant(sgl.gen("second", max_tokens=6))

    state = chat.run(backend=runtime, temperature=0)
    msgs = state.messages()
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert msgs[1]["content"] == state["first"] and msgs[3]["content"] == state["second"]
    # the text is exactly what the tokenizer's own chat template renders
    assert state.text() == runtime.tokenizer.apply_chat_template(msgs, tokenize=False)


def test_dtype_gens_cast(runtime):
    @sgl.program
    def typed(s):
        s += sgl.user("Give a number, a price, a yes/no and a name.")
        with s.assistant():
            s += "int: " + sgl.gen_int("i", max_tokens=6) + "\n"
            s += "float: " + sgl.gen("f", dtype=float, max_tokens=10) + "\n"
            s += "bool: " + sgl.gen("b", dtype=bool, max_tokens=3) + "\n"
            s += "name: " + sgl.gen_string("name", max_tokens=12)

    state = typed.run(backend=runtime, temperature=0)
    int(state["i"])
    float(state["f"])
    assert state["b"] in ("True", "False")
    assert isinstance(json.loads(state["name"]), str)


def test_regex_ipv4(runtime):
    ip = r"((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"

    @sgl.program
    def p(s):
        s += "The IP address of the local DNS server is " + sgl.gen("ip", regex=ip, max_tokens=16)

    state = p.run(backend=runtime, temperature=0)
    assert re.fullmatch(ip, state["ip"])
    ipaddress.IPv4Address(state["ip"])


def test_json_built_field_by_field(runtime):
    @sgl.program
    def character(s, name):
        s += sgl.user(f"Describe {name} as JSON.")
        with s.assistant():
            with s.var_scope("json"):
                s += '{\n  "name": ' + sgl.gen_string("name", max_tokens=12) + ",\n"
                s += '  "age": ' + sgl.gen_int("age", max_tokens=4) + ",\n"
                s += '  "alive": ' + sgl.select("alive", ["true", "false"]) + "\n}"

    state = character.run(name="Harry Potter", backend=runtime, temperature=0)
    obj = json.loads(state["json"])
    assert set(obj) == {"name", "age", "alive"} and isinstance(obj["age"], int)


class City(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=20)
    population: int
    is_capital: bool


def test_json_schema_gen_validates(runtime):
    @sgl.program
    def p(s):
        s += sgl.user("Give me a city as JSON.")
        s += sgl.assistant(sgl.gen("city", json_schema=City, max_tokens=48))

    state = p.run(backend=runtime, temperature=0)
    obj = json.loads(state["city"])
    jsonschema.validate(obj, City.model_json_schema())
    City.model_validate(obj)


def test_json_schema_options_reach_the_runtime(runtime):
    """json_whitespace / json_key_order ride with the gen to the runtime's grammar: valid
    values still give schema-valid JSON, a bad value is the runtime's clear error."""
    @sgl.program
    def p(s, order, space):
        s += sgl.user("Give me a city as JSON.")
        s += sgl.assistant(sgl.gen("city", json_schema=City, max_tokens=64, json_key_order=order, json_whitespace=space))

    state = p.run("any", "flexible", backend=runtime, temperature=0)
    assert state.error() is None
    jsonschema.validate(json.loads(state["city"]), City.model_json_schema())
    with pytest.raises(ValueError, match="json_key_order must be one of"):
        p.run("sorted", "compact", backend=runtime, temperature=0)
    with pytest.raises(ValueError, match="json_schema only"):
        sgl.gen("x", regex="a+", json_key_order="any")


def test_min_tokens_respected(runtime):
    @sgl.program
    def p(s):
        s += sgl.user("Reply with one word.")
        s += sgl.assistant(sgl.gen("a", min_tokens=6, max_tokens=8))

    state = p.run(backend=runtime, temperature=0)
    assert state.get_meta_info("a")["completion_tokens"] >= 6


def test_streaming_text_iter(runtime):
    @sgl.program
    def p(s):
        s += sgl.user("Count to five.")
        s += sgl.assistant(sgl.gen("a", max_tokens=10))

    state = p.run(backend=runtime, stream=True, temperature=0)
    chunks = list(state.text_iter("a"))
    assert len(chunks) >= 2
    assert "".join(chunks) == state["a"]
    assert state.error() is None
