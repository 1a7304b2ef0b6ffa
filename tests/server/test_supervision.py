"""Engine supervision: the real server (real model, engine in its own process) survives its
engine process being SIGKILLed: in-flight requests end with a clear 503-class error, the
engine is restarted, and new requests succeed."""
from __future__ import annotations

import json
import os
import signal
import threading
import time

import httpx
import pytest

from sglike.runtime.config import EngineConfig
from sglike.runtime.server.launch import ServerOptions

from .harness import ServerThread, free_port

LONG = {"max_new_tokens": 2000, "ignore_eos": True, "temperature": 0}


@pytest.fixture(scope="module")
def server():
    srv = ServerThread(EngineConfig(max_total_tokens=8192, dtype="float32"), ServerOptions(port=free_port())).start()
    yield srv
    srv.stop()


def _wait_healthy(url: str, timeout: float = 600) -> list[int]:
    """/health status codes seen until it answers 200."""
    seen, deadline = [], time.time() + timeout
    while time.time() < deadline:
        seen.append(httpx.get(f"{url}/health", timeout=30).status_code)
        if seen[-1] == 200:
            return seen
        time.sleep(0.2)
    pytest.fail(f"server not healthy again within {timeout}s: {seen[-5:]}")


def _works(url: str) -> None:
    r = httpx.post(f"{url}/generate", json={"text": "Hello", "sampling_params": {"max_new_tokens": 4, "ignore_eos": True}}, timeout=300)
    assert r.status_code == 200, r.text
    assert r.json()["meta_info"]["completion_tokens"] == 4


def test_sigkill_mid_stream_ends_the_stream_and_the_engine_restarts(server):
    engine = server.state.tm.engine
    first_pid = engine.pid
    events: list[str] = []
    with httpx.stream("POST", f"{server.url}/generate", timeout=300,
                      json={"text": "Count to a thousand:", "sampling_params": LONG, "stream": True}) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line:
                events.append(line)
            if len(events) == 3:
                os.kill(first_pid, signal.SIGKILL)
    assert events[-1] == "data: [DONE]"  # a clean end, not a broken connection
    last = json.loads(events[-2].removeprefix("data: "))
    reason = last["meta_info"]["finish_reason"]
    assert reason["type"] == "abort" and reason["message"].startswith("engine failed"), reason
    assert any(json.loads(e.removeprefix("data: "))["output_ids"] for e in events[:-2])  # it was mid-stream
    seen = _wait_healthy(server.url)
    assert 503 in seen  # unhealthy while the new engine starts
    assert engine.pid != first_pid and engine.restarts == 1
    _works(server.url)


def test_sigkill_fails_in_flight_native_and_openai_requests_with_503(server):
    _wait_healthy(server.url)
    engine = server.state.tm.engine
    results: dict[str, httpx.Response] = {}

    def native() -> None:
        results["native"] = httpx.post(f"{server.url}/generate", timeout=300,
                                       json={"text": "Write a long story.", "sampling_params": LONG})

    def openai() -> None:
        results["openai"] = httpx.post(f"{server.url}/v1/chat/completions", timeout=300, json={
            "model": "default", "messages": [{"role": "user", "content": "Write a long story."}],
            "max_tokens": 2000, "temperature": 0})

    threads = [threading.Thread(target=f) for f in (native, openai)]
    for t in threads:
        t.start()
    deadline = time.time() + 300
    while engine.num_in_flight < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert engine.num_in_flight == 2
    os.kill(engine.pid, signal.SIGKILL)
    for t in threads:
        t.join(300)
    for name, r in results.items():
        assert r.status_code == 503, (name, r.text)
        assert "engine failed" in r.json()["error"]["message"]
    _wait_healthy(server.url)
    _works(server.url)
    r = httpx.post(f"{server.url}/v1/chat/completions", timeout=300, json={
        "model": "default", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3})
    assert r.status_code == 200, r.text
