"""CFG terminals whose DFAs are built on first use (cfg/terminal.py): built only when the
recognizer predicts them, state by state, with masks equal to those of eagerly built minimal
DFAs, the expression facts equal to what the DFA says, a too-large DFA reported mid-request."""
from __future__ import annotations

import os
import sys

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sglike.grammar.cfg import CompiledCfg, compile_cfg, parse_cfg
from sglike.grammar.errors import GrammarError
from sglike.grammar.regex.byte_dfa import expr_to_byte_dfa
from sglike.grammar.regex.ir_props import has_nonempty, inhabited, nullable
from sglike.grammar.regex.lazy_dfa import LazyDFA
from sglike.grammar.regex.parse import parse_regex

sys.path.insert(0, os.path.dirname(__file__))
from test_cfg_grammars import CASES  # noqa: E402
from test_cfg_mask import small_vocab  # noqa: E402

NESTED = 'start: "<" start ">" | "n#" /[0-9]{2}/ "!"\n'


def _built(g) -> dict[str, bool]:
    return {name: t.built for name, t in zip(g.cfg.terminal_names, g.cfg.terminals)}


def _eager(text: str, vocab) -> CompiledCfg:
    """The grammar with every terminal's minimal DFA built before the grammar is made."""
    cfg = parse_cfg(text)
    for terminal in cfg.terminals:
        terminal._dfa = LazyDFA.from_dfa(expr_to_byte_dfa(terminal.expr, allow_empty=True))
    return CompiledCfg(cfg, vocab)


def test_terminals_are_built_when_first_predicted(tiny_vocab):
    g = compile_cfg(NESTED, tiny_vocab, precompute_seconds=0, warm_seconds=0)
    assert _built(g) == {"b'<'": True, "seq": True, "b'>'": False}  # ">" is not predicted yet
    m = g.matcher()
    m.allowed_tokens()
    assert not _built(g)["b'>'"]
    for ch in "<n#12!":
        assert m.advance(tiny_vocab.token_bytes.index(ch.encode()))
    assert _built(g)["b'>'"]  # the inner start completed: ">" predicted
    assert g.accepts("<<n#12!>>") and not g.accepts("<n#12!")


def test_compile_warms_terminals_within_its_budget(tiny_vocab):
    """By default a compile builds the terminals' NFAs (not their DFAs beyond the start
    state) while its `warm_seconds` last; a spent budget leaves the rest lazy."""
    g = compile_cfg(NESTED, tiny_vocab, precompute_seconds=0)
    assert all(_built(g).values())
    assert all(t.dfa().num_states == 1 for t in g.cfg.terminals)
    spent = compile_cfg(NESTED, tiny_vocab, precompute_seconds=0, warm_seconds=-1)
    assert not _built(spent)["b'>'"]  # only what the initial prediction needs


@pytest.mark.parametrize("case", sorted(CASES))
def test_lazy_terminals_give_the_masks_of_eager_ones(case):
    @settings(max_examples=8, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        vocab = small_vocab(data, case)
        lazy = compile_cfg(CASES[case][0], vocab, precompute_seconds=0, warm_seconds=0)
        eager = _eager(CASES[case][0], vocab)
        a, b = lazy.matcher(), eager.matcher()
        for _ in range(10):
            mask = a.allowed_tokens()
            assert torch.equal(mask, b.allowed_tokens())
            choices = mask.nonzero().flatten().tolist()
            if not choices:
                break
            tid = data.draw(st.sampled_from(choices))
            assert a.advance(tid) and b.advance(tid)
            if a.is_finished():
                break

    check()


PATTERNS = ["", "a", "a*", "(?:)", "(?:ab)?", "a{0}", "(?:a{0})+", "[^\\x00-\\U0010ffff]",
            "x[^\\x00-\\U0010ffff]?", "x[^\\x00-\\U0010ffff]", "(?:[^\\x00-\\U0010ffff]|)",
            "(?:[^\\x00-\\U0010ffff])*", "(?:[^\\x00-\\U0010ffff])+", "a|", "(?:|b{0,0})c?",
            "\ud800", "(?:\ud800)*", "\ud800|z", "[a-c]{2,5}(?:x|y{0})*"]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_expression_facts_match_the_dfa(pattern):
    e = parse_regex(pattern)
    d = expr_to_byte_dfa(e, allow_empty=True)
    assert nullable(e) == d.accept[0]
    assert inhabited(e) == any(d.accept)
    assert has_nonempty(e) == _accepts_after_a_byte(d.rows, d.accept)


def _accepts_after_a_byte(rows: list[list[int]], accept: list[bool]) -> bool:
    seen = {s for s in rows[0] if s >= 0}
    todo = list(seen)
    while todo:
        for s in rows[todo.pop()]:
            if s >= 0 and s not in seen:
                seen.add(s)
                todo.append(s)
    return any(accept[s] for s in seen)


def test_a_too_large_terminal_sets_the_matcher_error(tiny_vocab):
    g = compile_cfg(NESTED, tiny_vocab, precompute_seconds=0, warm_seconds=0)
    close = g.cfg.terminal_names.index("b'>'")
    g.cfg.terminals[close].max_states = 1  # ">" needs 2 states
    m = g.matcher()
    for ch in "<n#12!":  # "!" predicts ">": its start state is made
        assert m.advance(tiny_vocab.token_bytes.index(ch.encode()))
    assert not m.error
    assert m.allowed_tokens().nonzero().flatten().tolist() == sorted(tiny_vocab.eos_ids)
    assert m.error and "grammar too large" in m.error  # the mask needed its second state
    assert not m.advance(tiny_vocab.token_bytes.index(b"!")) and m.jump_forward_bytes() == b""
    assert m.copy().error == m.error
    with pytest.raises(GrammarError, match="grammar too large"):
        g.accepts("<n#12!>")


def test_a_terminal_whose_nfa_could_never_be_built_fails_the_compile(tiny_vocab):
    """The NFA size estimate is checked when lowering, as eager building did: a request
    never starts on a grammar whose terminal cannot be built at all."""
    with pytest.raises(GrammarError, match="grammar too large"):
        compile_cfg('start: "(" start ")" | /(?:[a-z]{1000}){1000}/\n', tiny_vocab,
                    precompute_seconds=0)
