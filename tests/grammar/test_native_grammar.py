"""The native grammar helpers (grammar/native) against their Python twins: one-state subset
construction gives the same states, in the same order, with the same rows; trie walks give
the same tokens and end nodes, on the real 49k vocabulary, from lazy DFAs (built on the
way), CFG terminal views (end nodes wanted) and complete tables, from the root and from
nested frontiers."""
from __future__ import annotations

import random

import numpy as np
import pytest

from sglike.grammar import native
from sglike.grammar.cfg.terminal import WalkView
from sglike.grammar.errors import GrammarError
from sglike.grammar.json_schema import schema_to_grammar
from sglike.grammar.masks.token_trie import WalkTable, walk_states, walk_states_py
from sglike.grammar.regex.byte_dfa import regex_to_byte_dfa
from sglike.grammar.regex import nfa_program
from sglike.grammar.regex.byte_nfa import ByteNfa
from sglike.grammar.regex.ir import Alt, Cls, Lit, Regex, Rep, Seq
from sglike.grammar.regex.lazy_dfa import LazyDFA
from sglike.grammar.regex.parse import parse_regex
from sglike.grammar.regex.syntax import translate

from test_lazy_dfa import DEAD_ENDS
from test_regex_compile import PATTERNS, SCHEMAS

pytestmark = pytest.mark.skipif(not native.available(), reason=f"native helpers not built: {native.IMPORT_ERROR}")

REGEXES = [translate(p) for p in PATTERNS + DEAD_ENDS + [r"(?s).{0,40}", r"[a-z]{1,30}@[a-z]+\.(com|org)",
                                                         r'"([^"\\]|\\.){0,12}"', r"\w+( \w+){0,3}"]]
REGEXES += [schema_to_grammar(s)[1] for s in SCHEMAS]
# plain-loop states (every printable ASCII byte but " and \ back to the state): the walk
# copies runs of such positions whole and steps from the others
LOOPS = [r'[^"\\]*"', r'[ -~]*', r'"(?:[^"\\]|\\.)*"(?:,"[a-z]+":\d+)?', r'(?:[a-z]+|[^a-z"\\]*)"x?',
         r'(?s)(?:[^"\\]|\\.)*', r'"(?:name|[^n"\\][^"\\]*)"']


def lazy(rx: str, use_native: bool, **kw) -> LazyDFA:
    nfa = ByteNfa()
    start = nfa.new()
    final = nfa.add(parse_regex(rx), start)
    return LazyDFA(nfa, start, final, native=use_native, **kw)


@pytest.mark.parametrize("rx", REGEXES)
def test_native_subset_construction_builds_the_same_dfa(rx):
    a, b = lazy(rx, True), lazy(rx, False)
    assert a._core is not None and b._core is None
    order = random.Random(len(rx))
    while not (a.complete and b.complete):  # expand in the same, shuffled order
        todo = np.flatnonzero(~a.tables.expanded[: a.num_states]).tolist()
        for s in order.sample(todo, min(len(todo), 7)):
            a.ensure_one(s)
            b.ensure_one(s)
        assert a.num_states == b.num_states
    n = a.num_states
    for name in ("table", "accepting", "expanded", "n_out", "forced"):  # `flat`: Python walks only
        assert np.array_equal(getattr(a.tables, name)[:n], getattr(b.tables, name)[:n]), name
    assert np.array_equal(a.flat[: n * 256], b.flat[: n * 256])
    assert np.array_equal(a.snapshot().trans, b.snapshot().trans)


def test_native_state_limit_and_empty_language_are_grammar_errors():
    dfa = lazy("[ab]*a[ab]{12}", True, max_states=100)
    with pytest.raises(GrammarError, match="grammar too large"):
        while not dfa.complete:
            dfa.expand_next(1000)
    assert dfa.num_states <= 100
    with pytest.raises(GrammarError, match="empty"):
        lazy("a[^\\x00-\\U0010ffff]", True)
    assert lazy("a[^\\x00-\\U0010ffff]", True, allow_empty=True).num_states == 1


def _same_walk(trie, table, other, nodes: np.ndarray, states: np.ndarray) -> None:
    ids, ends = walk_states(trie, table, nodes, states, True)
    ref_ids, ref_ends = walk_states_py(trie, other, nodes, states, True)
    assert np.array_equal(np.unique(ids), np.unique(ref_ids))
    assert ends.tolist() == np.unique(ref_ends).tolist()


@pytest.mark.parametrize("rx", REGEXES[-8:] + LOOPS)
def test_native_walks_match_python_walks_real_vocab(real_compiler, rx):
    """From every state of a lazy DFA (built by the walk itself on the native side) and of a
    terminal view with end nodes; from the root, single deep nodes and nested sets."""
    trie = real_compiler.trie
    rng = np.random.default_rng(len(rx))
    a, b = lazy(rx, True), lazy(rx, False)
    for s in range(8):
        frontiers = [np.zeros(1, np.int64), np.sort(rng.choice(trie.num_nodes, 3, replace=False)),
                     np.array([0, int(trie.child_lo[0]) + 5, int(trie.level[2]) + 7]),
                     # many nodes in one state: the byte-index step where few bytes leave it
                     np.sort(rng.choice(trie.num_nodes, 400, replace=False)),
                     np.arange(int(trie.level[1]), int(trie.level[3]))]
        for nodes in frontiers:
            states = np.full(len(nodes), min(s, a.num_states - 1), np.int64)
            b.ensure(states)
            _same_walk(trie, a, b, nodes, states)
            _same_walk(trie, WalkView(a), WalkView(b), nodes, states)
    dfa = regex_to_byte_dfa(rx)
    table = WalkTable(dfa.trans, dfa.accepting)
    for s in range(min(dfa.dead, 6)):
        _same_walk(trie, table, table, np.zeros(1, np.int64), np.array([s]))
    _same_walk(trie, table, table, np.array([0, 5]), np.array([dfa.dead, 0]))  # the sink walks nothing


