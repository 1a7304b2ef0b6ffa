"""NGRAM lookup kept up to date as a request's text grows, so a step costs what is new.

``ngram_lookup`` (``ngram.py``) scans the whole prompt + output at every step: O(length) in
numpy, ~0.1 ms at a few hundred tokens, which a step that drafts nothing (chat) pays for
nothing. ``NgramIndex`` keeps, per ``min_window``-gram, the positions that followed its
earlier occurrences; a step registers only the tokens added since the last one and extends
the candidates of the current suffix backwards, most recent first, stopping at the first
that matches ``max_window`` tokens. Same answer as ``ngram_lookup`` (parity-tested), text
edits included: where the text no longer starts with what was indexed (jump-forward
re-tokenizes the newest token), the positions past the first difference are forgotten.
"""
from __future__ import annotations


class NgramIndex:
    """The suffix-lookup index of one token list."""

    def __init__(self, min_window: int, max_window: int) -> None:
        self.min_window, self.max_window = min_window, max_window
        self.tokens: list[int] = []
        self.follows: dict[tuple[int, ...], list[int]] = {}  # gram -> positions right after it, ascending
        self.registered = min_window  # every position p < registered with p >= min_window is in ``follows``

    def sync(self, tokens: list[int]) -> None:
        """Bring the index to ``tokens`` (usually the old text plus a few tokens)."""
        old = self.tokens
        if len(tokens) < len(old) or tokens[: len(old)] != old:
            common = next((i for i, (a, b) in enumerate(zip(old, tokens)) if a != b), min(len(old), len(tokens)))
            self._forget(common)
        self.tokens = list(tokens)
        w, follows = self.min_window, self.follows
        for p in range(self.registered, len(tokens)):  # the gram ending at p now has a successor
            follows.setdefault(tuple(tokens[p - w : p]), []).append(p)
        self.registered = max(self.registered, len(tokens))

    def _forget(self, common: int) -> None:
        """Drop every position whose gram or successor reaches past token ``common``."""
        w, old = self.min_window, self.tokens
        for p in range(self.registered - 1, max(common, w) - 1, -1):
            gram = tuple(old[p - w : p])
            positions = self.follows[gram]
            positions.pop()
            if not positions:
                del self.follows[gram]
        self.registered = max(w, min(self.registered, common))

    def lookup(self, k: int) -> tuple[list[int], int]:
        """``ngram_lookup(tokens, k, min_window, max_window)`` of the synced tokens."""
        tokens, w = self.tokens, self.min_window
        n_tok = len(tokens)
        if k <= 0 or n_tok < w + 1:
            return [], 0
        candidates = self.follows.get(tuple(tokens[n_tok - w :]))
        if not candidates:
            return [], 0
        top = max(w, min(self.max_window, n_tok - 1))
        best, best_at = 0, -1
        for p in reversed(candidates):  # most recent first: a tie keeps the later match
            n = w
            while n < top and p - n - 1 >= 0 and tokens[p - n - 1] == tokens[n_tok - n - 1]:
                n += 1
            if n > best:
                best, best_at = n, p
                if n == top:
                    break
        return tokens[best_at : best_at + k], best
