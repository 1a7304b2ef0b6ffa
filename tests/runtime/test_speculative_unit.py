"""Speculative decoding's pieces: n-gram lookup against its plain twin, the acceptance
rules (greedy prefix, and speculative sampling keeping the target distribution),
the adaptive draft plan (against a brute-force twin), and the grammar cut of a draft."""
from __future__ import annotations

import itertools
import random

import pytest
import torch

from sglike.runtime.speculative.acceptance import accept_greedy, accept_sampled
from sglike.runtime.speculative.adaptive import Acceptance, KeyedAcceptance, StepCost, plan_drafts
from sglike.runtime.speculative.ngram import ngram_draft, ngram_lookup, ngram_lookup_reference
from sglike.runtime.speculative.ngram_index import NgramIndex


def test_ngram_matches_its_reference():
    rng = random.Random(0)
    for _ in range(300):
        tokens = [rng.randrange(6) for _ in range(rng.randint(0, 60))]
        k, lo = rng.randint(1, 6), rng.randint(1, 3)
        hi = lo + rng.randint(0, 4)
        assert ngram_lookup(tokens, k, lo, hi) == ngram_lookup_reference(tokens, k, lo, hi)


def test_ngram_index_matches_the_lookup_as_text_grows_and_is_edited():
    """The incremental index against ``ngram_lookup`` on the same text at every step: tokens
    appended one or several at a time, and the tail replaced (as jump-forward does) or cut."""
    rng = random.Random(1)
    for _ in range(60):
        lo = rng.randint(1, 3)
        hi = lo + rng.randint(0, 5)
        index, tokens = NgramIndex(lo, hi), [rng.randrange(4) for _ in range(rng.randint(0, 10))]
        for _ in range(40):
            edit = rng.random()
            if edit < 0.1 and tokens:  # replace the tail
                cut = rng.randint(max(0, len(tokens) - 3), len(tokens))
                tokens = tokens[:cut] + [rng.randrange(4) for _ in range(rng.randint(0, 4))]
            elif edit < 0.15:  # a different text altogether
                tokens = [rng.randrange(4) for _ in range(rng.randint(0, 20))]
            else:
                tokens = tokens + [rng.randrange(4) for _ in range(rng.randint(1, 3))]
            index.sync(tokens)
            k = rng.randint(0, 6)
            assert index.lookup(k) == ngram_lookup(tokens, k, lo, hi), (tokens, k, lo, hi)


def test_ngram_prefers_the_longest_suffix_and_the_latest_match():
    tokens = [1, 2, 3, 9, 8, 2, 3, 7, 1, 2, 3]
    assert ngram_draft(tokens, 2, 1, 3) == [9, 8]  # "1 2 3" occurred at the start
    assert ngram_draft(tokens, 2, 1, 2) == [7, 1]  # "2 3": the latest occurrence
    assert ngram_draft([4, 5, 6], 3, 1, 4) == []
    assert ngram_lookup(tokens, 2, 1, 3) == ([9, 8], 3) and ngram_lookup(tokens, 2, 1, 2) == ([7, 1], 2)
    assert ngram_lookup([4, 5, 6], 3, 1, 4) == ([], 0)


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


def test_acceptance_follows_the_evidence_and_drifts_back_when_idle():
    a = Acceptance()
    prior = a.p()
    for _ in range(5):
        a.update(4, 4)  # every draft kept
    assert a.p() > 0.9
    for _ in range(20):
        a.update(4, 0)  # every first draft token rejected
    assert a.p() < 0.2
    low = a.p()
    for _ in range(300):
        a.idle()
    assert low < a.p() and abs(a.p() - prior) < 0.02  # probed again after a while
    a.update(0, 0)  # nothing drafted: no evidence
    assert abs(a.p() - prior) < 0.02


def test_keyed_acceptance_starts_from_the_engine_wide_estimate_of_its_key():
    shared: dict[int, Acceptance] = {}
    first, second = KeyedAcceptance(shared), KeyedAcceptance(shared)
    assert first.p(3) == first.p(8) == Acceptance().p()  # no evidence anywhere yet
    for _ in range(10):
        first.update(3, 4, 0)  # short matches: rejected
        first.update(8, 4, 4)  # long matches: kept
    assert first.p(3) < 0.2 and first.p(8) > 0.9
    # a new request inherits the engine's view of each key before its own evidence
    assert second.p(3) < 0.35 < 0.75 < second.p(8)
    for _ in range(10):
        second.update(8, 4, 0)  # this request's long matches fail: its own evidence wins
    assert second.p(8) < 0.3 and first.p(8) > second.p(8)
    second.idle()  # drifts its own evidence, not the engine's
    assert shared[3].p() < 0.2


