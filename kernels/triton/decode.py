"""Split-KV decode attention (flash-decoding) over the token-level KV pool.

One query token per request. Stage 1 (``_split_kernel``): each program takes one request,
one KV head (all of its ``G`` query heads together, so GQA reads every key once) and one of
``num_splits`` slices of the request's positions; it walks its slice in blocks with an online
softmax and writes a normalised partial output and its base-2 log-sum-exp. Stage 2
(``_merge_kernel``): each (request, query head) merges its partials through their LSEs.

Split sizes come from each request's own length, read from a tensor inside the kernel, so
the launch depends only on the batch size and ``num_splits``: the decode step can be
captured in a CUDA graph. The reference twin is ``sglike.kernels.attention.decode``.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from .common import LOG2_E, dot_flags, softmax_step

BLOCK_N = 64  # keys per inner step
MIN_SPLIT = 256  # split a request's keys no finer than this
MAX_SPLITS = 16


@triton.jit
def _split_kernel(
    Q, KBuf, VBuf, ReqToTok, Rows, Starts, Ends, OutP, LseP, scale_log2, num_splits,
    stride_qb, stride_qh, stride_bh, stride_bs, stride_rt, stride_ob, stride_oh, stride_os, stride_lb, stride_lh,
    G: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_N: tl.constexpr, D: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr,
):
    b = tl.program_id(0)
    kh = tl.program_id(1)
    split = tl.program_id(2)
    row = tl.load(Rows + b).to(tl.int64)
    start = tl.load(Starts + b)  # first position of the part attended here (0, or past a shared prefix)
    end = tl.load(Ends + b)  # the request's KV length
    per = tl.cdiv(tl.cdiv(end - start, num_splits), BLOCK_N) * BLOCK_N
    lo = start + split * per
    hi = tl.minimum(lo + per, end)
    offs_h = tl.arange(0, BLOCK_H)
    heads = kh * G + offs_h
    hmask = offs_h < G
    d = tl.arange(0, D)
    q = tl.load(Q + b * stride_qb + heads[:, None] * stride_qh + d[None, :], mask=hmask[:, None], other=0.0)  # [BLOCK_H, D]
    q = q.to(KBuf.dtype.element_ty)
    m = tl.full([BLOCK_H], float("-inf"), tl.float32)
    l = tl.zeros([BLOCK_H], tl.float32)
    acc = tl.zeros([BLOCK_H, D], tl.float32)
    base = kh.to(tl.int64) * stride_bh
    for n0 in tl.range(lo, hi, BLOCK_N):
        pos = n0 + tl.arange(0, BLOCK_N)
        nmask = pos < hi
        slot = tl.load(ReqToTok + row * stride_rt + pos, mask=nmask, other=0).to(tl.int64)
        k = tl.load(KBuf + base + slot[:, None] * stride_bs + d[None, :], mask=nmask[:, None], other=0.0)  # [BLOCK_N, D]
        v = tl.load(VBuf + base + slot[:, None] * stride_bs + d[None, :], mask=nmask[:, None], other=0.0)  # [BLOCK_N, D]
        m, l, acc = softmax_step(q, k, v, nmask[None, :], m, l, acc, scale_log2, PRECISION, UPCAST)
    has = l > 0.0  # an empty split (short request) leaves l = 0
    out = tl.where(has[:, None], acc / tl.where(has, l, 1.0)[:, None], 0.0)
    lse = tl.where(has, m + tl.log2(tl.where(has, l, 1.0)), float("-inf"))
    tl.store(OutP + b * stride_ob + heads[:, None] * stride_oh + split * stride_os + d[None, :], out, mask=hmask[:, None])
    tl.store(LseP + b * stride_lb + heads * stride_lh + split, lse, mask=hmask)


@triton.jit
def _merge_kernel(OutP, LseP, Out, num_parts, stride_ob, stride_oh, stride_os, stride_lb, stride_lh, stride_b, stride_h,
                  BLOCK_S: tl.constexpr, D: tl.constexpr):
    b = tl.program_id(0)
    h = tl.program_id(1)
    parts = tl.arange(0, BLOCK_S)
    pmask = parts < num_parts
    d = tl.arange(0, D)
    lse = tl.load(LseP + b * stride_lb + h * stride_lh + parts, mask=pmask, other=float("-inf"))  # [BLOCK_S]
    peak = tl.max(lse, 0)  # finite: every request has at least one key
    w = tl.exp2(lse - peak)  # 0 for empty parts
    o = tl.load(OutP + b * stride_ob + h * stride_oh + parts[:, None] * stride_os + d[None, :], mask=pmask[:, None], other=0.0)
    o = tl.where(w[:, None] > 0, o, 0.0)  # an empty part's output is never written: 0 * NaN is NaN
    out = tl.sum(o * w[:, None], 0) / tl.sum(w, 0)
    tl.store(Out + b * stride_b + h * stride_h + d, out.to(Out.dtype.element_ty))


def num_kv_splits(batch: int, num_kv_heads: int, max_len: int, num_sms: int) -> int:
    """Splits per request: enough programs to fill the GPU (~4 per SM), none under MIN_SPLIT keys."""
    by_len = max(1, -(-max_len // MIN_SPLIT))
    by_occupancy = max(1, -(-4 * num_sms // (batch * num_kv_heads)))
    return int(min(MAX_SPLITS, by_len, by_occupancy))


def partial_buffers(batch: int, num_heads: int, num_parts: int, head_dim: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Partial outputs [B, Hq, P, D] and base-2 LSEs [B, Hq, P], float32 (-inf: empty)."""
    out = torch.empty((batch, num_heads, num_parts, head_dim), dtype=torch.float32, device=device)
    lse = torch.full((batch, num_heads, num_parts), float("-inf"), dtype=torch.float32, device=device)
    return out, lse


