"""Speculative decoding (NGRAM) on the real model: greedy output identical to plain decoding,
in a batch with others, under a grammar, with stops and lengths, and every KV slot free after."""
from __future__ import annotations

import json

import pytest

from sglike.kernels import cpu
from sglike.runtime import Engine

PASSAGE = "The quick brown fox jumps over the lazy dog while the cat sleeps in the warm sun by the river.\n"
PROMPTS = [
    PASSAGE * 3,  # copy-heavy: the model repeats the passage
    "def add(a, b):\n    return a + b\n\ndef add(a, b):\n    return a + b\n\ndef",
    "List three animals:",  # ordinary: drafts are rare and mostly rejected
    "Story: alpha beta gamma delta river mountain code python engine token cache story light",
]
GREEDY = {"max_new_tokens": 40, "temperature": 0, "ignore_eos": True}
# the cost gate times steps; off here so that the counts asserted do not depend on the machine
SPEC = dict(dtype="float32", quantization="none", speculative_algorithm="NGRAM", speculative_cost_gate=False)


@pytest.fixture(scope="module")
def spec_engine():
    eng = Engine(max_total_tokens=8192, max_running_requests=32, **SPEC)
    yield eng
    eng.shutdown()


def _all_free(engine: Engine) -> bool:
    info = engine.get_server_info()
    return info["num_running"] == 0 and engine.flush_cache() and engine.get_server_info()["kv_used_tokens"] == 0


def test_greedy_identical_to_plain_in_a_batch(real_engine, spec_engine):
    expected = [o["output_ids"] for o in real_engine.generate(PROMPTS, GREEDY)]
    got = spec_engine.generate(PROMPTS, GREEDY)
    assert [o["output_ids"] for o in got] == expected
    copy = got[0]["meta_info"]
    assert copy["spec_accepted_tokens"] >= 20 and copy["spec_accept_length"] > 2.0
    assert copy["spec_verify_ct"] < GREEDY["max_new_tokens"] // 2  # fewer forwards than tokens
    info = spec_engine.get_server_info()
    assert info["speculative_algorithm"] == "NGRAM" and info["spec_draft_tokens"] > info["spec_accepted_tokens"] > 0
    assert 0.0 < info["spec_accept_rate"] < 1.0  # some drafts were rejected and rolled back
    assert _all_free(spec_engine)


def test_single_requests_identical(real_engine, spec_engine):
    for prompt in PROMPTS[:2]:
        params = {"max_new_tokens": 33, "temperature": 0}
        assert spec_engine.generate(prompt, params)["output_ids"] == real_engine.generate(prompt, params)["output_ids"]


@pytest.mark.parametrize("params", [
    {"max_new_tokens": 7, "temperature": 0},  # the length cut falls inside an accepted run
    {"max_new_tokens": 60, "temperature": 0, "stop": ["lazy dog while"]},  # a stop string inside a run
    {"max_new_tokens": 60, "temperature": 0, "stop_token_ids": [5269]},
    {"max_new_tokens": 30, "temperature": 0, "min_new_tokens": 25, "stop": ["sun"]},
])
def test_stops_and_lengths_honoured_inside_accepted_runs(real_engine, spec_engine, params):
    plain, spec = real_engine.generate(PROMPTS[0], params), spec_engine.generate(PROMPTS[0], params)
    assert spec["output_ids"] == plain["output_ids"] and spec["text"] == plain["text"]
    assert spec["meta_info"]["finish_reason"] == plain["meta_info"]["finish_reason"]


def test_logprobs_across_accepted_runs(real_engine, spec_engine):
    params = {"max_new_tokens": 24, "temperature": 0}
    kw = dict(return_logprob=True, top_logprobs_num=2)
    plain = real_engine.generate(PROMPTS[0], params, **kw)["meta_info"]
    spec = spec_engine.generate(PROMPTS[0], params, **kw)["meta_info"]
    assert spec["spec_accepted_tokens"] > 0
    assert [t[1] for t in spec["output_token_logprobs"]] == [t[1] for t in plain["output_token_logprobs"]]
    for a, b in zip(spec["output_token_logprobs"], plain["output_token_logprobs"]):
        assert a[0] == pytest.approx(b[0], abs=1e-3)
    assert len(spec["output_top_logprobs"]) == 24


