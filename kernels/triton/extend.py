"""Extend (prefill) attention: new tokens after a cached prefix, online softmax.

Each program takes one request, one query head and a block of its new tokens. Stage 1
walks the request's cached prefix in the pool through the request->slot table (every new
token sees all of it); stage 2 walks the new tokens' own K/V (contiguous, ``[T, Hk, D]``)
under the causal mask, only up to the block's last position. A fresh prompt is the case of
an empty prefix. The reference twin is ``sglike.kernels.attention.extend.extend_attention``.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from .common import LOG2_E, dot_flags, softmax_step
from .support import interpreting

BLOCK_M, BLOCK_N = 64, 64
FP32_BLOCK = 32  # float32 on a GPU (tests): 64-blocks at head_dim 128 need ~180 KB of shared memory


@triton.jit
def _extend_kernel(
    Q, K, V, KBuf, VBuf, Out, ReqToTok, Rows, PrefixLens, ExtStarts, ExtLens, scale_log2,
    stride_qt, stride_qh, stride_kt, stride_kh, stride_vt, stride_vh, stride_ot, stride_oh, stride_bh, stride_bs, stride_rt,
    G: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, D: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr,
):
    b = tl.program_id(0)
    h = tl.program_id(1)
    kh = h // G
    ext = tl.load(ExtLens + b)
    first = tl.program_id(2) * BLOCK_M
    active = first < ext  # blocks past this request's new tokens do nothing
    t0 = tl.load(ExtStarts + b).to(tl.int64)
    row = tl.load(Rows + b).to(tl.int64)
    prefix = tl.where(active, tl.load(PrefixLens + b), 0)
    qpos = first + tl.arange(0, BLOCK_M)  # positions among the new tokens
    qmask = qpos < ext
    d = tl.arange(0, D)
    q = tl.load(Q + (t0 + qpos)[:, None] * stride_qt + h * stride_qh + d[None, :], mask=qmask[:, None], other=0.0)
    q = q.to(KBuf.dtype.element_ty)  # [BLOCK_M, D]
    m = tl.full([BLOCK_M], float("-inf"), tl.float32)
    l = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, D], tl.float32)
    base = kh.to(tl.int64) * stride_bh
    for n0 in tl.range(0, prefix, BLOCK_N):  # stage 1: the cached prefix, from the pool
        pos = n0 + tl.arange(0, BLOCK_N)
        nmask = pos < prefix
        slot = tl.load(ReqToTok + row * stride_rt + pos, mask=nmask, other=0).to(tl.int64)
        k = tl.load(KBuf + base + slot[:, None] * stride_bs + d[None, :], mask=nmask[:, None], other=0.0)
        v = tl.load(VBuf + base + slot[:, None] * stride_bs + d[None, :], mask=nmask[:, None], other=0.0)
        m, l, acc = softmax_step(q, k, v, nmask[None, :], m, l, acc, scale_log2, PRECISION, UPCAST)
    hi = tl.where(active, tl.minimum(first + BLOCK_M, ext), 0)
    for n0 in tl.range(0, hi, BLOCK_N):  # stage 2: the new tokens, causal
        pos = n0 + tl.arange(0, BLOCK_N)
        nmask = pos < ext
        k = tl.load(K + (t0 + pos)[:, None] * stride_kt + kh * stride_kh + d[None, :], mask=nmask[:, None], other=0.0)
        k = k.to(KBuf.dtype.element_ty)
        v = tl.load(V + (t0 + pos)[:, None] * stride_vt + kh * stride_vh + d[None, :], mask=nmask[:, None], other=0.0)
        v = v.to(KBuf.dtype.element_ty)
        m, l, acc = softmax_step(q, k, v, nmask[None, :] & (pos[None, :] <= qpos[:, None]), m, l, acc, scale_log2, PRECISION, UPCAST)
    out = acc / tl.where(l > 0.0, l, 1.0)[:, None]
    tl.store(Out + (t0 + qpos)[:, None] * stride_ot + h * stride_oh + d[None, :], out.to(Out.dtype.element_ty), mask=qmask[:, None])


def extend_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, k_buf: torch.Tensor, v_buf: torch.Tensor, req_to_token: torch.Tensor,
                     req_rows: torch.Tensor, prefix_lens: torch.Tensor, extend_starts: torch.Tensor, extend_lens: torch.Tensor,
                     max_extend: int, scale: float, out: torch.Tensor | None = None) -> torch.Tensor:
    """q: [T, Hq, D]; k/v: [T, Hk, D] (the new tokens, back to back per request); k_buf/v_buf:
    [Hk, slots, D]; per request b: prefix_lens[b] cached tokens in row req_rows[b] of
    req_to_token, new tokens at extend_starts[b] .. + extend_lens[b] -> [T, Hq, D]."""
    t, hq, d = q.shape
    hk = k.shape[1]
    out = torch.empty_like(q) if out is None else out
    q, k, v = (x if x.stride(-1) == 1 else x.contiguous() for x in (q, k, v))
    assert k_buf.stride(2) == 1 and k_buf.stride() == v_buf.stride() and out.stride(2) == 1
    block_m = block_n = FP32_BLOCK if k_buf.dtype == torch.float32 and not interpreting() else BLOCK_M
    grid = (len(req_rows), hq, triton.cdiv(max_extend, block_m))
    _extend_kernel[grid](
        q, k, v, k_buf, v_buf, out, req_to_token, req_rows, prefix_lens, extend_starts, extend_lens, scale * LOG2_E,
        q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1), out.stride(0), out.stride(1),
        k_buf.stride(0), k_buf.stride(1), req_to_token.stride(0),
        G=hq // hk, BLOCK_M=block_m, BLOCK_N=block_n, D=d, **dot_flags(k_buf.dtype),
    )
    return out
