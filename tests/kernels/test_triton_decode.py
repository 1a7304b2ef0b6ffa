"""Triton split-KV decode and shared-prefix (cascade) decode equal the torch reference
``attention.decode.decode_attention`` over the same pool (CPU: TRITON_INTERPRET=1)."""
from __future__ import annotations

import random

import pytest
import torch

pytest.importorskip("triton")

from sglike.kernels.attention.decode import decode_attention as reference_decode  # noqa: E402
from sglike.kernels.attention.partial import mask_bias  # noqa: E402
from sglike.kernels.triton.cascade import cascade_decode, plan_cascade  # noqa: E402
from sglike.kernels.triton.decode import decode_attention, num_kv_splits  # noqa: E402


def reference(q, k_buf, v_buf, table, req_rows, lens):
    """Plain decode over the gathered, padded rows (the torch twin)."""
    hk, _, d = k_buf.shape
    width = max(lens)
    slots = table[req_rows, :width]  # [B, L]
    keys = k_buf.index_select(1, slots.reshape(-1)).view(hk, len(lens), width, d)
    values = v_buf.index_select(1, slots.reshape(-1)).view(hk, len(lens), width, d)
    valid = torch.arange(width, device=q.device)[None, :] < torch.tensor(lens, device=q.device)[:, None]
    return reference_decode(q, keys, values, mask_bias(valid[None, :, None, :]), q.shape[-1] ** -0.5)


def tol(dtype: torch.dtype) -> dict:
    return dict(atol=2e-2, rtol=2e-2) if dtype == torch.bfloat16 else dict(atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize(
    "heads_per_kv, head_dim, lens, splits, dtype",
    [
        (1, 64, [1, 17, 1030], 4, torch.float32),  # lengths 1, 17, 1000+; MHA
        (2, 128, [17, 1], 1, torch.float32),  # one split
        (3, 64, [5, 300, 64, 65], 7, torch.float32),  # mixed batch, splits past short requests' ends
        (8, 128, [40, 129], 3, torch.float32),  # GQA 8
        (4, 64, [1, 17, 200], 2, torch.bfloat16),
    ],
)
def test_split_decode_matches_reference(pools, heads_per_kv, head_dim, lens, splits, dtype) -> None:
    hk = 2
    k_buf, v_buf, table, req_rows = pools.random_pool(pools.distinct_rows(lens), hk, head_dim, dtype)
    q = torch.randn(len(lens), hk * heads_per_kv, head_dim, generator=torch.Generator().manual_seed(1)).to(dtype).to(pools.device)
    seq_lens = torch.tensor(lens, device=pools.device)
    out = decode_attention(q, k_buf, v_buf, table, req_rows, seq_lens, head_dim**-0.5, splits)
    want = reference(q, k_buf, v_buf, table, req_rows, lens)
    assert out.dtype == dtype and out.shape == q.shape
    torch.testing.assert_close(out.float(), want.float(), **tol(dtype))


def test_num_kv_splits_bounds() -> None:
    assert num_kv_splits(64, 8, 4096, 132) == 2  # 64 x 8 programs already fill 132 SMs ~4x
    assert num_kv_splits(1, 2, 4096, 132) == 16  # long single request: as many as allowed
    assert num_kv_splits(1, 2, 100, 132) == 1  # short: no split under MIN_SPLIT keys


@pytest.mark.parametrize("seed, heads_per_kv, head_dim", [(0, 3, 64), (1, 1, 128), (2, 8, 64)])
def test_cascade_decode_matches_reference_on_radix_like_sharing(pools, slot_trees, seed, heads_per_kv, head_dim) -> None:
    hk = 2
    table_b, lens = slot_trees(random.Random(seed), 600, 6)
    rows = [table_b[i, :n].tolist() for i, n in enumerate(lens)]
    k_buf, v_buf, table, req_rows = pools.random_pool(rows, hk, head_dim, torch.float32, seed)
    q = torch.randn(len(lens), hk * heads_per_kv, head_dim, generator=torch.Generator().manual_seed(seed)).to(pools.device)
    plan = plan_cascade(table, req_rows, lens)
    want = reference(q, k_buf, v_buf, table, req_rows, lens)
    seq_lens = torch.tensor(lens, device=pools.device)
    if plan is None:  # too little sharing for a cascade: the plain path must still agree
        out = decode_attention(q, k_buf, v_buf, table, req_rows, seq_lens, head_dim**-0.5, 2)
    else:
        out = cascade_decode(q, k_buf, v_buf, table, req_rows, seq_lens, plan, head_dim**-0.5, 2)
    torch.testing.assert_close(out, want, **tol(torch.float32))


def test_cascade_decode_shared_system_prompt(pools) -> None:
    """Five requests over one 200-token prefix (one of them holds nothing past it but its
    newest token) plus one unrelated request: one group of five, one outsider."""
    gen = torch.Generator().manual_seed(3)
    perm = (torch.randperm(1200, generator=gen) + 1).tolist()
    shared, rest = perm[:200], perm[200:]
    sizes = [1, 9, 30, 64, 2]
    rows, at = [], 0
    for n in sizes:
        rows.append(shared + rest[at : at + n])
        at += n
    rows.append(rest[at : at + 77])
    lens = [len(r) for r in rows]
    k_buf, v_buf, table, req_rows = pools.random_pool(rows, 2, 64, torch.float32)
    q = torch.randn(len(rows), 8, 64, generator=gen).to(pools.device)
    plan = plan_cascade(table, req_rows, lens)
    assert plan is not None and plan.prefix_lens.tolist() == [200]
    assert plan.suffix_starts.tolist() == [200] * 5 + [0]
    out = cascade_decode(q, k_buf, v_buf, table, req_rows, torch.tensor(lens, device=pools.device), plan, 0.125, 3)
    torch.testing.assert_close(out, reference(q, k_buf, v_buf, table, req_rows, lens), **tol(torch.float32))


def test_merge_ignores_what_empty_parts_hold(pools) -> None:
    """An empty part (lse -inf) is never written, so its buffer holds whatever memory held,
    NaN included; the merge must weigh it 0 without touching the value."""
    from sglike.kernels.triton.decode import merge_partials

    device = pools.device
    out_p = torch.randn(3, 2, 4, 64, device=device)
    lse_p = torch.randn(3, 2, 4, device=device)
    out_p[:, :, 1:] = float("nan")
    lse_p[:, :, 1:] = float("-inf")
    merged = merge_partials(out_p, lse_p, torch.empty(3, 2, 64, device=device))
    torch.testing.assert_close(merged, out_p[:, :, 0])
