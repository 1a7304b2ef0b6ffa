"""The scheduler loop: schedule -> run -> sample -> postprocess, one step at a time.

Requests join and leave at every step. A step is either an extend (prefill; long prompts
in chunks, under a per-step token budget) or a decode of every running request. When KV
memory runs out, the prefix cache is evicted first, then running requests are retracted
(their KV handed to the cache, themselves requeued) and resume by recomputation.
"""
from __future__ import annotations

import logging
import math
from typing import Any

import torch

from ..config import EngineConfig
from ..io_struct import FinishReason, TokenizedRequest, TokenOutput
from ..mem.prefix_cache import NoPrefixCache, PrefixCache
from ..model_loader.resolve import resolve_model
from ..model_runner import ModelRunner
from ..sampling.logprobs import token_logprobs
from ..sampling.sampler import Sampler, SampleInput
from ..tokenizer import load_tokenizer
from .batch_builder import ExtendPlan, build_decode, build_extend, plan_logits
from .finish import FinishChecker
from .grammar_hook import GrammarHook
from .jump_forward import jump_forward_at_start, try_jump_forward
from .policy import POLICIES, SHARED_PREFIX_HOLD_BACK, shared_uncached_prefix
from .request import Req, ReqState
from .stats import SchedulerStats

log = logging.getLogger(__name__)

INIT_NEW_TOKEN_RATIO = 0.7  # share of max_new_tokens reserved for running requests
MIN_NEW_TOKEN_RATIO = 0.1
NEW_TOKEN_RATIO_DECAY = 0.002  # per decode step


def make_prefix_cache(config: EngineConfig, runner: ModelRunner) -> PrefixCache:
    if config.disable_radix_cache:
        return NoPrefixCache(runner.allocator)
    from ..mem.radix_cache import RadixCache

    return RadixCache(runner.allocator)


