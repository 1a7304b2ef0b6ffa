"""Shared-prefix ("cascade") decode attention in Triton.

Requests whose prompts share a prefix hold the same KV slots for it (the radix cache hands
them out). ``_prefix_kernel`` reads each group's prefix once per block and attends all the
group members' query heads to it in one matmul; the split-KV decode kernel then attends
each request's own suffix (past its shared prefix); the merge kernel combines both through
their log-sum-exps. The groups come from the torch backend's planner
(``attention.cascade.shared_prefix_groups``); the reference twin is plain decode
(``attention.decode.decode_attention``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl

from ..attention.cascade import MIN_SAVING, shared_prefix_groups
from .common import LOG2_E, dot_flags, softmax_step
from .decode import BLOCK_N, merge_partials, partial_buffers, split_partials

BLOCK_Q = 16  # query rows (member x query head) per program


@dataclass
class TritonCascadePlan:
    members: torch.Tensor  # [NG, M] batch index of each group member, -1 as padding
    prefix_rows: torch.Tensor  # [NG] req_to_token row holding the group's prefix (its first member's)
    prefix_lens: torch.Tensor  # [NG] shared prefix length
    suffix_starts: torch.Tensor  # [B] where each request's own part begins (0 outside any group)


def plan_cascade(req_to_token: torch.Tensor, req_rows: torch.Tensor, seq_lens: list[int]) -> TritonCascadePlan | None:
    """None when the shared prefixes are too small to pay for the extra pass (same rule as
    the torch backend's ``plan_cascade``)."""
    batch = len(seq_lens)
    if batch < 2:
        return None
    slots = req_to_token[req_rows, : max(seq_lens)].cpu()  # [B, L] (the planner walks it on the host)
    saved, groups = shared_prefix_groups(slots, seq_lens, list(range(batch)), 0)
    if not groups or saved < MIN_SAVING * sum(seq_lens):
        return None
    width = max(len(m) for m, _ in groups)
    members = torch.full((len(groups), width), -1, dtype=torch.int64)
    starts = [0] * batch
    for g, (ms, p) in enumerate(groups):
        members[g, : len(ms)] = torch.tensor(ms)
        for i in ms:
            starts[i] = p
    rows = req_rows.cpu()[[ms[0] for ms, _ in groups]]
    device = req_to_token.device
    return TritonCascadePlan(members.to(device), rows.to(device), torch.tensor([p for _, p in groups], device=device),
                             torch.tensor(starts, dtype=torch.int64, device=device))


@triton.jit
def _prefix_kernel(
    Q, KBuf, VBuf, ReqToTok, Members, PrefixRows, PrefixLens, OutP, LseP, scale_log2, M, part,
    stride_qb, stride_qh, stride_bh, stride_bs, stride_rt, stride_mg, stride_ob, stride_oh, stride_os, stride_lb, stride_lh,
    G: tl.constexpr, BLOCK_Q: tl.constexpr, BLOCK_N: tl.constexpr, D: tl.constexpr,
    PRECISION: tl.constexpr, UPCAST: tl.constexpr,
):
    grp = tl.program_id(0)
    kh = tl.program_id(1)
    rows = tl.program_id(2) * BLOCK_Q + tl.arange(0, BLOCK_Q)  # member * G + query head within the KV head
    rmask = rows < M * G
    b = tl.load(Members + grp * stride_mg + rows // G, mask=rmask, other=-1)
    rmask = rmask & (b >= 0)
    b = tl.where(rmask, b, 0).to(tl.int64)
    heads = kh * G + rows % G
    d = tl.arange(0, D)
    q = tl.load(Q + b[:, None] * stride_qb + heads[:, None] * stride_qh + d[None, :], mask=rmask[:, None], other=0.0)
    q = q.to(KBuf.dtype.element_ty)  # [BLOCK_Q, D]
    prow = tl.load(PrefixRows + grp).to(tl.int64)
    plen = tl.load(PrefixLens + grp)
    m = tl.full([BLOCK_Q], float("-inf"), tl.float32)
    l = tl.zeros([BLOCK_Q], tl.float32)
    acc = tl.zeros([BLOCK_Q, D], tl.float32)
    base = kh.to(tl.int64) * stride_bh
    for n0 in tl.range(0, plen, BLOCK_N):
        pos = n0 + tl.arange(0, BLOCK_N)
        nmask = pos < plen
        slot = tl.load(ReqToTok + prow * stride_rt + pos, mask=nmask, other=0).to(tl.int64)
        k = tl.load(KBuf + base + slot[:, None] * stride_bs + d[None, :], mask=nmask[:, None], other=0.0)
        v = tl.load(VBuf + base + slot[:, None] * stride_bs + d[None, :], mask=nmask[:, None], other=0.0)
        m, l, acc = softmax_step(q, k, v, nmask[None, :], m, l, acc, scale_log2, PRECISION, UPCAST)
    out = acc / l[:, None]  # every group's prefix is non-empty
    tl.store(OutP + b[:, None] * stride_ob + heads[:, None] * stride_oh + part * stride_os + d[None, :], out, mask=rmask[:, None])
    tl.store(LseP + b * stride_lb + heads * stride_lh + part, m + tl.log2(l), mask=rmask)


def cascade_decode(q: torch.Tensor, k_buf: torch.Tensor, v_buf: torch.Tensor, req_to_token: torch.Tensor, req_rows: torch.Tensor,
                   seq_lens: torch.Tensor, plan: TritonCascadePlan, scale: float, num_splits: int) -> torch.Tensor:
    """q: [B, Hq, D] -> [B, Hq, D]: parts [0, num_splits) hold each request's suffix, part
    ``num_splits`` its group's shared prefix (-inf outside any group)."""
    b, hq, d = q.shape
    hk = k_buf.shape[0]
    g = hq // hk
    out_p, lse_p = partial_buffers(b, hq, num_splits + 1, d, q.device)
    split_partials(q, k_buf, v_buf, req_to_token, req_rows, plan.suffix_starts, seq_lens, scale, num_splits, out_p, lse_p)
    ng, width = plan.members.shape
    _prefix_kernel[(ng, hk, triton.cdiv(width * g, BLOCK_Q))](
        q, k_buf, v_buf, req_to_token, plan.members, plan.prefix_rows, plan.prefix_lens, out_p, lse_p, scale * LOG2_E, width, num_splits,
        q.stride(0), q.stride(1), k_buf.stride(0), k_buf.stride(1), req_to_token.stride(0), plan.members.stride(0),
        out_p.stride(0), out_p.stride(1), out_p.stride(2), lse_p.stride(0), lse_p.stride(1),
        G=g, BLOCK_Q=BLOCK_Q, BLOCK_N=BLOCK_N, D=d, **dot_flags(k_buf.dtype),
    )
    return merge_partials(out_p, lse_p, torch.empty_like(q))
