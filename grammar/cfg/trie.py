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
        ids.sort(key=lambda i: vocab.token_bytes[i])  # lexicographic: every subtree is a row range
        n, lmax = len(ids), max((len(vocab.token_bytes[i]) for i in ids), default=0)
        self.ids = np.array(ids, dtype=np.int64)                  # [n] token id of each row
        self.lo: list[int] = [0]      # node -> first row of its subtree
        self.hi: list[int] = [n]      # node -> one past its last row
        self.depth: list[int] = [0]   # node -> number of bytes from the root
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
                    self.lo.append(row)
                    self.hi.append(row + 1)
                    self.depth.append(k + 1)
                node = nxt
                self.hi[node] = row + 1
                self.prefix_node[row, k + 1] = node
            self.tokens_at[node].append(tid)
        # child_bits[node]: bit b set when the node has a child for byte b
        self.child_bits = [sum(1 << b for b in ch) for ch in self.children]


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
