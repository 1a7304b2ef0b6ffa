"""`CompiledGrammar` / `GrammarMatcher` implementations for context-free grammars."""
from __future__ import annotations

import threading

import numpy as np
import torch

from ..base import CompiledGrammar, GrammarMatcher
from ..errors import GrammarError
from ..masks.token_trie import trie_for
from ..regex.mask_worker import REUSED_AT, submit_weak
from ..vocab import Vocabulary
from .earley import EarleySet, Recognizer
from .ir import Cfg
from .mask import MaskBuilder

MAX_JUMP_BYTES = 4096


class CompiledCfg(CompiledGrammar):
    """A CFG compiled for one vocabulary; token walks per terminal state are cached here."""

    def __init__(self, cfg: Cfg, vocab: Vocabulary) -> None:
        self.cfg = cfg
        self.vocab = vocab
        self.rec = Recognizer(cfg)
        self._masks: MaskBuilder | None = None
        self._masks_lock = threading.Lock()  # a background precompute may build it too
        self._precomputed = threading.Event()
        self._deferred: float | None = None  # seconds of a background precompute not queued yet
        self._matchers = 0
        self._initial = self.rec.initial()

    @property
    def masks(self) -> MaskBuilder:
        if self._masks is None:  # the trie is only needed for masks, not for accepts()
            with self._masks_lock:
                if self._masks is None:
                    self._masks = MaskBuilder(self.rec, trie_for(self.vocab))
        return self._masks

    def precompute_masks(self, max_seconds: float) -> bool:
        """Compute the reachable context-independent mask parts now (see cfg.precompute), so
        first visits of parser states only combine cached parts; False if cut short."""
        from .precompute import precompute_locals
        try:
            return precompute_locals(self.masks, max_seconds)
        finally:
            self._precomputed.set()

    def wait_precomputed(self, timeout: float | None = None) -> bool:
        """Start a deferred background precompute and wait for it; whether a precompute has
        finished (or was skipped: the worker's queue was full)."""
        self._start_precompute()
        return self._precomputed.wait(timeout)

    def precompute_in_background(self, max_seconds: float) -> None:
        """Warm the mask parts on the background worker once the grammar is reused (its
        REUSED_AT-th matcher) or waited for; until then every part is computed on first use."""
        self._deferred = max_seconds

    def _start_precompute(self) -> None:
        with self._masks_lock:
            seconds, self._deferred = self._deferred, None
        if seconds is not None:
            submit_weak(self, lambda g: g.precompute_masks(seconds), lambda g: g._precomputed.set())

    def accepts(self, text: str) -> bool:
        sets = self.rec.run(self._initial, text.encode("utf-8"))
        return sets is not None and (sets[-1] if sets else self._initial[-1]).accepting

    def matcher(self) -> "CfgMatcher":
        self._matchers += 1
        if self._matchers == REUSED_AT:
            self._start_precompute()
        return CfgMatcher(self, list(self._initial), [], False)


class CfgMatcher(GrammarMatcher):
    """Chart of Earley sets plus a history of how many sets each token added (-1 = EOS)."""

    def __init__(self, grammar: CompiledCfg, chart: list[EarleySet], history: list[int],
                 finished: bool) -> None:
        self.grammar = grammar
        self.chart = chart
        self.history = history
        self.finished = finished

    def allowed_tokens(self) -> torch.Tensor:
        return torch.from_numpy(self._mask())

    def fill_mask(self, out_row: torch.Tensor) -> None:
        mask = self._mask()
        if out_row.device.type == "cpu" and out_row.is_contiguous():
            out_row.numpy()[:] = mask  # numpy: avoids torch's thread pool for a 1-D copy
        else:
            out_row.copy_(torch.from_numpy(mask), non_blocking=True)

    def _mask(self) -> np.ndarray:
        """Bool [vocab.size] mask built in numpy; all False once EOS was accepted, only EOS
        once `error` is set."""
        g = self.grammar
        mask = np.zeros(g.vocab.size, dtype=bool)
        if self.finished:
            return mask
        if not self.error:
            try:
                g.masks.fill(self.chart, mask)
            except GrammarError as e:  # a terminal's DFA outgrew its state limit
                self.error = str(e)
                mask[:] = False
        if self.chart[-1].accepting or self.error:
            mask[list(g.vocab.eos_ids)] = True
        return mask

    def advance(self, token_id: int) -> bool:
        if self.finished:
            return False
        vocab = self.grammar.vocab
        if token_id in vocab.eos_ids:
            if not self.chart[-1].accepting:
                return False
            self.finished = True
            self.history.append(-1)
            return True
        if not 0 <= token_id < len(vocab.token_bytes) or token_id in vocab.special_ids:
            return False
        data = vocab.token_bytes[token_id]
        if self.error or not data:
            return False
        try:
            sets = self.grammar.rec.run(self.chart, data)
        except GrammarError as e:  # a terminal's DFA outgrew its state limit
            self.error, sets = str(e), None
        if sets is None:
            return False
        self.chart.extend(sets)
        self.history.append(len(sets))
        return True

    def is_finished(self) -> bool:
        return self.finished or (self.chart[-1].accepting and not self.chart[-1].scans)

    def copy(self) -> "CfgMatcher":
        m = CfgMatcher(self.grammar, list(self.chart), list(self.history), self.finished)
        m.error = self.error
        return m

    def rollback(self, n: int) -> None:
        if n > len(self.history):
            raise ValueError(f"cannot roll back {n} tokens; only {len(self.history)} advanced")
        for _ in range(n):
            k = self.history.pop()
            if k < 0:
                self.finished = False
            elif k:
                del self.chart[-k:]

    def jump_forward_bytes(self) -> bytes:
        if self.finished or self.error:
            return b""
        rec, work, out = self.grammar.rec, list(self.chart), bytearray()
        while len(out) < MAX_JUMP_BYTES and not work[-1].accepting:
            allowed = rec.allowed_bytes(work[-1])
            if len(allowed) != 1:
                break
            (b,) = allowed
            try:
                es = rec.step(work, b)
            except GrammarError as e:  # a terminal's DFA outgrew its state limit
                self.error = str(e)
                return b""
            if es is None:
                break
            work.append(es)
            out.append(b)
        return bytes(out)
