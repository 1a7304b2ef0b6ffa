"""The per-request state over a `DFAGrammar`: a DFA state, EOS, and a history for rollback."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..base import GrammarMatcher
from ..errors import GrammarError


class DFAMatcher(GrammarMatcher):
    """Decoding state: the DFA state plus a history for rollback."""

    def __init__(self, g: Any):  # a DFAGrammar (not imported: it imports this module)
        self.g = g
        self.state = g.dfa.initial
        self.finished = False
        self.history: list[tuple[int, bool]] = []

    def _mask(self) -> torch.Tensor:
        return torch.from_numpy(self._mask_array())

    def _mask_array(self) -> np.ndarray:
        try:
            return self.g.mask_array(self.state)
        except GrammarError as e:  # the lazy DFA outgrew its state limit mid-request
            self.error = str(e)
            return self.g.eos_only.numpy()

    def allowed_tokens(self) -> torch.Tensor:
        if self.finished:
            return torch.zeros(self.g.vocab.size, dtype=torch.bool)
        return self._mask().clone()

    def fill_mask(self, out_row: torch.Tensor) -> None:
        if out_row.device.type == "cpu" and out_row.is_contiguous():
            row = out_row.numpy()  # numpy: a 1-D copy must not wake torch's thread pool
            if self.finished:
                row.fill(False)
            else:
                row[:] = self._mask_array()
        elif self.finished:
            out_row.fill_(False)
        else:
            out_row.copy_(self._mask(), non_blocking=True)

    def advance(self, token_id: int) -> bool:
        g = self.g
        if self.finished or not 0 <= token_id < g.vocab.size:
            return False
        if token_id in g.vocab.eos_ids:
            if not g.dfa.is_accepting(self.state):
                return False
            self.history.append((self.state, self.finished))
            self.finished = True
            return True
        if self.error or token_id >= len(g.token_bytes) or token_id in g.vocab.special_ids:
            return False
        data = g.token_bytes[token_id]
        if not data:
            return False
        try:
            nxt = g.dfa.walk(self.state, data)
        except GrammarError as e:
            self.error, nxt = str(e), -1
        if nxt < 0:
            return False
        self.history.append((self.state, self.finished))
        self.state = nxt
        return True

    def is_finished(self) -> bool:
        dfa = self.g.dfa
        if self.finished or self.error:
            return self.finished
        try:
            return dfa.is_accepting(self.state) and dfa.n_out(self.state) == 0
        except GrammarError as e:
            self.error = str(e)
            return False

    def copy(self) -> "DFAMatcher":
        m = DFAMatcher(self.g)
        m.state, m.finished, m.history = self.state, self.finished, list(self.history)
        m.error = self.error
        return m

    def rollback(self, n: int) -> None:
        if n < 0 or n > len(self.history):
            raise ValueError(f"cannot roll back {n} tokens (only {len(self.history)} advanced)")
        if n:
            self.state, self.finished = self.history[-n]
            del self.history[-n:]

    def jump_forward_bytes(self) -> bytes:
        if self.finished:
            return b""
        out, s, dfa = bytearray(), self.state, self.g.dfa
        try:
            while not dfa.is_accepting(s) and dfa.forced(s) >= 0 and len(out) < 65536:
                out.append(dfa.forced(s))
                s = dfa.step(s, out[-1])
        except GrammarError as e:
            self.error = str(e)
            return b""
        return bytes(out)
