"""What real native-API clients send (curl, SGLang's RuntimeEndpoint, dashboards), against
a real server on the default model."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from .conftest import API_KEY

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[2] / "README.md"
# What SGLang's frontend (RuntimeEndpoint.generate) puts in sampling_params: its
# SglSamplingParams.to_srt_kwargs() plus the two detokenizer options, tuples as lists.
SGLANG_FRONTEND_PARAMS = {
    "max_new_tokens": 4, "min_new_tokens": 0, "n": 1, "stop": [], "stop_token_ids": [], "stop_regex": [],
    "temperature": 0.0, "top_p": 1.0, "top_k": -1, "min_p": 0.0, "frequency_penalty": 0.0,
    "presence_penalty": 0.0, "ignore_eos": False, "regex": None, "json_schema": None,
    "skip_special_tokens": True, "spaces_between_special_tokens": True}


def _readme_curl() -> list[str]:
    line = next(ln for ln in README.read_text().splitlines() if ln.startswith("curl ") and "/generate" in ln)
    return shlex.split(line)


def _post_like_curl(real_server, argv: list[str]) -> tuple[int, str]:
    """Run a ``curl URL -d BODY`` command line against the test server (plus its API key)."""
    url = next(a for a in argv[1:] if "/generate" in a)
    argv = [real_server.url + url[url.index("/"):] if a == url else a for a in argv]
    argv += ["-H", f"Authorization: Bearer {API_KEY}"]
    if shutil.which("curl"):
        out = subprocess.run(argv + ["-s", "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=300)
        body, _, code = out.stdout.rpartition("\n")
        return int(code), body
    data = argv[argv.index("-d") + 1]
    r = httpx.post(argv[1], content=data, timeout=300, headers={
        **real_server.headers, "content-type": "application/x-www-form-urlencoded"})
    return r.status_code, r.text


def test_readme_curl_as_written(real_server):
    argv = _readme_curl()
    assert "-d" in argv and not any(a.lower().startswith("content-type") for a in argv)
    status, body = _post_like_curl(real_server, argv)
    assert status == 200, body
    out = httpx.Response(200, content=body).json()
    assert out["text"] and out["meta_info"]["completion_tokens"] <= 16


def test_non_json_body_says_so(real_server):
    status, body = _post_like_curl(real_server, ["curl", "localhost:30000/generate", "-d", "text=Hello"])
    assert status == 400
    err = httpx.Response(400, content=body).json()["error"]
    assert "not valid JSON" in err["message"] and "x-www-form-urlencoded" in err["message"], err
    with real_server.client() as c:
        r = c.post("/generate", content=b'{"text": "Hi", "sampling_params": {"max_new_tokens": 1}}',
                   headers={"content-type": "text/plain"})
        assert r.status_code == 200, r.text
        r = c.post("/generate", content=b"[1, 2]", headers={"content-type": "application/json"})
        assert r.status_code == 400 and "must be a JSON object" in r.json()["error"]["message"]


def test_sglang_frontend_sampling_params(real_server):
    with real_server.client() as c:
        r = c.post("/generate", json={"text": "The capital of France is", "sampling_params": SGLANG_FRONTEND_PARAMS})
        assert r.status_code == 200, r.text
        every = {**SGLANG_FRONTEND_PARAMS, "stop_regex": [r"\d+\."], "no_stop_trim": False, "custom_params": {"k": 1},
                 "stream_interval": 2, "logit_bias": {"28": 0.5}, "sampling_seed": 3, "repetition_penalty": 1.0,
                 "structural_tag": None, "ebnf": None}
        r = c.post("/generate", json={"text": "Count: 1.", "sampling_params": every})
        assert r.status_code == 200, r.text
        typo = c.post("/generate", json={"text": "x", "sampling_params": {"max_new_tokenz": 2}})
        assert typo.status_code == 400 and "max_new_tokenz" in typo.json()["error"]["message"]
        bad = c.post("/generate", json={"text": "x", "sampling_params": {"stop_regex": ["(unclosed"]}})
        assert bad.status_code == 400, bad.text
        assert bad.json()["error"]["param"] == "stop_regex", bad.json()


def test_logit_bias_steers_sampling(real_server):
    with real_server.client() as c:
        base = {"text": "The capital of France is", "sampling_params": {"max_new_tokens": 3, "temperature": 0}}
        plain = c.post("/generate", json=base).json()["output_ids"]
        token = 1234 if plain[0] != 1234 else 1235
        biased = c.post("/generate", json={**base, "sampling_params": {
            **base["sampling_params"], "logit_bias": {str(token): 100}}}).json()
        assert biased["output_ids"] == [token] * 3, biased
        banned = c.post("/generate", json={**base, "sampling_params": {
            **base["sampling_params"], "logit_bias": {str(plain[0]): -100}}}).json()
        assert banned["output_ids"][0] != plain[0]
        out = c.post("/generate", json={**base, "sampling_params": {"logit_bias": {"999999999": 1}}})
        assert out.status_code == 400 and out.json()["error"]["param"] == "logit_bias"


def test_no_stop_trim_and_sampling_seed(real_server):
    with real_server.client() as c:
        sp = {"max_new_tokens": 8, "temperature": 0, "stop": [","]}
        trimmed = c.post("/generate", json={"text": "1, 2, 3, 4,", "sampling_params": sp}).json()
        kept = c.post("/generate", json={"text": "1, 2, 3, 4,", "sampling_params": {**sp, "no_stop_trim": True}}).json()
        assert "," not in trimmed["text"] and kept["text"] == trimmed["text"] + ",", (trimmed, kept)
        sampled = {"max_new_tokens": 6, "temperature": 1.0}
        a = c.post("/generate", json={"text": "Once", "sampling_params": {**sampled, "sampling_seed": 11}}).json()
        b = c.post("/generate", json={"text": "Once", "sampling_params": {**sampled, "seed": 11}}).json()
        assert a["output_ids"] == b["output_ids"]


def test_concate_and_append_fork_join(real_server):
    """SGLang's fork join: commit the forks (zero-token requests), join, continue."""
    base = "You are a careful assistant. Here is a long shared context about apples and pears. " * 4
    forks = [" First fork says apples.", " Second fork says pears."]
    with real_server.client() as c:
        for text in [base] + [base + f for f in forks]:
            r = c.post("/generate", json={"text": text, "sampling_params": {"max_new_tokens": 0}})
            assert r.status_code == 200, r.text
        r = c.post("/concate_and_append_request", json={"src_rids": ["fork-a", "fork-b"], "dst_rid": "parent"})
        assert r.status_code == 200 and r.json()["success"] is True, r.text
        joined = c.post("/generate", json={"text": base + "".join(forks), "sampling_params": {"max_new_tokens": 1}})
        assert joined.status_code == 200
        base_tokens = len(c.post("/tokenize", json={"prompt": base + forks[0], "add_special_tokens": False}).json()["tokens"])
        assert joined.json()["meta_info"]["cached_tokens"] >= base_tokens - 2
        bad = c.post("/concate_and_append_request", json={"src_rids": "x"})
        assert bad.status_code == 400


