"""Allowed-token masks for one byte-DFA state: a vectorized walk of the token trie."""
from __future__ import annotations

import numpy as np

from .. import native
from ..vocab import Vocabulary
from .token_trie import TokenTrie, WalkTable, walk, walk_mask


def dfa_token_mask(trie: TokenTrie, dfa: WalkTable, state: int) -> np.ndarray:
    """bool [vocab.size]: tokens whose bytes keep the DFA out of its dead state from `state`
    (no EOS); natively `walk_mask`."""
    if native.ENABLED:
        return walk_mask(trie, dfa, trie.root, state)[0]
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
