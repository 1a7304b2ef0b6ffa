"""Blocked causal prefill of a fresh prompt chunk equals torch's causal SDPA (its twin)."""
from __future__ import annotations

import pytest
import torch

from sglike.kernels.attention import partial
from sglike.kernels.attention.causal import causal_attention, causal_attention_reference

HK, HQ = 2, 6


@pytest.mark.parametrize("length", [1, 5, 127, 128, 300, 512, 1024, 1100])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_blocked_causal_prefill_matches_sdpa(length: int, dtype: torch.dtype, monkeypatch) -> None:
    """Both sides of the length gates, and many thin blocks via a small BLOCK_BYTES."""
    torch.manual_seed(length)
    q, k, v = (torch.randn(length, h, 32).to(dtype) for h in (HQ, HK, HK))
    want = causal_attention_reference(q, k, v, 32**-0.5).float()
    for block_bytes in (partial.BLOCK_BYTES, 4096):
        monkeypatch.setattr(partial, "BLOCK_BYTES", block_bytes)
        got = causal_attention(q, k, v, 32**-0.5).float()
        tol = 1e-5 if dtype is torch.float32 else 2e-2
        torch.testing.assert_close(got, want, atol=tol, rtol=tol)
