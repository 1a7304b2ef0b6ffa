"""Stop strings/tokens, seeds, n > 1, penalties, logprobs, prompt logprobs (real model)."""
from __future__ import annotations

import asyncio

import pytest
import torch

from sglike.runtime.sampling.argmax import argmax_rows

PROMPT = "Count from one to ten: one, two, three,"


def test_stop_string_is_found_and_not_included(real_engine):
    base = real_engine.generate(PROMPT, {"max_new_tokens": 20, "temperature": 0})
    text = base["text"]
    stop = text[6:9]  # lands somewhere inside the generated text, possibly across tokens
    out = real_engine.generate(PROMPT, {"max_new_tokens": 20, "temperature": 0, "stop": stop})
    assert out["text"] == text[: text.find(stop)]
    assert out["meta_info"]["finish_reason"] == {"type": "stop", "matched": stop}


def test_stop_token_ids(real_engine):
    base = real_engine.generate(PROMPT, {"max_new_tokens": 12, "temperature": 0, "ignore_eos": True})
    target = base["output_ids"][5]
    out = real_engine.generate(PROMPT, {"max_new_tokens": 12, "temperature": 0, "stop_token_ids": [target], "ignore_eos": True})
    first = base["output_ids"].index(target)
    assert out["output_ids"] == base["output_ids"][: first + 1]
    assert out["meta_info"]["finish_reason"] == {"type": "stop", "matched": target}


def test_eos_stops_and_min_new_tokens_holds_it_back(real_engine):
    tok = real_engine.tokenizer
    chat = tok.apply_chat_template([{"role": "user", "content": "Say hi."}], tokenize=False, add_generation_prompt=True)
    out = real_engine.generate(chat, {"max_new_tokens": 64, "temperature": 0})
    assert out["meta_info"]["finish_reason"]["type"] == "stop"
    n = out["meta_info"]["completion_tokens"]
    longer = real_engine.generate(chat, {"max_new_tokens": 64, "temperature": 0, "min_new_tokens": n + 5})
    assert longer["meta_info"]["completion_tokens"] >= n + 5
    assert tok.eos_token_id not in longer["output_ids"][: n + 4]


def test_seed_is_reproducible_and_batch_independent(real_engine):
    params = {"max_new_tokens": 16, "temperature": 1.0, "top_p": 0.9, "seed": 1234}
    a = real_engine.generate(PROMPT, params)
    b = real_engine.generate([PROMPT, "Other prompt here", PROMPT], [params, {"max_new_tokens": 16, "temperature": 1.0}, {**params, "seed": 99}])
    assert a["output_ids"] == b[0]["output_ids"]
    assert a["output_ids"] != b[2]["output_ids"]


def test_n_returns_n_distinct_samples(real_engine):
    outs = real_engine.generate(PROMPT, {"max_new_tokens": 12, "temperature": 1.0, "n": 4, "seed": 7})
    assert len(outs) == 4
    assert len({tuple(o["output_ids"]) for o in outs}) > 1
    assert all(o["meta_info"]["prompt_tokens"] == outs[0]["meta_info"]["prompt_tokens"] for o in outs)


def test_top_k_1_is_greedy(real_engine):
    greedy = real_engine.generate(PROMPT, {"max_new_tokens": 10, "temperature": 0})
    topk = real_engine.generate(PROMPT, {"max_new_tokens": 10, "temperature": 1.5, "top_k": 1})
    assert greedy["output_ids"] == topk["output_ids"]


def _reference_greedy_with_penalties(hf, prompt_ids, steps, rep=1.0, freq=0.0, pres=0.0):
    ids = list(prompt_ids)
    out: list[int] = []
    for _ in range(steps):
        with torch.no_grad():
            logits = hf(torch.tensor([ids])).logits[0, -1].float()
        for t in set(prompt_ids) | set(out):
            logits[t] = logits[t] / rep if logits[t] > 0 else logits[t] * rep
        for t in set(out):
            logits[t] -= freq * out.count(t) + pres
        nxt = int(logits.argmax())
        out.append(nxt)
        ids.append(nxt)
    return out