def test_native_walk_reports_a_state_limit_reached_mid_walk(real_compiler):
    dfa = lazy("[ -~]*a[ -~]{12}", True, max_states=20)
    with pytest.raises(GrammarError, match="grammar too large"):
        walk_states(real_compiler.trie, dfa, np.zeros(1, np.int64), np.zeros(1, np.int64), False)


def test_native_walk_refuses_bad_nodes_and_states(real_compiler):
    from sglike.grammar.native import _native
    trie = real_compiler.trie
    dfa = lazy("[a-z]+", True)
    walk_args = (dfa.walk_arrays(), dfa.walk_refresh)
    with pytest.raises(IndexError, match="no such trie node"):
        _native.walk_states(trie.native, np.array([trie.num_nodes]), np.zeros(1, np.int64), -1, *walk_args)
    with pytest.raises(IndexError, match="no such DFA state"):
        _native.walk_states(trie.native, np.zeros(1, np.int64), np.array([10 ** 6]), -1, *walk_args)
    with pytest.raises(IndexError, match="no such DFA state"):
        _native.plain_chain(10 ** 6, 5, -1, *walk_args)
    with pytest.raises(ValueError, match="differ in length"):
        _native.walk_states(trie.native, np.zeros(2, np.int64), np.zeros(1, np.int64), -1, *walk_args)


def _nfa_columns(nfa: ByteNfa) -> tuple:
    return (nfa.num_states, nfa.dead_ends, *(np.asarray(getattr(nfa, c)).tolist() for c in nfa_program.COLUMNS))


@pytest.mark.parametrize("rx", REGEXES)
def test_native_nfa_builder_builds_the_python_nfa(rx, monkeypatch):
    """The C++ NFA (nfa_program.py) equals the Python one edge for edge, also when added to a
    non-empty NFA from a state other than the last, and on the schemas' large regexes."""
    monkeypatch.setattr(native, "ENABLED", True)  # built: compared even under SGLIKE_PY_GRAMMAR=1
    def built(native_: bool) -> tuple:
        nfa = ByteNfa(native=native_)
        start = nfa.new()
        first = nfa.add(parse_regex(rx), start)
        second = nfa.add(Seq((Lit(b"x"), Regex(rx))), start)  # a Regex node resolves to its parse
        return first, second, _nfa_columns(nfa)
    assert built(True) == built(False)
    nfa = ByteNfa()
    nfa.add(parse_regex(rx), nfa.new())
    assert nfa.arrays is not None  # grouped in C++: the same as numpy's stable grouping
    fast = nfa.index_arrays()
    nfa.arrays = None
    assert all(np.array_equal(a, b) for a, b in zip(fast, nfa.index_arrays()))
    expr = Seq((Regex(rx), Rep(Regex(rx), 2, None), Alt((Lit(b""), Cls(((0x80, 0x10FFFF),))))))
    ref, root = nfa_program.program(expr)
    got, got_root = nfa_program.native_program(expr)  # the C++ emitter writes the same program
    assert got_root == root and got.tolist() == ref.tolist()


def test_native_nfa_builder_limits_and_bad_programs(monkeypatch):
    """Past MAX_NFA_STATES it is a GrammarError (the estimate in check_size is bypassed here);
    a malformed program is an IndexError, never a crash."""
    monkeypatch.setattr(native, "ENABLED", True)
    nfa = ByteNfa()
    with pytest.raises(GrammarError, match="grammar too large"):
        nfa_program.add_native(nfa, Rep(Lit(b"ab"), 0, 400_000), nfa.new())
    prog, root = nfa_program.program(Seq((Lit(b"ab"), Alt(()))))
    assert native._native.build_nfa(prog, root, 0, 1, 100)[2]  # an empty alternation: dead ends
    for bad_prog, bad_root in ((prog[:-1], root), (np.array([2, 1, 5], np.int32), 0),
                               (np.array([9], np.int32), 0), (np.array([0, 0, 4, 3, 1, 0], np.int32), 2)):
        with pytest.raises(IndexError):
            native._native.build_nfa(bad_prog, bad_root, 0, 1, 100)
    with pytest.raises(IndexError):
        native._native.build_nfa(prog, root, 5, 1, 100)  # no such source state
    for bad in (Seq((Lit(b"a"), "a")), Rep(Lit(b"a"), 0, 2**31)):  # not IR; a bound beyond int32
        with pytest.raises(GrammarError):
            nfa_program.native_program(bad)
        with pytest.raises(GrammarError):
            ByteNfa().add(bad, 0)
