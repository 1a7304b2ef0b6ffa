"""select() scoring vs brute force (fake engine), tracing, and the OpenAI backend's mapping."""
from __future__ import annotations

import json

import httpx
import pytest

import sglike as sgl
from sglike.ir import Arg, Fork, Gen, Join, RoleBegin, Select, Text, VarRef

from .fake_backend import FakeBackend, brute_force_scores, mean

CHOICES = ["red", "green", "reddish"]


@sgl.program
def pick(s, method):
    s += "Color: " + sgl.select("c", CHOICES, choices_method=method)


def test_select_token_length_normalized_matches_brute_force():
    fake = FakeBackend()
    state = pick.run(method=None, backend=fake)
    scores = [mean(brute_force_scores("Color: ", c)) for c in CHOICES]
    assert state["c"] == CHOICES[scores.index(max(scores))]
    assert state.get_meta_info("c")["normalized_prompt_logprobs"] == pytest.approx(scores)
    assert len(fake.calls) == 1 and len(fake.calls[0]) == 3


def test_select_unconditional_matches_brute_force():
    fake = FakeBackend()
    state = pick.run(method=sgl.unconditional_likelihood_normalized, backend=fake)
    scores = []
    for c in CHOICES:
        cond = brute_force_scores("Color: ", c)
        uncond = brute_force_scores("", c)
        scores.append(mean([a - b for a, b in zip(cond, uncond)]))
    assert state["c"] == CHOICES[scores.index(max(scores))]
    assert len(fake.calls) == 1 and len(fake.calls[0]) == 6  # conditional + unconditional, one batch


def test_greedy_token_selection_pads_shorter_choice():
    decision = sgl.greedy_token_selection(
        choices=["organ", "organism"],
        input_token_logprobs=[[[-0.1, 1, None]], [[-0.1, 1, None], [-0.3, 2, None]]])
    assert decision.decision == "organ"  # padded with its mean (-0.1) > -0.3


def test_trace_records_ir_with_placeholders():
    @sgl.program
    def p(s, question):
        s += sgl.system("sys")
        s += sgl.user(question)
        s += sgl.assistant(sgl.gen("a", max_tokens=4))
        forks = s.fork(2)
        forks += sgl.select("x", ["a", "b"])
        forks.join()

    traced = p.trace()
    assert isinstance(traced.nodes[0], RoleBegin) and traced.nodes[0].role == "system"
    assert isinstance(traced.nodes[1], Text) and traced.nodes[1].value == "sys"
    assert any(isinstance(n, Arg) and n.name == "question" for n in traced.nodes)
    gen = next(n for n in traced.nodes if isinstance(n, Gen))
    assert gen.name == "a" and gen.params["max_new_tokens"] == 4
    fork = next(n for n in traced.nodes if isinstance(n, Fork))
    assert fork.size == 2 and all(isinstance(b[0], Select) for b in fork.branches)
    assert isinstance(traced.nodes[-1], Join) and traced.complete
    assert "Gen('a'" in str(traced)


def test_trace_stops_at_control_flow():
    @sgl.program
    def p(s, n):
        s += "start " + sgl.gen("x")
        if s["x"] == "yes":
            s += "more"

    traced = p.trace()
    assert not traced.complete and "only known at run time" in traced.stop_reason
    assert isinstance(traced.nodes[-1], Gen)
    assert not isinstance(traced.nodes[0], VarRef)


def _openai_backend(seen: list[dict]):
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append({"path": request.url.path, **body})
        usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        if request.url.path.endswith("/chat/completions"):
            return httpx.Response(200, json={"id": "c1", "object": "chat.completion", "created": 0, "model": "m",
                                             "choices": [{"index": 0, "finish_reason": "stop",
                                                          "message": {"role": "assistant", "content": '{"a": 1}'}}],
                                             "usage": usage})
        return httpx.Response(200, json={"id": "t1", "object": "text_completion", "created": 0, "model": "m",
                                         "choices": [{"index": 0, "finish_reason": "length", "text": " blue"}],
                                         "usage": usage})

    import openai

    client = openai.OpenAI(base_url="http://test/v1", api_key="k",
                           http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    return sgl.OpenAI("m", client=client)


def test_openai_backend_maps_chat_and_completion():
    seen: list[dict] = []
    backend = _openai_backend(seen)

    @sgl.program
    def p(s):
        s += sgl.user("give json")
        s += sgl.assistant(sgl.gen("js", json_schema={"type": "object"}, max_tokens=8, top_k=5))
        s += "Sky is" + sgl.gen("color", max_tokens=2, stop="\n")

    state = p.run(backend=backend)
    assert json.loads(state["js"]) == {"a": 1} and state["color"] == " blue"
    chat, comp = seen
    assert chat["messages"] == [{"role": "user", "content": "give json"}]
    assert chat["response_format"]["type"] == "json_schema" and chat["top_k"] == 5 and chat["max_tokens"] == 8
    assert comp["prompt"].endswith("Sky is") and comp["stop"] == ["\n"]
    with pytest.raises(sgl.UnsupportedFeature):
        pick.run(method=None, backend=backend)
