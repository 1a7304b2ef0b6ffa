"""Shared-prefix ("cascade") decode attention: the plan and the kernel.

Requests that share a prompt prefix (one system prompt, ``n > 1``, the choices of a
``select``, forks of a program) hold the very same KV slots for it: the radix cache hands
them the same slots. Plain decode gathers every request's copy of that prefix in every
layer. Here each group's prefix is gathered once and attended by all of the group's queries
in one matmul; the rest of every sequence is attended as usual; the two partial results are
merged exactly through their log-sum-exps. ``decode.decode_attention`` is the plain
reference twin (tests/kernels check parity).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .partial import mask_bias, merge_partials, partial_attention

MIN_PREFIX = 32  # shorter shared prefixes are not worth a separate pass
MIN_SAVING = 0.2  # use the cascade when it saves at least this share of the gathered tokens


@dataclass
class CascadePlan:
    prefix_slots: torch.Tensor  # [NG, P] shared-prefix slots per group, padded with slot 0
    prefix_bias: torch.Tensor  # [1, NG, 1, P] 0 on real prefix positions, -inf on padding
    members: torch.Tensor  # [NG * M] batch index of each group member (padding: 0)
    member_pos: torch.Tensor  # [N] positions in ``members`` that are real members
    member_req: torch.Tensor  # [N] their batch indices
    suffix_slots: torch.Tensor  # [B, S] slots after each request's shared prefix, padded
    suffix_bias: torch.Tensor  # [1, B, 1, S] 0 on real suffix positions, -inf on padding
    group_size: int  # M


def shared_prefix_groups(slots: torch.Tensor, lens: list[int], members: list[int], start: int) -> tuple[int, list[tuple[list[int], int]]]:
    """Best (gathered tokens saved, [(members, prefix_len)]) among ``members``, which all
    share ``slots[:, :start]``: either one group over their longest common prefix, or the
    best groups within the sub-clusters that agree one position further."""
    if len(members) < 2:
        return 0, []
    limit = min(lens[i] for i in members) - 1  # each request's newest token is its own
    rows = slots[members, start:limit]  # [G, limit - start]
    differs = (rows != rows[:1]).any(0).nonzero()
    common = start + (int(differs[0]) if len(differs) else rows.shape[1])
    best, plan = (len(members) - 1) * common, [(members, common)]
    if common < MIN_PREFIX:
        best, plan = 0, []
    if common < limit:
        buckets: dict[int, list[int]] = {}
        for i, s in zip(members, slots[members, common].tolist()):
            buckets.setdefault(s, []).append(i)
        subs = [shared_prefix_groups(slots, lens, b, common + 1) for b in buckets.values()]
        total = sum(saved for saved, _ in subs)
        if total > best:
            best, plan = total, [g for _, groups in subs for g in groups]
    return best, plan


def plan_cascade(slots: torch.Tensor, lens: list[int]) -> CascadePlan | None:
    """slots: [B, L] each request's KV slots (valid up to lens[i]). None when sharing is too
    small to pay for the extra pass."""
    batch = len(lens)
    if batch < 2:
        return None
    saved, groups = shared_prefix_groups(slots, lens, list(range(batch)), 0)
    if not groups or saved < MIN_SAVING * sum(lens):
        return None
    device = slots.device
    width = max(p for _, p in groups)
    size = max(len(m) for m, _ in groups)
    prefix_slots = torch.zeros((len(groups), width), dtype=slots.dtype, device=device)
    prefix_len = torch.tensor([p for _, p in groups], device=device)
    members = torch.zeros((len(groups), size), dtype=torch.int64)
    shared = [0] * batch
    for g, (ms, p) in enumerate(groups):
        prefix_slots[g, :p] = slots[ms[0], :p]
        members[g, : len(ms)] = torch.tensor(ms)
        for i in ms:
            shared[i] = p
    pos = torch.tensor([g * size + j for g, (ms, _) in enumerate(groups) for j in range(len(ms))], device=device)
    req = torch.tensor([i for ms, _ in groups for i in ms], device=device)
    shared_t = torch.tensor(shared, device=device)
    rest = torch.tensor(lens, device=device) - shared_t  # [B] >= 1
    span = torch.arange(int(rest.max()), device=device)
    valid = span[None, :] < rest[:, None]  # [B, S]
    idx = (shared_t[:, None] + span[None, :]).clamp(max=slots.shape[1] - 1)
    suffix = torch.where(valid, slots.gather(1, idx), torch.zeros_like(idx))
    prefix_mask = torch.arange(width, device=device)[None, :] < prefix_len[:, None]
    return CascadePlan(prefix_slots, mask_bias(prefix_mask[None, :, None, :]), members.view(-1).to(device), pos, req, suffix, mask_bias(valid[None, :, None, :]), size)


def cascade_decode(q: torch.Tensor, k_buf: torch.Tensor, v_buf: torch.Tensor, plan: CascadePlan, scale: float) -> torch.Tensor:
    """q: [B, Hq, D]; k_buf/v_buf: [Hk, slots, D] (one layer of the pool) -> [B, Hq, D]."""
    b, hq, d = q.shape
    hk = k_buf.shape[0]
    r = hq // hk  # query heads per KV head
    ng, width = plan.prefix_slots.shape
    qh = q.view(b, hk, r, d)
    # shared prefixes: one gather per group, all members' queries in one matmul
    keys = k_buf.index_select(1, plan.prefix_slots.view(-1)).view(hk, ng, width, d)
    values = v_buf.index_select(1, plan.prefix_slots.view(-1)).view(hk, ng, width, d)
    qg = qh.index_select(0, plan.members).transpose(0, 1).reshape(hk, ng, plan.group_size * r, d)
    out_g, lse_g = partial_attention(qg, keys, values, plan.prefix_bias, scale)
    out_p = torch.zeros((hk, b, r, d), dtype=torch.float32, device=q.device)
    lse_p = torch.full((hk, b, r), float("-inf"), device=q.device)
    out_p[:, plan.member_req] = out_g.view(hk, ng * plan.group_size, r, d)[:, plan.member_pos]
    lse_p[:, plan.member_req] = lse_g.view(hk, ng * plan.group_size, r)[:, plan.member_pos]
    # each request's own suffix
    flat = plan.suffix_slots.view(-1)
    shape = (hk, *plan.suffix_slots.shape, d)
    keys, values = k_buf.index_select(1, flat).view(shape), v_buf.index_select(1, flat).view(shape)
    out_s, lse_s = partial_attention(qh.transpose(0, 1), keys, values, plan.suffix_bias, scale)  # [Hk, B, r, D]
    return merge_partials(out_s, lse_s, out_p, lse_p).to(q.dtype).transpose(0, 1).reshape(b, hq, d)
