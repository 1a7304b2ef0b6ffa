"""The router over loopback in front of 2 real workers (``sglike serve --dp-size 2``).

The last test kills a worker, so it stays last in this file."""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import threading
import time

import httpx
import openai
import pytest

from sglike.runtime.router.dp import free_port
from .conftest import API_KEY, start_logged, stop

pytestmark = pytest.mark.slow
WORKER = "x-sglike-worker"
GREEDY = {"max_new_tokens": 6, "temperature": 0}
PREFIX_A = "You are a meticulous travel agent who plans trips to Italy for families. " * 12
PREFIX_B = "Below is a list of chemistry facts; answer the question about them precisely. " * 12


def test_native_generate_matches_a_worker_answered_directly(dp_server):
    body = {"text": "The capital of France is", "sampling_params": GREEDY}
    with dp_server.client() as c:
        r = c.post("/generate", json=body)
        assert r.status_code == 200 and r.headers[WORKER] in dp_server.workers
        direct = httpx.post(r.headers[WORKER] + "/generate", json=body, headers=dp_server.headers, timeout=120)
        assert r.json()["text"] == direct.json()["text"]
        assert c.post("/generate", json={"text": [1, 2]}).status_code == 400  # the worker's 400, passed on
    assert httpx.post(dp_server.url + "/generate", json=body).status_code == 401


def test_native_streaming_passes_through(dp_server):
    body = {"text": "Count: one, two,", "sampling_params": GREEDY}
    with dp_server.client() as c:
        whole = c.post("/generate", json=body).json()["text"]
        with c.stream("POST", "/generate", json={**body, "stream": True}) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert json.loads(events[-2])["text"] == whole


def test_openai_client_through_the_router(dp_server):
    client = openai.OpenAI(base_url=dp_server.url + "/v1", api_key=API_KEY)
    model = client.models.list().data[0].id
    done = client.completions.create(model=model, prompt="1, 2, 3,", max_tokens=4, temperature=0)
    assert done.choices[0].text and done.usage.completion_tokens == 4
    chat = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say hi"}],
                                          max_tokens=4, temperature=0)
    stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say hi"}],
                                            max_tokens=4, temperature=0, stream=True)
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert streamed == chat.choices[0].message.content
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=dp_server.url + "/v1", api_key="wrong").models.list()


def test_shared_prefixes_land_on_the_worker_that_cached_them(dp_server):
    with dp_server.client() as c:
        assert c.post("/flush_cache").status_code == 200
        before = {w["url"]: w for w in c.get("/get_server_info").json()["workers"]}
        homes: dict[str, set[str]] = {"A": set(), "B": set()}
        cached = []
        for i in range(4):
            for name, prefix in (("A", PREFIX_A), ("B", PREFIX_B)):
                r = c.post("/generate", json={"text": prefix + f"Question {i}: why?", "sampling_params": GREEDY})
                homes[name].add(r.headers[WORKER])
                cached.append(r.json()["meta_info"]["cached_tokens"])
        info = c.get("/get_server_info").json()
    assert len(homes["A"]) == 1 and len(homes["B"]) == 1 and homes["A"] != homes["B"]
    assert all(n > 100 for n in cached[2:])  # after each group's first request, its prefix was cached
    for w in info["workers"]:
        gained = w["prompt_tokens_cached"] - before[w["url"]]["prompt_tokens_cached"]
        assert gained >= 3 * 100, w["url"]  # both workers hit their own group's prefix
    assert info["requests"] == sum(w["requests"] for w in info["workers"])
    assert len(info["internal_states"]) == 2


def test_router_endpoints(dp_server):
    with dp_server.client() as c:
        assert c.get("/health").status_code == 200
        listed = c.get("/list_workers").json()
        assert listed["policy"] == "cache_aware" and {w["url"] for w in listed["workers"]} == set(dp_server.workers)
        assert c.get("/get_model_info").json()["model_path"]
        assert c.post("/tokenize", json={"prompt": "hello"}).json()["count"] >= 1
        metrics = httpx.get(dp_server.url + "/metrics").text  # open, as a worker's
    assert 'sglike_router_policy_decisions_total{decision="cache_hit",policy="cache_aware"}' in metrics
    assert 'sglike_router_worker_healthy{worker="' in metrics
    assert "sglike_router_requests_total{" in metrics


def test_sglike_router_command_over_running_workers(dp_server, tmp_path):
    port = free_port()
    cmd = [sys.executable, "-m", "sglike.cli", "router", "--port", str(port), "--policy", "round_robin",
           "--worker-urls", *dp_server.workers]
    proc = start_logged(cmd, str(tmp_path / "router.log"), "sglike: router serving")
    try:
        seen = []
        with dp_server.client(f"http://127.0.0.1:{port}") as c:  # no --api-key: the client's header goes through
            for _ in range(4):
                r = c.post("/v1/completions", json={"model": "default", "prompt": "Hi", "max_tokens": 2})
                assert r.status_code == 200
                seen.append(r.headers[WORKER])
        assert seen[0] != seen[1] and seen[:2] == seen[2:]
    finally:
        assert stop(proc, 30) == 0