def test_info_routes_and_sglang_metrics(real_server):
    with real_server.client() as c:
        for path in ("/server_info", "/get_server_info"):
            info = c.get(path).json()
            assert "num_running" in info and info["version"], path
        for path in ("/model_info", "/get_model_info"):
            assert c.get(path).json()["is_generation"] is True, path
        version = c.get("/version").json()["version"]
        assert re.match(r"\d+\.\d+", version)
        c.post("/generate", json={"text": "Hi", "sampling_params": {"max_new_tokens": 3, "temperature": 0}})
        model = c.get("/v1/models").json()["data"][0]["id"]
    metrics = httpx.get(f"{real_server.url}/metrics").text
    for name in ("sglang:num_running_reqs", "sglang:num_queue_reqs", "sglang:token_usage", "sglang:cache_hit_rate",
                 "sglang:prompt_tokens_total", "sglang:generation_tokens_total",
                 "sglang:time_to_first_token_seconds_bucket", "sglang:e2e_request_latency_seconds_count",
                 "sglang:inter_token_latency_seconds_sum", "sglang:time_per_output_token_seconds_sum"):
        assert re.search(rf'^{re.escape(name)}{{.*model_name="{re.escape(model)}"', metrics, re.M), name
    count = re.search(r'^sglang:time_to_first_token_seconds_count{.*} (\S+)$', metrics, re.M)
    assert count and float(count.group(1)) >= 1


def test_stop_regex_through_the_native_api(real_server):
    """SGLang's frontend sends stop_regex: the output stops at the first match (re on the
    unconstrained greedy output is the reference) and finish_reason names the matched text."""
    import re

    with real_server.client() as c:
        base = {"text": "Count from one to ten: one, two,", "sampling_params": {"max_new_tokens": 16, "temperature": 0}}
        full = c.post("/generate", json=base).json()["text"]
        first = re.search(r",", full)
        assert first, full
        r = c.post("/generate", json={**base, "sampling_params": {**base["sampling_params"], "stop_regex": [r","]}}).json()
        assert r["text"] == full[: first.start()]
        assert r["meta_info"]["finish_reason"] == {"type": "stop", "matched": ","}
