"""Shared-prefix (cascade) decode equals plain padded decode (its twin) on random tensors."""
from __future__ import annotations

import random

import pytest
import torch

from sglike.kernels.attention import partial
from sglike.kernels.attention.cascade import MIN_PREFIX, cascade_decode, plan_cascade
from sglike.kernels.attention.decode import decode_attention

HK, HQ, D, SLOTS = 2, 6, 16, 4000


def _buffers(dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """One layer's K and V buffers [Hk, SLOTS + 1, D] (slot 0 is the padding slot)."""
    return torch.randn(HK, SLOTS + 1, D).to(dtype), torch.randn(HK, SLOTS + 1, D).to(dtype)


def _plain(q: torch.Tensor, k_buf: torch.Tensor, v_buf: torch.Tensor, slots: torch.Tensor, lens: list[int]) -> torch.Tensor:
    shape = (HK, *slots.shape, D)
    keys, values = k_buf.index_select(1, slots.view(-1)).view(shape), v_buf.index_select(1, slots.view(-1)).view(shape)
    mask = torch.arange(slots.shape[1])[None, :] < torch.tensor(lens)[:, None]  # [B, L]
    return decode_attention(q, keys, values, partial.mask_bias(mask[None, :, None, :]), D**-0.5)


def check_decode(seed: int, slot_trees) -> None:
    rng = random.Random(seed)
    torch.manual_seed(seed)
    k_buf, v_buf = _buffers()
    slots, lens = slot_trees(rng, SLOTS, rng.randint(2, 12))
    q = torch.randn(len(lens), HQ, D)
    plan = plan_cascade(slots, lens)
    if plan is None:
        return
    for g in range(plan.prefix_slots.shape[0]):  # every group really shares its prefix
        width = int((plan.prefix_bias[0, g, 0] == 0).sum())
        members = plan.member_req[plan.member_pos // plan.group_size == g]
        assert len(members) >= 2 and width >= MIN_PREFIX
        assert torch.equal(slots[members, :width], plan.prefix_slots[g, :width].expand(len(members), -1))
    got = cascade_decode(q, k_buf, v_buf, plan, D**-0.5)
    torch.testing.assert_close(got, _plain(q, k_buf, v_buf, slots, lens), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("seed", range(40))
def test_cascade_matches_plain_decode(seed: int, slot_trees) -> None:
    check_decode(seed, slot_trees)


@pytest.mark.parametrize("seed", range(12))
def test_cascade_matches_plain_decode_in_small_blocks(seed: int, slot_trees, monkeypatch) -> None:
    """Forced to work in many small blocks (guards the block slicing of its real masks)."""
    monkeypatch.setattr(partial, "BLOCK_BYTES", 512)
    check_decode(seed, slot_trees)


def test_random_batches_do_share(slot_trees) -> None:
    """Guards the tests above against testing nothing: most random batches get a plan."""
    planned = 0
    for seed in range(40):
        rng = random.Random(seed)
        slots, lens = slot_trees(rng, SLOTS, rng.randint(2, 12))
        planned += plan_cascade(slots, lens) is not None
    assert planned >= 15


def test_cascade_bfloat16_close_to_plain() -> None:
    rng = random.Random(7)
    torch.manual_seed(7)
    k_buf, v_buf = _buffers(torch.bfloat16)
    shared = list(range(1, 201))
    rows = [shared + list(range(300 + 50 * i, 300 + 50 * i + rng.randint(1, 40))) for i in range(8)]
    lens = [len(r) for r in rows]
    slots = torch.zeros((8, max(lens)), dtype=torch.int64)
    for i, r in enumerate(rows):
        slots[i, : len(r)] = torch.tensor(r)
    q = torch.randn(8, HQ, D, dtype=torch.bfloat16)
    plan = plan_cascade(slots, lens)
    assert plan is not None and plan.prefix_slots.shape == (1, 200)
    got = cascade_decode(q, k_buf, v_buf, plan, D**-0.5)
    torch.testing.assert_close(got.float(), _plain(q, k_buf, v_buf, slots, lens).float(), atol=2e-2, rtol=2e-2)


def test_no_plan_without_sharing() -> None:
    slots = torch.arange(1, 301).view(3, 100)
    assert plan_cascade(slots, [100, 100, 100]) is None
    assert plan_cascade(slots[:1], [100]) is None
