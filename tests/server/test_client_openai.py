"""What real OpenAI-API clients send (scoring harnesses, instructor, the openai client's
error handling), against a real server on the default model."""
from __future__ import annotations

import json

import httpx
import jsonschema
import openai
import pytest

from .conftest import API_KEY

pytestmark = pytest.mark.slow
PROMPT = "The capital of France is"
MSG = [{"role": "user", "content": "Give a person's age as JSON."}]
AGE_SCHEMA = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"],
              "additionalProperties": False}


@pytest.fixture(scope="module")
def client(real_server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{real_server.url}/v1", api_key=API_KEY, max_retries=0, timeout=300)


def _native_prompt_logprobs(real_server, prompt: str, top: int) -> dict:
    with real_server.client() as c:
        r = c.post("/generate", json={"text": prompt, "sampling_params": {"max_new_tokens": 0},
                                      "return_logprob": True, "logprob_start_len": 0, "top_logprobs_num": top})
    assert r.status_code == 200, r.text
    return r.json()["meta_info"]


def test_echo_scores_the_prompt(client, real_server):
    """lm-evaluation-harness style: max_tokens=0, echo, logprobs -> the prompt's logprobs."""
    meta = _native_prompt_logprobs(real_server, PROMPT, 2)
    want = [lp for lp, _, _ in meta["input_token_logprobs"]]
    for _ in range(2):  # the second time the prompt is in the prefix cache
        r = client.completions.create(model="default", prompt=PROMPT, max_tokens=0, echo=True, logprobs=2,
                                      temperature=0)
        choice = r.choices[0]
        lp = choice.logprobs
        assert choice.text == PROMPT and len(lp.tokens) == meta["prompt_tokens"] == len(want)
        assert "".join(lp.tokens) == PROMPT
        assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
        assert lp.token_logprobs[1:] == pytest.approx(want[1:], abs=0.2)
        assert all(len(t) == 2 for t in lp.top_logprobs[1:])
        assert lp.text_offset == sorted(lp.text_offset) and lp.text_offset[0] == 0
    ids = client.completions.create(model="default", prompt=[504, 2988, 314], max_tokens=0, echo=True, logprobs=0)
    assert len(ids.choices[0].logprobs.token_logprobs) == 3


def test_echo_logprobs_with_completion_and_stream(client):
    kw = dict(model="default", prompt=PROMPT, max_tokens=2, echo=True, logprobs=1, temperature=0)
    r = client.completions.create(**kw)
    lp = r.choices[0].logprobs
    n_prompt = r.usage.prompt_tokens
    assert len(lp.tokens) == n_prompt + 2 and r.choices[0].text.startswith(PROMPT)
    assert lp.text_offset[n_prompt] == len(PROMPT)
    assert all(x is not None for x in lp.token_logprobs[1:])
    chunks = list(client.completions.create(**kw, stream=True))
    streamed = [t for ch in chunks if ch.choices and ch.choices[0].logprobs for t in ch.choices[0].logprobs.tokens]
    assert streamed == lp.tokens
    assert "".join(ch.choices[0].text for ch in chunks if ch.choices) == r.choices[0].text


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_json_object_with_schema_is_honoured(client, endpoint):
    fmt = {"type": "json_object", "schema": AGE_SCHEMA}  # older instructor versions send this shape
    if endpoint == "chat":
        r = client.chat.completions.create(model="default", messages=MSG, max_tokens=40, temperature=0,
                                           response_format=fmt)
        text = r.choices[0].message.content
    else:
        r = client.completions.create(model="default", prompt="A person as JSON:", max_tokens=40, temperature=0,
                                      extra_body={"response_format": fmt})
        text = r.choices[0].text
    jsonschema.validate(json.loads(text), AGE_SCHEMA)


def test_json_key_order_and_whitespace_ride_in_extra_body(client):
    schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer"}},
              "required": ["name", "age"], "additionalProperties": False}
    fmt = {"type": "json_schema", "json_schema": {"name": "p", "schema": schema}}
    r = client.chat.completions.create(model="default", messages=MSG, max_tokens=60, temperature=0, response_format=fmt,
                                       extra_body={"json_key_order": "any", "json_whitespace": "flexible"})
    jsonschema.validate(json.loads(r.choices[0].message.content), schema)


def test_context_length_errors_use_openai_names(client):
    long = "hi " * 9000
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="default", messages=[{"role": "user", "content": long}], max_tokens=1)
    assert e.value.param == "messages" and e.value.code == "context_length_exceeded", e.value.body
    assert "text" not in e.value.message.split(":")[0]
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="default", prompt=long, max_tokens=1)
    assert e.value.param == "prompt" and e.value.code == "context_length_exceeded", e.value.body
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="default", prompt="hi", max_tokens=10**6)
    assert e.value.param == "max_tokens" and "max_new_tokens" not in e.value.message, e.value.body
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="default", messages=MSG, max_completion_tokens=10**6)
    assert e.value.param == "max_completion_tokens", e.value.body


def test_error_codes_are_strings_or_null(real_server):
    with real_server.client() as c:
        bad_json = c.post("/v1/chat/completions", content=b'{"model": "default", "messages": [,]}',
                          headers={"content-type": "application/json"})
        err = bad_json.json()["error"]
        assert bad_json.status_code == 400 and "not valid JSON" in err["message"], err
        assert err["param"] is None and err["code"] is None
        temp = c.post("/v1/chat/completions", json={"model": "default", "messages": MSG, "temperature": 9}).json()
        assert temp["error"]["param"] == "temperature" and temp["error"]["code"] is None
    unauth = httpx.post(f"{real_server.url}/v1/chat/completions", json={"model": "default", "messages": MSG})
    assert unauth.status_code == 401 and isinstance(unauth.json()["error"]["code"], str)


def test_tool_choice_needs_tools(client):
    for choice in ("required", {"type": "function", "function": {"name": "f"}}):
        with pytest.raises(openai.BadRequestError) as e:
            client.chat.completions.create(model="default", messages=MSG, max_tokens=2, tool_choice=choice)
        assert e.value.param == "tool_choice", e.value.body
    r = client.chat.completions.create(model="default", messages=MSG, max_tokens=2, tool_choice="none")
    assert r.choices[0].message.content is not None


def test_openai_logit_bias(client):
    r = client.completions.create(model="default", prompt=PROMPT, max_tokens=3, temperature=0,
                                  logit_bias={"1234": 100})
    assert r.usage.completion_tokens == 3
    ids = client.completions.create(model="default", prompt=PROMPT, max_tokens=3, temperature=0,
                                    logit_bias={"1234": 100}, logprobs=0)
    assert len(set(ids.choices[0].logprobs.tokens)) == 1
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="default", prompt=PROMPT, max_tokens=1, logit_bias={"1234": 500})
    assert e.value.param == "logit_bias"
