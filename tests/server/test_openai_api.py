"""The official openai client against a real server (default model)."""
from __future__ import annotations

import asyncio
import json

import openai
import pytest
from pydantic import BaseModel

from .conftest import API_KEY

pytestmark = pytest.mark.slow
MSG = [{"role": "user", "content": "Name a color."}]


@pytest.fixture(scope="module")
def client(real_server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{real_server.url}/v1", api_key=API_KEY, max_retries=0, timeout=300)


@pytest.fixture(scope="module")
def model(client) -> str:
    models = client.models.list().data
    assert len(models) == 1
    return models[0].id


def test_chat_sync(client, model):
    r = client.chat.completions.create(model=model, messages=MSG, max_tokens=4, temperature=0)
    assert r.choices[0].message.role == "assistant" and r.choices[0].message.content
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.completion_tokens <= 4 and r.usage.prompt_tokens > 0


def test_chat_n_seed_stop_logprobs(client, model):
    kw = dict(model=model, messages=MSG, max_completion_tokens=4, temperature=0.9, seed=7, n=2,
              logprobs=True, top_logprobs=2)
    a, b = client.chat.completions.create(**kw), client.chat.completions.create(**kw)
    assert len(a.choices) == 2
    assert [c.message.content for c in a.choices] == [c.message.content for c in b.choices]
    lp = a.choices[0].logprobs.content
    assert lp and all(len(t.top_logprobs) == 2 and t.logprob <= 0 for t in lp)
    r = client.completions.create(model=model, prompt="1, 2, 3, 4,", max_tokens=8, temperature=0, stop=[","])
    assert "," not in r.choices[0].text and r.choices[0].finish_reason == "stop"


def test_completion_batch_logprobs(client, model):
    r = client.completions.create(model=model, prompt=["Hello", "The answer is"], max_tokens=2, temperature=0,
                                  logprobs=3)
    assert [c.index for c in r.choices] == [0, 1]
    ids = client.completions.create(model=model, prompt=[504, 2988], max_tokens=2, temperature=0, echo=True)
    assert ids.choices[0].text.startswith("The answer")
    assert len(r.choices[0].logprobs.tokens) == 2 and len(r.choices[0].logprobs.top_logprobs[0]) <= 3


def test_chat_stream_include_usage(client, model):
    stream = client.chat.completions.create(model=model, messages=MSG, max_tokens=4, temperature=0, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens >= 1
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)
    ref = client.chat.completions.create(model=model, messages=MSG, max_tokens=4, temperature=0)
    assert text == ref.choices[0].message.content


def test_async_client(real_server, model):
    async def main() -> list[str]:
        aclient = openai.AsyncOpenAI(base_url=f"{real_server.url}/v1", api_key=API_KEY, max_retries=0)
        rs = await asyncio.gather(*[aclient.completions.create(model=model, prompt=f"{i} + {i} =", max_tokens=3,
                                                                temperature=0) for i in range(4)])
        stream = await aclient.completions.create(model=model, prompt="Hi", max_tokens=3, stream=True)
        parts = [c.choices[0].text async for c in stream if c.choices]
        await aclient.close()
        return [r.choices[0].text for r in rs] + ["".join(parts)]

    texts = asyncio.run(main())
    assert len(texts) == 5


class Person(BaseModel):
    name: str
    age: int


def test_parse_pydantic(client, model):
    r = client.chat.completions.parse(model=model, max_tokens=30, temperature=0, response_format=Person,
                                      messages=[{"role": "user", "content": "Invent a person as JSON."}])
    msg = r.choices[0].message
    if r.choices[0].finish_reason == "stop":
        assert isinstance(msg.parsed, Person)


def test_json_object(client, model):
    r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Reply in JSON."}],
                                       max_tokens=20, temperature=0, response_format={"type": "json_object"})
    if r.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(r.choices[0].message.content), dict)


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}},
                   "required": ["city"], "additionalProperties": False}}}


@pytest.mark.parametrize("choice", [{"type": "function", "function": {"name": "get_weather"}}, "required"])
def test_tools_forced(client, model, choice):
    r = client.chat.completions.create(model=model, max_tokens=40, temperature=0, tools=[WEATHER], tool_choice=choice,
                                       messages=[{"role": "user", "content": "What is the weather in Paris?"}])
    c = r.choices[0]
    assert c.finish_reason == "tool_calls", c
    call = c.message.tool_calls[0]
    assert call.function.name == "get_weather" and call.id
    assert isinstance(json.loads(call.function.arguments)["city"], str)


def test_tools_none_and_auto(client, model):
    for choice in ("none", "auto"):
        r = client.chat.completions.create(model=model, max_tokens=8, temperature=0, tools=[WEATHER],
                                           tool_choice=choice, messages=[{"role": "user", "content": "Hi!"}])
        c = r.choices[0]
        assert c.message.content is not None or c.message.tool_calls


def test_tools_stream(client, model):
    stream = client.chat.completions.create(
        model=model, max_tokens=40, temperature=0, tools=[WEATHER], tool_choice="required", stream=True,
        messages=[{"role": "user", "content": "Weather in Rome?"}])
    calls = [tc for ch in stream if ch.choices for tc in (ch.choices[0].delta.tool_calls or [])]
    assert calls and calls[0].function.name == "get_weather"
    json.loads(calls[0].function.arguments)
