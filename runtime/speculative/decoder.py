"""One speculative decode step for the scheduler's decoding batch.

Every decoding request feeds its newest token plus its draft (possibly empty) into ONE
extend forward over the token-level KV pool, with logits at every position. Each
request's rows then go through the sampler's usual processing (penalties, logit bias,
min_new_tokens bans, the grammar mask of the state after the drafted prefix) and
``acceptance`` picks the accepted drafts and the token after them. The output processor
appends that run token by token (so EOS, stop strings, max_new_tokens and the grammar are
honoured inside it) and calls ``settle(req, kept)``: the KV of the kept tokens stays, the
slots written for rejected or unused drafts go back to the allocator.

How much each request drafts comes from ``adaptive.plan_drafts``: its measured acceptance
(per draft key where the drafter has ``lookup``: NGRAM drafts first and keys each draft by
its match length) against the measured cost of a forward by its length
(``speculative_cost_gate``; off, every request drafts all it may). Speculation is skipped (the caller runs the plain decode) when
more requests decode than ``speculative_max_batch_size``, when the plan or the drafter
gives no draft, or when the pool has no room.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..config import EngineConfig
from ..forward_batch import ForwardBatch, ForwardMode
from ..mem.cache_manager import KVCacheManager
from ..model_runner import ModelRunner
from ..sampling.argmax import argmax_rows
from ..sampling.logprobs import token_logprobs
from ..sampling.sampler import Sampler, SampleInput, filtered_probs
from ..scheduler.finish import FinishChecker
from ..scheduler.request import Req
from .acceptance import accept_greedy, accept_sampled
from .adaptive import Acceptance, KeyedAcceptance, StepCost, plan_drafts
from .drafts import Drafter, grammar_rows


@dataclass
class _Pending:
    """One request's verify step, until the output processor settles it."""

    start: int  # kv_len before the step
    slots: torch.Tensor  # [1 + k] KV slots written at positions start..start+k
    drafted: int
    accepted: int
    key: int = 0  # the draft's acceptance key
    logprobs: list[tuple[float, int]] = field(default_factory=list)
    top_logprobs: list[list[tuple[float, int]]] = field(default_factory=list)


@dataclass
class SpecStats:
    verify_steps: int = 0  # forwards that verified at least one draft
    draft_tokens: int = 0
    accepted_tokens: int = 0  # drafted tokens accepted and kept

    def snapshot(self) -> dict[str, float]:
        rate = self.accepted_tokens / self.draft_tokens if self.draft_tokens else 0.0
        mean = 1.0 + self.accepted_tokens / self.verify_steps if self.verify_steps else 0.0
        return {"spec_verify_steps": self.verify_steps, "spec_draft_tokens": self.draft_tokens,
                "spec_accepted_tokens": self.accepted_tokens, "spec_accept_rate": rate, "spec_accept_length": mean}


