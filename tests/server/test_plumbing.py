"""Server plumbing with a fake scheduler and frontend (fast; no model forward passes)."""
from __future__ import annotations

import json

import httpx
import pytest

from sglike.runtime.config import EngineConfig
from sglike.runtime.server.launch import ServerOptions

from . import fakes
from .harness import ServerThread, free_port


@pytest.fixture(scope="module")
def server():
    options = ServerOptions(port=free_port(), scheduler_factory=fakes.FakeScheduler)
    srv = ServerThread(EngineConfig(max_queued_requests=4, max_running_requests=4), options,
                       )
    srv.start()
    yield srv
    srv.stop()


def test_generate_single_and_batch(server):
    r = httpx.post(f"{server.url}/generate", json={"text": "Hello world", "sampling_params": {"max_new_tokens": 3}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["output_ids"]) == 3 and body["meta_info"]["finish_reason"]["type"] == "length"
    r = httpx.post(f"{server.url}/generate", json={"text": ["a b", "c d"], "sampling_params": {"max_new_tokens": 2}})
    assert r.status_code == 200 and len(r.json()) == 2


def test_generate_stream(server):
    with httpx.stream("POST", f"{server.url}/generate",
                      json={"input_ids": [1, 2, 3], "sampling_params": {"max_new_tokens": 4}, "stream": True}) as r:
        lines = [ln for ln in r.iter_lines() if ln]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(ln[6:]) for ln in lines[:-1]]
    assert chunks[-1]["output_ids"] == [1, 2, 3, 1]


def test_bad_inputs_are_400(server):
    cases = [
        {"text": "x", "sampling_params": {"top_p": 5}},
        {"text": "x", "sampling_params": {"bogus": 1}},
        {"text": "x", "input_ids": [1]},
        {"sampling_params": {}},
        {"text": "x", "sampling_params": {"regex": "("}},
        {"text": "x", "sampling_params": [1, 2]},
    ]
    for case in cases:
        r = httpx.post(f"{server.url}/generate", json=case)
        assert r.status_code == 400, (case, r.text)
        assert "message" in r.json()["error"]


def test_openai_chat_and_completion(server):
    r = httpx.post(f"{server.url}/v1/chat/completions", json={
        "model": "default", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "n": 2})
    assert r.status_code == 200, r.text
    assert len(r.json()["choices"]) == 2
    r = httpx.post(f"{server.url}/v1/completions", json={"model": "nope", "prompt": "hi"})
    assert r.status_code == 404 and r.json()["error"]["param"] == "model"


def test_queue_limit_429(server):
    import concurrent.futures as cf

    body = {"text": "x y z", "sampling_params": {"max_new_tokens": 300}}
    with cf.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: httpx.post(f"{server.url}/generate", json=body, timeout=60), range(16)))
    statuses = {c.status_code for c in codes}
    assert statuses <= {200, 429} and 429 in statuses
    limited = next(c for c in codes if c.status_code == 429)
    assert limited.headers["retry-after"]


def test_disconnect_aborts(server):
    with httpx.stream("POST", f"{server.url}/generate",
                      json={"text": "x", "sampling_params": {"max_new_tokens": 2000}, "stream": True}) as r:
        for line in r.iter_lines():
            if line:
                break
    import time

    deadline = time.time() + 10
    while time.time() < deadline:
        info = httpx.get(f"{server.url}/get_server_info").json()
        if info["num_running"] == 0:
            break
        time.sleep(0.1)
    assert info["num_running"] == 0 and info["num_aborted"] >= 1


def test_non_streaming_disconnect_aborts(server):
    import time

    before = httpx.get(f"{server.url}/get_server_info").json()["num_aborted"]
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}/generate", json={"text": "x", "sampling_params": {"max_new_tokens": 2000}},
                   timeout=0.5)
    deadline = time.time() + 10
    while time.time() < deadline:
        info = httpx.get(f"{server.url}/get_server_info").json()
        if info["num_aborted"] > before:
            break
        time.sleep(0.1)
    assert info["num_aborted"] > before and info["num_running"] == 0
