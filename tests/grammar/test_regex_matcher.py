"""Unit tests of the regex matcher on a tiny vocabulary: masks, EOS, rollback, jump-forward."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sglike.grammar import GrammarCompiler, GrammarError
from sglike.grammar.masks.token_masks import allowed_reference


def ids(vocab, *toks: bytes) -> list[int]:
    return [vocab.token_bytes.index(t) for t in toks]


def allowed_set(m, vocab) -> set[bytes]:
    return {vocab.token_bytes[i] if i < len(vocab.token_bytes) else b"?"
            for i in m.allowed_tokens().nonzero().flatten().tolist()}


def test_mask_shape_eos_and_specials(tiny_compiler, tiny_vocab):
    g = tiny_compiler.compile_regex(r"ab|a\d+")
    m = g.matcher()
    mask = m.allowed_tokens()
    assert mask.dtype == torch.bool and mask.shape == (tiny_vocab.size,)
    assert allowed_set(m, tiny_vocab) == {b"a", b"ab"}
    assert not mask[0] and not mask[1] and not mask[len(tiny_vocab.token_bytes):].any()
    assert m.advance(ids(tiny_vocab, b"a")[0])
    assert allowed_set(m, tiny_vocab) == {b"b"} | {bytes([c]) for c in b"0123456789"} | {b"12"}
    assert not m.advance(0)  # EOS not allowed before an accepting state
    assert m.advance(ids(tiny_vocab, b"12")[0])
    assert m.allowed_tokens()[0] and not m.is_finished()
    assert m.advance(0) and m.is_finished()
    assert not m.allowed_tokens().any() and not m.advance(ids(tiny_vocab, b"1")[0])


def test_rejected_token_leaves_state(tiny_compiler, tiny_vocab):
    m = tiny_compiler.compile_regex("abc").matcher()
    assert not m.advance(ids(tiny_vocab, b"b")[0])
    assert not m.advance(1) and not m.advance(tiny_vocab.size - 1) and not m.advance(10**6)
    assert m.advance(ids(tiny_vocab, b"ab")[0]) and m.jump_forward_bytes() == b"c"


def test_rollback_and_copy(tiny_compiler, tiny_vocab):
    m = tiny_compiler.compile_regex("[ab]{3}").matcher()
    a, b = ids(tiny_vocab, b"a", b"b")
    start = m.allowed_tokens()
    assert m.advance(a) and m.advance(b)
    c = m.copy()
    assert m.advance(a) and m.is_finished()  # accepting with no continuation
    m.rollback(3)
    assert torch.equal(m.allowed_tokens(), start)
    assert c.advance(b) and c.advance(0) and c.is_finished()
    c.rollback(1)
    assert not c.is_finished() or c.g.dfa.n_out(c.state) == 0
    with pytest.raises(ValueError):
        m.rollback(1)


def test_multibyte_char_split_over_tokens(tiny_compiler, tiny_vocab):
    g = tiny_compiler.compile_regex("é+")
    m = g.matcher()
    assert allowed_set(m, tiny_vocab) == {b"\xc3", "é".encode()}
    assert m.advance(ids(tiny_vocab, b"\xc3")[0])
    assert allowed_set(m, tiny_vocab) == {b"\xa9"}
    assert g.accepts("éé") and not g.accepts("e")


def test_jump_forward(tiny_compiler, tiny_vocab):
    m = tiny_compiler.compile_regex(r'\{"name": ("[a-z]+"|\d)\}').matcher()
    assert m.jump_forward_bytes() == b'{"name": '
    m2 = tiny_compiler.compile_regex("x|y").matcher()
    assert m2.jump_forward_bytes() == b""


def test_fill_mask_matches_allowed(tiny_compiler, tiny_vocab):
    m = tiny_compiler.compile_regex(r"\d+\.\d").matcher()
    row = torch.ones(tiny_vocab.size, dtype=torch.bool)
    m.fill_mask(row)
    assert torch.equal(row, m.allowed_tokens())


@pytest.mark.parametrize("pattern", [r"[a-c]+\d{2}", r"(ab|é)*x", r"[^a]{1,3}", r"(?s).\n?"])
def test_vectorized_masks_match_reference(tiny_compiler, tiny_vocab, pattern):
    g = tiny_compiler.compile_regex(pattern)
    assert g.wait_precomputed(60)  # the background precompute completes the lazy DFA
    dfa = g.dfa.snapshot()
    for s in range(dfa.dead):
        ref = allowed_reference(tiny_vocab, dfa.trans, s, dfa.dead)
        ref[0] = bool(dfa.accepting[s])
        assert np.array_equal(g.mask(s).numpy(), ref), (pattern, s)


@pytest.mark.parametrize("pattern,what", [(r"(a)\1", "backreferences"), (r"a(?=b)", "lookaround"),
                                          (r"(?<!a)b", "lookaround"), (r"\bx", "anchors"),
                                          (r"(?i)x", "case-insensitive"), (r"(", "invalid regex")])
def test_unsupported_regex(tiny_compiler, pattern, what):
    with pytest.raises(GrammarError, match=what):
        tiny_compiler.compile_regex(pattern)


def test_disk_cache_round_trip(tiny_vocab, tmp_path):
    g1 = GrammarCompiler(tiny_vocab, cache_dir=tmp_path).compile_regex(r"\d+-[ab]")
    m1 = g1.matcher()
    first = m1.allowed_tokens()
    assert g1.wait_precomputed(60)  # masks are precomputed in the background, then saved
    assert list(tmp_path.rglob("masks.npz")) and list(tmp_path.rglob("dfa.npz"))
    g2 = GrammarCompiler(tiny_vocab, cache_dir=tmp_path).compile_regex(r"\d+-[ab]")
    assert torch.equal(g2.matcher().allowed_tokens(), first)


def test_empty_language_is_an_error(tiny_compiler):
    with pytest.raises(GrammarError, match="empty"):
        tiny_compiler.compile_regex("[^\\x00-\\U0010ffff]")
