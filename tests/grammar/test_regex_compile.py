"""The regex -> byte DFA compiler (regex.parse + byte_nfa + determinize) against two
independent twins: interegular's FSM (same language, compared DFA to DFA) and Python's `re`
(on sampled strings, including case-insensitive matching)."""
from __future__ import annotations

import re
from collections import deque

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sglike.grammar.errors import GrammarError
from sglike.grammar.json_schema import schema_to_grammar
from sglike.grammar.regex import determinize
from sglike.grammar.regex.byte_dfa import ByteDFA, regex_to_byte_dfa
from sglike.grammar.regex.reference import regex_to_byte_dfa_reference
from sglike.grammar.regex.syntax import translate

PATTERNS = [
    r"\d{1,4}(\.\d{1,2})?", r"[a-z]+( [a-z]+){0,3}", r"(yes|no|maybe)", r"[^\n]{0,20}",
    r'\{"name": "[A-Za-z ]{1,12}", "age": \d{1,3}\}', r"é[àç]*ü?", r"(a|ab)*b?", r"x*?y+?z??",
    r"[^a-zé]{2,3}", r"(?s:.)+", r".{0,3}", r"(|a)(b|)", r"[\u0800-\u4fff]{1,2}\U0001F600",
    r"((a|b){2}c){1,3}", r"[\x00-\x7f]*[^\x00-\x7f]", r"\w+@\w+\.(com|org)",
]
SCHEMAS = [
    {"type": "object", "properties": {"name": {"type": "string", "maxLength": 12},
                                      "age": {"type": "integer", "minimum": 0, "maximum": 130},
                                      "tags": {"type": "array", "items": {"type": "string"}}},
     "required": ["name"]},
    {"type": "string", "format": "email"},
    {"enum": ["red", "green", 3, None]},
    {"type": "number"},
]


def equivalent(a: ByteDFA, b: ByteDFA) -> bytes | None:
    """None when both DFAs accept the same byte strings, else a shortest counterexample."""
    seen = {(a.initial, b.initial): b""}
    todo = deque([(a.initial, b.initial)])
    while todo:
        s, t = todo.popleft()
        path = seen[(s, t)]
        if a.accepting[s] != b.accepting[t]:
            return path
        for byte, pair in enumerate(zip(a.trans[s].tolist(), b.trans[t].tolist())):
            if pair not in seen:
                seen[pair] = path + bytes([byte])
                todo.append(pair)
    return None


def assert_same_language(pattern: str) -> None:
    rx = translate(pattern)
    fast, ref = regex_to_byte_dfa(rx), regex_to_byte_dfa_reference(rx)
    assert equivalent(fast, ref) is None, (pattern, equivalent(fast, ref))
    assert fast.trans.shape[0] <= ref.trans.shape[0]  # minimal


@pytest.mark.parametrize("pattern", PATTERNS)
def test_patterns_match_interegular(pattern):
    assert_same_language(pattern)


@pytest.mark.parametrize("i", range(len(SCHEMAS)))
def test_schema_regexes_match_interegular(i):
    kind, rx = schema_to_grammar(SCHEMAS[i])
    assert kind == "regex"
    assert equivalent(regex_to_byte_dfa(rx), regex_to_byte_dfa_reference(rx)) is None


ATOMS = ["a", "b", "é", ".", r"\d", r"\w", r"\s", "[a-c]", "[^ab]", r"\.", "[é-ü]", "x"]


def random_patterns(atoms: list[str], suffixes: list[str], max_leaves: int) -> st.SearchStrategy[str]:
    """Regexes built from `atoms` by concatenation, alternation and the repeat `suffixes`."""
    def extend(inner):
        return st.one_of(
            st.tuples(inner, inner).map("".join),
            st.tuples(inner, inner).map(lambda p: f"(?:{p[0]}|{p[1]})"),
            st.tuples(inner, st.sampled_from(suffixes)).map(lambda p: f"(?:{p[0]}){p[1]}"))
    return st.recursive(st.sampled_from(atoms), extend, max_leaves=max_leaves)


def _patterns() -> st.SearchStrategy[str]:
    return random_patterns(ATOMS, ["*", "+", "?", "{2}", "{0,2}", "{1,3}", "*?"], 8)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(_patterns(), st.lists(st.text("abé.0 _x\nü", max_size=6), max_size=10))
def test_random_patterns_match_interegular_and_re(pattern, texts):
    assert_same_language(pattern)
    dfa = regex_to_byte_dfa(translate(pattern))
    compiled = re.compile(pattern, re.ASCII)
    for text in texts:
        assert dfa.accepts(text) == (compiled.fullmatch(text) is not None), (pattern, text)


@pytest.mark.parametrize("pattern", [r"(?i)[a-fé]", r"(?i:[^k])", r"(?i:ǅ)", r"(?i)[Σσ]", r"(?i:s)",
                                     r"(?i:[a-z0-9_-])", r"(?i:[^A-Zİ])"])
def test_case_insensitive_characters_match_re(pattern):
    dfa, compiled = regex_to_byte_dfa(pattern), re.compile(pattern)  # Unicode case folding
    for cp in list(range(0x3000)) + [0x212A, 0x212B, 0x1E9E, 0x10400, 0x10428]:
        if not 0xD800 <= cp <= 0xDFFF:
            assert dfa.accepts(chr(cp)) == (compiled.fullmatch(chr(cp)) is not None), (pattern, hex(cp))


@pytest.mark.parametrize("pattern", [r"(?i:select)", r"(?i)straße", r"(?i)[a-fé]+x"])
def test_case_insensitive_strings_match_re(pattern):
    dfa, compiled = regex_to_byte_dfa(pattern), re.compile(pattern)
    for text in ["SELECT", "sElEcT", "ſelect", "STRASSE", "straße", "STRAẞE", "abcdeféx", "ÉFAX"]:
        assert dfa.accepts(text) == (compiled.fullmatch(text) is not None), (pattern, text)


@pytest.mark.parametrize("pattern,what", [(r"(a)\1", "backreferences"), (r"(?=a)a", "lookaround"),
                                          (r"a\b", "anchors"), (r"(?>a)", "atomic"), ("a++", "possessive"),
                                          ("(", "invalid")])
def test_unsupported_constructs_raise(pattern, what):
    with pytest.raises(GrammarError, match=what):
        regex_to_byte_dfa(pattern)


def test_empty_language_and_dfa_shape():
    with pytest.raises(GrammarError, match="empty"):
        regex_to_byte_dfa("[^\\x00-\\U0010ffff]")
    dfa = regex_to_byte_dfa("ab|ac")
    assert dfa.trans.dtype == np.int32 and dfa.trans.shape == (4, 256)  # start, a, end, dead
    assert (dfa.trans[-1] == 3).all() and not dfa.accepting[-1]


@pytest.mark.parametrize("pattern", PATTERNS + [r"(ab|ab)*c", r"(a(ba)*|(ab)*a)x", "x{300}"])
def test_row_merging_alone_keeps_the_language(monkeypatch, pattern):
    """Without exact refinement (budget 0: a long counted repeat), only equal rows merge."""
    monkeypatch.setattr(determinize, "MOORE_BUDGET", 0)
    rx = translate(pattern)
    assert equivalent(regex_to_byte_dfa(rx), regex_to_byte_dfa_reference(rx)) is None


def test_huge_bounded_repeat_is_rejected_before_building():
    with pytest.raises(GrammarError, match="too large"):
        regex_to_byte_dfa(r'"(?:[^"\\]|\\.){0,400000}"')  # estimated up front, not built
