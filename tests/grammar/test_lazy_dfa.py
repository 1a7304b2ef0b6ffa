"""The lazily built DFA (regex.lazy_dfa) against its eager twin, the minimal `ByteDFA`:
the same language with every built state live (so the same masks), and token by token
along random walks the same masks, acceptance, finished state and forced bytes, on the tiny
and the real 49k vocabulary, for regexes and JSON schemas."""
from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sglike.grammar.errors import GrammarError
from sglike.grammar.json_schema import schema_to_grammar
from sglike.grammar.masks.token_masks import allowed_reference
from sglike.grammar.regex.byte_dfa import ByteDFA, regex_to_byte_dfa
from sglike.grammar.regex.dfa_grammar import DFAGrammar
from sglike.grammar.regex.lazy_dfa import LazyDFA, regex_to_lazy_dfa
from sglike.grammar.regex.syntax import translate

from test_regex_compile import PATTERNS, SCHEMAS, equivalent

# dead ends in the NFA (an empty class, an impossible branch) must not become live states
DEAD_ENDS = [r"a[^\x00-\U0010ffff]|b", r"(x[^\x00-\U0010ffff]y|xz)*w", r"(ab|a[^\x00-\U0010ffff])c"]
TINY = [translate(p) for p in PATTERNS + DEAD_ENDS]
REAL = [translate(p) for p in (r"\d{1,4}(\.\d{1,2})?", r"(?s).{0,40}", r"[a-z]{1,30}@[a-z]+\.(com|org)")]
REAL += [schema_to_grammar(s)[1] for s in SCHEMAS]


def complete(dfa: LazyDFA) -> ByteDFA:
    while not dfa.complete:
        dfa.expand_next(1000)
    return dfa.snapshot()


def all_live(dfa: ByteDFA) -> bool:
    """Whether every state but the sink reaches an accepting state."""
    live = dfa.accepting.copy()
    while True:
        nxt = live | live[dfa.trans].any(axis=1)
        nxt[dfa.dead] = False
        if (nxt == live).all():
            return bool(live[: dfa.dead].all())
        live = nxt


@pytest.mark.parametrize("rx", TINY + REAL[3:])
def test_lazy_dfa_is_the_same_language_with_live_states(rx):
    lazy = complete(regex_to_lazy_dfa(rx))
    assert equivalent(lazy, regex_to_byte_dfa(rx)) is None
    assert all_live(lazy)


def test_empty_language_is_refused_lazily_too():
    with pytest.raises(GrammarError, match="empty"):
        regex_to_lazy_dfa("[^\\x00-\\U0010ffff]")
    with pytest.raises(GrammarError, match="empty"):
        regex_to_lazy_dfa("a[^\\x00-\\U0010ffff]")  # the NFA has states, none reaches the end


def test_state_limit_is_a_grammar_error():
    dfa = regex_to_lazy_dfa("[ab]*a[ab]{12}")  # 2^13 states when determinized
    dfa.max_states = 100
    with pytest.raises(GrammarError, match="grammar too large"):
        complete(dfa)


def walk_both(vocab, trie, rx: str, seed: int, steps: int = 40, reference: bool = False) -> None:
    eager = DFAGrammar(regex_to_byte_dfa(rx), vocab, trie, None, precompute_states=0)
    lazy = DFAGrammar(regex_to_lazy_dfa(rx), vocab, trie, None, precompute_states=0)
    me, ml = eager.matcher(), lazy.matcher()
    rng = random.Random(seed)
    eos = set(vocab.eos_ids)
    for _ in range(steps):
        a, b = me.allowed_tokens(), ml.allowed_tokens()
        assert np.array_equal(a.numpy(), b.numpy()), (rx, me.state, ml.state)
        if reference:
            ref = allowed_reference(vocab, eager.dfa.snapshot().trans, me.state, eager.dfa.num_states)
            ref[sorted(eos)] = eager.dfa.is_accepting(me.state)
            assert np.array_equal(a.numpy(), ref)
        assert me.is_finished() == ml.is_finished()
        assert me.jump_forward_bytes() == ml.jump_forward_bytes()
        choices = [t for t in np.flatnonzero(a.numpy()).tolist() if t not in eos]
        if not choices:
            break
        t = rng.choice(choices)
        assert me.advance(t) and ml.advance(t)


