"""Admission: which requests get KV and compute this step, and how much of them.

An extend step continues the chunked prefills in flight, then admits waiting requests in
policy order while the per-step token budget, the running-request cap, free table rows and
KV memory allow (memory: what running requests still need, at ``new_token_ratio`` of their
remaining ``max_new_tokens``, plus the newcomer). A decode step needs one slot per decoding
request; when there are none even after eviction, the newest request is retracted (its KV
handed to the cache, itself requeued) and resumes later by recomputation.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from ..config import EngineConfig
from ..io_struct import FinishReason
from ..mem.cache_manager import KVCacheManager
from ..mem.kv_pool import ReqToTokenTable
from .batch_builder import ExtendPlan, plan_logits
from .grammar_hook import GrammarHook
from .jump_forward import jump_forward_at_start, may_jump_forward
from .policy import SHARED_PREFIX_HOLD_BACK, shared_uncached_prefix
from .request import Req, ReqState
from .stats import SchedulerStats

log = logging.getLogger(__name__)

INIT_NEW_TOKEN_RATIO = 0.7  # share of max_new_tokens reserved for running requests
MIN_NEW_TOKEN_RATIO = 0.1
NEW_TOKEN_RATIO_DECAY = 0.002  # per decode step

Finish = Callable[[Req, FinishReason], None]


@dataclass
class ScheduledBatch:
    """What one step computes: prefill chunks, or one new token for each decoding request."""

    extend: list[ExtendPlan] = field(default_factory=list)
    decode: list[Req] = field(default_factory=list)
    decode_slots: torch.Tensor | None = None  # [len(decode)] fresh KV slots


class Admission:
    """Owns the waiting and running lists and every request's table row and KV."""

    def __init__(self, config: EngineConfig, kv: KVCacheManager, table: ReqToTokenTable, grammar: GrammarHook,
                 tokenizer: Any, order: Callable, stats: SchedulerStats, finish: Finish) -> None:
        self.config, self.kv, self.table, self.grammar = config, kv, table, grammar
        self.tokenizer, self.order, self.stats, self.finish = tokenizer, order, stats, finish
        self.waiting: list[Req] = []
        self.running: list[Req] = []
        self.new_token_ratio = INIT_NEW_TOKEN_RATIO
        self.on_leave: Callable[[Req], None] | None = None  # told of every request that leaves

    def schedule(self) -> ScheduledBatch | None:
        plans = self._schedule_extend()
        if plans:
            return ScheduledBatch(extend=plans)
        if any(r.decoding for r in self.running):
            return self._schedule_decode()
        return None

    # -- extend ---------------------------------------------------------------------------

    def _schedule_extend(self) -> list[ExtendPlan]:
        budget = self.config.max_prefill_tokens
        plans: list[ExtendPlan] = []
        for req in [r for r in self.running if not r.decoding]:  # chunked prefills in flight
            plan = self._plan_chunk(req, budget)
            if plan is None:
                return plans
            plans.append(plan)
            budget -= plan.length
        ready = [r for r in self.waiting if self.grammar.ready(r, self._finish_waiting)]
        for req in ready:
            if not req.start_jump_checked and may_jump_forward(req, self.config):
                req.start_jump_checked = True
                self.stats.jump_forward_tokens += jump_forward_at_start(req, self.tokenizer)
        for req in self.order(ready, self.kv.cache) if ready else []:
            if budget <= 0 or len(self.running) >= self.config.max_running_requests or not self.table.available():
                break
            if self._held_back(req, plans):
                continue
            if not self._admit(req, bool(plans)):
                break
            plan = self._plan_chunk(req, budget)
            if plan is None:
                self.requeue(req)
                break
            plans.append(plan)
            budget -= plan.length
        return plans

    def _reserved_tokens(self) -> int:
        """KV slots that running requests will still need (prefill rest + expected decode)."""
        total = 0
        for r in self.running:
            total += len(r.all_ids) - r.kv_len + math.ceil(r.remaining_new_tokens() * self.new_token_ratio)
        return total

    def _held_back(self, req: Req, plans: list[ExtendPlan]) -> bool:
        """Wait a step when an uncached prefix is shared with a request prefilled now."""
        if not self.kv.shares_prefixes:
            return False
        cached = len(self.kv.match(req.all_ids[: req.max_prefix_match()]).slots)
        return any(shared_uncached_prefix(req.all_ids, p.req.all_ids, cached) >= SHARED_PREFIX_HOLD_BACK for p in plans)

    def _admit(self, req: Req, batch_nonempty: bool) -> bool:
        match = self.kv.match(req.all_ids[: req.max_prefix_match()])
        self.kv.cache.lock(match.handle)
        need = len(req.all_ids) - len(match.slots) + math.ceil(req.remaining_new_tokens() * self.new_token_ratio)
        if (self.running or batch_nonempty) and self._reserved_tokens() + need > self.kv.free_size():
            self.kv.cache.unlock(match.handle)
            return False
        req.row = self.table.alloc()
        n = len(match.slots)
        self.table.table[req.row, :n] = match.slots
        req.kv_len, req.owned_from, req.cache_handle = n, n, match.handle
        req.cached_tokens = max(req.cached_tokens, min(n, len(req.origin_input_ids)))
        req.state = ReqState.RUNNING
        self.waiting.remove(req)
        self.running.append(req)
        self.stats.prompt_tokens_cached += n
        return True

    def _plan_chunk(self, req: Req, budget: int) -> ExtendPlan | None:
        length = min(len(req.all_ids) - req.kv_len, self.config.chunked_prefill_size, budget)
        if length <= 0:
            return None
        slots = self.kv.alloc(length)
        if slots is None:
            return None
        plan = ExtendPlan(req, req.kv_len, length, slots)
        plan_logits(plan)
        return plan

    # -- decode ---------------------------------------------------------------------------

    def _schedule_decode(self) -> ScheduledBatch | None:
        self.new_token_ratio = max(MIN_NEW_TOKEN_RATIO, self.new_token_ratio - NEW_TOKEN_RATIO_DECAY)
        reqs = [r for r in self.running if r.decoding]
        slots = self.kv.alloc(len(reqs))
        while slots is None:
            victim = max(reqs, key=lambda r: r.arrival)
            if len(reqs) == 1 and len(self.running) == 1:
                self.leave(victim)
                self.finish(victim, FinishReason("abort", message="out of KV memory for a single request"))
                return None
            self.retract(victim)
            reqs = [r for r in self.running if r.decoding]
            if not reqs:
                return None
            slots = self.kv.alloc(len(reqs))
        return ScheduledBatch(decode=reqs, decode_slots=slots)

    # -- leaving --------------------------------------------------------------------------

    def cache_chunk(self, req: Req) -> None:
        """After a prefill chunk: the cache takes the new KV; the row points at its slots."""
        slots, req.cache_handle, req.owned_from = self.kv.cache_unfinished(
            req.all_ids[: req.kv_len], self.table.table[req.row, : req.kv_len].clone(), req.owned_from, req.cache_handle
        )
        self.table.table[req.row, : len(slots)] = slots

    def leave(self, req: Req) -> None:
        """A running request stops: its computed KV goes to the prefix cache, its row back."""
        kv = self.table.table[req.row, : req.kv_len].clone()
        self.kv.cache_finished(req.all_ids[: req.kv_len], kv, req.owned_from, req.cache_handle)
        self.table.free(req.row)
        req.row, req.kv_len, req.owned_from, req.cache_handle, req.decoding = None, 0, 0, None, False
        self.running.remove(req)
        if self.on_leave is not None:
            self.on_leave(req)

    def requeue(self, req: Req) -> None:
        self.leave(req)
        req.state = ReqState.WAITING
        self.waiting.insert(0, req)

    def retract(self, req: Req) -> None:
        """Free a running request's KV and put it back at the head of the queue."""
        self.requeue(req)
        req.retractions += 1
        self.stats.retractions += 1
        self.new_token_ratio = min(1.0, self.new_token_ratio + 0.1)
        log.info("retracted request %s (%d tokens so far)", req.rid, len(req.all_ids))

    def _finish_waiting(self, req: Req, reason: FinishReason) -> None:
        self.waiting.remove(req)
        self.finish(req, reason)
