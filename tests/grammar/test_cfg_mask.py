"""Token masks (trie walk + per-terminal caches) against brute force on small vocabularies."""
from __future__ import annotations

import os
import sys

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sglike.grammar.cfg import compile_cfg
from sglike.grammar.vocab import Vocabulary

sys.path.insert(0, os.path.dirname(__file__))
from test_cfg_grammars import CASES, alphabet  # noqa: E402


def brute_force_mask(m, vocab) -> torch.Tensor:
    """Reference: try advancing every token on a copy of the matcher."""
    out = torch.zeros(vocab.size, dtype=torch.bool)
    for tid in range(vocab.size):
        out[tid] = m.copy().advance(tid)
    return out


def small_vocab(data, case: str) -> Vocabulary:
    chars = alphabet(case)
    pieces = st.text(chars, min_size=1, max_size=5).map(str.encode)
    tokens = data.draw(st.lists(pieces, min_size=5, max_size=60, unique=True))
    tokens = sorted(set(tokens) | {c.encode() for c in chars})  # every text stays reachable
    return Vocabulary.from_tokens(tokens + [b""], eos_ids=[len(tokens)])


@pytest.mark.parametrize("case", sorted(CASES))
def test_masks_match_brute_force_along_random_walks(case):
    @settings(max_examples=12, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        vocab = small_vocab(data, case)
        g = compile_cfg(CASES[case][0], vocab)
        m = g.matcher()
        for _ in range(12):
            mask = m.allowed_tokens()
            assert torch.equal(mask, brute_force_mask(m, vocab))
            choices = mask.nonzero().flatten().tolist()
            if not choices:
                break
            tid = data.draw(st.sampled_from(choices))
            assert m.advance(tid)
            if m.is_finished():
                break

    check()


@pytest.mark.parametrize("case", ["lark_json", "gbnf_sql"])
def test_rollback_and_copy_match_recorded_masks(case):
    @settings(max_examples=15, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        vocab = small_vocab(data, case)
        m = compile_cfg(CASES[case][0], vocab).matcher()
        masks = [m.allowed_tokens()]
        for _ in range(data.draw(st.integers(1, 15))):
            choices = masks[-1].nonzero().flatten().tolist()
            if not choices:
                break
            assert m.advance(data.draw(st.sampled_from(choices)))
            masks.append(m.allowed_tokens())
        c = m.copy()
        k = data.draw(st.integers(0, len(masks) - 1))
        m.rollback(k)
        assert torch.equal(m.allowed_tokens(), masks[-1 - k])
        assert torch.equal(c.allowed_tokens(), masks[-1])

    check()
