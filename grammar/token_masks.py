"""Allowed-token masks for one byte-DFA state, walking all tokens in lockstep (vectorized)."""
from __future__ import annotations

import numpy as np

from .vocab import Vocabulary


class TokenTable:
    """Token bytes as a padded matrix, tokens sorted by decreasing length.

    bytes_t: uint8 [max_len, n_tokens] (column j holds every token's j-th byte);
    active[j]: how many tokens are longer than j (they form a prefix of the order).
    """

    def __init__(self, vocab: Vocabulary):
        ids = [i for i, b in enumerate(vocab.token_bytes) if b and i not in vocab.special_ids]
        ids.sort(key=lambda i: -len(vocab.token_bytes[i]))
        self.ids = np.array(ids, dtype=np.int64)  # [n_tokens]
        lengths = np.array([len(vocab.token_bytes[i]) for i in ids], dtype=np.int64)
        max_len = int(lengths.max()) if len(ids) else 0
        buf = np.zeros((len(ids), max_len), dtype=np.uint8)  # [n_tokens, max_len]
        for row, i in enumerate(ids):
            b = vocab.token_bytes[i]
            buf[row, : len(b)] = np.frombuffer(b, dtype=np.uint8)
        self.bytes_t = np.ascontiguousarray(buf.T).astype(np.int32)  # [max_len, n_tokens]
        self.active = [int((lengths > j).sum()) for j in range(max_len)]
        self.size = vocab.size

    def allowed(self, trans: np.ndarray, state: int, dead: int) -> np.ndarray:
        """bool [size]: tokens whose bytes stay in live states from `state` (no EOS)."""
        flat = trans.reshape(-1)  # [(num_states + 1) * 256]
        cur = np.full(len(self.ids), state * 256, dtype=np.int32)  # state * 256 per token
        for j, n in enumerate(self.active):
            cur[:n] = flat[cur[:n] + self.bytes_t[j, :n]] * 256
        mask = np.zeros(self.size, dtype=bool)
        mask[self.ids[cur != dead * 256]] = True
        return mask


def allowed_reference(vocab: Vocabulary, trans: np.ndarray, state: int, dead: int) -> np.ndarray:
    """Plain per-token twin of `TokenTable.allowed`, for parity tests."""
    mask = np.zeros(vocab.size, dtype=bool)
    for i, b in enumerate(vocab.token_bytes):
        if not b or i in vocab.special_ids:
            continue
        s = state
        for byte in b:
            s = int(trans[s, byte])
        mask[i] = s != dead
    return mask
