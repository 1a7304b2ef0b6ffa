"""Turns scheduled requests into a ForwardBatch (extend or decode)."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..forward_batch import ForwardBatch, ForwardMode
from .request import Req


@dataclass
class ExtendPlan:
    """One request's part of an extend step."""

    req: Req
    start: int  # first position computed (== req.kv_len before the step)
    length: int  # tokens computed now
    slots: torch.Tensor  # [length] fresh KV slots
    prompt_logprob_positions: list[int] = field(default_factory=list)  # positions whose next-token logprobs are wanted
    samples_next: bool = False  # the chunk completes the prefill: sample the next token


def plan_logits(plan: ExtendPlan) -> None:
    """Decide which positions of this chunk need logits."""
    req, end = plan.req, plan.start + plan.length
    prompt_len = len(req.origin_input_ids)
    if req.wants_prompt_logprobs and not req.output_ids:
        first = max(req.logprob_start_len - 1, 0)
        plan.prompt_logprob_positions = [p for p in range(max(plan.start, first), min(end, prompt_len - 1))]
    plan.samples_next = end == len(req.all_ids)


def build_extend(plans: list[ExtendPlan], table: torch.Tensor, device: torch.device) -> tuple[ForwardBatch, list[tuple[int, int]]]:
    """Returns the batch and, per plan, the (first, count) range of its logit rows (prompt
    logprob rows followed by the next-token row when ``samples_next``)."""
    ids, pos, slots, rows, seq_lens, ext_lens, logit_idx, ranges = [], [], [], [], [], [], [], []
    offset = 0
    for plan in plans:
        req, s, n = plan.req, plan.start, plan.length
        table[req.row, s : s + n] = plan.slots
        ids.extend(req.all_ids[s : s + n])
        pos.append(torch.arange(s, s + n))
        slots.append(plan.slots)
        rows.append(req.row)
        seq_lens.append(s + n)
        ext_lens.append(n)
        first = len(logit_idx)
        logit_idx.extend(offset + p - s for p in plan.prompt_logprob_positions)
        if plan.samples_next:
            logit_idx.append(offset + n - 1)
        ranges.append((first, len(logit_idx) - first))
        offset += n
    batch = ForwardBatch(
        mode=ForwardMode.EXTEND,
        input_ids=torch.tensor(ids, dtype=torch.int64, device=device),
        positions=torch.cat(pos).to(device),
        out_cache_loc=torch.cat(slots),
        req_rows=torch.tensor(rows, dtype=torch.int64, device=device),
        seq_lens=seq_lens,
        extend_lens=ext_lens,
        logit_indices=torch.tensor(logit_idx, dtype=torch.int64, device=device),
    )
    return batch, ranges


def build_decode(reqs: list[Req], slots: torch.Tensor, table: torch.Tensor, device: torch.device) -> ForwardBatch:
    rows = torch.tensor([r.row for r in reqs], dtype=torch.int64, device=device)
    kv_lens = torch.tensor([r.kv_len for r in reqs], dtype=torch.int64, device=device)
    table[rows, kv_lens] = slots
    return ForwardBatch(
        mode=ForwardMode.DECODE,
        input_ids=torch.tensor([r.last_token for r in reqs], dtype=torch.int64, device=device),
        positions=kv_lens,
        out_cache_loc=slots,
        req_rows=rows,
        seq_lens=[r.kv_len + 1 for r in reqs],
        extend_lens=[1] * len(reqs),
        logit_indices=torch.arange(len(reqs), device=device),
    )
