"""Adaptive speculation. Per request (``DraftLength``): grow the draft while every draft is
accepted, shrink it otherwise (not below half the maximum: verifying a few tokens costs
about what verifying many does), and stop drafting for a while after repeated misses, so a
request whose text does not repeat costs (almost) nothing. For the engine (``CostGate``):
measured tokens per second with and without verification; speculation pauses when it
does not pay."""
from __future__ import annotations

from dataclasses import dataclass

MISSES_BEFORE_PAUSE = 1  # verify steps in a row with nothing accepted before drafting pauses
MAX_PAUSE = 8  # decode steps without drafting, at most (copying may start late)


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
        else:  # a verify of a few tokens costs about what one of many does: stay long
            self.k = max(accepted + 1, max_k // 2)
        if accepted == 0:
            self.misses += 1
            if self.misses >= MISSES_BEFORE_PAUSE:
                self.pause = min(MAX_PAUSE, 2 ** (self.misses - MISSES_BEFORE_PAUSE + 1))
        else:
            self.misses = 0


EMA = 0.2  # weight of the newest observation
OFF_STEPS = 64  # decode steps without speculation once it stopped paying, before probing again


@dataclass
class CostGate:
    """Speculation on the whole batch pays when a verify step yields more tokens per request
    per second than a plain decode step. Both rates are measured (exponential averages);
    when verifying is slower, speculation stops for ``OFF_STEPS`` decode steps, then one
    verify step probes again."""

    decode_rate: float = 0.0  # tokens per request per second, plain decode steps
    verify_rate: float = 0.0  # the same, verify steps (drafts + the token after them)
    off: int = 0

    def allows(self) -> bool:
        if self.off > 0:
            self.off -= 1
            return False
        return True

    def observe_decode(self, seconds: float) -> None:
        self.decode_rate = _ema(self.decode_rate, 1.0 / max(seconds, 1e-9))

    def observe_verify(self, tokens_per_request: float, seconds: float) -> None:
        self.verify_rate = _ema(self.verify_rate, tokens_per_request / max(seconds, 1e-9))
        if self.decode_rate and self.verify_rate < self.decode_rate:
            self.off = OFF_STEPS
            self.verify_rate = 0.0  # the probe after the pause starts afresh


def _ema(old: float, new: float) -> float:
    return new if old == 0.0 else (1 - EMA) * old + EMA * new
