"""``tool_choice="auto"`` and ``structural_tag`` on the real server (default model): the
model writes free text, and every call it starts is constrained to the tool's schema."""
from __future__ import annotations

import json
import re

import jsonschema
import openai
import pytest

from .conftest import API_KEY

pytestmark = pytest.mark.slow

WEATHER = {"type": "object", "properties": {
    "city": {"type": "string", "maxLength": 12},
    "unit": {"enum": ["celsius", "fahrenheit"]},
    "days": {"type": "integer", "minimum": 1, "maximum": 7}},
    "required": ["city", "unit", "days"], "additionalProperties": False}
ADD = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
       "required": ["a", "b"], "additionalProperties": False}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Forecast for a city",
                                           "parameters": WEATHER}},
         {"type": "function", "function": {"name": "add", "description": "Add two integers", "parameters": ADD}}]
SCHEMAS = {"get_weather": WEATHER, "add": ADD}


def _call(name: str, arguments: dict) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


# SmolLM2's chat template does not render tools, so the prompt lists them and shows calls
SHOTS = [("Weather in Rome for two days?", _call("get_weather", {"city": "Rome", "unit": "celsius", "days": 2})),
         ("What is 3 plus 4?", _call("add", {"a": 3, "b": 4})),
         ("Forecast for Berlin this week in fahrenheit", _call("get_weather", {"city": "Berlin", "unit": "fahrenheit",
                                                                              "days": 7})),
         ("Add 10 and 25", _call("add", {"a": 10, "b": 25}))]
MESSAGES = [{"role": "system", "content": "You answer by calling one of these tools with <tool_call>{json}</tool_call>:\n"
             + "\n".join(json.dumps(t["function"]) for t in TOOLS)}]
MESSAGES += [m for q, a in SHOTS for m in ({"role": "user", "content": q}, {"role": "assistant", "content": a})]
QUESTIONS = ["Weather in San Francisco for the whole next week, in fahrenheit?", "What is 1234 plus 4321?",
             "Will it rain in Rio de Janeiro tomorrow?"]


def _chat(question: str) -> list[dict]:
    return MESSAGES + [{"role": "user", "content": question}]


def _blocks(text: str) -> list[dict]:
    """The JSON of each complete ``<tool_call>`` block (unconstrained text may hold any)."""
    out = []
    for block in re.findall(r"<tool_call>\s*(.*?)\s*</tool_call>", text, re.S):
        try:
            out.append(json.loads(block))
        except json.JSONDecodeError:
            out.append({})
    return out


def _valid(call: dict) -> bool:
    schema = SCHEMAS.get(call.get("name"))
    return schema is not None and jsonschema.Draft202012Validator(schema).is_valid(call.get("arguments"))


@pytest.fixture(scope="module")
def client(real_server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{real_server.url}/v1", api_key=API_KEY, max_retries=0, timeout=600)


def test_auto_calls_always_validate(client):
    calls, texts = [], []
    for seed, question in enumerate(QUESTIONS):
        r = client.chat.completions.create(model="default", messages=_chat(question), tools=TOOLS, tool_choice="auto",
                                           n=8, temperature=1.0, max_tokens=56, seed=seed)
        for c in r.choices:
            texts.append(c.message.content)
            calls += c.message.tool_calls or []
            if c.message.tool_calls:
                assert c.finish_reason in ("tool_calls", "length"), c
                assert "<tool_call>" not in (c.message.content or "")
    assert len(calls) >= 8, texts  # the prompt makes calls likely; each one is checked below
    for call in calls:
        assert call.id and call.type == "function"
        jsonschema.validate(json.loads(call.function.arguments), SCHEMAS[call.function.name])


def test_unconstrained_calls_do_go_wrong(client):
    """The control: without the constraint the same prompt gives invalid calls (San
    Francisco is longer than maxLength), so the test above is not vacuous."""
    r = client.chat.completions.create(model="default", messages=_chat(QUESTIONS[0]), n=8, temperature=1.0,
                                       max_tokens=56, seed=0)
    blocks = [b for c in r.choices for b in _blocks(c.message.content or "")]
    assert blocks and not all(_valid(b) for b in blocks), blocks


def test_auto_stream_matches(client):
    kw = dict(model="default", messages=_chat(QUESTIONS[2]), tools=TOOLS, tool_choice="auto", temperature=1.0, max_tokens=56,
              seed=3)
    whole = client.chat.completions.create(**kw).choices[0]
    streamed = [tc for ch in client.chat.completions.create(stream=True, **kw) if ch.choices
                for tc in (ch.choices[0].delta.tool_calls or [])]
    assert streamed and [(c.function.name, c.function.arguments) for c in whole.message.tool_calls or []] == \
        [(c.function.name, c.function.arguments) for c in streamed]


def test_parallel_tool_calls_false_stops_after_one(client):
    r = client.chat.completions.create(model="default", messages=_chat(QUESTIONS[1]), tools=TOOLS, n=4, seed=5,
                                       temperature=1.0, max_tokens=56, parallel_tool_calls=False)
    assert any(c.message.tool_calls for c in r.choices)
    for c in r.choices:
        assert len(c.message.tool_calls or []) <= 1
        if c.message.tool_calls:
            assert c.finish_reason == "tool_calls"
            call = c.message.tool_calls[0].function
            jsonschema.validate(json.loads(call.arguments), SCHEMAS[call.name])


def test_native_structural_tag(real_server):
    tag = {"structures": [{"begin": "<tool_call>\n", "schema": {"type": "object", "properties": {
        "name": {"enum": ["get_weather"]}, "arguments": WEATHER}, "required": ["name", "arguments"],
        "additionalProperties": False}, "end": "\n</tool_call>"}], "triggers": ["<tool_call>"]}
    prompt = "".join(f"Q: {q}\nA: {a}\n" for q, a in SHOTS) + "Q: Weather in San Francisco for a week?\nA:"
    with real_server.client() as c:
        r = c.post("/generate", json={"text": [prompt] * 4, "sampling_params": [
            {"structural_tag": tag, "temperature": 1.0, "seed": i, "max_new_tokens": 48} for i in range(4)]})
    assert r.status_code == 200, r.text
    blocks = [b for out in r.json() for b in _blocks(out["text"])]
    assert blocks and all(_valid(b) for b in blocks), [o["text"] for o in r.json()]
