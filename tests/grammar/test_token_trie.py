"""The flat token trie and its vectorized DFA walk against per-token brute force."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sglike.grammar.masks import token_trie
from sglike.grammar.masks.token_trie import TokenTrie, WalkTable, walk
from sglike.grammar.regex.byte_dfa import regex_to_byte_dfa
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


@pytest.fixture(params=[4096, 1], ids=["frontier", "levels"])
def dense_threshold(request):
    """Run the walk tests with the frontier expansion and with the whole-level steps."""
    saved = token_trie.DENSE_FRONTIER
    token_trie.DENSE_FRONTIER = request.param
    yield
    token_trie.DENSE_FRONTIER = saved


def test_walk_matches_per_token_walks(dense_threshold):
    check_walks()


@SETTINGS
@given(vocabs, st.sampled_from(["a*b", "(ab|c)+", "[a-c]{2}d?", "a|aa|aaab"]), st.data())
def check_walks(tokens, pattern, data):
    vocab = Vocabulary.from_tokens(tokens + [b""], eos_ids=[len(tokens)])
    trie, dfa = TokenTrie(vocab), regex_to_byte_dfa(pattern)
    state = data.draw(st.integers(0, dfa.dead - 1))
    roots = sorted(set(data.draw(st.one_of(st.just([0]), st.lists(st.integers(0, trie.num_nodes - 1),
                                                                  min_size=1, max_size=4)))))
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
