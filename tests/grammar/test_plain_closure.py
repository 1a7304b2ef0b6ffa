"""The plain-safe shortcut of root walks (masks/plain_closure.py) against per-token walks,
the Python closure search against the native one, and its limit."""
from __future__ import annotations

import itertools
import os
import sys

import numpy as np
import pytest

from sglike.grammar import native
from sglike.grammar.masks import plain_closure
from sglike.grammar.masks.token_masks import allowed_reference
from sglike.grammar.masks.token_trie import TokenTrie, WalkTable, walk, walk_mask
from sglike.grammar.regex.byte_dfa import regex_to_byte_dfa
from sglike.grammar.regex.lazy_dfa import LazyDFA
from sglike.grammar.regex.syntax import translate
from sglike.grammar.vocab import Vocabulary

sys.path.insert(0, os.path.dirname(__file__))
from test_token_trie import check_walk  # noqa: E402

# plain bytes, the bytes that leave PLAIN (quote, escape, newline, UTF-8), and pieces of the
# searched words
STRING_BYTES = [b"a", b"b", b"c", b" ", b'"', b"\\", b"\n", b"\xc3\xa9"]
TOKENS = [b"".join(p) for k in range(1, 5) for p in itertools.product(STRING_BYTES, repeat=k)]
PLAIN = r'[^"\\\x00-\x1f]'
# string contents under an unanchored search (every position its own state: no uniform
# chain), with the accepting state past the closing quote (plain-safe) or inside (not)
SEARCHES = [f'{PLAIN}*ab{PLAIN}*"', f'{PLAIN}*abca{PLAIN}*"', f'{PLAIN}*a{PLAIN}{{2}}"',
            f'{PLAIN}*ab{PLAIN}*', f'{PLAIN}*(ab|ba){PLAIN}{{0,2}}"', f'{PLAIN}*a{PLAIN}b{PLAIN}*"?']


@pytest.fixture(params=["python", "native"])
def mode(request, monkeypatch):
    if request.param == "native" and not native.available():
        pytest.skip(f"native helpers not built: {native.IMPORT_ERROR}")
    monkeypatch.setattr(native, "ENABLED", request.param == "native")
    return request.param


def searches():
    return [(p, regex_to_byte_dfa(translate(p))) for p in SEARCHES]


@pytest.mark.parametrize("limit", [plain_closure.MAX_CLOSURE, 2])
def test_search_states_walk_like_per_token_walks(mode, limit, monkeypatch):
    """Ids and end nodes from every state of every search pattern (the shortcut where the
    closure is safe, the whole walk elsewhere; a limit of 2 makes most searches fail)."""
    monkeypatch.setattr(plain_closure, "MAX_CLOSURE", limit)
    for _pattern, dfa in searches():
        for state in range(dfa.dead):
            check_walk(TOKENS, dfa, state, [0])


def test_search_masks_match_reference(mode):
    """The mask form (`walk_mask`, natively) and the ids form without end nodes, against the
    per-token reference; and the shortcut is taken: its states are known plain-safe."""
    vocab = Vocabulary.from_tokens(TOKENS + [b""], eos_ids=[len(TOKENS)])
    trie = TokenTrie(vocab)
    for pattern, dfa in searches():
        table = LazyDFA.from_dfa(dfa)  # as a DFA grammar's masks walk it: no end nodes wanted
        for state in range(dfa.dead):
            want = allowed_reference(vocab, dfa.trans, state, dfa.dead)
            if native.ENABLED:
                got = walk_mask(trie, table, trie.root, state)[0]
            else:
                got = np.zeros(vocab.size, dtype=bool)
                got[walk(trie, table, trie.root, state)[0]] = True
            assert (got == want).all(), (pattern, state)
        assert True in table.row.plain_safe[False].values(), pattern


def test_closure_native_matches_python(monkeypatch):
    """The native search finds the same verdict and, when safe, the same states."""
    if not native.available():
        pytest.skip(f"native helpers not built: {native.IMPORT_ERROR}")
    for _pattern, dfa in searches():
        for accept in (dfa.accepting, None):
            for limit in (1, 3, plain_closure.MAX_CLOSURE):
                monkeypatch.setattr(plain_closure, "MAX_CLOSURE", limit)
                for state in range(dfa.dead):
                    got = []
                    for enabled in (False, True):
                        monkeypatch.setattr(native, "ENABLED", enabled)
                        table = WalkTable(dfa.trans, accept) if accept is not None else LazyDFA.from_dfa(dfa)
                        got.append(plain_closure._closure(table, state))
                    (py_safe, py_seen), (nat_safe, nat_seen) = got
                    assert py_safe == nat_safe
                    if py_safe:
                        assert sorted(py_seen) == sorted(nat_seen) and len(py_seen) <= limit
                        assert all(plain_closure.plain_safe(table, s) for s in py_seen)


@pytest.mark.parametrize("ends_first", [True, False])
def test_verdicts_with_and_without_end_nodes_are_kept_apart(mode, ends_first):
    """A terminal's LazyDFA and its WalkView share their rows: a string state that accepts
    inside its plain closure is plain-safe for masks but not where end nodes are wanted."""
    from sglike.grammar.cfg.terminal import WalkView
    dfa = LazyDFA.from_dfa(regex_to_byte_dfa(translate(f"{PLAIN}*ab{PLAIN}*")))
    view = WalkView(dfa)
    assert view.row is dfa.row
    order = [(view, False), (dfa, True)] if ends_first else [(dfa, True), (view, False)]
    for table, want in order:
        assert plain_closure.plain_safe(table, 0) is want
