"""The flat token trie and its vectorized DFA walk against per-token brute force."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sglike.grammar import native
from sglike.grammar.masks import level_walk
from sglike.grammar.masks.token_trie import TokenTrie, WalkTable, walk
from sglike.grammar.regex.byte_dfa import regex_to_byte_dfa
from sglike.grammar.regex.syntax import translate
from sglike.grammar.vocab import Vocabulary

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
vocabs = st.lists(st.binary(min_size=0, max_size=6).map(lambda b: bytes(x % 4 + 97 for x in b)),
                  min_size=1, max_size=40)


def node_of(trie: TokenTrie, data: bytes) -> int:
    node = 0
    for b in data:
        kids = range(trie.child_lo[node], trie.child_hi[node])
        node = next(k for k in kids if trie.byte[k] == b)
    return node


@SETTINGS
@given(vocabs)
def test_trie_structure(tokens):
    vocab = Vocabulary.from_tokens(tokens + [b""], eos_ids=[len(tokens)])
    trie = TokenTrie(vocab)
    prefixes = {t[:k] for t in tokens for k in range(1, len(t) + 1)}
    assert trie.num_nodes == len(prefixes) + 1
    assert (trie.parent[1:] < np.arange(1, trie.num_nodes)).all()
    assert (np.diff(trie.depth) >= 0).all()  # breadth first
    for i, t in enumerate(tokens):
        if t:
            node = node_of(trie, t)
            assert trie.depth[node] == len(t)
            assert i in trie.tokens_of(np.array([node])).tolist()
    assert sorted(trie.tokens_of(np.arange(trie.num_nodes)).tolist()) == [i for i, t in enumerate(tokens) if t]


# (DENSE_FRONTIER, LEVEL_MIN, SMALL_STEP): which kind of step each level takes in the Python
# walk; "native": the C++ walk (grammar/native)
MODES = {"frontier": (4096, 512, 0), "levels": (1, 0, 0), "levels-then-frontier": (1, 100, 0),
         "levels-once": (1, 10 ** 9, 0), "python": (4096, 512, 10 ** 9), "mixed": (8, 50, 6),
         "native": None}


@pytest.fixture(params=sorted(MODES))
def dense_threshold(request, monkeypatch):
    """Run the walk tests with frontier expansions, whole-level steps, Python steps of
    small levels, and switches between them; and natively."""
    if MODES[request.param] is None:
        if not native.available():
            pytest.skip(f"native helpers not built: {native.IMPORT_ERROR}")
        monkeypatch.setattr(native, "ENABLED", True)
        return
    monkeypatch.setattr(native, "ENABLED", False)
    for n, v in zip(("DENSE_FRONTIER", "LEVEL_MIN", "SMALL_STEP"), MODES[request.param]):
        monkeypatch.setattr(level_walk, n, v)


def test_walk_matches_per_token_walks(dense_threshold):
    check_walks()


PATTERNS = ["a*b", "(ab|c)+", "[a-c]{2}d?", "a|aa|aaab"]


@SETTINGS
@given(vocabs, st.sampled_from(PATTERNS), st.data())
def check_walks(tokens, pattern, data):
    dfa = regex_to_byte_dfa(pattern)
    state = data.draw(st.integers(0, dfa.dead - 1))
    n = len({t[:k] for t in tokens for k in range(1, len(t) + 1)}) + 1  # trie nodes
    roots = sorted(set(data.draw(st.one_of(st.just([0]), st.lists(st.integers(0, n - 1),
                                                                  min_size=1, max_size=4)))))
    check_walk(tokens, dfa, state, roots)


@pytest.mark.parametrize("pattern", PATTERNS + ["[abc]*", "[abc]{0,5}c?", "(a[bc])*a?"])
def test_wide_walks_match_per_token_walks(dense_threshold, pattern):
    """Every string over "abc" up to 6 bytes: wide levels, so each mode switch happens."""
    tokens = [bytes(p) for k in range(1, 7) for p in itertools.product(b"abc", repeat=k)]
    dfa = regex_to_byte_dfa(pattern)
    for state in range(dfa.dead):
        for roots in ([0], [1, 5], [2, 20, 40]):
            check_walk(tokens, dfa, state, roots)


# bytes in and out of plain_walk.PLAIN: quotes, escapes, newlines, a UTF-8 letter
STRING_BYTES = [b"a", b"b", b" ", b'"', b"\\", b"\n", b"\xc3", b"\xa9"]
STRING_PATTERNS = [r'[^"\\\x00-\x1f]*', r'"([^"\\\x00-\x1f]|\\.){0,3}"', r"(?s).{0,3}",
                   '[ -~]*"?', '"[ab ]*"|"b*"']


@pytest.mark.parametrize("pattern", STRING_PATTERNS)
def test_string_state_walks_match_per_token_walks(dense_threshold, pattern):
    """Root walks from states that treat plain ASCII alike (the plain_walk shortcut) and
    from states that do not, on tokens mixing plain and other bytes."""
    tokens = [b"".join(p) for k in range(1, 5) for p in itertools.product(STRING_BYTES, repeat=k)]
    dfa = regex_to_byte_dfa(translate(pattern))
    for state in range(dfa.dead):
        check_walk(tokens, dfa, state, [0])


def check_walk(tokens: list[bytes], dfa, state: int, roots: list[int]) -> None:
    """`walk` from `roots` against per-token walks."""
    vocab = Vocabulary.from_tokens(tokens + [b""], eos_ids=[len(tokens)])
    trie = TokenTrie(vocab)
    ids, ends = walk(trie, WalkTable(dfa.trans, dfa.accepting), np.array(roots), state)
    want_ids, want_ends = set(), set()
    for root in roots:
        d = int(trie.depth[root])
        for i, t in enumerate(tokens):
            if len(t) <= d or node_of(trie, t[:d]) != root:
                continue
            s = state
            for k, b in enumerate(t[d:]):
                s = int(dfa.trans[s, b])
                if s != dfa.dead and dfa.accepting[s] and d + k + 1 < len(t):
                    want_ends.add(node_of(trie, t[:d + k + 1]))
            if s != dfa.dead:
                want_ids.add(i)
    assert set(ids.tolist()) == want_ids
    assert ends.tolist() == sorted(want_ends)