def test_concurrent_load_spreads_and_leaves_no_outstanding_request(dp_server):
    async def main():
        async with httpx.AsyncClient(base_url=dp_server.url, headers=dp_server.headers, timeout=300) as c:
            async def one(i: int):
                body = {"model": "default", "prompt": f"Item {i}: the", "max_tokens": 3, "stream": i % 2 == 0}
                r = await c.post("/v1/completions", json=body)
                return r.status_code, r.headers[WORKER], r.text

            return await asyncio.gather(*(one(i) for i in range(32)))

    results = asyncio.run(main())
    assert all(status == 200 for status, _, _ in results)
    assert all(text.rstrip().endswith("data: [DONE]") for i, (_, _, text) in enumerate(results) if i % 2 == 0)
    assert {worker for _, worker, _ in results} == set(dp_server.workers)
    with dp_server.client() as c:
        assert all(w["load"] == 0 for w in c.get("/list_workers").json()["workers"])


def test_dsl_programs_run_through_the_router(dp_server):
    import sglike as sgl

    @sgl.program
    def pick(s, question):
        s += sgl.user(question)
        s += sgl.assistant(sgl.gen("answer", max_tokens=4) + " " + sgl.select("mood", choices=["yes", "no"]))
        forks = s.fork(2)
        for i, f in enumerate(forks):
            f += f"\nIdea {i}:" + sgl.gen("idea", max_tokens=3)
        s["ideas"] = [f["idea"] for f in forks]

    backend = sgl.RuntimeEndpoint(dp_server.url, api_key=API_KEY)
    state = pick.run(question="Is the sky blue?", backend=backend, temperature=0)
    assert state.error() is None and state["mood"] in ("yes", "no") and len(state["ideas"]) == 2


LONG = 160  # tokens per request: still generating when the worker is killed (40 could be done)


def test_a_killed_worker_loses_no_retryable_request(dp_server):
    """Kill one worker while both serve requests: every non-streaming request still succeeds
    (retried on the other worker); streams end either complete or with an error event; the
    launcher starts the worker again and the router routes to it; with none left, a 503."""
    results: dict[int, object] = {}

    def ask(i: int) -> None:
        body = {"text": f"Request {i}: tell me a story about the number {i}.",
                "sampling_params": {"max_new_tokens": LONG, "ignore_eos": True, "temperature": 0}}
        with dp_server.client() as c:
            if i % 4 == 3:
                with c.stream("POST", "/generate", json={**body, "stream": True}) as r:
                    results[i] = (r.status_code, [line for line in r.iter_lines() if line.startswith("data: ")])
            else:
                r = c.post("/generate", json=body)
                results[i] = (r.status_code, r.json())

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    victim = _wait_both_busy(dp_server)
    os.killpg(dp_server.pids()[victim], signal.SIGKILL)
    for t in threads:
        t.join(300)
    assert len(results) == 8
    for i, (status, out) in results.items():
        if i % 4 == 3:
            assert status == 200 and out and (out[-1] == "data: [DONE]" or '"error"' in out[-1]), out[-2:]
        else:
            assert status == 200 and out["meta_info"]["completion_tokens"] == LONG, out
    with dp_server.client() as c:
        r = c.post("/generate", json={"text": "still there?", "sampling_params": GREEDY})
        assert r.status_code == 200
        metrics = c.get("/metrics").text
    retries = re.search(r'sglike_router_retries_total\{route="/generate"\} (\S+)', metrics)
    assert retries and float(retries.group(1)) >= 1  # the victim's requests were tried again
    assert f"worker {victim} dropped" in dp_server.log()
    # the launcher starts the victim again on its port; the router's health checks take it back
    _wait_healthy(dp_server, victim)
    with dp_server.client() as c:  # a new text goes to the smallest tree: the victim's, emptied when dropped
        r = c.post("/generate", json={"text": "A question nobody asked before", "sampling_params": GREEDY})
        assert r.status_code == 200 and r.headers[WORKER] == victim
    for url, pid in dp_server.pids().items():
        os.killpg(pid, signal.SIGKILL)
    with dp_server.client() as c:  # both gone (their restarts take seconds): a clear 503
        r = c.post("/generate", json={"text": "anyone?", "sampling_params": GREEDY})
        assert r.status_code == 503 and "no healthy worker" in r.json()["error"]["message"]
        assert c.get("/health").status_code == 503


def _wait_healthy(dp_server, url: str, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    with dp_server.client() as c:
        while time.time() < deadline:
            if any(w["url"] == url and w["healthy"] for w in c.get("/list_workers").json()["workers"]):
                return
            time.sleep(0.5)
    pytest.fail(f"{url} was not started again:\n{dp_server.log()[-3000:]}")


def _wait_both_busy(dp_server, timeout: float = 120) -> str:
    """Wait until both workers have requests outstanding; returns one of them."""
    deadline = time.time() + timeout
    with dp_server.client() as c:
        while time.time() < deadline:
            workers = c.get("/list_workers").json()["workers"]
            if all(w["load"] > 0 for w in workers):
                time.sleep(0.5)  # let the requests start generating
                return workers[0]["url"]
            time.sleep(0.05)
    pytest.fail("the requests never spread over both workers")
