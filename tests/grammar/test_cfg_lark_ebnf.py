"""Lark grammars are read from lark's EBNF trees (no 2^k BNF expansion of optional parts);
templates fall back to lark's own compile. Both agree with lark's Earley parser."""
from __future__ import annotations

import lark
import pytest

from sglike.grammar.cfg import compile_cfg, lark_frontend, parse_cfg
from sglike.grammar.vocab import Vocabulary

VOCAB = Vocabulary.from_tokens([b"a", b"b", b"c", b","], eos_ids=[])


def optionals(k: int) -> str:
    return "start: " + " ".join(f'"{chr(97 + i % 3)}"?' for i in range(k)) + "\n"


OPTIONALS = optionals(24)
TEMPLATE = """
start: _sep{"a", ","} ";"? | "c"
_sep{x, sep}: x (sep x)*
"""


def test_many_optionals_stay_linear():
    lark_frontend._rules_from_ebnf(OPTIONALS)  # handled without lark's BNF expansion
    cfg = parse_cfg(OPTIONALS)
    assert len(cfg.rules) < 200  # lark's compile would give 2^24 alternatives


@pytest.mark.parametrize("text,samples", [
    (optionals(8), ["", "a", "ab", "abcab", "ba", "aa", "abcabcab", "abcabcabc", "c" * 3]),
    (TEMPLATE, ["a", "a,a", "a,a;", ";", "c", "a,", "c;"]),
])
def test_agrees_with_lark(text, samples):
    if "{" in text:
        with pytest.raises(lark_frontend.NotHandled):
            lark_frontend._rules_from_ebnf(text)
    else:
        lark_frontend._rules_from_ebnf(text)
    g = compile_cfg(text, VOCAB)
    ref = lark.Lark(text, parser="earley", lexer="dynamic")
    for s in samples:
        try:
            ref.parse(s)
            want = True
        except lark.exceptions.LarkError:
            want = False
        assert g.accepts(s) == want, s

