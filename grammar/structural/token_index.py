"""Byte-level lookups over a vocabulary, for literal text and trigger masks.

Built once per `GrammarCompiler` (on its first structural tag) from its `Vocabulary`.
"""
from __future__ import annotations

import bisect

import numpy as np

from ..vocab import Vocabulary


class TokenIndex:
    """Which tokens spell a prefix of some text, which extend it, and which single-byte
    token stands for each byte. Special tokens (EOS included) have no text here."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.size: int = vocab.size
        self.token_bytes: list[bytes] = list(vocab.token_bytes)
        self.special: frozenset[int] = frozenset(vocab.special_ids)
        self.eos: list[int] = sorted(vocab.eos_ids)
        text = [(b, i) for i, b in enumerate(self.token_bytes) if b and i not in self.special]
        text.sort()
        self._sorted = [b for b, _ in text]
        self._sorted_ids = [i for _, i in text]
        self._by_bytes: dict[bytes, list[int]] = {}
        for b, i in text:
            self._by_bytes.setdefault(b, []).append(i)
        self.max_len = max((len(b) for b, _ in text), default=0)
        self.byte_token = [self._by_bytes.get(bytes([x]), [-1])[0] for x in range(256)]
        # token bytes as a matrix for vectorized scans: [num_text_tokens, max_len], rows longest first
        order = sorted(range(len(text)), key=lambda k: -len(text[k][0]))
        self.text_ids = np.array([text[k][1] for k in order], dtype=np.int64)
        self.lengths = np.array([len(text[k][0]) for k in order], dtype=np.int64)
        self.matrix = np.zeros((len(order), max(self.max_len, 1)), dtype=np.uint8)
        for row, k in enumerate(order):
            data = text[k][0]
            self.matrix[row, : len(data)] = np.frombuffer(data, dtype=np.uint8)

    def is_text(self, token: int) -> bool:
        return 0 <= token < len(self.token_bytes) and token not in self.special and bool(self.token_bytes[token])

    def prefixes_of(self, text: bytes) -> list[int]:
        """Tokens whose bytes are a non-empty prefix of ``text`` (``text`` itself included)."""
        out: list[int] = []
        for n in range(1, min(len(text), self.max_len) + 1):
            out.extend(self._by_bytes.get(text[:n], ()))
        return out

    def extending(self, text: bytes) -> list[int]:
        """Tokens whose bytes start with ``text`` and are longer."""
        out: list[int] = []
        i = bisect.bisect_right(self._sorted, text)
        while i < len(self._sorted) and self._sorted[i].startswith(text):
            out.append(self._sorted_ids[i])
            i += 1
        return out

    def scan(self, trans: np.ndarray, out: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run the automaton ``trans`` ([states, 256]) from ``start`` over every text token;
        stop a token at its first byte where ``out[state] >= 0``.

        Returns (token ids, bytes consumed at the stop, out value) for the tokens that stopped.
        """
        state = np.full(len(self.text_ids), start, dtype=np.int64)  # [num_text_tokens]
        hit = np.full(len(self.text_ids), -1, dtype=np.int64)
        for col in range(self.matrix.shape[1]):
            live = int(np.searchsorted(-self.lengths, -col, side="left"))  # rows longer than col
            rows = slice(0, live)
            open_ = hit[rows] < 0
            nxt = trans[state[rows], self.matrix[rows, col]]
            state[rows] = np.where(open_, nxt, state[rows])
            stop = open_ & (out[state[rows]] >= 0)
            hit[rows] = np.where(stop, col + 1, hit[rows])
        found = np.nonzero(hit >= 0)[0]
        return self.text_ids[found], hit[found], out[state[found]]
