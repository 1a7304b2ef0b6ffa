"""Speculative decoding's pieces: n-gram lookup against its plain twin, the acceptance
rules (greedy prefix, and speculative sampling keeping the target distribution), the
adaptive draft length, and the grammar cut of a draft."""
from __future__ import annotations

import random

import torch

from sglike.runtime.speculative.acceptance import accept_greedy, accept_sampled
from sglike.runtime.speculative.adaptive import OFF_STEPS, CostGate, DraftLength
from sglike.runtime.speculative.ngram import ngram_draft, ngram_draft_reference


def test_ngram_matches_its_reference():
    rng = random.Random(0)
    for _ in range(300):
        tokens = [rng.randrange(6) for _ in range(rng.randint(0, 60))]
        k, lo = rng.randint(1, 6), rng.randint(1, 3)
        hi = lo + rng.randint(0, 4)
        assert ngram_draft(tokens, k, lo, hi) == ngram_draft_reference(tokens, k, lo, hi)


def test_ngram_prefers_the_longest_suffix_and_the_latest_match():
    tokens = [1, 2, 3, 9, 8, 2, 3, 7, 1, 2, 3]
    assert ngram_draft(tokens, 2, 1, 3) == [9, 8]  # "1 2 3" occurred at the start
    assert ngram_draft(tokens, 2, 1, 2) == [7, 1]  # "2 3": the latest occurrence
    assert ngram_draft([4, 5, 6], 3, 1, 4) == []


def test_greedy_acceptance_keeps_the_matching_prefix():
    assert accept_greedy([5, 6, 7, 8], [5, 6, 1]) == ([5, 6, 7], 2)
    assert accept_greedy([5, 6, 7, 8], [5, 6, 7]) == ([5, 6, 7, 8], 3)
    assert accept_greedy([4], []) == ([4], 0)


def test_sampled_acceptance_keeps_the_target_distribution():
    """Over many seeded trials each emitted position is distributed as the target's p,
    whatever the draft: a chi-square check of the first and second emitted tokens."""
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25]])
    gen = torch.Generator().manual_seed(0)
    trials = 6000
    first = torch.zeros(4)
    second = torch.zeros(4)  # given that the first emitted token was the draft (accepted)
    accepted_first = 0
    for _ in range(trials):
        tokens, n = accept_sampled(probs, [1, 3], gen)
        first[tokens[0]] += 1
        if n >= 1:
            accepted_first += 1
            second[tokens[1]] += 1
    for counts, p in ((first, probs[0]), (second, probs[1])):
        expected = counts.sum() * p
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        assert chi2 < 16.3, (counts, expected)  # 3 degrees of freedom, p = 0.001
    assert abs(accepted_first / trials - 0.3) < 0.03  # draft 1 accepted with probability p(1)


def test_sampled_acceptance_is_reproducible_with_a_seed():
    probs = torch.softmax(torch.randn(4, 50, generator=torch.Generator().manual_seed(1)), dim=-1)
    runs = [accept_sampled(probs, [3, 4, 5], torch.Generator().manual_seed(7)) for _ in range(2)]
    assert runs[0] == runs[1]


def test_draft_length_adapts_and_pauses():
    d = DraftLength(4)
    assert d.next(10) == 4 and d.next(2) == 2
    d.update(4, 4, max_k=8)
    assert d.k == 6
    d.update(6, 1, max_k=8)
    assert d.k == 4  # half the maximum at least
    d.update(4, 3, max_k=8)
    assert d.k == 4
    d.update(2, 0, max_k=8)  # a miss: drafting pauses, longer after each further miss
    assert d.next(10) == 0 and d.pause > 0
    while d.pause:
        d.next(10)
    assert d.next(10) == 4


def test_cost_gate_pauses_speculation_that_does_not_pay():
    gate = CostGate()
    gate.observe_decode(0.010)  # 100 tokens/s per request without speculation
    gate.observe_verify(3.0, 0.020)  # 150 tokens/s with it: keep going
    assert gate.allows()
    for _ in range(10):  # 50 tokens/s: the average falls below plain decoding, then it pauses
        gate.observe_verify(1.0, 0.020)
        if gate.off:
            break
    assert not gate.allows()
    for _ in range(OFF_STEPS - 1):
        gate.allows()
    assert gate.allows()  # then probe again


def test_grammar_cuts_a_draft_at_its_first_refusal(default_tokenizer):
    from sglike.grammar import GrammarCompiler, Vocabulary
    from sglike.runtime.speculative.drafts import grammar_rows

    vocab = Vocabulary.from_tokenizer(default_tokenizer, eos_ids=[default_tokenizer.eos_token_id])
    matcher = GrammarCompiler(vocab).compile_regex("(ab)+").matcher()
    a, b = default_tokenizer.convert_tokens_to_ids(["a", "b"])
    kept, masks = grammar_rows(matcher, [a, b, b, a], vocab.size)
    assert kept == [a, b] and masks.shape == (3, vocab.size)
    assert bool(masks[0, a]) and not bool(masks[0, b]) and bool(masks[1, b]) and bool(masks[2, a])
    assert matcher.advance(a)  # the matcher was left at the start


def test_options_on_the_config_and_the_cli():
    import pytest

    from sglike.cli import build_parser
    from sglike.runtime.config import EngineConfig

    parser, names = build_parser()
    args = parser.parse_args(["serve", "--speculative-algorithm", "NGRAM", "--speculative-num-draft-tokens", "5",
                              "--speculative-ngram-max-match-window-size", "6", "--no-speculative-cost-gate"])
    config = EngineConfig.from_kwargs(**{n: getattr(args, n) for n in names})
    assert (config.speculative_algorithm, config.speculative_num_draft_tokens) == ("NGRAM", 5)
    assert config.speculative_ngram_max_match_window_size == 6 and not config.speculative_cost_gate
    with pytest.raises(ValueError, match="speculative_algorithm"):
        EngineConfig(speculative_algorithm="EAGLE")
    with pytest.raises(ValueError, match="window"):
        EngineConfig(speculative_ngram_min_match_window_size=4, speculative_ngram_max_match_window_size=2)
