"""RadixAttention in the engine: sharing, identical outputs, memory pressure, multi-turn."""
from __future__ import annotations

import random

import pytest

from sglike.runtime import Engine
from sglike.runtime.io_struct import TokenizedRequest
from sglike.runtime.sampling_params import SamplingParams

SYSTEM = (
    "You are a careful assistant. Answer in one short sentence. Examples follow.\n"
    + "".join(f"Q: What is {i} plus {i}?\nA: {2 * i}.\n" for i in range(12))
)
GREEDY = {"max_new_tokens": 12, "temperature": 0, "ignore_eos": True}


def _questions(n: int) -> list[str]:
    return [f"{SYSTEM}Q: What is {i} times {i + 1}?\nA:" for i in range(n)]


def test_outputs_identical_with_cache_on_and_off(real_engine):
    prompts = _questions(10) + _questions(3)  # repeats hit the cache fully
    off = Engine(dtype="float32", quantization="none", disable_radix_cache=True, max_total_tokens=8192)
    try:
        expected = [o["output_ids"] for o in off.generate(prompts, GREEDY)]
        assert off.get_server_info()["prompt_tokens_cached"] == 0
    finally:
        off.shutdown()
    real_engine.flush_cache()
    got = real_engine.generate(prompts, GREEDY)
    assert [o["output_ids"] for o in got] == expected
    assert sum(o["meta_info"]["cached_tokens"] for o in got) > 10 * len(real_engine.tokenizer.encode(SYSTEM)) // 2


def test_shared_prefix_is_prefilled_once(real_engine):
    real_engine.flush_cache()
    before = real_engine.get_server_info()["prefill_tokens"]
    prompts = _questions(8)
    real_engine.generate(prompts, {"max_new_tokens": 1})
    computed = real_engine.get_server_info()["prefill_tokens"] - before
    prefix = len(real_engine.tokenizer.encode(SYSTEM))
    assert computed < prefix + 8 * 40, (computed, prefix)


def test_a_short_shared_preamble_is_prefilled_once(real_engine):
    """Requests arriving together that share >= SHARED_PREFIX_HOLD_BACK uncached tokens (a chat
    template's system preamble) are prefilled apart: the first computes the preamble, the
    others reuse it from the cache a step later, with the same outputs as alone."""
    from sglike.runtime.scheduler.policy import SHARED_PREFIX_HOLD_BACK

    tok = real_engine.tokenizer
    chats = [tok.apply_chat_template([{"role": "user", "content": f"Name {w}."}], tokenize=False, add_generation_prompt=True)
             for w in ("a color", "a fruit", "a river", "a planet", "a bird")]
    ids = [tok.encode(c) for c in chats]
    shared = next(i for i in range(min(map(len, ids))) if len({t[i] for t in ids}) > 1)
    assert SHARED_PREFIX_HOLD_BACK <= shared < 32  # the case the threshold is for
    alone = []
    for c in chats:
        real_engine.flush_cache()
        alone.append(real_engine.generate(c, GREEDY)["output_ids"])
    real_engine.flush_cache()
    before = real_engine.get_server_info()["prefill_tokens"]
    together = real_engine.generate(chats, GREEDY)
    computed = real_engine.get_server_info()["prefill_tokens"] - before
    assert computed == sum(map(len, ids)) - (len(chats) - 1) * shared
    assert [o["output_ids"] for o in together] == alone


def test_n_samples_share_the_prompt(real_engine):
    real_engine.flush_cache()
    before = real_engine.get_server_info()["prefill_tokens"]
    outs = real_engine.generate(_questions(1)[0], {"max_new_tokens": 4, "temperature": 1.0, "n": 6})
    computed = real_engine.get_server_info()["prefill_tokens"] - before
    prompt_len = outs[0]["meta_info"]["prompt_tokens"]
    assert computed <= prompt_len + 6
    assert sorted(o["meta_info"]["cached_tokens"] for o in outs)[1:] == [prompt_len - 1] * 5


def test_second_turn_hits_the_whole_first_turn(real_engine):
    real_engine.flush_cache()
    tok = real_engine.tokenizer
    turn1 = [{"role": "user", "content": "Name a color."}]
    p1 = tok.apply_chat_template(turn1, tokenize=False, add_generation_prompt=True)
    out1 = real_engine.generate(p1, {"max_new_tokens": 16, "temperature": 0})
    ids1 = tok.encode(p1) + out1["output_ids"]  # prompt + answer (ending in <|im_end|>)
    ids2 = ids1 + tok.encode("\n<|im_start|>user\nAnother one.<|im_end|>\n<|im_start|>assistant\n")
    out2 = real_engine.generate(input_ids=ids2, sampling_params={"max_new_tokens": 4})
    # every token of turn 1 whose KV was computed (all but the last sampled one) is reused
    assert out2["meta_info"]["cached_tokens"] >= len(ids1) - 1


def test_tight_memory_all_finish_identically_and_free_everything(real_engine):
    rng = random.Random(0)
    words = "sun moon star river tree stone cloud fire wind sea".split()
    prompts = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 150))) for _ in range(50)]
    params = {"max_new_tokens": 24, "temperature": 0, "ignore_eos": True}
    expected = [o["output_ids"] for o in real_engine.generate(prompts, params)]
    tight = Engine(dtype="float32", quantization="none", max_total_tokens=400, max_running_requests=8)  # room for about two
    try:
        got = tight.generate(prompts, params)
        assert [o["output_ids"] for o in got] == expected
        info = tight.get_server_info()
        assert info["retractions"] > 0 and info["evicted_tokens"] > 0  # both pressure paths ran
        assert len({o["meta_info"]["id"] for o in got}) == 50
        assert all(o["meta_info"]["completion_tokens"] == 24 for o in got)
        assert info["num_running"] == 0 and info["num_waiting"] == 0
        assert info["kv_used_tokens"] == info["kv_evictable_tokens"]  # only unlocked cache left
        assert tight.flush_cache()
        assert tight.get_server_info()["kv_used_tokens"] == 0
    finally:
        tight.shutdown()


@pytest.mark.parametrize("policy", ["fcfs", "lpm", "dfs-weight"])
def test_policies_give_the_same_greedy_outputs(real_engine, policy):
    prompts = _questions(4) + ["Unrelated prompt about trains", "Another one about boats"]
    expected = [o["output_ids"] for o in real_engine.generate(prompts, GREEDY)]
    real_engine.scheduler.admission.order = __import__("sglike.runtime.scheduler.policy", fromlist=["POLICIES"]).POLICIES[policy]
    try:
        assert [o["output_ids"] for o in real_engine.generate(prompts, GREEDY)] == expected
    finally:
        real_engine.scheduler.admission.order = __import__("sglike.runtime.scheduler.policy", fromlist=["POLICIES"]).POLICIES["lpm"]


def test_flush_is_refused_while_requests_run(real_engine):
    sched = real_engine.scheduler

    def check(s):
        s.add_request(TokenizedRequest("flush-probe", [1, 2, 3, 4], SamplingParams(max_new_tokens=2)))
        s.step()
        refused = not s.flush_cache()
        while s.has_work():
            s.step()
        return refused

    assert real_engine._driver.call(check)
    assert sched.flush_cache()