@pytest.mark.parametrize("rx", TINY)
def test_lazy_masks_match_eager_and_reference_tiny(tiny_compiler, tiny_vocab, rx):
    for seed in range(3):
        walk_both(tiny_vocab, tiny_compiler.trie, rx, seed, reference=True)


@pytest.mark.parametrize("rx", REAL)
def test_lazy_masks_match_eager_real(real_compiler, rx):
    for seed in range(2):
        walk_both(real_compiler.vocab, real_compiler.trie, rx, seed)


def test_compiled_grammar_is_lazy_until_visited(real_compiler):
    g = DFAGrammar(regex_to_lazy_dfa(REAL[3]), real_compiler.vocab, real_compiler.trie, None,
                   precompute_states=0)
    assert g.dfa.num_expanded == 0
    g.matcher().allowed_tokens()
    assert 0 < g.dfa.num_expanded < g.dfa.num_states or g.dfa.complete
    assert g.accepts('{"name":"x"}') and not g.accepts('{"age":1}')


@pytest.mark.parametrize("pattern", DEAD_ENDS[:2])  # the third simplifies away
def test_dead_ends_are_flagged_for_trimming(pattern):
    from sglike.grammar.regex.byte_nfa import ByteNfa
    from sglike.grammar.regex.parse import parse_regex
    nfa = ByteNfa()
    nfa.add(parse_regex(translate(pattern)), nfa.new())
    assert nfa.dead_ends
    clean = ByteNfa()
    clean.add(parse_regex(translate(r"(ab|c)*[^x]{2,3}")), clean.new())
    assert not clean.dead_ends


def test_state_limit_mid_request_sets_the_matcher_error(tiny_vocab, tiny_compiler):
    """A lazy DFA that outgrows its limit while decoding never raises into the caller: the
    matcher records the error (the scheduler aborts the request), allows only EOS after it."""
    dfa = regex_to_lazy_dfa("[ab]*a[ab]{12}")
    dfa.max_states = 20
    g = DFAGrammar(dfa, tiny_vocab, tiny_compiler.trie, None, precompute_states=0)
    m = g.matcher()
    a = tiny_vocab.token_bytes.index(b"a")
    for _ in range(30):
        row = m.allowed_tokens()
        if m.error or not m.advance(a):
            break
    assert m.error and "grammar too large" in m.error
    assert m.allowed_tokens().nonzero().flatten().tolist() == sorted(tiny_vocab.eos_ids)
    assert not m.advance(a) and m.jump_forward_bytes() == b"" and m.copy().error == m.error


_OVERLAPPING = ["[a-f]", "[d-k]", "[^e]", "[b-d]", "x", "e", "[\\x00-\\x7f]", "é", "[à-ÿ]", ""]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(st.sampled_from(_OVERLAPPING), lambda inner: st.one_of(
    st.tuples(inner, inner).map("".join),
    st.tuples(inner, inner).map(lambda p: f"(?:{p[0]}|{p[1]})"),
    st.tuples(inner, st.sampled_from(["*", "?", "{1,3}"])).map(lambda p: f"(?:{p[0]}){p[1]}")), max_leaves=7))
def test_lazy_dfa_sweeps_overlapping_classes_like_the_eager_dfa(pattern):
    """Random regexes over overlapping byte classes (UTF-8 ones too): the lazy DFA's class
    sweep (`LazyDFA._expand`) gives the language of the eager minimal DFA."""
    rx = translate(pattern)
    try:
        eager = regex_to_byte_dfa(rx)
    except GrammarError:  # an empty language is refused by both
        with pytest.raises(GrammarError):
            regex_to_lazy_dfa(rx)
        return
    assert equivalent(complete(regex_to_lazy_dfa(rx)), eager) is None
