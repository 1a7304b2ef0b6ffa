"""RuntimeEndpoint against a real ``sglike serve`` on the default model."""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

import sglike as sgl

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def endpoint():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sglike.cli", "serve", "--port", str(port), "--dtype", "float32"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"server did not start: {proc.stderr.read()[-500:]}")
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail("server did not become healthy in 240 s")
        backend = sgl.RuntimeEndpoint(url)
        yield backend
        backend.shutdown()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@sgl.program
def chat(s, question):
    s += sgl.system("You are terse.")
    s += sgl.user(question)
    s += sgl.assistant(sgl.gen("answer", max_tokens=8))


def test_endpoint_uses_the_models_chat_template(endpoint):
    assert "<|im_start|>" in endpoint.model_info["chat_template"]
    state = chat.run(question="Say hi.", backend=endpoint, temperature=0)
    assert state.text().startswith("<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nSay hi.")


def test_endpoint_gen_roles_and_batch(endpoint):
    state = chat.run(question="Say hi.", backend=endpoint, temperature=0)
    assert [m["role"] for m in state.messages()] == ["system", "user", "assistant"]
    assert state.get_meta_info("answer")["completion_tokens"] <= 8
    states = chat.run_batch([{"question": q} for q in ("a?", "b?", "c?")], backend=endpoint, temperature=0)
    assert all(st.error() is None for st in states)


def test_endpoint_stream_matches_var(endpoint):
    state = chat.run(question="Count to three.", backend=endpoint, stream=True, temperature=0)
    assert "".join(state.text_iter("answer")) == state["answer"]


def test_endpoint_regex_and_select(endpoint):
    @sgl.program
    def p(s):
        s += "A number: " + sgl.gen_int("n", max_tokens=5) + ". Choice: " + sgl.select("c", ["left", "right"])

    state = p.run(backend=endpoint)
    int(state["n"])
    assert state["c"] in ("left", "right")


def test_openai_backend_against_our_v1_api(endpoint):
    """sglike.OpenAI through the official client, against the real server's /v1 endpoints."""
    backend = sgl.OpenAI("default", base_url=endpoint.base_url + "/v1", api_key="none", select_by_regex=True)

    @sgl.program
    def prog(s):
        s += sgl.system("You are terse.")
        s += sgl.user("Give a number and pick a side.")
        s += sgl.assistant(sgl.gen("n", max_tokens=6, regex=r"[0-9]{1,3}"))
        s += sgl.user("Left or right?")
        s += sgl.assistant(sgl.select("side", choices=["left", "right"]))
        s += sgl.user("A person as JSON.")
        s += sgl.assistant(sgl.gen("person", max_tokens=48, json_schema={"type": "object", "properties": {"name": {"type": "string", "maxLength": 12}}, "required": ["name"]}))

    state = prog.run(backend=backend, temperature=0)
    assert state.error() is None
    assert state["n"].isdigit()
    assert state["side"] in ("left", "right")
    import json

    assert isinstance(json.loads(state["person"])["name"], str)
    assert [m["role"] for m in state.messages()] == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
