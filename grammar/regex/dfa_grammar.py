"""A CompiledGrammar over a lazily built byte DFA: each state's token mask is a trie walk
on first visit; a background worker may complete the DFA and precompute every mask in a
batch (within a budget), cached in memory and on disk."""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

from ..base import CompiledGrammar
from ..masks.dfa_masks_batch import precompute_masks
from ..masks.token_masks import dfa_token_mask
from ..masks.token_trie import TokenTrie
from ..vocab import Vocabulary
from .byte_dfa import ByteDFA
from .lazy_dfa import LazyDFA
from .dfa_matcher import DFAMatcher
from .mask_worker import REUSED_AT, submit_weak

CACHE_VERSION = "3"
PRECOMPUTE_STATES = 4096  # DFAs up to this many states get every mask precomputed...
PRECOMPUTE_SECONDS = 1.5  # ...unless that takes longer: states left over stay lazy
WAIT_SECONDS = 0.05  # how long a mask waits for the background worker's next chunk
EXPAND_CHUNK = 64  # states the worker builds per lock hold while completing the DFA


def cache_key(kind: str, source: str, vocab: Vocabulary) -> str:
    """Stable key of (grammar source, vocabulary)."""
    return hashlib.sha256(f"{CACHE_VERSION}\0{kind}\0{source}\0{vocab.hash}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


class DFAGrammar(CompiledGrammar):
    """Regular language over a `LazyDFA` (a complete `ByteDFA` is wrapped as one).

    A state's mask is computed on its first visit (`dfa_token_mask`, a vectorized trie walk
    that builds the DFA states it steps through; also the reference twin). Compiling costs
    only the regex's NFA, so a grammar is ready in milliseconds. Unless `precompute_states`
    (default PRECOMPUTE_STATES) is 0, the DFA is then completed (when it has at most that many states) and the masks of
    states 0 .. k-1 computed together (`precompute_masks`, batched; k = all states unless it
    runs past PRECOMPUTE_SECONDS): in the foreground, or with `background=True` on one shared
    worker thread once the grammar is reused (its REUSED_AT-th matcher), published chunk by
    chunk. They are kept bit-packed, one row per distinct
    mask, and saved with the DFA to `cache_dir` (`dfa.npz`, `masks.npz`): a complete DFA has
    stable state numbers, so a later compile loads both (`wait_precomputed` waits for them).
    """

    def __init__(self, dfa: LazyDFA | ByteDFA, vocab: Vocabulary, trie: TokenTrie,
                 cache_dir: Path | None = None, precompute_states: int | None = None,
                 background: bool = False):
        if isinstance(dfa, ByteDFA):
            dfa = LazyDFA.from_dfa(dfa)
        self.dfa, self.vocab, self.trie, self.cache_dir = dfa, vocab, trie, cache_dir
        if precompute_states is None:
            precompute_states = PRECOMPUTE_STATES
        self._masks: dict[int, np.ndarray] = {}
        self._shared: dict[tuple[bool, int, bool], np.ndarray] = {}  # (final, row, accepting)
        self.eos = torch.tensor(sorted(vocab.eos_ids), dtype=torch.long)
        self.eos_only = torch.zeros(vocab.size, dtype=torch.bool)  # a matcher's mask after an error
        self.eos_only[self.eos] = True
        self.token_bytes = vocab.token_bytes
        nbytes = (self.vocab.size + 7) // 8
        # (rows, row_of, final): partial (not final) publications have one row per state
        self._pre = (np.zeros((0, nbytes), dtype=np.uint8), np.zeros(0, np.int32), True)
        self._ready = threading.Event()
        self._published = threading.Condition()
        self._max_states = precompute_states
        loaded = self._load_precomputed() if dfa.complete else None
        if loaded is not None or precompute_states <= 0:
            self._pre = (*loaded, True) if loaded else self._pre
            self._ready.set()
        elif not background:
            self._precompute(precompute_states)
        self._matchers, self._queued = 0, self._ready.is_set()

    def start_precompute(self) -> None:
        """Queue the background precompute (once; `background=True`). `matcher` calls this
        when the grammar is reused (REUSED_AT), `wait_precomputed` at once."""
        with self._published:
            if self._queued:
                return
            self._queued = True
        submit_weak(self, lambda g: g._precompute(g._max_states, True), lambda g: g._ready.set())

    @property
    def _rows(self) -> np.ndarray:
        return self._pre[0]

    @property
    def _row_of(self) -> np.ndarray:
        return self._pre[1]

    def _wait_for(self, state: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """Wait (at most WAIT_SECONDS) for the worker to publish `state`'s chunk: once it
        publishes, it is usually close behind, and far cheaper per state than a walk."""
        deadline = time.perf_counter() + WAIT_SECONDS
        with self._published:
            while len(self._pre[1]) <= state and not self._ready.is_set():
                left = deadline - time.perf_counter()
                if left <= 0 or not self._published.wait(left):
                    break
            return self._pre

    def wait_precomputed(self, timeout: float | None = None) -> bool:
        """Start the (background) precompute if not yet started and wait for it; whether it
        has finished."""
        self.start_precompute()
        return self._ready.wait(timeout)

    def accepts(self, text: str) -> bool:
        return self.dfa.accepts(text)

    def matcher(self) -> DFAMatcher:
        self._matchers += 1
        if self._matchers == REUSED_AT:
            self.start_precompute()
        return DFAMatcher(self)

    def mask(self, state: int) -> torch.Tensor:
        """bool [vocab.size] for `state`, EOS included where accepting (shared; do not mutate)."""
        return torch.from_numpy(self.mask_array(state))

    def mask_array(self, state: int) -> np.ndarray:
        """`mask` as the numpy array it is kept as: numpy arrays are not tracked by Python's
        garbage collector, tensors are (thousands of cached masks made each full collection
        a long pause)."""
        m = self._masks.get(state)
        if m is None:
            rows, row_of, final = self._pre  # one read: the worker swaps it in whole
            if len(row_of) <= state < self._max_states and len(row_of) and not self._ready.is_set():
                rows, row_of, final = self._wait_for(state)  # the worker is publishing
            if state < len(row_of):  # row numbers differ before and after the final dedup
                key = (final, int(row_of[state]), self.dfa.is_accepting(state))
                m = self._shared.get(key)
                if m is None:
                    bits = np.unpackbits(rows[key[1]], count=self.vocab.size).view(bool)
                    m = self._shared[key] = self._with_eos(bits, state)
            else:
                m = self._with_eos(dfa_token_mask(self.trie, self.dfa, state), state)
            self._masks[state] = m
        return m

    def _with_eos(self, m: np.ndarray, state: int) -> np.ndarray:
        if self.dfa.is_accepting(state) and len(self.eos):
            m[self.eos.numpy()] = True
        return m

    def _load_precomputed(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(distinct packed masks uint8 [rows, ceil(size / 8)], row of each state int32 [k])
        from the disk cache, or None."""
        p = None if self.cache_dir is None else self.cache_dir / "masks.npz"
        if p is None or not p.exists():
            return None
        try:
            with np.load(p) as z:
                rows, row_of = z["rows"], z["row_of"]
            if rows.shape[1:] == ((self.vocab.size + 7) // 8,) and len(row_of) <= self.dfa.num_states:
                return rows, row_of
        except (OSError, ValueError, KeyError):
            pass
        return None

    def _publish(self, out: np.ndarray, k: int) -> None:
        """Rows 0..k-1 of the running precompute are final: serve them (one row each) and
        wake a `mask` call waiting for its state."""
        with self._published:
            self._pre = (out, np.arange(k, dtype=np.int32), False)
            self._published.notify_all()

    def _complete(self, max_states: int, deadline: float) -> bool:
        """Build every state of the DFA; False (left lazy) past `max_states` or `deadline`."""
        while not self.dfa.complete:
            if self.dfa.num_states > max_states:
                return False
            self.dfa.expand_next(EXPAND_CHUNK)
            if time.perf_counter() > deadline and not self.dfa.complete:
                return False
        return self.dfa.num_states <= max_states

    def _precompute(self, max_states: int, quiet: bool = False) -> None:
        """Complete the DFA, compute (and save) the masks of the first states within the
        budget, then publish them; `quiet` (the background worker): on a failure every
        state stays lazy."""
        try:
            t0 = time.perf_counter()
            if not self._complete(max_states, t0 + PRECOMPUTE_SECONDS):
                return
            dfa = self.dfa.snapshot()
            left = max(0.0, PRECOMPUTE_SECONDS - (time.perf_counter() - t0))
            packed = precompute_masks(self.trie, dfa.trans, max_states, left,
                                      self._publish if quiet else None)
            keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
            _, first, row_of = np.unique(keys, return_index=True, return_inverse=True)
            rows, row_of = packed[first], row_of.astype(np.int32).reshape(-1)
            self._pre = (rows, row_of, True)
            if self.cache_dir is not None and len(row_of):
                try:  # the DFA first: masks are only read beside a DFA
                    save_atomic(self.cache_dir / "dfa.npz", {"trans": dfa.trans, "accepting": dfa.accepting})
                    save_atomic(self.cache_dir / "masks.npz", {"rows": rows, "row_of": row_of})
                except OSError:
                    pass  # the disk cache is an optimization only
        except Exception:  # noqa: BLE001 - lazy masks are always correct
            if not quiet:
                raise
        finally:
            with self._published:
                self._ready.set()
                self._published.notify_all()


def save_atomic(path: Path, array: np.ndarray | dict) -> None:
    """Write an .npy (array) or .npz (dict) file so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    with os.fdopen(fd, "wb") as f:
        if isinstance(array, dict):
            np.savez(f, **array)
        else:
            np.save(f, array)
    os.replace(tmp, path)