def split_partials(q: torch.Tensor, k_buf: torch.Tensor, v_buf: torch.Tensor, req_to_token: torch.Tensor, req_rows: torch.Tensor,
                   starts: torch.Tensor, ends: torch.Tensor, scale: float, num_splits: int, out_p: torch.Tensor, lse_p: torch.Tensor) -> None:
    """Stage 1 into parts [0, num_splits) of ``out_p``/``lse_p``: each request's positions
    [starts[b], ends[b]). q: [B, Hq, D]; k_buf/v_buf: [Hk, slots, D]; req_to_token: [rows, ctx]."""
    b, hq, d = q.shape
    hk = k_buf.shape[0]
    g = hq // hk
    assert q.stride(2) == 1 and k_buf.stride(2) == 1 and k_buf.stride() == v_buf.stride()
    _split_kernel[(b, hk, num_splits)](
        q, k_buf, v_buf, req_to_token, req_rows, starts, ends, out_p, lse_p, scale * LOG2_E, num_splits,
        q.stride(0), q.stride(1), k_buf.stride(0), k_buf.stride(1), req_to_token.stride(0),
        out_p.stride(0), out_p.stride(1), out_p.stride(2), lse_p.stride(0), lse_p.stride(1),
        G=g, BLOCK_H=max(16, triton.next_power_of_2(g)), BLOCK_N=BLOCK_N, D=d,
        **dot_flags(k_buf.dtype),
    )


def merge_partials(out_p: torch.Tensor, lse_p: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Stage 2: out [B, Hq, D] from every part of ``out_p`` [B, Hq, P, D] / ``lse_p`` [B, Hq, P]."""
    b, hq, parts, d = out_p.shape
    _merge_kernel[(b, hq)](
        out_p, lse_p, out, parts, out_p.stride(0), out_p.stride(1), out_p.stride(2), lse_p.stride(0), lse_p.stride(1),
        out.stride(0), out.stride(1), BLOCK_S=triton.next_power_of_2(parts), D=d,
    )
    return out


def decode_attention(q: torch.Tensor, k_buf: torch.Tensor, v_buf: torch.Tensor, req_to_token: torch.Tensor, req_rows: torch.Tensor,
                     seq_lens: torch.Tensor, scale: float, num_splits: int) -> torch.Tensor:
    """q: [B, Hq, D] (one token per request); seq_lens: [B] KV lengths (>= 1) -> [B, Hq, D]."""
    b, hq, d = q.shape
    out_p, lse_p = partial_buffers(b, hq, num_splits, d, q.device)
    split_partials(q, k_buf, v_buf, req_to_token, req_rows, torch.zeros_like(seq_lens), seq_lens, scale, num_splits, out_p, lse_p)
    return merge_partials(out_p, lse_p, torch.empty_like(q))