@pytest.mark.parametrize("rep, freq, pres", [(1.3, 0.0, 0.0), (1.0, 0.8, 0.0), (1.0, 0.0, 1.5), (1.1, 0.4, 0.4)])
def test_penalties_match_a_plain_reference(real_engine, hf_reference, rep, freq, pres):
    ids = real_engine.tokenizer.encode(PROMPT)
    out = real_engine.generate(PROMPT, {"max_new_tokens": 12, "temperature": 0, "ignore_eos": True, "repetition_penalty": rep, "frequency_penalty": freq, "presence_penalty": pres})
    assert out["output_ids"] == _reference_greedy_with_penalties(hf_reference, ids, 12, rep, freq, pres)


def test_output_and_prompt_logprobs_match_log_softmax_of_reference_logits(real_engine, hf_reference):
    ids = real_engine.tokenizer.encode(PROMPT)
    out = real_engine.generate(PROMPT, {"max_new_tokens": 6, "temperature": 0, "ignore_eos": True}, return_logprob=True, logprob_start_len=0, top_logprobs_num=3)
    meta = out["meta_info"]
    full = ids + out["output_ids"]
    with torch.no_grad():
        ref = torch.log_softmax(hf_reference(torch.tensor([full])).logits[0].float(), dim=-1)
    assert meta["input_token_logprobs"][0] == [None, ids[0], None]
    for i in range(1, len(ids)):
        lp, tok, _ = meta["input_token_logprobs"][i]
        assert tok == ids[i] and abs(lp - ref[i - 1, tok].item()) < 1e-3
    for j, (lp, tok, _) in enumerate(meta["output_token_logprobs"]):
        pos = len(ids) - 1 + j
        assert tok == full[pos + 1] and abs(lp - ref[pos, tok].item()) < 1e-3
        top = meta["output_top_logprobs"][j]
        assert [t for _, t, _ in top] == ref[pos].topk(3).indices.tolist()
        assert top[0][1] == tok  # greedy picks the top token


def test_scoring_path_max_new_tokens_0(real_engine, hf_reference):
    ids = real_engine.tokenizer.encode(PROMPT)
    start = 4
    out = real_engine.generate(input_ids=ids, sampling_params={"max_new_tokens": 0}, return_logprob=True, logprob_start_len=start)
    assert out["output_ids"] == []
    lps = out["meta_info"]["input_token_logprobs"]
    assert [t for _, t, _ in lps] == ids[start:]
    with torch.no_grad():
        ref = torch.log_softmax(hf_reference(torch.tensor([ids])).logits[0].float(), dim=-1)
    expected = sum(ref[i - 1, ids[i]].item() for i in range(start, len(ids)))
    assert abs(sum(lp for lp, _, _ in lps) - expected) < 1e-3


def test_async_generate_and_async_stream(real_engine):
    async def main():
        one, two = await asyncio.gather(
            real_engine.async_generate(PROMPT, {"max_new_tokens": 8, "temperature": 0}),
            real_engine.async_generate("Hello", {"max_new_tokens": 8, "temperature": 0}),
        )
        parts = [c["text"] async for c in await real_engine.async_generate(PROMPT, {"max_new_tokens": 8, "temperature": 0}, stream=True)]
        return one, two, "".join(parts)

    one, two, streamed = asyncio.run(main())
    assert one["meta_info"]["completion_tokens"] == 8 and two["meta_info"]["completion_tokens"] == 8
    assert streamed == one["text"]


def test_single_token_prompt_logprobs_has_the_none_entry(real_engine):
    out = real_engine.generate(input_ids=[42], sampling_params={"max_new_tokens": 0}, return_logprob=True, logprob_start_len=0)
    assert out["meta_info"]["input_token_logprobs"] == [[None, 42, None]]


def test_argmax_rows_matches_torch_argmax_ties_and_masked_rows_included():
    g = torch.Generator().manual_seed(0)
    logits = torch.randint(-3, 4, (64, 1000), generator=g).float()  # many tied maxima
    logits[5] = float("-inf")  # a fully masked row
    logits[7, 100:] = float("-inf")
    logits[9, 42] = float("nan")
    assert torch.equal(argmax_rows(logits), logits.argmax(dim=-1))
    wide = torch.randn(3, 49152, generator=g)
    assert torch.equal(argmax_rows(wide), wide.argmax(dim=-1))
    half = wide.to(torch.bfloat16)  # not the numpy path: torch's own
    assert torch.equal(argmax_rows(half), half.argmax(dim=-1))
