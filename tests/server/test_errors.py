"""Every error case returns the right status and OpenAI's error shape (real server)."""
from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.slow
CHAT = {"model": "default", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


def _error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert isinstance(err["message"], str) and err["message"] and "type" in err and "code" in err
    return err


@pytest.mark.parametrize("path,body,param", [
    ("/v1/chat/completions", {**CHAT, "temperature": 5}, "temperature"),
    ("/v1/chat/completions", {**CHAT, "messages": []}, "messages"),
    ("/v1/chat/completions", {**CHAT, "messages": [{"role": "wizard", "content": "x"}]}, "messages"),
    ("/v1/chat/completions", {**CHAT, "n": 0}, "n"),
    ("/v1/chat/completions", {**CHAT, "top_logprobs": 3}, "top_logprobs"),
    ("/v1/chat/completions", {**CHAT, "response_format": {"type": "json_schema"}}, "response_format"),
    ("/v1/chat/completions", {**CHAT, "tools": [{"type": "function", "function": {"name": "f"}}],
                              "tool_choice": {"type": "function", "function": {"name": "g"}}}, "tool_choice"),
    ("/v1/completions", {"model": "default", "prompt": "hi", "max_tokens": 10**6}, "max_tokens"),
    ("/v1/completions", {"model": "default", "prompt": "hi " * 9000, "max_tokens": 1}, "prompt"),
    ("/v1/chat/completions", {**CHAT, "tool_choice": "required"}, "tool_choice"),
    ("/v1/completions", {"model": "default", "prompt": []}, "prompt"),
    ("/v1/completions", {"model": "default", "prompt": "x", "max_tokens": 1, "regex": "(unclosed"}, None),
    ("/v1/chat/completions", {**CHAT, "response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "wat"}}}}, None),
    ("/v1/chat/completions", {**CHAT, "tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "wat"}}}], "tool_choice": "auto"}, "tools"),
    ("/v1/chat/completions", {**CHAT, "tools": [{"type": "function", "function": {"name": "f"}}] * 2}, "tools"),
    ("/v1/chat/completions", {**CHAT, "response_format": {"type": "structural_tag"}}, "response_format.structures"),
    ("/generate", {"text": "x", "sampling_params": {"structural_tag": {"structures": [{"begin": "<a>"}]}}},
     "structural_tag.structures[0].schema"),
    ("/generate", {"text": "x", "sampling_params": {"structural_tag": {"structures": [
        {"begin": "<a>", "schema": {"type": "wat"}}]}}}, "structural_tag"),
    ("/generate", {"text": "x", "sampling_params": {"top_p": 0}}, "top_p"),
    ("/generate", {"text": "x", "sampling_params": {"json_schema": {"type": "object"}, "json_key_order": "sorted"}}, "json_key_order"),
    ("/v1/chat/completions", {**CHAT, "json_whitespace": "pretty"}, "json_whitespace"),
    ("/generate", {"text": "x", "sampling_params": {"max_new_tokens": -1}}, "max_new_tokens"),
    ("/generate", {"input_ids": [10**9]}, "input_ids"),
    ("/generate", {"text": ""}, "text"),
    ("/generate", {}, None),
])
def test_400_names_the_field(real_server, path, body, param):
    with real_server.client() as c:
        err = _error(c.post(path, json=body), 400)
    if param is not None:
        assert param in (err["param"] or "") or param in err["message"], err
    for stream in (True,):
        if path != "/generate" or body:
            with real_server.client() as c:
                _error(c.post(path, json={**body, "stream": stream}), 400)


def test_malformed_json_is_400(real_server):
    with real_server.client() as c:
        _error(c.post("/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}), 400)


def test_401_without_key(real_server):
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        err = _error(httpx.post(f"{real_server.url}/v1/chat/completions", json=CHAT, headers=headers), 401)
        assert err["type"] == "authentication_error"
    assert httpx.get(f"{real_server.url}/v1/models").status_code == 401
    assert httpx.get(f"{real_server.url}/health").status_code == 200


def test_404_unknown_model_and_route(real_server):
    with real_server.client() as c:
        err = _error(c.post("/v1/chat/completions", json={**CHAT, "model": "gpt-17"}), 404)
        assert err["param"] == "model"
        _error(c.get("/v1/nope"), 404)


def test_bad_requests_do_not_disturb_others(real_server):
    with real_server.client() as c:
        good = c.post("/generate", json={"text": "Hi", "sampling_params": {"max_new_tokens": 2, "regex": "[a"}})
        assert good.status_code == 400
        ok = c.post("/generate", json={"text": "Hi", "sampling_params": {"max_new_tokens": 2}})
        assert ok.status_code == 200
