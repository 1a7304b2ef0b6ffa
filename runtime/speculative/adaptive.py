"""Adaptive speculation: how many tokens to draft for each request in a step.

Each request keeps an estimate of the chance that its next drafted token is accepted
(``Acceptance``: decayed counts of accepted and rejected draft tokens that drift back to a
prior while it does not draft, so a request whose text starts repeating is probed again),
one per draft key (``KeyedAcceptance``): NGRAM keys a draft by the length of the suffix it
matched, which predicts acceptance strongly (measured on the default model, copy and chat
prompts: 0.28 of tokens drafted after a 3-token match, 0.84 after an 8-token one). A
request's estimate for a key starts from the engine-wide estimate for that key.
The engine measures what a forward costs by the number of tokens in it (``StepCost``: plain
decode steps are the one-token-per-request points, verify steps the longer ones, and the
drafter's own time per drafted token); forwards of two rows or more are read off a robust
line through the median recent time of each row count, weighted by how often it was seen, so
one slow step at a rarely tried length (a hiccup of the machine) does not rule that length
out for good, and lengths not tried yet are priced by the slope. ``plan_drafts`` picks the draft lengths that give
the whole batch the most expected tokens per second: a request with acceptance p expects
p**j tokens from its j-th drafted token, so the best plan that drafts n tokens takes the n
largest of those, and the best n is found by trying each (n = 0 is plain decoding). Where
verifying k tokens costs about one step (memory-bound decode), it drafts long; where the
cost grows with k (compute-bound GEMMs), it drafts what pays, and nothing when nothing does.
"""
from __future__ import annotations

import bisect
import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

PRIOR_ACCEPT, PRIOR_WEIGHT = 0.6, 1.0  # the acceptance assumed before evidence, and its weight
DECAY = 0.8  # weight of the earlier verify steps at each new one
SHARED_DECAY = 0.98  # the same for the engine-wide estimates, which every request feeds
DRIFT = 0.98  # per step without drafting, the evidence shrinks toward the prior (a re-probe every ~30 steps after misses)
EMA = 0.2  # weight of the newest cost observation
RECENT = 16  # forwards kept per row count for the line through their medians
REFIT_EVERY = 8  # observations between refits of that line


@dataclass
class Acceptance:
    """A request's per-token draft acceptance: a draft of k tokens that keeps a of them is a
    successes and (if a < k) one failure, the maximum-likelihood view of a chain."""

    accepted: float = 0.0
    rejected: float = 0.0
    decay: float = DECAY

    def p(self, prior: float = PRIOR_ACCEPT) -> float:
        return (self.accepted + prior * PRIOR_WEIGHT) / (self.accepted + self.rejected + PRIOR_WEIGHT)

    def update(self, drafted: int, accepted: int) -> None:
        if drafted == 0:
            return
        self.accepted = self.decay * self.accepted + accepted
        self.rejected = self.decay * self.rejected + (1.0 if accepted < drafted else 0.0)

    def idle(self) -> None:
        """A step without a draft for this request."""
        self.accepted *= DRIFT
        self.rejected *= DRIFT


@dataclass
class KeyedAcceptance:
    """A request's ``Acceptance`` per draft key, each with the engine-wide one for that key
    (shared by every request: ``shared``) as its prior."""

    shared: dict[int, Acceptance]
    own: dict[int, Acceptance] = field(default_factory=dict)

    def p(self, key: int) -> float:
        prior = self.shared[key].p() if key in self.shared else PRIOR_ACCEPT
        return self.own[key].p(prior) if key in self.own else prior

    def update(self, key: int, drafted: int, accepted: int) -> None:
        self.own.setdefault(key, Acceptance()).update(drafted, accepted)
        self.shared.setdefault(key, Acceptance(decay=SHARED_DECAY)).update(drafted, accepted)

    def idle(self) -> None:
        for a in self.own.values():
            a.idle()


def _weighted_median(pairs: list[tuple[float, float]]) -> float:
    """The value at which half the weight of (value, weight) pairs lies below."""
    pairs = sorted(pairs)
    half, seen = sum(w for _, w in pairs) / 2, 0.0
    for value, w in pairs:
        seen += w
        if seen >= half:
            return value
    return pairs[-1][0]


