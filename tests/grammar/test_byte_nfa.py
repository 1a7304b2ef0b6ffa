"""The flat byte NFA (regex.byte_nfa): bounded repeats replayed from their first copy build
the same NFA, edge for edge, as adding every copy through the IR (`replay=False`, the plain
twin), and the language of such repeats matches interegular's and Python's `re`."""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sglike.grammar.regex.byte_dfa import regex_to_byte_dfa
from sglike.grammar.regex import nfa_program
from sglike.grammar.regex.byte_nfa import ByteNfa
from sglike.grammar.regex.lazy_dfa import regex_to_lazy_dfa
from sglike.grammar.regex.parse import parse_regex
from sglike.grammar.regex.reference import regex_to_byte_dfa_reference
from sglike.grammar.regex.syntax import translate

from test_regex_compile import equivalent, random_patterns

REPEATS = [
    r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4}){0,300}"', r"(ab|c)*[^x]{2,30}",
    r"(?:a(?:b{2,5}c)*){3,9}", r"(?:){5,9}", r"(?:(?:x|)*){4,10}", r"a[^\x00-\U0010ffff]{5}|b",
    r"(?:[a-z]{4,8}\.){2,7}", r"(?:a*){5}", r"(?:a*b?){5,}", r"(?:(?:){2}){6}", r"[é€😀]{7,12}",
    r"(?:(?:ab|c){4,6}d){4}", r"(?:x(?:y|z{0,5})){6,8}w",
]


def build(pattern: str, replay: bool, native: bool = False) -> tuple[ByteNfa, int]:
    nfa = ByteNfa(replay=replay, native=native)
    assert nfa.native == (native and nfa_program.enabled())
    final = nfa.add(parse_regex(translate(pattern)), nfa.new())
    return nfa, final


def assert_same_nfa(pattern: str) -> None:
    """Python with replay, Python adding every copy, and the C++ builder (when built): one NFA."""
    plain, f2 = build(pattern, False)
    for fast, f1 in (build(pattern, True), build(pattern, True, native=True)):
        assert (f1, fast.num_states, fast.dead_ends) == (f2, plain.num_states, plain.dead_ends)
        for name in ("e_src", "e_lo", "e_hi", "e_dst", "p_src", "p_dst"):
            assert np.asarray(getattr(fast, name)).tolist() == getattr(plain, name), (pattern, name)


@pytest.mark.parametrize("pattern", REPEATS)
def test_replayed_repeats_build_the_plain_nfa(pattern):
    assert_same_nfa(pattern)


STRING = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
# a sub-expression that occurs again (parse.py shares equal ones) is replayed as a fragment
FRAGMENTS = [rf'\{{"a":{STRING}(?:,"b":{STRING})?(?:,"c":(?:{STRING}|\d+))?\}}',
             rf'(?:{STRING}|x)(?:{STRING}|y)+(?:{STRING}|x){{2,3}}', r"(?:[a-z]{5,9}_){3}-(?:[a-z]{5,9}_){3}"]


@pytest.mark.parametrize("pattern", FRAGMENTS)
def test_replayed_fragments_build_the_plain_nfa(pattern, monkeypatch):
    assert_same_nfa(pattern)
    replays = []
    replay = ByteNfa._replay
    monkeypatch.setattr(ByteNfa, "_replay", lambda self, f, s: replays.append(s) or replay(self, f, s))
    build(pattern, True)
    assert replays or pattern == FRAGMENTS[0]  # the first one's repeats are below FRAGMENT_MIN
    assert equivalent(regex_to_byte_dfa(translate(pattern)), regex_to_byte_dfa_reference(translate(pattern))) is None


@pytest.mark.parametrize("pattern", REPEATS[2:])  # the second has a large DFA
def test_replayed_repeats_keep_the_language(pattern):
    rx = translate(pattern)
    assert equivalent(regex_to_byte_dfa(rx), regex_to_byte_dfa_reference(rx)) is None


def test_long_repeat_of_a_multibyte_class_is_built_quickly_and_exactly():
    rx = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]){0,3000}"'
    dfa = regex_to_lazy_dfa(rx)
    assert dfa.accepts('"' + "é😀\\n" * 1000 + '"')
    assert not dfa.accepts('"' + "é" * 3001 + '"') and not dfa.accepts('"\\x"')


ATOMS = ["a", "b", "[ab]", "é", "[^a]", ".", ""]


def _patterns() -> st.SearchStrategy[str]:
    return random_patterns(ATOMS, ["*", "?", "{4}", "{0,5}", "{2,6}", "{4,}"], 6)


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(_patterns(), st.lists(st.text("abé\n", max_size=14), max_size=8))
def test_random_repeats_replay_exactly(pattern, texts):
    assert_same_nfa(pattern)
    dfa = regex_to_lazy_dfa(translate(pattern)) if texts else None
    compiled = re.compile(pattern, re.ASCII)
    for text in texts:
        assert dfa.accepts(text) == (compiled.fullmatch(text) is not None), (pattern, text)
