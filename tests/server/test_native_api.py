"""SGLang-native endpoints against a real server (default model)."""
from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_generate_single_batch_ids(real_server):
    with real_server.client() as c:
        r = c.post("/generate", json={"text": "The capital of France is",
                                      "sampling_params": {"max_new_tokens": 4, "temperature": 0}})
        assert r.status_code == 200, r.text
        body = r.json()
        meta = body["meta_info"]
        assert body["text"] and len(body["output_ids"]) == meta["completion_tokens"] <= 4
        assert meta["finish_reason"]["type"] in ("stop", "length") and meta["prompt_tokens"] > 0
        assert {"id", "cached_tokens"} <= set(meta)
        r = c.post("/generate", json={"input_ids": [[504, 2988], [504, 2988, 314]],
                                      "sampling_params": [{"max_new_tokens": 2}, {"max_new_tokens": 3}]})
        assert [x["meta_info"]["completion_tokens"] for x in r.json()] == [2, 3]


def test_generate_stream_cumulative(real_server):
    body = {"text": "Once upon a time", "sampling_params": {"max_new_tokens": 5, "temperature": 0}, "stream": True}
    with real_server.client() as c, c.stream("POST", "/generate", json=body) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [ln for ln in r.iter_lines() if ln]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(ln[len("data: "):]) for ln in lines[:-1]]
    texts = [ch["text"] for ch in chunks]
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:]))
    assert chunks[-1]["meta_info"]["finish_reason"] is not None
    with real_server.client() as c:
        plain = c.post("/generate", json={**body, "stream": False}).json()
    assert plain["text"] == texts[-1]


def test_generate_logprobs(real_server):
    with real_server.client() as c:
        r = c.post("/generate", json={"text": "Hello world", "return_logprob": True, "logprob_start_len": 0,
                                      "top_logprobs_num": 2, "sampling_params": {"max_new_tokens": 2}})
    meta = r.json()["meta_info"]
    assert len(meta["output_token_logprobs"]) == 2 and len(meta["output_top_logprobs"][0]) == 2
    assert len(meta["input_token_logprobs"]) >= 1


def test_regex_constraint(real_server):
    with real_server.client() as c:
        r = c.post("/generate", json={"text": "Phone:", "sampling_params": {
            "max_new_tokens": 12, "regex": r"\d{3}-\d{4}", "temperature": 0}})
    import re

    assert re.fullmatch(r"\d{3}-\d{4}", r.json()["text"])


def test_info_health_flush_metrics(real_server):
    with real_server.client() as c:
        assert c.get("/health").status_code == 200
        assert c.get("/health_generate").status_code == 200
        info = c.get("/get_model_info").json()
        assert info["model_path"].endswith(".gguf") and info["is_generation"]
        real_server.wait_idle()
        assert c.post("/flush_cache").status_code == 200
        assert real_server.info()["kv_used_tokens"] == 0
        assert c.post("/abort_request", json={"rid": "nope"}).status_code == 200
        metrics = httpx.get(f"{real_server.url}/metrics").text  # open without the key
    for name in ("sglike_requests_total", "sglike_prompt_tokens_total", "sglike_generation_tokens_total",
                 "sglike_num_running_requests", "sglike_num_queued_requests", "sglike_kv_usage_ratio",
                 "sglike_cache_hit_rate", "sglike_spec_accept_length", "sglike_time_to_first_token_seconds_bucket",
                 "sglike_inter_token_latency_seconds_bucket", "sglike_e2e_request_latency_seconds_bucket"):
        assert name in metrics, name


def test_tokenize_detokenize_and_model_info(real_server):
    with real_server.client() as c:
        r = c.post("/tokenize", json={"prompt": "Hello world", "add_special_tokens": False})
        assert r.status_code == 200, r.text
        assert r.json()["tokens"] == [19556, 905] and r.json()["count"] == 2
        assert c.post("/detokenize", json={"tokens": [19556, 905]}).json()["text"] == "Hello world"
        bad = c.post("/detokenize", json={"tokens": [10**9]})
        assert bad.status_code == 400 and "tokens" in bad.text
        info = c.get("/get_model_info").json()
        assert "<|im_start|>" in info["chat_template"] and info["eos_token"] == "<|im_end|>"
