"""Writes the new tokens' K/V into their pool slots (the twin of ``KVPool.write``)."""
from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _store_kernel(K, V, KBuf, VBuf, Slots, stride_kt, stride_kh, stride_vt, stride_vh, stride_bh, stride_bs, D: tl.constexpr):
    t = tl.program_id(0)
    h = tl.program_id(1)
    d = tl.arange(0, D)
    slot = tl.load(Slots + t).to(tl.int64)
    k = tl.load(K + t * stride_kt + h * stride_kh + d)
    v = tl.load(V + t * stride_vt + h * stride_vh + d)
    tl.store(KBuf + h * stride_bh + slot * stride_bs + d, k.to(KBuf.dtype.element_ty))
    tl.store(VBuf + h * stride_bh + slot * stride_bs + d, v.to(VBuf.dtype.element_ty))


def store_kv(k_buf: torch.Tensor, v_buf: torch.Tensor, slots: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    """k_buf/v_buf: [Hk, slots, D] (one layer of the pool); slots: [T]; k/v: [T, Hk, D]."""
    t, hk, d = k.shape
    if t == 0:
        return
    k, v = _last_dim_contiguous(k), _last_dim_contiguous(v)
    assert k_buf.stride() == v_buf.stride() and k_buf.stride(2) == 1
    _store_kernel[(t, hk)](k, v, k_buf, v_buf, slots, k.stride(0), k.stride(1), v.stride(0), v.stride(1), k_buf.stride(0), k_buf.stride(1), D=d)


def _last_dim_contiguous(x: torch.Tensor) -> torch.Tensor:
    return x if x.stride(-1) == 1 else x.contiguous()
