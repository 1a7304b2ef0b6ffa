"""Extend (prefill) after a cached prefix, with the prefix attended once per group.

A chunk of new tokens after a cached prefix attends to two parts: the prefix, which every
new token sees whole (no mask), and the rest (the request's own cached tokens past the
shared prefix, then its new tokens, causally). Requests sharing a prefix (same KV slots)
form a group: the prefix is gathered once and all the group's new tokens query it in one
matmul. The parts are merged through their log-sum-exps.
``extend.extend_attention`` (per request) is the plain reference twin.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .cascade import shared_prefix_groups
from .partial import mask_bias, merge_partials, partial_attention


PAD_LIMIT = 2  # pad the members' rest parts when that at most doubles the scores


@dataclass
class _Member:
    index: int  # position in the batch
    start: int  # offset of its new tokens in the flat batch
    length: int  # number of new tokens (E)
    offset: int  # offset of its new tokens among the group's queries
    rest_slots: torch.Tensor  # [S] slots after the shared prefix (incl. the new tokens)
    rest_bias: torch.Tensor  # [r * E, S] causal bias (see mask_bias) over the rest, repeated per query head


@dataclass
class _Padded:
    """The members' rest parts padded to one shape, attended in one call."""
    query_index: torch.Tensor  # [M, E] positions among the group's queries (padding: 0)
    valid: torch.Tensor  # [M * E] True on real (not padding) query positions
    rest_slots: torch.Tensor  # [M, S] slots after the shared prefix (padding: the first)
    rest_bias: torch.Tensor  # [M, r * E, S] causal bias; padding rows see key 0 only


@dataclass
class _Group:
    prefix_slots: torch.Tensor  # [P]
    query_rows: torch.Tensor  # [N] rows of q (the members' new tokens, back to back)
    members: list[_Member]
    padded: _Padded | None  # None: members too uneven to pad, attended one by one


@dataclass
class ExtendCascadePlan:
    groups: list[_Group]  # every request with a cached prefix is in exactly one group


def plan_extend(rows: list[torch.Tensor], seq_lens: list[int], extend_lens: list[int], heads_per_kv: int) -> ExtendCascadePlan:
    """rows[i]: request i's slots [seq_len]. Requests with a cached prefix are grouped by
    shared prefix slots (groups of one keep their own whole prefix)."""
    starts = [sum(extend_lens[:i]) for i in range(len(seq_lens))]
    cached = [i for i, (s, e) in enumerate(zip(seq_lens, extend_lens)) if s > e]
    assigned: dict[int, tuple[int, int]] = {}  # batch index -> (group id, shared prefix length)
    if len(cached) > 1:
        width = max(seq_lens[i] - extend_lens[i] for i in cached)
        table = torch.zeros((len(cached), width), dtype=rows[0].dtype, device=rows[0].device)
        for j, i in enumerate(cached):
            table[j, : seq_lens[i] - extend_lens[i]] = rows[i][: seq_lens[i] - extend_lens[i]]
        lens = [seq_lens[i] - extend_lens[i] + 1 for i in cached]  # +1: shared_prefix_groups keeps one back
        _, found = shared_prefix_groups(table, lens, list(range(len(cached))), 0)
        for gid, (members, p) in enumerate(found):
            for j in members:
                assigned[cached[j]] = (gid, p)
    clusters: dict[tuple[int, int], list[int]] = {}
    for i in cached:  # requests outside any group form their own, over their whole prefix
        clusters.setdefault(assigned.get(i, (-1 - i, seq_lens[i] - extend_lens[i])), []).append(i)
    groups = []
    for (_, p), idx in clusters.items():
        members, queries, offset = [], [], 0
        for i in idx:
            e, s = extend_lens[i], seq_lens[i]
            before = s - e - p  # own cached tokens past the shared prefix
            q_pos = torch.arange(before, before + e, device=rows[i].device)
            mask = torch.arange(s - p, device=q_pos.device)[None, :] <= q_pos[:, None]  # [E, S]
            members.append(_Member(i, starts[i], e, offset, rows[i][p:s], mask_bias(mask).repeat(heads_per_kv, 1)))
            queries.append(torch.arange(starts[i], starts[i] + e))
            offset += e
        groups.append(_Group(rows[idx[0]][:p], torch.cat(queries).to(rows[0].device), members, _pad(members, heads_per_kv)))
    return ExtendCascadePlan(groups)


