"""Blocked partial attention equals its one-block reference twin."""
from __future__ import annotations

import pytest
import torch

from sglike.kernels.attention import partial


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


def test_merge_partials_equals_attention_over_both_parts() -> None:
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 16), torch.randn(2, 3, 40, 16), torch.randn(2, 3, 40, 16)
    whole, _ = partial.partial_attention_reference(q, k, v, None, 0.25)
    out_a, lse_a = partial.partial_attention_reference(q, k[:, :, :15], v[:, :, :15], None, 0.25)
    out_b, lse_b = partial.partial_attention_reference(q, k[:, :, 15:], v[:, :, 15:], None, 0.25)
    torch.testing.assert_close(partial.merge_partials(out_a, lse_a, out_b, lse_b), whole, atol=1e-5, rtol=1e-5)
