"""Triton extend attention (cached prefix from the pool + causal new tokens) equals the
torch reference ``attention.extend.extend_attention``; the Triton KV store equals
``KVPool.write`` (CPU: TRITON_INTERPRET=1)."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton")

from sglike.kernels.attention.extend import extend_attention as reference_extend  # noqa: E402
from sglike.kernels.triton.extend import extend_attention  # noqa: E402
from sglike.kernels.triton.kv_store import store_kv  # noqa: E402
from sglike.runtime.mem.kv_pool import KVPool  # noqa: E402


def run_case(pools, prefix_lens: list[int], ext_lens: list[int], heads_per_kv: int, head_dim: int, dtype: torch.dtype, hk: int = 2) -> None:
    lens = [p + e for p, e in zip(prefix_lens, ext_lens)]
    k_buf, v_buf, table, req_rows = pools.random_pool(pools.distinct_rows(lens), hk, head_dim, dtype)
    gen = torch.Generator().manual_seed(7)
    total = sum(ext_lens)
    q = torch.randn(total, hk * heads_per_kv, head_dim, generator=gen).to(dtype).to(pools.device)
    # the new tokens' k/v: the kernel reads them from k/v, the reference from the pool
    new_slots = torch.cat([table[r, p:s] for r, p, s in zip(req_rows.tolist(), prefix_lens, lens)])
    k = k_buf[:, new_slots].transpose(0, 1).contiguous()  # [T, Hk, D]
    v = v_buf[:, new_slots].transpose(0, 1).contiguous()
    starts = [sum(ext_lens[:i]) for i in range(len(ext_lens))]
    t = lambda xs: torch.tensor(xs, device=pools.device)  # noqa: E731
    out = extend_attention(q, k, v, k_buf, v_buf, table, req_rows, t(prefix_lens), t(starts), t(ext_lens), max(ext_lens), head_dim**-0.5)
    for row, p, e, s0 in zip(req_rows.tolist(), prefix_lens, ext_lens, starts):
        slots = table[row, : p + e]
        causal = torch.arange(p + e, device=pools.device)[None, :] <= torch.arange(p, p + e, device=pools.device)[:, None]
        want = reference_extend(q[s0 : s0 + e], k_buf.index_select(1, slots), v_buf.index_select(1, slots), causal, head_dim**-0.5)
        tol = dict(atol=2e-2, rtol=2e-2) if dtype == torch.bfloat16 else dict(atol=2e-5, rtol=1e-4)
        torch.testing.assert_close(out[s0 : s0 + e].float(), want.float(), **tol)


@pytest.mark.parametrize(
    "prefix_lens, ext_lens, heads_per_kv, head_dim, dtype",
    [
        ([0, 0], [1, 17], 1, 64, torch.float32),  # fresh prompts (empty prefix), lengths 1 and 17
        ([17, 1000], [1, 40], 2, 64, torch.float32),  # cached prefixes 17 and 1000+
        ([0, 5, 33], [70, 3, 33], 8, 128, torch.float32),  # mixed batch, several query blocks, GQA 8
        ([3, 0], [20, 9], 3, 128, torch.float32),
        ([40, 0], [20, 9], 4, 64, torch.bfloat16),
    ],
)
def test_extend_matches_reference(pools, prefix_lens, ext_lens, heads_per_kv, head_dim, dtype) -> None:
    run_case(pools, prefix_lens, ext_lens, heads_per_kv, head_dim, dtype, hk=1 if heads_per_kv == 8 else 2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_store_kv_matches_pool_write(pools, dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    pool, twin = (KVPool(50, 1, 2, 64, dtype, pools.device) for _ in range(2))
    slots = torch.tensor([7, 1, 50, 23], device=pools.device)
    qkv = torch.randn(4, 6, 64, generator=gen).to(dtype).to(pools.device)
    k, v = qkv[:, :2], qkv[:, 2:4]  # non-contiguous views, as the model's qkv split gives
    store_kv(pool.k[0], pool.v[0], slots, k, v)
    twin.write(0, slots, k, v)
    assert torch.equal(pool.k[0], twin.k[0]) and torch.equal(pool.v[0], twin.v[0])
