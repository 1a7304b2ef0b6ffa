"""Speculative decoding with a draft model (STANDALONE): the default model drafting for
itself accepts every greedy draft (a check that verification is right), every draft and
target KV slot is free afterwards; and on a tiny random model, sampling with speculation
gives the same token distribution as plain sampling (two-sample chi-square over seeds)."""
from __future__ import annotations

from collections import Counter

import pytest
import torch

from sglike.runtime import Engine

PROMPTS = ["The quick brown fox jumps over the lazy dog.\n" * 2, "List three animals:", "Write a haiku about rain."]


def _draft_pool_free(engine: Engine) -> bool:
    def check(s) -> bool:
        drafter = s.spec.drafter
        return drafter.allocator.available_size() == drafter.allocator.size and not drafter._kv

    return bool(engine._driver.call(check))


def test_default_model_drafting_for_itself_accepts_everything(real_engine):
    params = {"max_new_tokens": 20, "temperature": 0, "ignore_eos": True}
    expected = [o["output_ids"] for o in real_engine.generate(PROMPTS, params)]
    eng = Engine(dtype="float32", quantization="none", max_total_tokens=2048, speculative_algorithm="STANDALONE",
                 speculative_num_draft_tokens=4, speculative_cost_gate=False)
    try:
        got = eng.generate(PROMPTS, params)
        assert [o["output_ids"] for o in got] == expected
        info = eng.get_server_info()
        assert info["spec_accept_rate"] == 1.0 and info["spec_accept_length"] > 3.0
        assert eng.flush_cache() and eng.get_server_info()["kv_used_tokens"] == 0
        assert _draft_pool_free(eng)
    finally:
        eng.shutdown()


def _chi2_two_sample(a: Counter, b: Counter, min_count: int = 10) -> tuple[float, int]:
    """Chi-square statistic and degrees of freedom for two equal-size samples."""
    keys = [k for k in set(a) | set(b) if a[k] + b[k] >= min_count]
    rest_a = sum(v for k, v in a.items() if k not in keys)
    rest_b = sum(v for k, v in b.items() if k not in keys)
    cells = [(a[k], b[k]) for k in keys] + ([(rest_a, rest_b)] if rest_a + rest_b else [])
    chi2 = sum((x - y) ** 2 / (x + y) for x, y in cells if x + y)
    return chi2, max(len(cells) - 1, 1)


def test_sampling_distribution_unchanged_on_a_tiny_model(tmp_path, default_tokenizer, tiny_model_factory):
    """The tiny model drafts for itself (greedy drafts, accepted with probability p(draft));
    NGRAM uses the same acceptance rule (unit-tested in test_speculative_unit.py) but a
    random model rarely repeats its prompt, so it would test little here."""
    folder = tiny_model_factory(str(tmp_path), default_tokenizer)
    common = dict(model_path=folder, dtype="float32", max_total_tokens=8192, max_running_requests=64)
    plain = Engine(**common)
    spec = Engine(**common, speculative_algorithm="STANDALONE", speculative_draft_model_path=folder,
                  speculative_num_draft_tokens=3, speculative_max_batch_size=64, speculative_cost_gate=False)
    n, prompt = 240, "a b a b a b a b a b a b"
    try:
        params = [{"max_new_tokens": 4, "temperature": 1.0, "top_k": 4, "seed": i, "ignore_eos": True} for i in range(n)]
        outs = {name: [o["output_ids"] for o in eng.generate([prompt] * n, params)] for name, eng in (("plain", plain), ("spec", spec))}
        info = spec.get_server_info()
        assert info["spec_verify_steps"] > 0 and info["spec_accepted_tokens"] > 0
        for pos in (1, 2, 3):
            stat, dof = _chi2_two_sample(Counter(o[pos] for o in outs["plain"]), Counter(o[pos] for o in outs["spec"]))
            p_value = float(torch.special.gammaincc(torch.tensor(dof / 2), torch.tensor(stat / 2)))  # chi2 sf
            assert p_value > 1e-3, (pos, stat, dof)
        again = spec.generate([prompt] * 4, params[:4])
        assert [o["output_ids"] for o in again] == outs["spec"][:4]  # seeds reproduce
    finally:
        plain.shutdown()
        spec.shutdown()
