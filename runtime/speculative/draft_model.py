"""STANDALONE drafting: a smaller model with the same tokenizer drafts ``k`` tokens greedily.

The draft model has its own model runner (KV pool, slot allocator, request table). For
each request it keeps the KV of a prefix of the request's tokens: before drafting, one
extend forward catches it up to the newest token (batched over the requests), then
``k - 1`` decode forwards feed the drafts. After verification ``settle`` trims the draft
KV to what the target kept (never past the target's own KV length, which only holds
tokens that are in the output); requests that left (finished, aborted, retracted) lose
their draft KV at the next ``draft`` call. Greedy drafts are point masses, so the
acceptance rule of ``acceptance.py`` is exact for sampling too.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import EngineConfig
from ..forward_batch import ForwardBatch, ForwardMode
from ..model_loader.resolve import resolve_model
from ..model_runner import ModelRunner
from ..sampling.argmax import argmax_rows
from ..scheduler.request import Req, ReqState


@dataclass
class _DraftKV:
    req: Req
    row: int
    length: int = 0  # leading tokens of req.all_ids with KV in the draft pool


class DraftModelDrafter:
    def __init__(self, config: EngineConfig, target: ModelRunner) -> None:
        path = config.speculative_draft_model_path or config.model_path
        draft_config = config.with_options(model_path=path, speculative_algorithm=None)
        self.runner = ModelRunner(draft_config, resolve_model(path))
        if self.runner.vocab_size > target.vocab_size + 1024 or self.runner.vocab_size < target.vocab_size - 1024:
            raise ValueError(f"draft model vocabulary ({self.runner.vocab_size}) does not match the target's ({target.vocab_size})")
        self.target_vocab = target.vocab_size
        self.table = self.runner.req_table
        self.allocator = self.runner.allocator
        self._kv: dict[int, _DraftKV] = {}

    # -- the Drafter protocol -------------------------------------------------------------

    def draft(self, reqs: list[Req], lengths: list[int]) -> list[list[int]]:
        self._release_gone()
        for req in reqs:  # a step that drafted but did not verify leaves KV past the target's
            self.settle(req)
        want = [(r, k) for r, k in zip(reqs, lengths) if k > 0 and self._ensure(r)]
        drafts: dict[int, list[int]] = {id(r): [] for r in reqs}
        if not want:
            return [drafts[id(r)] for r in reqs]
        first = self._catch_up([r for r, _ in want])
        if first is None:  # no room in the draft pool: no drafts this step
            return [drafts[id(r)] for r in reqs]
        for (req, _), token in zip(want, first):
            drafts[id(req)].append(token)
        for step in range(1, max(k for _, k in want)):
            active = [r for r, k in want if k > step]
            if not active:
                break
            nxt = self._decode(active, [drafts[id(r)][-1] for r in active])
            if nxt is None:
                break
            for req, token in zip(active, nxt):
                drafts[id(req)].append(token)
        vocab = self.target_vocab
        return [next((d[:i] for i, t in enumerate(d) if t >= vocab), d) for d in (drafts[id(r)] for r in reqs)]

    def settle(self, req: Req) -> None:
        state = self._kv.get(id(req))
        if state is not None and state.length > req.kv_len:
            self.allocator.free(self.table.table[state.row, req.kv_len : state.length].clone())
            state.length = req.kv_len

    def release(self, req: Req) -> None:
        state = self._kv.pop(id(req), None)
        if state is not None:
            self.allocator.free(self.table.table[state.row, : state.length].clone())
            self.table.free(state.row)

    # -- pieces ---------------------------------------------------------------------------

    def _release_gone(self) -> None:
        for state in list(self._kv.values()):
            if state.req.state is not ReqState.RUNNING:
                self.release(state.req)

    def _ensure(self, req: Req) -> bool:
        if id(req) not in self._kv:
            row = self.table.alloc()
            if row is None:
                return False
            self._kv[id(req)] = _DraftKV(req, row)
        return True

    def _catch_up(self, reqs: list[Req]) -> list[int] | None:
        """One extend: every request's tokens the draft has not seen, up to the newest one;
        returns each request's first draft token (None: no room in the draft pool)."""
        states = [self._kv[id(r)] for r in reqs]
        tokens = [r.all_ids for r in reqs]
        lens = [len(t) - s.length for s, t in zip(states, tokens)]
        free = self._alloc(sum(lens), keep=states)
        if free is None:
            return None
        ids, pos, offset = [], [], 0
        for state, toks, n in zip(states, tokens, lens):
            self.table.table[state.row, state.length : len(toks)] = free[offset : offset + n]
            ids.extend(toks[state.length :])
            pos.append(torch.arange(state.length, len(toks)))
            state.length, offset = len(toks), offset + n
        last = torch.tensor(lens).cumsum(0) - 1
        batch = self._batch(ForwardMode.EXTEND, reqs, ids, torch.cat(pos), free, [len(t) for t in tokens], lens, last)
        return argmax_rows(self.runner.forward(batch)).tolist()

    def _decode(self, reqs: list[Req], tokens: list[int]) -> list[int] | None:
        slots = self.allocator.alloc(len(reqs))
        if slots is None:
            return None
        states = [self._kv[id(r)] for r in reqs]
        positions = torch.tensor([s.length for s in states], dtype=torch.int64)
        for state, slot in zip(states, slots.tolist()):
            self.table.table[state.row, state.length] = slot
            state.length += 1
        batch = self._batch(ForwardMode.DECODE, reqs, tokens, positions, slots, [s.length for s in states],
                            [1] * len(reqs), torch.arange(len(reqs)))
        return argmax_rows(self.runner.forward(batch)).tolist()

    def _alloc(self, n: int, keep: list[_DraftKV]) -> torch.Tensor | None:
        """``n`` draft slots; makes room by dropping other requests' draft KV (longest first)."""
        slots = self.allocator.alloc(n)
        while slots is None:
            victims = [s for s in self._kv.values() if s.length > 0 and all(s is not k for k in keep)]
            if not victims:
                return None
            victim = max(victims, key=lambda s: s.length)
            self.allocator.free(self.table.table[victim.row, : victim.length].clone())
            victim.length = 0
            slots = self.allocator.alloc(n)
        return slots

    def _batch(self, mode: ForwardMode, reqs: list[Req], ids: list[int], positions: torch.Tensor, slots: torch.Tensor,
               seq_lens: list[int], ext_lens: list[int], logit_rows: torch.Tensor) -> ForwardBatch:
        device = self.runner.device
        return ForwardBatch(
            mode=mode,
            input_ids=torch.tensor(ids, dtype=torch.int64, device=device),
            positions=positions.to(device),
            out_cache_loc=slots.to(device),
            req_rows=torch.tensor([self._kv[id(r)].row for r in reqs], dtype=torch.int64, device=device),
            seq_lens=seq_lens,
            extend_lens=ext_lens,
            logit_indices=logit_rows.to(device),
        )
