"""Shared-prefix (cascade) decode attention equals the plain decode path it replaces."""
from __future__ import annotations

import random

import pytest
import torch

from sglike.runtime.attention import cascade_extend, partial
from sglike.runtime.attention.cascade import MIN_PREFIX, cascade_decode, plan_cascade
from sglike.runtime.attention.causal import causal_attention, causal_attention_reference
from sglike.runtime.attention.torch_backend import TorchAttentionBackend
from sglike.runtime.forward_batch import ForwardBatch, ForwardMode
from sglike.runtime.mem.kv_pool import KVPool

HK, HQ, D = 2, 6, 16


def _tree_batch(rng: random.Random, num_slots: int, batch: int) -> tuple[torch.Tensor, list[int]]:
    """Slot rows for ``batch`` requests that fork from each other at random points, like
    requests whose prefixes the radix cache shares (shared tokens -> identical slots)."""
    free = list(range(1, num_slots + 1))
    rng.shuffle(free)
    rows: list[list[int]] = []
    for _ in range(batch):
        if rows and rng.random() < 0.8:
            parent = rng.choice(rows)
            cut = rng.randint(len(parent) // 3, len(parent) - 1)
            row = parent[:cut]
        else:
            row = []
        row = row + [free.pop() for _ in range(rng.randint(1, 3 * MIN_PREFIX))]
        rows.append(row)
    lens = [len(r) for r in rows]
    table = torch.zeros((batch, max(lens)), dtype=torch.int64)
    for i, r in enumerate(rows):
        table[i, : len(r)] = torch.tensor(r)
    return table, lens


def _reference(q: torch.Tensor, pool: KVPool, slots: torch.Tensor, lens: list[int]) -> torch.Tensor:
    backend = TorchAttentionBackend(pool, slots, HQ, HK, D)
    mask = torch.arange(slots.shape[1])[None, :] < torch.tensor(lens)[:, None]
    return backend._decode(q, *pool.gather(0, slots), partial.mask_bias(mask[None, :, None, :]))


@pytest.mark.parametrize("seed", range(40))
def test_cascade_matches_plain_decode(seed: int) -> None:
    _check_decode(seed)


def _check_decode(seed: int) -> None:
    rng = random.Random(seed)
    torch.manual_seed(seed)
    pool = KVPool(4000, 1, HK, D, torch.float32, torch.device("cpu"))
    pool.k[0].normal_()
    pool.v[0].normal_()
    slots, lens = _tree_batch(rng, 4000, rng.randint(2, 12))
    q = torch.randn(len(lens), HQ, D)
    plan = plan_cascade(slots, lens)
    if plan is None:
        return
    for g in range(plan.prefix_slots.shape[0]):  # every group really shares its prefix
        width = int((plan.prefix_bias[0, g, 0] == 0).sum())
        members = plan.member_req[plan.member_pos // plan.group_size == g]
        assert len(members) >= 2 and width >= MIN_PREFIX
        assert torch.equal(slots[members, :width], plan.prefix_slots[g, :width].expand(len(members), -1))
    got = cascade_decode(q, pool.k[0], pool.v[0], plan, D**-0.5)
    torch.testing.assert_close(got, _reference(q, pool, slots, lens), atol=1e-5, rtol=1e-5)


def test_random_batches_do_share() -> None:
    """Guards the test above against testing nothing: most random batches get a plan."""
    planned = 0
    for seed in range(40):
        rng = random.Random(seed)
        slots, lens = _tree_batch(rng, 4000, rng.randint(2, 12))
        planned += plan_cascade(slots, lens) is not None
    assert planned >= 15


def test_cascade_bfloat16_close_to_plain() -> None:
    rng = random.Random(7)
    pool = KVPool(4000, 1, HK, D, torch.bfloat16, torch.device("cpu"))
    pool.k[0].normal_()
    pool.v[0].normal_()
    shared = list(range(1, 201))
    rows = [shared + list(range(300 + 50 * i, 300 + 50 * i + rng.randint(1, 40))) for i in range(8)]
    lens = [len(r) for r in rows]
    slots = torch.zeros((8, max(lens)), dtype=torch.int64)
    for i, r in enumerate(rows):
        slots[i, : len(r)] = torch.tensor(r)
    q = torch.randn(8, HQ, D, dtype=torch.bfloat16)
    plan = plan_cascade(slots, lens)
    assert plan is not None and plan.prefix_slots.shape == (1, 200)
    got = cascade_decode(q, pool.k[0], pool.v[0], plan, D**-0.5)
    torch.testing.assert_close(got.float(), _reference(q, pool, slots, lens).float(), atol=2e-2, rtol=2e-2)


def test_no_plan_without_sharing() -> None:
    slots = torch.arange(1, 301).view(3, 100)
    assert plan_cascade(slots, [100, 100, 100]) is None
    assert plan_cascade(slots[:1], [100]) is None


def test_engine_outputs_same_with_and_without_cascade(real_engine, default_tokenizer, monkeypatch) -> None:
    """Greedy decoding of requests sharing a long system prompt (float32): the cascade path
    is taken and gives the same tokens as the plain path."""
    system = "You are a meticulous assistant. " * 12
    prompts = [f"{system}\nQuestion {i}: name a colour and a number." for i in range(6)]
    params = {"max_new_tokens": 24, "temperature": 0, "ignore_eos": True}
    real_engine.flush_cache()
    before = real_engine.get_server_info()["cascade_decode_steps"]
    fast = real_engine.generate(prompts, params)
    assert real_engine.get_server_info()["cascade_decode_steps"] > before
    monkeypatch.setattr(TorchAttentionBackend, "use_cascade", False)
    real_engine.flush_cache()
    plain = real_engine.generate(prompts, params)
    assert [o["output_ids"] for o in fast] == [o["output_ids"] for o in plain]


def _extend_batch(rng: random.Random, pool_slots: int) -> tuple[torch.Tensor, ForwardBatch]:
    """A table and an extend batch mixing fresh prompts, requests after a private cached
    prefix, and requests after cached prefixes shared with others (forked rows)."""
    table, lens = _tree_batch(rng, pool_slots, rng.randint(1, 9))
    ext = [rng.randint(1, min(n, 40)) if rng.random() < 0.8 else n for n in lens]
    cut = [slice(n - e, n) for n, e in zip(lens, ext)]
    new_slots = torch.cat([table[i, c] for i, c in enumerate(cut)])
    if len(set(new_slots.tolist())) != len(new_slots):  # two requests computing the same slot: not a real batch
        return _extend_batch(rng, pool_slots)
    positions = torch.cat([torch.arange(c.start, c.stop) for c in cut])
    batch = ForwardBatch(
        mode=ForwardMode.EXTEND,
        input_ids=torch.zeros(len(new_slots), dtype=torch.int64),
        positions=positions,
        out_cache_loc=new_slots,
        req_rows=torch.arange(len(lens)),
        seq_lens=lens,
        extend_lens=ext,
        logit_indices=torch.zeros(0, dtype=torch.int64),
    )
    return table, batch


@pytest.mark.parametrize("pad_limit", [0, 2, 10**9])  # members attended one by one / default / always padded
@pytest.mark.parametrize("seed", range(30))
def test_grouped_extend_matches_plain(seed: int, pad_limit: int, monkeypatch) -> None:
    monkeypatch.setattr(cascade_extend, "PAD_LIMIT", pad_limit)
    _check_extend(seed, monkeypatch)


def _check_extend(seed: int, monkeypatch) -> None:
    rng = random.Random(seed)
    torch.manual_seed(seed)
    pool = KVPool(4000, 1, HK, D, torch.float32, torch.device("cpu"))
    pool.k[0].normal_()
    pool.v[0].normal_()
    table, batch = _extend_batch(rng, 4000)
    t = len(batch.out_cache_loc)
    q, k, v = torch.randn(t, HQ, D), torch.randn(t, HK, D), torch.randn(t, HK, D)
    backend = TorchAttentionBackend(pool, table, HQ, HK, D)
    backend.prepare(batch)
    assert batch.attn_meta.cascade is not None
    fast = backend.forward(0, q, k, v, batch)
    monkeypatch.setattr(TorchAttentionBackend, "use_cascade", False)
    backend.prepare(batch)
    plain = backend.forward(0, q, k, v, batch)
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("shape", [(2, 1, 300, 40), (3, 5, 7, 90), (1, 9, 64, 33)])
def test_blocked_partial_attention_matches_one_block(shape, monkeypatch) -> None:
    """Blocks over X and over Q (tiny BLOCK_BYTES) give the one-block result, for each way a
    mask broadcasts (none, per X, per query row)."""
    hk, x, nq, length = shape
    torch.manual_seed(sum(shape))
    q, k, v = torch.randn(hk, x, nq, 16), torch.randn(hk, x, length, 16), torch.randn(hk, x, length, 16)
    lens = torch.randint(1, length + 1, (x,))
    masks = [None, (torch.arange(length)[None, :] < lens[:, None])[None, :, None, :], torch.rand(nq, length).lt(0.7).index_fill_(1, torch.tensor([0]), True)]
    monkeypatch.setattr(partial, "BLOCK_BYTES", 8 * length * hk)
    for mask in masks:
        bias = None if mask is None else partial.mask_bias(mask)
        want = partial.partial_attention_reference(q, k, v, bias, 0.25)
        got = partial.partial_attention(q, k, v, bias, 0.25)
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("seed", range(12))
def test_cascade_paths_match_plain_in_small_blocks(seed: int, monkeypatch) -> None:
    """The decode and extend cascades, forced to work in many small blocks, still equal the
    plain paths (guards the block slicing of their real masks)."""
    monkeypatch.setattr(partial, "BLOCK_BYTES", 512)
    monkeypatch.setattr(cascade_extend, "PAD_LIMIT", 10**9)
    _check_extend(seed, monkeypatch)
    monkeypatch.setattr(TorchAttentionBackend, "use_cascade", True)
    _check_decode(seed)


@pytest.mark.parametrize("length", [1, 5, 127, 128, 300, 512, 1024, 1100])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_blocked_causal_prefill_matches_sdpa(length: int, dtype: torch.dtype, monkeypatch) -> None:
    """Fresh-prompt attention in query blocks equals torch's causal SDPA (both sides of the
    length gates, and many thin blocks via a small BLOCK_BYTES)."""
    torch.manual_seed(length)
    q, k, v = (torch.randn(length, h, 32).to(dtype) for h in (HQ, HK, HK))
    want = causal_attention_reference(q, k, v, 32**-0.5).float()
    for block_bytes in (partial.BLOCK_BYTES, 4096):
        monkeypatch.setattr(partial, "BLOCK_BYTES", block_bytes)
        got = causal_attention(q, k, v, 32**-0.5).float()
        tol = 1e-5 if dtype is torch.float32 else 2e-2
        torch.testing.assert_close(got, want, atol=tol, rtol=tol)