class Scheduler:
    def __init__(self, config: EngineConfig, tokenizer: Any = None) -> None:
        self.config = config
        self.source = resolve_model(config.model_path)
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(self.source, config.tokenizer_path)
        self.runner = ModelRunner(config, self.source)
        self.device = self.runner.device
        self.table = self.runner.req_table
        self.allocator = self.runner.allocator
        self.cache = make_prefix_cache(config, self.runner)
        self.order = POLICIES["fcfs" if config.disable_radix_cache and config.schedule_policy == "lpm" else config.schedule_policy]
        self.sampler = Sampler(config.random_seed)
        eos = set(self.runner.model_config.eos_token_ids)
        if getattr(self.tokenizer, "eos_token_id", None) is not None:
            eos.add(self.tokenizer.eos_token_id)
        self.eos_ids = eos
        self.finish = FinishChecker(self.tokenizer, eos)
        self.special_ids = set(getattr(self.tokenizer, "all_special_ids", [])) | eos
        self.grammar = GrammarHook(config, self.tokenizer, self.runner.vocab_size, eos)
        self.waiting: list[Req] = []
        self.running: list[Req] = []
        self._outbox: list[TokenOutput] = []
        self._arrivals = 0
        self.new_token_ratio = INIT_NEW_TOKEN_RATIO
        self.stats = SchedulerStats()

    # -- public API -----------------------------------------------------------------------

    @property
    def context_length(self) -> int:
        return self.runner.context_length

    @property
    def max_total_tokens(self) -> int:
        return self.allocator.size

    def add_request(self, treq: TokenizedRequest) -> None:
        self._arrivals += 1
        req = Req.from_tokenized(treq, self._arrivals)
        problem = self.grammar.start(req) or self._length_problem(req)
        if problem:
            self._finish(req, FinishReason("abort", message=problem))
            return
        self.waiting.append(req)
        self.stats.requests += 1

    def abort(self, rid: str) -> None:
        for req in [r for r in self.waiting + self.running if r.rid == rid]:
            if req.state is ReqState.RUNNING:
                self._release(req)
                self.running.remove(req)
            else:
                self.waiting.remove(req)
            self._finish(req, FinishReason("abort", message="aborted"))

    def has_work(self) -> bool:
        return bool(self.waiting or self.running or self._outbox)

    def flush_cache(self) -> bool:
        if self.running or self.waiting:
            return False
        self.cache.flush()
        return True

    def step(self) -> list[TokenOutput]:
        """One scheduling step; returns the outputs it produced (possibly none)."""
        plans = self._schedule_extend()
        if plans:
            self._run_extend(plans)
        elif any(r.decoding for r in self.running):
            self._run_decode()
        out, self._outbox = self._outbox, []
        return out

    # -- admission ------------------------------------------------------------------------

    def _length_problem(self, req: Req) -> str | None:
        n, new = len(req.origin_input_ids), req.sp.max_new_tokens
        if n == 0:
            return "the prompt is empty"
        limit = min(self.context_length, self.max_total_tokens)
        if n + new > limit:
            return (
                f"the prompt has {n} tokens and max_new_tokens is {new}, together more than the "
                f"{limit} tokens this engine can hold for one request (context length {self.context_length}, "
                f"KV pool {self.max_total_tokens})"
            )
        return None

    def _reserved_tokens(self) -> int:
        """KV slots that running requests will still need (prefill rest + expected decode)."""
        total = 0
        for r in self.running:
            total += len(r.all_ids) - r.kv_len + math.ceil(r.remaining_new_tokens() * self.new_token_ratio)
        return total

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
            if not req.start_jump_checked and self._may_jump_forward(req):
                req.start_jump_checked = True
                self.stats.jump_forward_tokens += jump_forward_at_start(req, self.tokenizer)
        for req in self.order(ready, self.cache) if ready else []:
            if budget <= 0 or len(self.running) >= self.config.max_running_requests or not self.table.available():
                break
            if self._held_back(req, plans):
                continue
            if not self._admit(req, budget, bool(plans)):
                break
            plan = self._plan_chunk(req, budget)
            if plan is None:
                self._requeue(req)
                break
            plans.append(plan)
            budget -= plan.length
        return plans

    def _held_back(self, req: Req, plans: list[ExtendPlan]) -> bool:
        if isinstance(self.cache, NoPrefixCache):
            return False
        cached = len(self.cache.match_prefix(req.all_ids[: req.max_prefix_match()]).slots)
        return any(shared_uncached_prefix(req.all_ids, p.req.all_ids, cached) >= SHARED_PREFIX_HOLD_BACK for p in plans)

    def _admit(self, req: Req, budget: int, batch_nonempty: bool) -> bool:
        match = self.cache.match_prefix(req.all_ids[: req.max_prefix_match()])
        self.cache.lock(match.handle)
        need = len(req.all_ids) - len(match.slots) + math.ceil(req.remaining_new_tokens() * self.new_token_ratio)
        free = self.allocator.available_size() + self.cache.evictable_size()
        if (self.running or batch_nonempty) and self._reserved_tokens() + need > free:
            self.cache.unlock(match.handle)
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
        slots = self._alloc(length)
        if slots is None:
            return None
        plan = ExtendPlan(req, req.kv_len, length, slots)
        plan_logits(plan)
        return plan

    def _alloc(self, n: int) -> torch.Tensor | None:
        slots = self.allocator.alloc(n)
        if slots is None:
            self.stats.evicted_tokens += self.cache.evict(n - self.allocator.available_size())
            slots = self.allocator.alloc(n)
        return slots

    # -- running --------------------------------------------------------------------------

    def _run_extend(self, plans: list[ExtendPlan]) -> None:
        batch, ranges = build_extend(plans, self.table.table, self.device)
        logits = self.runner.forward(batch)
        self.stats.prefill_tokens += int(batch.input_ids.numel())
        samplers: list[tuple[Req, int]] = []
        for plan, (first, count) in zip(plans, ranges):
            req = plan.req
            req.kv_len += plan.length
            self.stats.prompt_tokens += plan.length if not req.output_ids else 0
            slots, req.cache_handle, req.owned_from = self.cache.cache_unfinished(
                req.all_ids[: req.kv_len], self.table.table[req.row, : req.kv_len].clone(), req.owned_from, req.cache_handle
            )
            self.table.table[req.row, : len(slots)] = slots
            if req.wants_prompt_logprobs and not req.output_ids:
                req.add_prompt_logprobs(plan.start, plan.prompt_logprob_positions, logits[first : first + len(plan.prompt_logprob_positions)])
            if plan.samples_next:
                req.decoding = True
                if req.remaining_new_tokens() == 0:
                    self._complete(req, FinishReason("length"))
                else:
                    samplers.append((req, first + count - 1))
        if samplers:
            rows = torch.tensor([i for _, i in samplers], dtype=torch.int64, device=logits.device)
            self._sample_and_advance([r for r, _ in samplers], logits[rows])

    def _run_decode(self) -> None:
        self.new_token_ratio = max(MIN_NEW_TOKEN_RATIO, self.new_token_ratio - NEW_TOKEN_RATIO_DECAY)
        reqs = [r for r in self.running if r.decoding]
        slots = self._alloc(len(reqs))
        while slots is None:
            victim = max((r for r in self.running if r.decoding), key=lambda r: r.arrival)
            if len([r for r in self.running if r.decoding]) == 1 and len(self.running) == 1:
                self._release(victim)
                self.running.remove(victim)
                self._finish(victim, FinishReason("abort", message="out of KV memory for a single request"))
                return
            self._retract(victim)
            reqs = [r for r in self.running if r.decoding]
            if not reqs:
                return
            slots = self._alloc(len(reqs))
        batch = build_decode(reqs, slots, self.table.table, self.device)
        logits = self.runner.forward(batch)
        for req in reqs:
            req.kv_len += 1
        self.stats.decode_steps += 1
        self._sample_and_advance(reqs, logits)

    def _sample_and_advance(self, reqs: list[Req], logits: torch.Tensor) -> None:
        raw = logits.clone() if any(r.return_logprob for r in reqs) else None
        inp = SampleInput(
            params=[r.sp for r in reqs],
            prompt_ids=[r.origin_input_ids for r in reqs],
            output_ids=[r.output_ids for r in reqs],
            generators=[r.generator for r in reqs],
            banned_ids=[self.finish.banned_tokens(r) for r in reqs],
            vocab_mask=self.grammar.masks(reqs, logits.shape[1], logits.device),
        )
        next_ids = self.sampler.sample(logits, inp)
        if raw is not None:
            want = [i for i, r in enumerate(reqs) if r.return_logprob]
            idx = torch.tensor(want, dtype=torch.int64, device=raw.device)
            chosen, tops = token_logprobs(raw[idx], next_ids[idx], [reqs[i].top_logprobs_num for i in want])
            for j, i in enumerate(want):
                reqs[i].out_logprobs.append((chosen[j], int(next_ids[i])))
                reqs[i].out_top_logprobs.append(tops[j])
        for req, token in zip(reqs, next_ids.tolist()):
            req.output_ids.append(token)
            self.stats.generated_tokens += 1
            self.grammar.advance(req, token)
            reason = self.finish.check(req)
            if reason is None and self._may_jump_forward(req):
                jumped = try_jump_forward(req, self.tokenizer, self.special_ids)
                if jumped:
                    self.stats.jump_forward_tokens += jumped
                    reason = self.finish.check(req)
            if reason is not None:
                self._complete(req, reason)
            else:
                self._emit(req)

    def _may_jump_forward(self, req: Req) -> bool:
        return self.config.enable_jump_forward and req.grammar is not None and not req.return_logprob and not req.sp.stop

    # -- leaving --------------------------------------------------------------------------

    def _release(self, req: Req) -> None:
        """Hand the request's computed KV to the prefix cache and give its row back."""
        kv = self.table.table[req.row, : req.kv_len].clone()
        self.cache.cache_finished(req.all_ids[: req.kv_len], kv, req.owned_from, req.cache_handle)
        self.table.free(req.row)
        req.row, req.kv_len, req.owned_from, req.cache_handle, req.decoding = None, 0, 0, None, False

    def _requeue(self, req: Req) -> None:
        self._release(req)
        self.running.remove(req)
        req.state = ReqState.WAITING
        self.waiting.insert(0, req)

    def _retract(self, req: Req) -> None:
        """Free a running request's KV and put it back at the head of the queue."""
        self._requeue(req)
        req.retractions += 1
        self.stats.retractions += 1
        self.new_token_ratio = min(1.0, self.new_token_ratio + 0.1)
        log.info("retracted request %s (%d tokens so far)", req.rid, len(req.all_ids))

    def _complete(self, req: Req, reason: FinishReason) -> None:
        self._release(req)
        self.running.remove(req)
        self._finish(req, reason)

    def _finish_waiting(self, req: Req, reason: FinishReason) -> None:
        self.waiting.remove(req)
        self._finish(req, reason)

    def _finish(self, req: Req, reason: FinishReason) -> None:
        req.state = ReqState.FINISHED
        req.finish_reason = reason
        self._emit(req)

    def _emit(self, req: Req) -> None:
        self._outbox.append(req.take_output())

    def info(self) -> dict[str, Any]:
        used = self.max_total_tokens - self.allocator.available_size()
        return self.stats.snapshot(
            num_running=len(self.running),
            num_waiting=len(self.waiting),
            kv_total_tokens=self.max_total_tokens,
            kv_used_tokens=used,
            kv_cached_tokens=self.cache.cached_size(),
            kv_evictable_tokens=self.cache.evictable_size(),
            cascade_decode_steps=getattr(self.runner.attn, "cascade_steps", 0),
        )
