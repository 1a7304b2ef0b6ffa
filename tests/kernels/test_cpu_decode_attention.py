"""sglike's C++ decode attention (decode_attention.cpp) against its twins: the torch decode
kernel and the Python shared-prefix planner; and the fused SiLU-gated product."""
from __future__ import annotations

import random

import pytest
import torch

from sglike.kernels import cpu
from sglike.kernels.attention.cascade import shared_prefix_groups, MIN_SAVING
from sglike.kernels.attention.decode import decode_attention
from sglike.kernels.attention.partial import mask_bias

needs_ext = pytest.mark.skipif(not cpu.available(), reason="sglike CPU extension not built")


def _reference(q, k_buf, v_buf, slots, lens):
    hk, d = k_buf.shape[0], k_buf.shape[2]
    keys = k_buf.index_select(1, slots.reshape(-1)).view(hk, *slots.shape, d)
    values = v_buf.index_select(1, slots.reshape(-1)).view(hk, *slots.shape, d)
    mask = torch.arange(slots.shape[1])[None, :] < torch.tensor(lens)[:, None]
    return decode_attention(q, keys, values, mask_bias(mask[None, :, None, :]), d**-0.5)


@needs_ext
@pytest.mark.parametrize("simd", [True, False], ids=["simd", "plain"])
@pytest.mark.parametrize("cascade", [False, True], ids=["plain", "cascade"])
@pytest.mark.parametrize("d", [64, 128, 80])
@pytest.mark.parametrize("seed", range(6))
def test_matches_torch_decode_on_shared_prefix_batches(seed, d, cascade, simd, slot_trees):
    rng = random.Random(seed)
    torch.manual_seed(seed)
    hq, hk = [(9, 3), (4, 4), (8, 1)][seed % 3]
    slots, lens = slot_trees(rng, 3000, rng.randint(1, 12))
    k_buf, v_buf = torch.randn(hk, 3001, d), torch.randn(hk, 3001, d)
    q = torch.randn(len(lens), hq, d)
    out = cpu.decode_attention_paged(q, k_buf, v_buf, slots, torch.tensor(lens), d**-0.5, cascade, simd)
    torch.testing.assert_close(out, _reference(q, k_buf, v_buf, slots, lens), atol=2e-5, rtol=1e-5)


@needs_ext
@pytest.mark.parametrize("seed", range(30))
def test_groups_match_the_python_planner(seed, slot_trees):
    rng = random.Random(seed)
    slots, lens = slot_trees(rng, 3000, rng.randint(1, 12))
    saved, groups = shared_prefix_groups(slots, lens, list(range(len(lens))), 0)
    expected = [(m, p) for m, p in groups] if groups and saved >= MIN_SAVING * sum(lens) else []
    assert cpu.cascade_groups(slots, torch.tensor(lens)) == expected


@needs_ext
def test_random_batches_do_form_groups(slot_trees):
    """Guards the tests above against testing nothing."""
    formed = sum(bool(cpu.cascade_groups(*_as_tensors(*slot_trees(random.Random(s), 3000, 8)))) for s in range(20))
    assert formed >= 10


def _as_tensors(slots, lens):
    return slots, torch.tensor(lens)


@needs_ext
@pytest.mark.parametrize("simd", [True, False], ids=["simd", "plain"])
def test_silu_mul_matches_torch(simd):
    gate_up = torch.randn(5, 2 * 1000) * 6
    ref = torch.nn.functional.silu(gate_up[:, :1000]) * gate_up[:, 1000:]
    torch.testing.assert_close(cpu.silu_mul(gate_up, simd), ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match=r"\[T, 2I\]"):
        cpu.silu_mul(torch.randn(2, 7), simd)