def _pad(members: list[_Member], r: int) -> _Padded | None:
    """Padded layout of the members' rest parts, when padding at most doubles the work."""
    if len(members) < 2:
        return None
    e_max = max(m.length for m in members)
    s_max = max(len(m.rest_slots) for m in members)
    if len(members) * e_max * s_max > PAD_LIMIT * sum(m.length * len(m.rest_slots) for m in members):
        return None
    device = members[0].rest_slots.device
    index = torch.zeros((len(members), e_max), dtype=torch.int64, device=device)
    valid = torch.zeros((len(members), e_max), dtype=torch.bool, device=device)
    slots = torch.zeros((len(members), s_max), dtype=members[0].rest_slots.dtype, device=device)
    bias = torch.full((len(members), r, e_max, s_max), float("-inf"), device=device)
    bias[..., 0] = 0.0
    for j, m in enumerate(members):
        e, s = m.length, len(m.rest_slots)
        index[j, :e] = torch.arange(m.offset, m.offset + e, device=device)
        valid[j, :e] = True
        slots[j, :s] = m.rest_slots
        slots[j, s:] = m.rest_slots[0]
        bias[j, :, :e, :s] = m.rest_bias.view(r, e, s)
    return _Padded(index, valid.view(-1), slots, bias.view(len(members), r * e_max, s_max))


def grouped_extend(q: torch.Tensor, k_buf: torch.Tensor, v_buf: torch.Tensor, group: _Group, scale: float, out: torch.Tensor) -> None:
    """Writes the attention output of the group's new tokens into ``out`` [T, Hq, D]."""
    hq, d = q.shape[1:]
    hk = k_buf.shape[0]
    r = hq // hk
    n = len(group.query_rows)
    keys = k_buf.index_select(1, group.prefix_slots).unsqueeze(1)  # [Hk, 1, P, D]
    values = v_buf.index_select(1, group.prefix_slots).unsqueeze(1)
    qg = q.index_select(0, group.query_rows).view(n, hk, r, d).permute(1, 2, 0, 3)  # [Hk, r, N, D]
    out_p, lse_p = partial_attention(qg.reshape(hk, 1, r * n, d), keys, values, None, scale)
    out_p, lse_p = out_p.view(hk, r, n, d), lse_p.view(hk, r, n)
    if group.padded is not None:
        _padded_rest(q.dtype, qg, k_buf, v_buf, out_p, lse_p, group, scale, out)
        return
    for m in group.members:
        keys = k_buf.index_select(1, m.rest_slots).unsqueeze(1)  # [Hk, 1, S, D]
        values = v_buf.index_select(1, m.rest_slots).unsqueeze(1)
        qm = qg[:, :, m.offset : m.offset + m.length].reshape(hk, 1, r * m.length, d)
        out_r, lse_r = partial_attention(qm, keys, values, m.rest_bias, scale)
        own = slice(m.offset, m.offset + m.length)
        merged = merge_partials(out_r.view(hk, r, m.length, d), lse_r.view(hk, r, m.length), out_p[:, :, own], lse_p[:, :, own])
        out[m.start : m.start + m.length] = merged.permute(2, 0, 1, 3).reshape(m.length, hq, d).to(out.dtype)


def _padded_rest(dtype: torch.dtype, qg: torch.Tensor, k_buf: torch.Tensor, v_buf: torch.Tensor, out_p: torch.Tensor, lse_p: torch.Tensor, group: _Group, scale: float, out: torch.Tensor) -> None:
    """All members' rest parts in one padded call, merged with the prefix part and written
    to ``out``. qg: [Hk, r, N, D]; out_p/lse_p: the prefix part [Hk, r, N, D] / [Hk, r, N]."""
    hk, r, _, d = qg.shape
    pad = group.padded
    m, e = pad.query_index.shape
    s = pad.rest_slots.shape[1]
    index = pad.query_index.view(-1)
    qm = qg[:, :, index].view(hk, r, m, e, d).transpose(1, 2).reshape(hk, m, r * e, d)
    keys = k_buf.index_select(1, pad.rest_slots.view(-1)).view(hk, m, s, d)
    values = v_buf.index_select(1, pad.rest_slots.view(-1)).view(hk, m, s, d)
    out_r, lse_r = partial_attention(qm, keys, values, pad.rest_bias[None], scale)  # [Hk, M, r*E, D]
    out_r = out_r.view(hk, m, r, e, d).transpose(1, 2).reshape(hk, r, m * e, d)
    lse_r = lse_r.view(hk, m, r, e).transpose(1, 2).reshape(hk, r, m * e)
    merged = merge_partials(out_r, lse_r, out_p[:, :, index], lse_p[:, :, index])  # [Hk, r, M*E, D]
    rows = merged[:, :, pad.valid].permute(2, 0, 1, 3).reshape(-1, hk * r, d)  # [N, Hq, D]
    out.index_copy_(0, group.query_rows, rows.to(dtype))


__all__ = ["ExtendCascadePlan", "grouped_extend", "plan_extend"]
