"""Grouped extend after shared cached prefixes equals the plain per-request masked extend
(its twin) on random tensors."""
from __future__ import annotations

import random

import pytest
import torch

from sglike.kernels.attention import cascade_extend, partial
from sglike.kernels.attention.cascade_extend import grouped_extend, plan_extend
from sglike.kernels.attention.extend import extend_attention

HK, HQ, D, SLOTS = 2, 6, 16, 4000


def check_extend(seed: int, slot_trees) -> int:
    """Compares the two on a random batch; returns the size of its largest group."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    table, lens = slot_trees(rng, SLOTS, rng.randint(1, 9))
    ext = [rng.randint(1, min(n, 40)) if rng.random() < 0.8 else n for n in lens]
    starts = [sum(ext[:i]) for i in range(len(lens))]
    k_buf, v_buf = torch.randn(HK, SLOTS + 1, D), torch.randn(HK, SLOTS + 1, D)  # [Hk, slots, D]
    q = torch.randn(sum(ext), HQ, D)  # [T, Hq, D]
    rows = [table[i, :n] for i, n in enumerate(lens)]
    plan = plan_extend(rows, lens, ext, HQ // HK)
    cached = [i for i, (n, e) in enumerate(zip(lens, ext)) if n > e]
    assert sorted(m.index for g in plan.groups for m in g.members) == cached  # each exactly once
    got = torch.zeros_like(q)
    for group in plan.groups:
        grouped_extend(q, k_buf, v_buf, group, D**-0.5, got)
    for i in cached:
        n, e, s = lens[i], ext[i], starts[i]
        mask = torch.arange(n)[None, :] <= torch.arange(n - e, n)[:, None]  # [E, S]
        want = extend_attention(q[s : s + e], k_buf.index_select(1, rows[i]), v_buf.index_select(1, rows[i]), mask, D**-0.5)
        torch.testing.assert_close(got[s : s + e], want, atol=1e-5, rtol=1e-5)
    return max((len(g.members) for g in plan.groups), default=0)


@pytest.mark.parametrize("pad_limit", [0, 2, 10**9])  # members attended one by one / default / always padded
@pytest.mark.parametrize("seed", range(30))
def test_grouped_extend_matches_plain(seed: int, pad_limit: int, slot_trees, monkeypatch) -> None:
    monkeypatch.setattr(cascade_extend, "PAD_LIMIT", pad_limit)
    check_extend(seed, slot_trees)


@pytest.mark.parametrize("seed", range(12))
def test_grouped_extend_matches_plain_in_small_blocks(seed: int, slot_trees, monkeypatch) -> None:
    """Forced to work in many small blocks, padded (guards the block slicing of real masks)."""
    monkeypatch.setattr(partial, "BLOCK_BYTES", 512)
    monkeypatch.setattr(cascade_extend, "PAD_LIMIT", 10**9)
    check_extend(seed, slot_trees)


def test_random_batches_do_group(slot_trees) -> None:
    """Guards the tests above against testing nothing: many random batches share a prefix."""
    assert sum(check_extend(seed, slot_trees) >= 2 for seed in range(30)) >= 8
