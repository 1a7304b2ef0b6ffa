"""Property tests against Python's `re` on the real 49k SmolLM2 vocabulary.

Soundness: every token walk the masks allow spells a string `re.fullmatch` accepts whenever
EOS is allowed. Completeness: strings `re` accepts, tokenized by the real tokenizer, pass the
masks token by token. `\\d \\w \\s` follow re.ASCII.
"""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

PATTERNS = [
    r"\d{1,4}(\.\d{1,2})?",
    r"[a-z]+( [a-z]+){0,3}",
    r"(yes|no|maybe)",
    r'\{"name": "[A-Za-z ]{1,12}", "age": \d{1,3}\}',
    r"[^\n]{0,20}",
    r"é[àç]*ü?",
]
SETTINGS = settings(max_examples=10, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.mark.slow
@pytest.mark.parametrize("pattern", PATTERNS)
def test_masks_only_allow_matching_strings(real_compiler, pattern):
    g = real_compiler.compile_regex(pattern)
    vocab = real_compiler.vocab
    eos = min(vocab.eos_ids)
    rx = re.compile(pattern, re.ASCII)

    @SETTINGS
    @given(st.data())
    def walk(data):
        m, out = g.matcher(), b""
        for _ in range(12):
            mask = m.allowed_tokens()
            text = out.decode("utf-8", errors="replace")
            assert bool(mask[eos]) == (rx.fullmatch(text) is not None and out.decode("utf-8", "ignore") == text), text
            choices = mask.nonzero().flatten().tolist()
            if not choices:
                assert m.is_finished()
                return
            tok = data.draw(st.sampled_from(choices))
            assert m.advance(tok)
            if tok == eos:
                assert rx.fullmatch(out.decode("utf-8"))
                return
            out += vocab.token_bytes[tok]
        text = out.decode("utf-8", "ignore")
        if text.encode() == out:  # a whole-character prefix: accepts() agrees with EOS
            assert g.accepts(text) == bool(m.allowed_tokens()[eos]), text

    walk()


@pytest.mark.slow
@pytest.mark.parametrize("pattern", PATTERNS)
def test_matching_strings_are_reachable(real_compiler, hf_tokenizer, pattern):
    g = real_compiler.compile_regex(pattern)
    eos = min(real_compiler.vocab.eos_ids)

    @SETTINGS
    @given(st.from_regex(re.compile(pattern, re.ASCII), fullmatch=True))
    def reach(s):
        assert g.accepts(s)
        m = g.matcher()
        toks = hf_tokenizer.encode(s, add_special_tokens=False)
        assume(b"".join(real_compiler.vocab.token_bytes[t] for t in toks) == s.encode())
        for tok in toks:
            assert m.allowed_tokens()[tok], (s, tok)
            assert m.advance(tok)
        assert m.allowed_tokens()[eos] and m.advance(eos) and m.is_finished()

    reach()


@pytest.mark.slow
def test_real_vocabulary_bytes(real_compiler, hf_tokenizer):
    vocab = real_compiler.vocab
    assert vocab.size >= len(hf_tokenizer) and vocab.eos_ids == {hf_tokenizer.eos_token_id}
    assert set(range(17)) <= vocab.special_ids
    for text in ["Hello world", " {\"a\": 1}\n", "héllo ünïcode 中文 😀"]:
        toks = hf_tokenizer.encode(text, add_special_tokens=False)
        assert b"".join(vocab.token_bytes[t] for t in toks) == text.encode()