def _ema(old: float | None, new: float) -> float:
    return new if old is None else (1 - EMA) * old + EMA * new


@dataclass
class StepCost:
    """Measured seconds of a forward by its number of token rows, and the drafter's seconds
    per drafted token. One row: an exponential average. Two rows or more: a line through
    each row count's median of its last ``RECENT`` times (``_refit``) once two row counts
    are known; before that, the averages."""

    seconds: dict[int, float] = field(default_factory=dict)
    draft_per_token: float | None = None
    _rows: list[int] = field(default_factory=list)  # the keys of ``seconds``, sorted
    _recent: dict[int, deque] = field(default_factory=dict)  # rows >= 2 -> last RECENT seconds
    _line: tuple[float, float] | None = None  # (intercept, seconds per row) for rows >= 2
    _since_fit: int = 0

    def observe(self, rows: int, seconds: float) -> None:
        if rows not in self.seconds:
            bisect.insort(self._rows, rows)
        self.seconds[rows] = _ema(self.seconds.get(rows), seconds)
        if rows >= 2:
            self._recent.setdefault(rows, deque(maxlen=RECENT)).append(seconds)
            self._since_fit += 1
            if self._line is None or self._since_fit >= REFIT_EVERY:
                self._refit()

    def _refit(self) -> None:
        """Theil-Sen over the row counts' medians: the weighted median of the pairwise slopes
        (weight: the two counts' products), then the weighted median intercept; a row count
        seen once cannot tilt the line the way least squares lets it."""
        self._since_fit = 0
        points = [(r, statistics.median(ts), len(ts)) for r, ts in self._recent.items()]
        if len(points) < 2:
            return
        slopes = [((t2 - t1) / (r2 - r1), w1 * w2) for i, (r1, t1, w1) in enumerate(points) for r2, t2, w2 in points[i + 1 :]]
        slope = max(0.0, _weighted_median(slopes))
        self._line = (_weighted_median([(t - slope * r, w) for r, t, w in points]), slope)

    def observe_draft(self, tokens: int, seconds: float) -> None:
        if tokens > 0:
            self.draft_per_token = _ema(self.draft_per_token, seconds / tokens)

    def forward(self, rows: int) -> float:
        """The line for two rows or more once fitted, never below one row's time; else
        interpolated between measured row counts, beyond the largest the largest's cost
        (optimistic, so a longer verify is tried once and then known); 1.0 before any."""
        if not self.seconds:
            return 1.0
        if rows >= 2 and self._line is not None:
            intercept, slope = self._line
            return max(intercept + slope * rows, self.seconds.get(1, 0.0))
        keys = self._rows
        i = bisect.bisect_left(keys, rows)
        if i < len(keys) and keys[i] == rows:
            return self.seconds[rows]
        if i == 0:
            return self.seconds[keys[0]]
        if i == len(keys):
            return self.seconds[keys[-1]]
        lo, hi = keys[i - 1], keys[i]
        t = (rows - lo) / (hi - lo)
        return (1 - t) * self.seconds[lo] + t * self.seconds[hi]

    def step(self, batch: int, drafted: int) -> float:
        """A step of ``batch`` requests with ``drafted`` draft tokens in all."""
        return self.forward(batch + drafted) + drafted * (self.draft_per_token or 0.0)


def plan_drafts(ps: list[float], caps: list[int], cost: Callable[[int, int], float], max_drafted: int | None = None) -> list[int]:
    """Draft lengths for a batch (``ps`` acceptance, ``caps`` most tokens each may draft) that
    maximize expected tokens per second, ``cost(batch, drafted)`` the seconds of a step;
    at most ``max_drafted`` tokens in all (None: no limit)."""
    batch = len(ps)
    gains = sorted(((p**j, i) for i, (p, cap) in enumerate(zip(ps, caps)) for j in range(1, cap + 1)), reverse=True)
    if max_drafted is not None:
        gains = gains[: max(0, max_drafted)]
    best_n, best_rate, expected = 0, batch / cost(batch, 0), float(batch)
    for n, (gain, _) in enumerate(gains, start=1):
        expected += gain
        rate = expected / cost(batch, n)
        if rate > best_rate:
            best_n, best_rate = n, rate
    ks = [0] * batch
    for _, i in gains[:best_n]:
        ks[i] += 1
    return ks