def test_step_cost_interpolates_between_measured_lengths_and_is_optimistic_beyond():
    c = StepCost()
    assert c.step(1, 3) == 1.0  # nothing measured yet: every plan costs the same
    c.observe(1, 0.004)
    c.observe(5, 0.012)
    c.observe_draft(4, 0.0004)
    assert c.forward(3) == pytest.approx(0.008) and c.forward(1) == 0.004 and c.forward(9) == 0.012
    assert c.step(1, 2) == pytest.approx(0.008 + 2 * 0.0001)
    c.observe(5, 0.022)
    assert c.forward(5) == pytest.approx(0.8 * 0.012 + 0.2 * 0.022)  # an exponential average


def test_step_cost_prices_longer_forwards_off_a_line_not_one_slow_sample():
    """Verify forwards of 2-4 rows seen often, cost 6 ms + 1.2 ms a row; one 7-row forward
    took 18 ms (a hiccup): 7 rows is priced near the line (12 ms), not at 18 ms, and a row
    count never tried (10) by the slope."""
    c = StepCost()
    c.observe(1, 0.0045)
    line = lambda r: 0.0036 + 0.0012 * r  # noqa: E731
    for i in range(30):
        c.observe(2 + i % 3, line(2 + i % 3) * (1.05 if i % 2 else 0.95))
    c.observe(7, 0.018)
    for i in range(8):  # a refit
        c.observe(2 + i % 3, line(2 + i % 3))
    assert c.forward(7) == pytest.approx(line(7), abs=0.0012)
    assert c.forward(10) == pytest.approx(line(10), abs=0.002)
    assert c.forward(1) == 0.0045 and c.forward(2) >= 0.0045


def _brute_force_plan(ps, caps, cost, max_drafted=None):
    best, best_rate = None, -1.0
    for ks in itertools.product(*[range(c + 1) for c in caps]):
        if max_drafted is not None and sum(ks) > max_drafted:
            continue
        expected = len(ps) + sum(sum(p**j for j in range(1, k + 1)) for p, k in zip(ps, ks))
        rate = expected / cost(len(ps), sum(ks))
        if rate > best_rate + 1e-12:
            best, best_rate = ks, rate
    return best_rate


@pytest.mark.parametrize("seed", range(40))
def test_plan_drafts_is_as_good_as_brute_force(seed):
    rng = random.Random(seed)
    batch = rng.randint(1, 3)
    ps = [rng.random() for _ in range(batch)]
    caps = [rng.randint(0, 4) for _ in range(batch)]
    base, per_row, flat = rng.uniform(1, 5), rng.uniform(0, 2), rng.random() < 0.2
    cost = (lambda b, n: 1.0) if flat else (lambda b, n: base + per_row * (b + n) + 0.1 * max(0, b + n - 3) ** 2)
    room = rng.choice([None, 0, rng.randint(1, 5)])  # the most draft tokens a verify has rows for
    ks = plan_drafts(ps, caps, cost, room)
    assert all(0 <= k <= c for k, c in zip(ks, caps))
    assert room is None or sum(ks) <= room
    expected = batch + sum(sum(p**j for j in range(1, k + 1)) for p, k in zip(ps, ks))
    assert expected / cost(batch, sum(ks)) == pytest.approx(_brute_force_plan(ps, caps, cost, room))


def test_plan_drafts_long_when_verifying_is_flat_and_not_at_all_when_it_costs_per_token():
    assert plan_drafts([0.5, 0.9], [6, 6], lambda b, n: 1.0) == [6, 6]
    assert plan_drafts([0.9], [6], lambda b, n: float(b + n)) == [0]  # each token costs a step
    # this machine's VNNI curve (4.6 ms, +1 token 5.6 ms, then +2.6 ms a token): short drafts pay
    measured = {1: 4.6, 2: 5.6, 3: 8.2, 4: 10.7, 5: 13.3, 6: 15.6, 7: 18.2}
    assert plan_drafts([0.6], [6], lambda b, n: measured[b + n]) == [1]
    assert plan_drafts([0.995], [6], lambda b, n: measured[b + n])[0] >= 5


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
