"""NGRAM drafting (prompt lookup): continue the text the way it went the last time the
same suffix occurred in the request's own prompt + output. No second model."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def ngram_draft(tokens: list[int], k: int, min_window: int, max_window: int) -> list[int]:
    """Up to ``k`` tokens that followed the most recent earlier occurrence of the longest
    suffix of ``tokens`` (``max_window`` down to ``min_window`` tokens) that occurred before."""
    return ngram_lookup(tokens, k, min_window, max_window)[0]


def ngram_lookup(tokens: list[int], k: int, min_window: int, max_window: int) -> tuple[list[int], int]:
    """``ngram_draft``'s draft and the length of the suffix it matched (0: no match).

    One pass over the text: every earlier occurrence of the shortest suffix is found at once
    (a longer match contains it), then the candidates are extended backwards a token at a
    time, so a step without any match costs one comparison of the text, not one per window."""
    n_tok = len(tokens)
    if k <= 0 or n_tok < min_window + 1:
        return [], 0
    arr = np.asarray(tokens, dtype=np.int64)  # [L]
    windows = sliding_window_view(arr[:-1], min_window)  # [L - n, n]: every window that has a successor
    ends = np.flatnonzero((windows == arr[-min_window:]).all(axis=1)) + min_window  # successor of each hit
    if not ends.size:
        return [], 0
    length = np.full(ends.shape, min_window)
    alive = np.ones(ends.shape, dtype=bool)
    for n in range(min_window + 1, min(max_window, n_tok - 1) + 1):
        starts = ends - n
        alive &= starts >= 0
        alive[alive] = arr[starts[alive]] == arr[n_tok - n]
        if not alive.any():
            break
        length[alive] = n
    best = int(length.max())
    start = int(ends[length == best].max())  # the longest match, most recent first
    return arr[start : start + k].tolist(), best


def ngram_lookup_reference(tokens: list[int], k: int, min_window: int, max_window: int) -> tuple[list[int], int]:
    """The plain twin of ``ngram_lookup`` (pure Python loops), for the parity test."""
    if k <= 0:
        return [], 0
    for n in range(min(max_window, len(tokens) - 1), min_window - 1, -1):
        suffix = tokens[-n:]
        for i in range(len(tokens) - n - 1, -1, -1):
            if tokens[i : i + n] == suffix:
                return tokens[i + n : i + n + k], n
    return [], 0
