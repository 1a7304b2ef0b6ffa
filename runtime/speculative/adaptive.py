"""Adaptive draft length, per request: grow while every draft is accepted, shrink to what
was accepted (plus one) otherwise, and stop drafting for a while after repeated misses, so
a request whose text does not repeat costs (almost) nothing."""
from __future__ import annotations

from dataclasses import dataclass

MISSES_BEFORE_PAUSE = 2  # verify steps in a row with nothing accepted
MAX_PAUSE = 32  # decode steps without drafting, at most


@dataclass
class DraftLength:
    k: int  # the length to draft next
    misses: int = 0  # verify steps in a row with nothing accepted
    pause: int = 0  # decode steps left without drafting

    def next(self, cap: int) -> int:
        """How many tokens to draft now (0: do not draft this step)."""
        if self.pause > 0:
            self.pause -= 1
            return 0
        return max(0, min(self.k, cap))

    def update(self, drafted: int, accepted: int, max_k: int) -> None:
        if drafted == 0:
            return
        if accepted == drafted:
            self.k = min(max_k, self.k + 2)
        else:
            self.k = max(1, accepted + 1)
        if accepted == 0:
            self.misses += 1
            if self.misses >= MISSES_BEFORE_PAUSE:
                self.pause = min(MAX_PAUSE, 2 ** (self.misses - MISSES_BEFORE_PAUSE + 1))
        else:
            self.misses = 0
