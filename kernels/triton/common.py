"""Pieces the Triton attention kernels share: the online-softmax step and dot settings."""
from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from .support import interpreting

LOG2_E = math.log2(math.e)  # softmax runs in base 2: scores are pre-scaled by log2(e)


def dot_flags(dtype: torch.dtype) -> dict:
    """Constexpr dot settings for K/V of ``dtype``: float32 in exact IEEE arithmetic (parity
    tests; tf32 otherwise); under the interpreter, 16-bit operands upcast to float32 first
    (its 16-bit ``tl.dot`` gives wrong results in triton 3.8)."""
    return dict(PRECISION="ieee" if dtype == torch.float32 or interpreting() else "tf32", UPCAST=interpreting() and dtype != torch.float32)


@triton.jit
def softmax_step(q, k, v, mask, m, l, acc, scale_log2, PRECISION: tl.constexpr, UPCAST: tl.constexpr):
    """One block of keys into the running (max m [R], sum l [R], output acc [R, D]) of the
    query rows q [R, D]: k/v [N, D]; mask broadcastable to [R, N] (False: not attended).
    Every row must see at least one key in its first block (m stays finite after it)."""
    if UPCAST:  # (inlined: nested jit calls are slow under the interpreter)
        q, k, v = q.to(tl.float32), k.to(tl.float32), v.to(tl.float32)
    s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale_log2  # [R, N], base 2
    s = tl.where(mask, s, float("-inf"))
    m_new = tl.maximum(m, tl.max(s, 1))
    alpha = tl.exp2(m - m_new)
    p = tl.exp2(s - m_new[:, None])
    acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION)
    l = l * alpha + tl.sum(p, 1)
    return m_new, l, acc
