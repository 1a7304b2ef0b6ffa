"""Byte trie over a vocabulary plus padded arrays for vectorized DFA walks (cached per vocab)."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..vocab import Vocabulary


class TokenTrie:
    """Node 0 is the root. Only non-special tokens with at least one byte are included."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.size = vocab.size
        self.children: list[dict[int, int]] = [{}]
        self.tokens_at: list[list[int]] = [[]]
        ids = [i for i, b in enumerate(vocab.token_bytes) if b and i not in vocab.special_ids]
        ids.sort(key=lambda i: -len(vocab.token_bytes[i]))
        n, lmax = len(ids), (len(vocab.token_bytes[ids[0]]) if ids else 0)
        self.ids = np.array(ids, dtype=np.int64)                  # [n] sorted by length, desc
        self.lengths = np.zeros(n, dtype=np.int32)                # [n]
        self.tb = np.zeros((n, lmax), dtype=np.int32)             # [n, lmax] token bytes
        self.prefix_node = np.zeros((n, lmax + 1), dtype=np.int32)  # [n, lmax+1] node of t[:k]
        for row, tid in enumerate(ids):
            data = vocab.token_bytes[tid]
            self.lengths[row] = len(data)
            self.tb[row, :len(data)] = list(data)
            node = 0
            for k, b in enumerate(data):
                nxt = self.children[node].get(b)
                if nxt is None:
                    nxt = len(self.children)
                    self.children[node][b] = nxt
                    self.children.append({})
                    self.tokens_at.append([])
                node = nxt
                self.prefix_node[row, k + 1] = node
            self.tokens_at[node].append(tid)
        # child_bits[node]: bit b set when the node has a child for byte b
        self.child_bits = [sum(1 << b for b in ch) for ch in self.children]
        # active[j] = number of rows whose token is longer than j (rows are sorted by length)
        self.active = np.array([int((self.lengths > j).sum()) for j in range(lmax)], dtype=np.int64)


_CACHE: "OrderedDict[str, TokenTrie]" = OrderedDict()


def trie_for(vocab: Vocabulary) -> TokenTrie:
    """The trie of `vocab`, built once per vocabulary hash (small LRU)."""
    trie = _CACHE.get(vocab.hash)
    if trie is None:
        trie = TokenTrie(vocab)
        _CACHE[vocab.hash] = trie
        while len(_CACHE) > 4:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(vocab.hash)
    return trie
