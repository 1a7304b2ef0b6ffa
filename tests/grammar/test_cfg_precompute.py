"""Compile-time CFG mask parts (cfg.precompute) against the lazy path, their reference twin:
the same masks along random walks, no new local part needed after a complete precompute,
and exact masks when the budget cuts it short."""
from __future__ import annotations

import json
import os
import random
import sys

import numpy as np
import pytest

from sglike.grammar.cfg import compile_cfg
from sglike.grammar.cfg.mask import reference_mask
from sglike.grammar.json_schema import schema_to_grammar

sys.path.insert(0, os.path.dirname(__file__))
from test_cfg_grammars import CASES  # noqa: E402
from test_cfg_mask_cache import TREE, vocab_for  # noqa: E402


def cache_sizes(g) -> tuple[int, int]:
    return len(g.masks.locals.scan_cache), len(g.masks.locals.item_cache)


def walk_in_lockstep(pre, lazy, vocab, rng: random.Random, walks: int, steps: int) -> None:
    """Random walks through both grammars; their masks must agree at every step."""
    for _ in range(walks):
        a, b = pre.matcher(), lazy.matcher()
        for _ in range(steps):
            ma, mb = a.allowed_tokens().numpy(), b.allowed_tokens().numpy()
            assert np.array_equal(ma, mb), np.flatnonzero(ma != mb)
            choices = [t for t in np.flatnonzero(ma) if t not in vocab.eos_ids]
            if not choices:
                break
            t = int(rng.choice(choices))
            assert a.advance(t) and b.advance(t)


@pytest.mark.parametrize("case", sorted(CASES))
def test_precomputed_masks_match_lazy(case):
    rng = random.Random(case)
    vocab = vocab_for(case.split("_")[1], rng)
    pre = compile_cfg(CASES[case][0], vocab, precompute_seconds=60.0)
    lazy = compile_cfg(CASES[case][0], vocab, precompute_seconds=0)
    assert cache_sizes(lazy) == (0, 0)
    before = cache_sizes(pre)
    walk_in_lockstep(pre, lazy, vocab, rng, walks=6, steps=40)
    assert cache_sizes(pre) == before  # the closure covered every part the walks needed


def test_recursive_schema_on_the_real_vocabulary(real_compiler):
    instance = {"n": "ab", "c": [{"n": "x", "c": []}, {"n": "yz", "c": [{"n": "q"}]}]}
    g = real_compiler.compile_json_schema(TREE)  # the compiler precomputes (background)
    assert g.wait_precomputed(60)
    _, text = schema_to_grammar(TREE)
    lazy = compile_cfg(text, real_compiler.vocab, precompute_seconds=0)
    before = cache_sizes(g)
    a, b = g.matcher(), lazy.matcher()
    tok = real_compiler.vocab
    data = json.dumps(instance, separators=(",", ":")).encode()
    while data:  # advance by the longest allowed token, as a tokenizer might
        ma, mb = a.allowed_tokens().numpy(), b.allowed_tokens().numpy()
        assert np.array_equal(ma, mb)
        t = max((i for i in np.flatnonzero(ma) if data.startswith(tok.token_bytes[i])),
                key=lambda i: len(tok.token_bytes[i]))
        assert a.advance(int(t)) and b.advance(int(t))
        data = data[len(tok.token_bytes[t]):]
    assert cache_sizes(g) == before


def test_budget_cut_short_keeps_masks_exact():
    rng = random.Random(5)
    vocab = vocab_for("json", rng)
    g = compile_cfg(CASES["lark_json"][0], vocab, precompute_seconds=0)
    assert not g.precompute_masks(1e-9)
    for _ in range(3):
        m = g.matcher()
        for _ in range(25):
            fast = m.allowed_tokens().numpy()
            want = reference_mask(g.rec, vocab, m.chart)
            if m.chart[-1].accepting:
                want[list(vocab.eos_ids)] = True
            assert np.array_equal(fast, want)
            choices = [t for t in np.flatnonzero(fast) if t not in vocab.eos_ids]
            if not choices:
                break
            assert m.advance(int(rng.choice(choices)))
