"""`CompiledCfg.accepts` agrees with lark's Earley parser on random strings and derivations."""
from __future__ import annotations

import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sglike.grammar.cfg import compile_cfg
from sglike.grammar.vocab import Vocabulary

sys.path.insert(0, os.path.dirname(__file__))
from test_cfg_grammars import CASES, alphabet, lark_accepts, reference  # noqa: E402

VOCAB = Vocabulary.from_tokens([bytes([b]) for b in range(256)] + [b"<eos>"], eos_ids=[256])
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
# lark's ESCAPED_STRING regex uses a lookbehind that hypothesis cannot generate from
TERMINAL_OVERRIDES = {"ESCAPED_STRING": r'"(?:[^"\\\n]|\\[^\n])*"'}

_compiled: dict = {}


def compiled(case):
    if case not in _compiled:
        _compiled[case] = (compile_cfg(CASES[case][0], VOCAB), reference(case))
    return _compiled[case]


def _heights(ref) -> dict[str, int]:
    h: dict[str, int] = {}
    changed = True
    while changed:
        changed = False
        for r in ref.rules:
            if all(s.is_term or s.name in h for s in r.expansion):
                v = 1 + max([h[s.name] for s in r.expansion if not s.is_term] or [0])
                if v < h.get(r.origin.name, 1 << 30):
                    h[r.origin.name] = v
                    changed = True
    return h


def derive(data, ref, max_depth: int = 6) -> str:
    """A random sentence of the reference grammar, with random %ignore'd text between tokens."""
    heights = _heights(ref)
    by_origin: dict[str, list] = {}
    for r in ref.rules:
        by_origin.setdefault(r.origin.name, []).append(r)
    terms = {t.name: t for t in ref.terminals}
    ignores = [terms[n] for n in ref.ignore_tokens]

    def sample(t) -> str:
        pattern = TERMINAL_OVERRIDES.get(t.name, t.pattern.to_regexp())
        return data.draw(st.from_regex(pattern, fullmatch=True).filter(lambda s: len(s) < 12))

    def ignored() -> str:
        if not ignores or not data.draw(st.booleans()):
            return ""
        return sample(data.draw(st.sampled_from(ignores)))

    def expand(name: str, depth: int) -> str:
        options = by_origin[name]
        if depth >= max_depth:
            best = min(1 + max([heights[s.name] for s in r.expansion if not s.is_term] or [0])
                       for r in options)
            options = [r for r in options if 1 + max([heights[s.name] for s in r.expansion
                                                      if not s.is_term] or [0]) == best]
        rule = data.draw(st.sampled_from(options))
        out = []
        for s in rule.expansion:
            out.append(sample(terms[s.name]) + ignored() if s.is_term else expand(s.name, depth + 1))
        return "".join(out)

    return ignored() + expand(ref.options.start[0], 0)


@pytest.mark.parametrize("case", sorted(CASES))
def test_random_strings_agree_with_lark(case):
    g, ref = compiled(case)

    @SETTINGS
    @given(st.text(alphabet(case), max_size=14))
    def check(text):
        assert g.accepts(text) == lark_accepts(ref, text), text

    check()


@pytest.mark.parametrize("case", sorted(CASES))
def test_derivations_and_mutations_agree_with_lark(case):
    g, ref = compiled(case)

    @SETTINGS
    @given(st.data())
    def check(data):
        text = derive(data, ref)
        assert lark_accepts(ref, text), text  # sanity of the generator itself
        assert g.accepts(text), text
        pos = data.draw(st.integers(0, len(text)))
        edit = data.draw(st.sampled_from(["delete", "insert", "cut"]))
        if edit == "delete":
            mutated = text[:pos] + text[pos + 1:]
        elif edit == "insert":
            mutated = text[:pos] + data.draw(st.sampled_from(alphabet(case))) + text[pos:]
        else:
            mutated = text[:pos]
        assert g.accepts(mutated) == lark_accepts(ref, mutated), (text, mutated)

    check()


def test_unicode_and_escapes_in_gbnf():
    g = compile_cfg(r'root ::= [α-ω]+ "\u00e9" [^a-z\]] "\x41" "\n"', VOCAB)
    assert g.accepts("αβé!A\n")
    assert g.accepts("ωéZA\n")
    assert not g.accepts("αβé]A\n")
    assert not g.accepts("αéaA\n")
    assert not g.accepts("aé]A\n")
    assert not g.accepts("αé]A")


def test_gbnf_repetition_bounds_and_any_char():
    g = compile_cfg(r'root ::= "a"{2,3} "b"{2} "c"{1,} . x' "\n" r'x ::= ("d" x)?', VOCAB)
    for text, ok in [("aabbc!", True), ("aaabbccc€ddd", True), ("abbc!", False),
                     ("aaaabbc!", False), ("aabbbc!", False), ("aabb!", False)]:
        assert g.accepts(text) == ok, text