class SpeculativeDecoder:
    def __init__(self, config: EngineConfig, runner: ModelRunner, kv: KVCacheManager, sampler: Sampler,
                 finish: FinishChecker, drafter: Drafter) -> None:
        self.config, self.runner, self.kv, self.sampler, self.finish = config, runner, kv, sampler, finish
        self.drafter = drafter
        self.max_k = config.speculative_num_draft_tokens
        self.stats = SpecStats()
        self.cost = StepCost()
        self.shared_acceptance: dict[int, Acceptance] = {}  # engine-wide, by draft key
        self._pending: dict[int, _Pending] = {}

    # -- the step -------------------------------------------------------------------------

    def run(self, reqs: list[Req], slots: torch.Tensor) -> list[list[int]] | None:
        """Draft, verify in one forward; returns each request's run of tokens to append, or
        None when this step should be a plain decode (``slots``: one fresh slot each)."""
        if len(reqs) > self.config.speculative_max_batch_size:
            return None
        cost = self.cost.step if self.config.speculative_cost_gate else (lambda batch, drafted: 1.0)
        caps = [max(0, min(self.max_k, self._cap(r))) for r in reqs]
        found, keys = None, [0] * len(reqs)
        if hasattr(self.drafter, "lookup"):  # cheap drafts first: their keys inform the plan
            started = time.perf_counter()
            found = self.drafter.lookup(reqs, caps)
            self.cost.observe_draft(sum(len(d) for d, _ in found), time.perf_counter() - started)
            caps, keys = [len(d) for d, _ in found], [key for _, key in found]
        # a verify must run where decode runs (the C++ step on the CPU, when built): only
        # there are its tokens computed bit for bit as their decode steps would be
        step = self.runner.cpu_step
        room = None if step is None else step.max_rows - len(reqs)
        plan = plan_drafts([self._acceptance(r).p(key) for r, key in zip(reqs, keys)], caps, cost, room)
        for req, k in zip(reqs, plan):
            if k == 0:
                self._acceptance(req).idle()
        if not any(plan):
            return None
        if found is not None:
            drafts = [d[:k] for (d, _), k in zip(found, plan)]
        else:
            started = time.perf_counter()
            drafts = self.drafter.draft(reqs, plan)
            self.cost.observe_draft(sum(len(d) for d in drafts), time.perf_counter() - started)
        if not any(drafts):
            return None
        extra = self.kv.alloc(sum(len(d) for d in drafts))
        if extra is None:
            return None
        vocab = self.runner.vocab_size
        masks: list[torch.Tensor | None] = []
        for i, req in enumerate(reqs):  # cut drafts at the grammar's first refusal
            mask = None
            if req.grammar is not None:
                drafts[i], mask = grammar_rows(req.grammar, drafts[i], vocab)
            masks.append(mask)
        if not any(drafts):  # the grammar refused every draft: a plain decode step
            self.kv.allocator.free(extra)
            return None
        per_req, offset = [], 0
        for req, slot, draft in zip(reqs, slots, drafts):
            per_req.append(torch.cat([slot.view(1), extra[offset : offset + len(draft)]]))
            offset += len(draft)
        if offset < extra.numel():
            self.kv.allocator.free(extra[offset:])
        started = time.perf_counter()
        logits = self.runner.forward(self._batch(reqs, drafts, per_req))  # [sum(1 + k_i), V]
        runs = self._verify(reqs, drafts, per_req, masks, logits, keys)
        self.cost.observe(len(reqs) + offset, time.perf_counter() - started)
        return runs

    def observe_decode(self, batch: int, seconds: float) -> None:
        """The scheduler's plain decode step of ``batch`` requests, timed (the cost model's
        one-row-per-request points)."""
        self.cost.observe(batch, seconds)

    def settle(self, req: Req, kept: int) -> None:
        """``kept`` tokens of the request's run were appended: keep their KV, free the rest."""
        p = self._pending.pop(id(req), None)
        if p is None:
            return
        req.kv_len = p.start + kept
        self.kv.allocator.free(p.slots[kept:])
        accepted = min(p.accepted, kept)
        if req.return_logprob:
            req.out_logprobs.extend(p.logprobs[:kept])
            req.out_top_logprobs.extend(p.top_logprobs[:kept])
        if p.drafted:
            self._acceptance(req).update(p.key, p.drafted, p.accepted)
            req.spec_verify_steps += 1
            req.spec_draft_tokens += p.drafted
            req.spec_accepted_tokens += accepted
            self.stats.verify_steps += 1
            self.stats.draft_tokens += p.drafted
            self.stats.accepted_tokens += accepted
        self.drafter.settle(req)

    # -- pieces ---------------------------------------------------------------------------

    def _acceptance(self, req: Req) -> KeyedAcceptance:
        if req.spec is None:
            req.spec = KeyedAcceptance(self.shared_acceptance)
        return req.spec

    def _cap(self, req: Req) -> int:
        """Drafts never run past max_new_tokens or the context."""
        return min(req.remaining_new_tokens() - 1, self.runner.context_length - req.kv_len - 2)

    def _batch(self, reqs: list[Req], drafts: list[list[int]], slots: list[torch.Tensor]) -> ForwardBatch:
        table, device = self.runner.req_table.table, self.runner.device
        ids, pos, lens = [], [], []
        for req, draft, s in zip(reqs, drafts, slots):
            n = 1 + len(draft)
            table[req.row, req.kv_len : req.kv_len + n] = s
            ids.extend([req.last_token, *draft])
            pos.append(torch.arange(req.kv_len, req.kv_len + n))
            lens.append(n)
        total = sum(lens)
        return ForwardBatch(
            mode=ForwardMode.EXTEND,
            input_ids=torch.tensor(ids, dtype=torch.int64, device=device),
            positions=torch.cat(pos).to(device),
            out_cache_loc=torch.cat(slots).to(device),
            req_rows=torch.tensor([r.row for r in reqs], dtype=torch.int64, device=device),
            seq_lens=[r.kv_len + n for r, n in zip(reqs, lens)],
            extend_lens=lens,
            logit_indices=torch.arange(total, device=device),
            decode_exact=True,
        )

    def _verify(self, reqs: list[Req], drafts: list[list[int]], slots: list[torch.Tensor],
                masks: list[torch.Tensor | None], logits: torch.Tensor, keys: list[int]) -> list[list[int]]:
        raw = logits.clone() if any(r.return_logprob for r in reqs) else None
        self.sampler.prepare(logits, self._rows(reqs, drafts, masks, logits))
        targets = argmax_rows(logits).tolist()
        runs, first = [], 0
        for req, draft, s, key in zip(reqs, drafts, slots, keys):
            n = len(draft) + 1
            if req.sp.greedy:
                run, accepted = accept_greedy(targets[first : first + n], draft)
            else:
                probs = filtered_probs(logits[first : first + n], [req.sp] * n).float().cpu()
                probs /= probs.sum(dim=-1, keepdim=True)
                run, accepted = accept_sampled(probs, draft, req.generator or self.sampler.generator)
            pending = _Pending(req.kv_len, s, len(draft), accepted, key)
            if raw is not None and req.return_logprob:
                ids = torch.tensor(run, dtype=torch.int64, device=raw.device)
                chosen, tops = token_logprobs(raw[first : first + len(run)], ids, [req.top_logprobs_num] * len(run))
                pending.logprobs, pending.top_logprobs = list(zip(chosen, run)), tops
            self._pending[id(req)] = pending
            runs.append(run)
            first += n
        return runs

    def _rows(self, reqs: list[Req], drafts: list[list[int]], masks: list[torch.Tensor | None], logits: torch.Tensor) -> SampleInput:
        """One sampler row per verified position: the context includes the drafted prefix."""
        params, prompts, outs, gens, banned, rows = [], [], [], [], [], []
        vocab = logits.shape[1]
        for req, draft, mask in zip(reqs, drafts, masks):
            for j in range(len(draft) + 1):
                params.append(req.sp)
                prompts.append(req.origin_input_ids)
                outs.append(req.output_ids + draft[:j])
                gens.append(req.generator)
                banned.append(self.finish.banned_tokens(req, ahead=j))
            rows.append(mask if mask is not None else torch.ones((len(draft) + 1, vocab), dtype=torch.bool))
        any_mask = any(m is not None for m in masks)
        vocab_mask = torch.cat(rows).to(logits.device) if any_mask else None
        return SampleInput(params, prompts, outs, gens, banned, vocab_mask)
