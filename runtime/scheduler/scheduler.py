"""The scheduler: one step is schedule -> run -> sample -> postprocess.

Requests join and leave at every step. A step is either an extend (prefill; long prompts
in chunks, under a per-step token budget: ``admission``) or a decode of every running
request. Output processing (finish checks, jump-forward, emitting) is ``output``. The
scheduler receives its collaborators (model runner, KV/prefix-cache manager, tokenizer,
EOS ids, grammar hook); ``engine_core.build_scheduler`` assembles them from a config.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from ..api.limits import length_problem
from ..config import EngineConfig
from ..io_struct import FinishReason, TokenizedRequest, TokenOutput
from ..mem.cache_manager import KVCacheManager
from ..model_runner import ModelRunner
from ..sampling.logprobs import token_logprobs
from ..sampling.sampler import Sampler, SampleInput
from ..speculative.decoder import SpeculativeDecoder
from ..speculative.drafts import Drafter
from .admission import Admission, ScheduledBatch
from .batch_builder import build_decode, build_extend
from .finish import FinishChecker
from .grammar_hook import GrammarHook
from .output import OutputProcessor
from .policy import POLICIES
from .request import Req, ReqState
from .stats import SchedulerStats


@dataclass
class Forwarded:
    """A forward's result: the requests that sample now and their logit rows [N, V]."""

    reqs: list[Req]
    logits: torch.Tensor | None
    runs: list[list[int]] | None = None  # speculative step: the tokens each request appends


