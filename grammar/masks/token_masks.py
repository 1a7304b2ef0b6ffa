"""Allowed-token masks for one byte-DFA state: a vectorized walk of the token trie."""
from __future__ import annotations

import numpy as np

from .. import native
from ..vocab import Vocabulary
from .token_trie import TokenTrie, WalkTable, walk


def dfa_token_mask(trie: TokenTrie, dfa: WalkTable, state: int) -> np.ndarray:
    """bool [vocab.size]: tokens whose bytes keep the DFA out of its dead state from `state`
    (no EOS). Natively: the plain head's tokens copied from a per-depth mask, the native walk
    below the boundary nodes setting its tokens in the mask directly."""
    if native.ENABLED:
        plain = trie.plain
        fa = plain.chain(dfa, state)
        if fa is None:
            mask = np.zeros(trie.size, dtype=bool)
            nodes, states = trie.root, np.array([state], dtype=np.int64)
        else:
            mask = plain.mask(fa)
            nodes, states = plain.boundary(dfa, fa)
            mask[trie.tokens_of(nodes)] = True
        native.with_builder(native._native.walk_states, dfa, trie.native, nodes, states, dfa.dead, mask=mask)
        return mask
    ids, _ = walk(trie, dfa, trie.root, state)
    mask = np.zeros(trie.size, dtype=bool)
    mask[ids] = True
    return mask


def allowed_reference(vocab: Vocabulary, trans: np.ndarray, state: int, dead: int) -> np.ndarray:
    """Plain per-token twin of `dfa_token_mask`, for parity tests."""
    mask = np.zeros(vocab.size, dtype=bool)
    for i, b in enumerate(vocab.token_bytes):
        if not b or i in vocab.special_ids:
            continue
        s = state
        for byte in b:
            s = int(trans[s, byte])
        mask[i] = s != dead
    return mask
