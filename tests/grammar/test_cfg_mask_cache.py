"""CFG masks built from cached grammar-position parts equal the plain per-token recognizer run
(`reference_mask`), on many random walks that share one compiled grammar (so the caches are
reused across different parser stacks), with multi-closer tokens that pop several levels."""
from __future__ import annotations

import os
import random
import sys

import numpy as np
import pytest

from sglike.grammar.cfg import compile_cfg
from sglike.grammar.cfg import mask as mask_mod
from sglike.grammar.cfg.mask import reference_mask
from sglike.grammar.json_schema import schema_to_grammar
from sglike.grammar.vocab import Vocabulary

sys.path.insert(0, os.path.dirname(__file__))
from test_cfg_grammars import CASES, alphabet  # noqa: E402

EXTRA = {
    "json": ['"]', '"}', "]]", "]}", "}]", "}}", '":', '",', '":"', '"},{"', "],[", '{"', '["', "[[",
             "1,", "1]", "1}", "1]]", "true", "null", "false}", ' "', " [", "\n  ", "0.5e", '\\"'],
    "arith": ["((", "))", ")*", "+(", "1)", "x)", "-(", "--", " - ", "1.5", "ab", ")))", "x +"],
    "sql": ["SELECT", " FROM", " WHERE", "a,", " AND", "'x'", "= ", " OR (", ");"],
}
TREE = {"type": "object", "properties": {"n": {"type": "string", "maxLength": 3},
                                         "c": {"type": "array", "items": {"$ref": "#"}}},
        "required": ["n"], "additionalProperties": False}


def vocab_for(kind: str, rng: random.Random) -> Vocabulary:
    chars = ALPHA[kind]
    pieces = {c for c in chars} | set(EXTRA[kind])
    pieces |= {"".join(rng.choice(chars) for _ in range(rng.randint(2, 4))) for _ in range(40)}
    toks = sorted(p.encode() for p in pieces)
    return Vocabulary.from_tokens(toks + [b""], eos_ids=[len(toks)])


ALPHA = {"json": alphabet("lark_json") + '"', "arith": alphabet("lark_arith"),
         "sql": alphabet("lark_sql")}


def check_walks(g, vocab: Vocabulary, rng: random.Random, walks: int, steps: int) -> None:
    for _ in range(walks):
        m = g.matcher()
        for _ in range(steps):
            fast = m.allowed_tokens().numpy()
            want = reference_mask(g.rec, vocab, m.chart)
            if m.chart[-1].accepting:
                want[list(vocab.eos_ids)] = True
            assert np.array_equal(fast, want), np.flatnonzero(fast != want)
            choices = [t for t in np.flatnonzero(fast) if t not in vocab.eos_ids]
            if not choices:
                break
            favored = [t for t in choices if set(vocab.token_bytes[t]) & set(b'[{"(')]
            if favored and rng.random() < 0.6:
                choices = favored  # open many levels, so that tokens can pop several
            assert m.advance(int(rng.choice(choices)))


@pytest.mark.parametrize("case", sorted(CASES))
def test_cached_masks_match_reference_across_walks(case):
    rng = random.Random(case)
    vocab = vocab_for(case.split("_")[1], rng)
    check_walks(compile_cfg(CASES[case][0], vocab), vocab, rng, walks=10, steps=40)


def test_recursive_schema_masks_match_reference():
    rng = random.Random(7)
    vocab = vocab_for("json", rng)
    kind, text = schema_to_grammar(TREE)
    assert kind == "lark"
    check_walks(compile_cfg(text, vocab), vocab, rng, walks=10, steps=60)


def test_token_sets_union_sparse_and_packed():
    rng = np.random.default_rng(0)
    size, acc, want = 5000, mask_mod.Accumulator(), np.zeros(5000, dtype=bool)
    for n in [0, 3, mask_mod.DENSE + 1, 17, 2 * mask_mod.DENSE, 1]:
        ids = rng.choice(size, n, replace=False)
        ts = mask_mod.TokenSet(ids, size)
        assert (ts.packed is not None) == (n > mask_mod.DENSE)
        acc.add(ts)
        want[ids] = True
    out = np.zeros(size, dtype=bool)
    acc.write(out)
    assert np.array_equal(out, want)


def test_masks_stay_exact_when_caches_start_over(monkeypatch):
    monkeypatch.setattr(mask_mod, "MAX_CACHE_BYTES", 2000)  # a few entries per cache
    rng = random.Random(3)
    vocab = vocab_for("json", rng)
    check_walks(compile_cfg(CASES["lark_json"][0], vocab), vocab, rng, walks=4, steps=30)