class Scheduler:
    def __init__(self, config: EngineConfig, *, runner: ModelRunner, kv: KVCacheManager, tokenizer: Any,
                 eos_ids: set[int], grammar: GrammarHook, drafter: Drafter | None = None) -> None:
        """``drafter``: speculative decoding's draft source (None: off)."""
        self.config, self.runner, self.kv, self.tokenizer, self.grammar = config, runner, kv, tokenizer, grammar
        self.device = runner.device
        self.table = runner.req_table
        self.eos_ids = eos_ids
        self.stats = SchedulerStats()
        self.sampler = Sampler(config.random_seed)
        self.finish = FinishChecker(tokenizer, eos_ids)
        special_ids = set(getattr(tokenizer, "all_special_ids", [])) | eos_ids
        self.output = OutputProcessor(config, self.finish, grammar, tokenizer, special_ids, self.stats,
                                      leave=lambda req: self.admission.leave(req))
        policy = "fcfs" if not kv.shares_prefixes and config.schedule_policy == "lpm" else config.schedule_policy
        self.admission = Admission(config, kv, self.table, grammar, tokenizer, POLICIES[policy], self.stats,
                                   finish=self.output.finish)
        self._arrivals = 0
        self.spec = SpeculativeDecoder(config, runner, kv, self.sampler, self.finish, drafter) if drafter else None
        if self.spec is not None:
            self.admission.on_leave = self.spec.drafter.release

    # -- public API -----------------------------------------------------------------------

    @property
    def context_length(self) -> int:
        return self.runner.context_length

    @property
    def max_total_tokens(self) -> int:
        return self.kv.allocator.size

    @property
    def waiting(self) -> list[Req]:
        return self.admission.waiting

    @property
    def running(self) -> list[Req]:
        return self.admission.running

    def add_request(self, treq: TokenizedRequest) -> None:
        self._arrivals += 1
        req = Req.from_tokenized(treq, self._arrivals)
        problem = self.grammar.start(req) or length_problem(
            len(req.origin_input_ids), req.sp.max_new_tokens,
            context_length=self.context_length, max_total_tokens=self.max_total_tokens)
        if problem:  # the API side refuses these up front; a request that skipped it ends here
            self.output.finish(req, FinishReason("abort", message=problem))
            return
        self.waiting.append(req)
        self.stats.requests += 1

    def abort(self, rid: str) -> None:
        for req in [r for r in self.waiting + self.running if r.rid == rid]:
            if req.state is ReqState.RUNNING:
                self.admission.leave(req)
            else:
                self.waiting.remove(req)
            self.output.finish(req, FinishReason("abort", message="aborted"))

    def has_work(self) -> bool:
        return bool(self.waiting or self.running or self.output.pending())

    def flush_cache(self) -> bool:
        if self.running or self.waiting:
            return False
        self.kv.cache.flush()
        return True

    def close(self) -> None:
        """Release what outlives the loop: the other tensor-parallel ranks."""
        self.runner.close()

    def step(self) -> list[TokenOutput]:
        """One scheduling step; returns the outputs it produced (possibly none)."""
        batch = self.schedule()
        if batch is not None:
            forwarded = self.run(batch)
            if forwarded.runs is not None:
                self.output.process_runs(forwarded.reqs, forwarded.runs, self.spec.settle)
            elif forwarded.reqs:
                next_ids = self.sample(forwarded)
                self.postprocess(forwarded.reqs, next_ids)
        return self.output.take()

    # -- the four moves of a step ---------------------------------------------------------

    def schedule(self) -> ScheduledBatch | None:
        return self.admission.schedule()

    def run(self, batch: ScheduledBatch) -> Forwarded:
        """The forward pass, and the KV bookkeeping it implies."""
        if batch.decode:
            runs = self.spec.run(batch.decode, batch.decode_slots) if self.spec is not None else None
            if runs is not None:  # drafts verified in one extend forward
                self.stats.decode_steps += 1
                return Forwarded(batch.decode, None, runs)
            started = time.perf_counter()
            fb = build_decode(batch.decode, batch.decode_slots, self.table.table, self.device)
            logits = self.runner.forward(fb)
            if self.spec is not None and len(batch.decode) <= self.config.speculative_max_batch_size:
                self.spec.observe_decode(len(batch.decode), time.perf_counter() - started)
            for req in batch.decode:
                req.kv_len += 1
            self.stats.decode_steps += 1
            return Forwarded(batch.decode, logits)
        fb, ranges = build_extend(batch.extend, self.table.table, self.device)
        logits = self.runner.forward(fb)
        self.stats.prefill_tokens += int(fb.input_ids.numel())
        samplers: list[tuple[Req, int]] = []
        for plan, (first, count) in zip(batch.extend, ranges):
            req = plan.req
            req.kv_len += plan.length
            self.stats.prompt_tokens += plan.length if not req.output_ids else 0
            self.admission.cache_chunk(req)
            if req.wants_prompt_logprobs and not req.output_ids:
                req.add_prompt_logprobs(plan.start, plan.prompt_logprob_positions, logits[first : first + len(plan.prompt_logprob_positions)])
            if plan.samples_next:
                req.decoding = True
                if req.remaining_new_tokens() == 0:
                    self.output.complete(req, FinishReason("length"))
                else:
                    samplers.append((req, first + count - 1))
        rows = torch.tensor([i for _, i in samplers], dtype=torch.int64, device=logits.device)
        return Forwarded([r for r, _ in samplers], logits[rows])

    def sample(self, fwd: Forwarded) -> list[int]:
        """Next token per request (penalties, grammar masks, min_new_tokens), with logprobs."""
        reqs, logits = fwd.reqs, fwd.logits
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
        return next_ids.tolist()

    def postprocess(self, reqs: list[Req], next_ids: list[int]) -> None:
        self.output.process(reqs, next_ids)

    def info(self) -> dict[str, Any]:
        total = self.max_total_tokens
        self.stats.evicted_tokens = self.kv.evicted_tokens
        return self.stats.snapshot(
            num_running=len(self.running),
            num_waiting=len(self.waiting),
            kv_total_tokens=total,
            kv_used_tokens=total - self.kv.allocator.available_size(),
            kv_cached_tokens=self.kv.cache.cached_size(),
            kv_evictable_tokens=self.kv.cache.evictable_size(),
            cascade_decode_steps=getattr(self.runner.attn, "cascade_steps", 0),
            speculative_algorithm=self.config.speculative_algorithm,
            **(self.spec.stats.snapshot() if self.spec is not None else {}),
        )
