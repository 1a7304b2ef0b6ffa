"""Concurrency and disconnects against a real server: every stream completes, no KV leaks."""
from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

pytestmark = pytest.mark.slow


def _kv_held_by_requests(info: dict) -> int:
    """KV slots not owned by the prefix cache (what running requests hold)."""
    return info["kv_used_tokens"] - info.get("kv_cached_tokens", 0)


def test_64_concurrent_streams(real_server):
    async def one(client: httpx.AsyncClient, i: int) -> tuple[int, str]:
        body = {"model": "default", "prompt": f"Request {i}: count to ten.", "max_tokens": 4, "temperature": 0.7,
                "stream": True}
        text, done = "", False
        async with client.stream("POST", "/v1/completions", json=body) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if line == "data: [DONE]":
                    done = True
                elif line.startswith("data: "):
                    text += json.loads(line[6:])["choices"][0]["text"]
        assert done
        return i, text

    async def main() -> list:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=real_server.url, headers=real_server.headers, timeout=600,
                                     limits=limits) as client:
            return await asyncio.gather(*[one(client, i) for i in range(64)])

    results = asyncio.run(main())
    assert sorted(i for i, _ in results) == list(range(64))
    info = real_server.wait_idle()
    assert info["num_running"] == 0 and info["num_waiting"] == 0
    assert _kv_held_by_requests(info) == 0


def test_disconnect_mid_stream_frees_kv(real_server):
    body = {"text": "Write a long story about a dragon.", "sampling_params": {"max_new_tokens": 2000, "ignore_eos": True},
            "stream": True}
    before = real_server.wait_idle()["generated_tokens"]
    with real_server.client() as c, c.stream("POST", "/generate", json=body) as r:
        seen = 0
        for line in r.iter_lines():
            seen += line.startswith("data: ")
            if seen >= 2:
                break  # closing the stream drops the connection
    deadline = time.time() + 60
    while time.time() < deadline:
        info = real_server.info()
        if info["num_running"] == 0 and info["num_waiting"] == 0:
            break
        time.sleep(0.2)
    assert info["num_running"] == 0 and _kv_held_by_requests(info) == 0
    assert info["generated_tokens"] - before < 1000  # stopped long before max_new_tokens


def test_disconnect_non_streaming(real_server):
    body = {"text": "Tell me everything.", "sampling_params": {"max_new_tokens": 2000, "ignore_eos": True}}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{real_server.url}/generate", json=body, headers=real_server.headers, timeout=3)
    deadline = time.time() + 60
    while time.time() < deadline:
        info = real_server.info()
        if info["num_running"] == 0 and info["num_waiting"] == 0:
            break
        time.sleep(0.3)
    assert info["num_running"] == 0 and _kv_held_by_requests(info) == 0