def test_grammar_and_speculation(real_engine, spec_engine):
    record = {"name": "Ada Lovelace", "city": "London", "field": "mathematics"}
    schema = {"type": "object", "properties": {k: {"type": "string"} for k in record}, "required": list(record)}
    prompt = f"Echo this JSON exactly: {json.dumps(record)}\nJSON: {json.dumps(record)}\nJSON:"
    params = {"max_new_tokens": 48, "temperature": 0, "json_schema": json.dumps(schema)}
    plain, spec = real_engine.generate(prompt, params), spec_engine.generate(prompt, params)
    assert spec["output_ids"] == plain["output_ids"]
    assert set(json.loads(spec["text"])) == set(record)
    regex = r"(fox|dog|cat)( (fox|dog|cat)){5}"
    params = {"max_new_tokens": 24, "temperature": 0, "regex": regex}
    prompt = "fox dog cat fox dog cat fox dog cat fox dog cat\n"
    plain, spec = real_engine.generate(prompt, params), spec_engine.generate(prompt, params)
    assert spec["output_ids"] == plain["output_ids"] and spec["text"] == plain["text"]
    assert _all_free(spec_engine)


def test_large_batches_do_not_speculate(spec_engine):
    before = spec_engine.get_server_info()["spec_verify_steps"]
    spec_engine.generate([PROMPTS[0]] * 8, {"max_new_tokens": 6, "temperature": 0})  # 8 > speculative_max_batch_size
    assert spec_engine.get_server_info()["spec_verify_steps"] == before


def test_tight_memory_with_speculation(real_engine):
    """Chunked prefill and cache eviction under speculation (whether a retraction happens
    depends on the drafts; the retraction path itself is the plain one, KV settled first)."""
    prompts = [f"{i}: " + PASSAGE * (1 + i % 3) for i in range(10)]
    params = {"max_new_tokens": 24, "temperature": 0, "ignore_eos": True}
    expected = [o["output_ids"] for o in real_engine.generate(prompts, params)]
    tight = Engine(max_total_tokens=320, max_running_requests=4, chunked_prefill_size=48, **SPEC)
    try:
        got = tight.generate(prompts, params)
        assert [o["output_ids"] for o in got] == expected
        info = tight.get_server_info()
        assert info["evicted_tokens"] > 0 and info["spec_accepted_tokens"] > 0
        assert _all_free(tight)
    finally:
        tight.shutdown()


@pytest.mark.skipif(not cpu.has_vnni(), reason="int8 activations run in the C++ decode step on AVX512-VNNI only")
def test_int8_activations_verify_bit_for_bit_like_decode():
    """Rounding activations to int8 turns a float-level difference into a whole rounding step,
    so a verify has to compute each token exactly as its own decode step would (no shared-prefix
    cascade between a request's drafted tokens): logits, hence logprobs, are equal, not close."""
    kw = dict(quantization="w4a8_int8", max_total_tokens=4096)
    plain, spec = Engine(**kw), Engine(**kw, speculative_algorithm="NGRAM", speculative_cost_gate=False)
    try:
        for prompt in PROMPTS[:2]:
            params = {"max_new_tokens": 32, "temperature": 0, "ignore_eos": True}
            a = plain.generate(prompt, params, return_logprob=True)
            b = spec.generate(prompt, params, return_logprob=True)
            assert b["meta_info"]["spec_accepted_tokens"] > 0
            assert b["output_ids"] == a["output_ids"]
            assert b["meta_info"]["output_token_logprobs"] == a["meta_info"]["output_token_logprobs"]
    finally:
        plain.shutdown()
        spec.shutdown()


def test_verify_rows_stay_within_the_exact_step():
    """Four requests drafting up to 12 tokens each make a 52-row verify, past what a C++ step
    of 32 rows takes (as on AVX2; where a verify's tokens equal their decode steps bit for
    bit); the plan caps the drafts at the step's rows, and the logprobs stay equal, not close."""
    kw = dict(quantization="w4a8_int8", max_total_tokens=4096, max_running_requests=4)
    plain = Engine(**kw)
    spec = Engine(**kw, speculative_algorithm="NGRAM", speculative_cost_gate=False, speculative_num_draft_tokens=12)
    try:
        step = spec.scheduler.runner.cpu_step
        if step is None:
            pytest.skip("no C++ decode step on this machine")
        for engine in (plain, spec):  # both prefill the same way (the module path past 32 tokens)
            engine.scheduler.runner.cpu_step.max_rows = 32
        # no two prompts share a first token: a plain batch decode over a shared prefix takes
        # the cascade, whose float sums differ from a lone request's
        prompts = [PASSAGE * 3, PROMPTS[1], "Copy: " + PASSAGE * 2, "# twice\n" + "x = [1, 2, 3]\nprint(x)\n" * 3]
        params = {"max_new_tokens": 40, "temperature": 0, "ignore_eos": True}
        a = plain.generate(prompts, params, return_logprob=True)
        b = spec.generate(prompts, params, return_logprob=True)
        assert [o["output_ids"] for o in b] == [o["output_ids"] for o in a]
        assert [o["meta_info"]["output_token_logprobs"] for o in b] == [o["meta_info"]["output_token_logprobs"] for o in a]
        rows = spec.scheduler.spec.cost.seconds.keys()  # every forward's row count
        assert max(rows) == 32  # the cap was reached, never passed
    finally:
        plain.shutdown()
        spec.shutdown()
