"""Batch invariance, chunked prefill, and KV accounting with the real model (float32)."""
from __future__ import annotations

import random

import pytest

from sglike.runtime import Engine


def _mixed_prompts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = "alpha beta gamma delta river mountain code python engine token cache story light".split()
    return [f"Story {i}: " + " ".join(rng.choice(words) for _ in range(rng.randint(3, 120))) for i in range(n)]


GREEDY = {"max_new_tokens": 20, "temperature": 0, "ignore_eos": True}


def test_request_alone_equals_inside_a_batch_of_16(real_engine):
    prompts = _mixed_prompts(16)
    batch = real_engine.generate(prompts, GREEDY)
    for i in (0, 7, 15):
        alone = real_engine.generate(prompts[i], GREEDY)
        assert alone["output_ids"] == batch[i]["output_ids"]


def test_chunked_prefill_equals_unchunked(real_engine):
    prompt = " ".join(_mixed_prompts(6, seed=3))  # several hundred tokens
    reference = real_engine.generate(prompt, GREEDY)
    chunked = Engine(dtype="float32", quantization="none", chunked_prefill_size=64, max_prefill_tokens=64, max_total_tokens=4096, disable_radix_cache=True)
    try:
        out = chunked.generate(prompt, GREEDY)
        assert out["meta_info"]["prompt_tokens"] > 3 * 64
        assert out["output_ids"] == reference["output_ids"]
        info = chunked.get_server_info()
        assert info["kv_used_tokens"] == 0  # no cache: every slot free again
    finally:
        chunked.shutdown()


def test_every_slot_free_after_all_requests(real_engine):
    real_engine.generate(_mixed_prompts(12, seed=5), {"max_new_tokens": 8, "temperature": 0.8, "n": 2})
    info = real_engine.get_server_info()
    assert info["num_running"] == 0 and info["num_waiting"] == 0
    assert info["kv_used_tokens"] == info["kv_cached_tokens"] == info["kv_evictable_tokens"]
    assert real_engine.flush_cache()
    assert real_engine.get_server_info()["kv_used_tokens"] == 0


def test_streaming_deltas_concatenate_to_the_text(real_engine):
    prompt = "List three animals:"
    full = real_engine.generate(prompt, GREEDY)
    chunks = list(real_engine.generate(prompt, GREEDY, stream=True))
    assert "".join(c["text"] for c in chunks) == full["text"]
    assert chunks[-1]["meta_info"]["finish_reason"]["type"] == "length"


@pytest.mark.parametrize(
    "params, match",
    [
        ({"temperature": -1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_new_tokens": 10**6}, "max_new_tokens"),
        ({"bogus": 1}, "bogus"),
        ({"n": 0}, "n"),
        ({"seed": 2**70}, "seed"),
    ],
)
def test_bad_input_gets_a_clear_value_error(real_engine, params, match):
    with pytest.raises(ValueError, match=match):
        real_engine.generate("hi", params)


def test_oversized_prompt_is_rejected_and_engine_keeps_serving(real_engine):
    with pytest.raises(ValueError, match="prompt"):
        real_engine.generate(input_ids=[42] * 20000, sampling_params={"max_new_tokens": 1})
    assert real_engine.generate("Hello", {"max_new_tokens": 2})["meta_info"]["completion_tokens"] == 2


def test_huge_top_k_and_top_logprobs_mean_the_whole_vocabulary(real_engine):
    """Integers beyond the vocabulary (and beyond int64) are clamped, not a crash of the step."""
    out = real_engine.generate("Hello", {"max_new_tokens": 2, "temperature": 1.0, "top_k": 2**70, "seed": 1}, return_logprob=True, top_logprobs_num=10**9)
    assert out["meta_info"]["completion_tokens"] == 2
    assert len(out["meta_info"]["output_top_logprobs"][0]) == len(real_engine.tokenizer)  # every token


def test_a_request_that_fails_on_the_engine_thread_fails_alone(real_engine, monkeypatch):
    """Defence in depth: an error while the scheduler takes a request in aborts that request
    with the error, and the engine goes on serving the others."""
    from sglike.runtime.scheduler import scheduler as sched_mod

    real = sched_mod.Req.from_tokenized

    def flaky(treq, arrival):
        if treq.sampling_params.max_new_tokens == 7:
            raise OverflowError("injected")
        return real(treq, arrival)

    monkeypatch.setattr(sched_mod.Req, "from_tokenized", staticmethod(flaky))
    bad, good = real_engine.generate(["one", "two"], [{"max_new_tokens": 7}, {"max_new_tokens": 3}])
    assert bad["meta_info"]["finish_reason"]["type"] == "abort" and "injected" in bad["meta_info"]["finish_reason"]["message"]
    assert good["meta_info"]["completion_tokens"] == 3
    monkeypatch.undo()
    assert real_engine.generate("three", {"max_new_tokens": 2})["meta_info"]["completion_tokens"] == 2
