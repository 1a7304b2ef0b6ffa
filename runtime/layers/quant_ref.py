"""Plain quantize / dequantize functions: the reference twins every fast kernel is checked
against, and what quantizes float weights on load."""
from __future__ import annotations

import torch

GROUP = 32  # int4 group size (GGUF's block size)


def _fp16(t: torch.Tensor) -> torch.Tensor:
    """Rounded to the nearest fp16 value (kept as float32), as GGUF stores block scales."""
    return t.half().float()


def quantize_int4(w: torch.Tensor, group: int = GROUP) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Asymmetric, group-wise (Q4_1-style, fp16 scale and min): w [N, K] -> (q uint8 [N, K]
    in 0..15, scale, min [N, K/g])."""
    n, k = w.shape
    wg = w.float().reshape(n, k // group, group)
    lo, hi = _fp16(wg.amin(-1)), wg.amax(-1)
    scale = _fp16((hi - lo) / 15)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = ((wg - lo[..., None]) / safe[..., None]).round().clamp(0, 15)
    return q.to(torch.uint8).reshape(n, k), scale, lo


def dequantize_int4(q: torch.Tensor, scale: torch.Tensor, mn: torch.Tensor) -> torch.Tensor:
    """(q uint8 [N, K], scale/min [N, K/g]) -> float [N, K]: w = scale*q + min."""
    n, k = q.shape
    g = k // scale.shape[1]
    w = torch.addcmul(mn[..., None], q.reshape(n, k // g, g).to(scale.dtype), scale[..., None])
    return w.reshape(n, k)


def quantize_int8(w: torch.Tensor, group: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric: w [N, K] -> (q int8 [N, K], scale [N, K/g]); group None is per output
    channel (float32 scales), a group (Q8_0-style) has fp16 scales."""
    n, k = w.shape
    g = k if group is None else group
    wg = w.float().reshape(n, k // g, g)
    scale = wg.abs().amax(-1) / 127
    scale = scale if group is None else _fp16(scale)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = (wg / safe[..., None]).round().clamp(-127, 127).to(torch.int8)
    return q.reshape(n, k), scale


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """(q int8 [N, K], scale [N, K/g]) -> float [N, K]: w = scale*q."""
    n, k = q.shape
    g = k // scale.shape[1]
    return (q.reshape(n, k // g, g).to(scale.dtype) * scale[..., None]).reshape(n, k)


def round_activations_int8(x: torch.Tensor, group: int = GROUP) -> torch.Tensor:
    """Dynamic W8A8's activation rounding: each token's each ``group`` values to s * round(x / s),
    s = amax / 127 (llama.cpp's Q8_0 activations), in float32 as the C++ kernels do it."""
    m, k = x.shape
    xg = x.float().reshape(m, k // group, group)
    amax = xg.abs().amax(-1, keepdim=True)
    inv = torch.where(amax > 0, 127.0 / amax, torch.zeros_like(amax))
    return ((xg * inv).round() * (amax / 127.0)).reshape(m, k)


def pack_nibbles(q: torch.Tensor) -> torch.Tensor:
    """uint8 [N, K] in 0..15 -> uint8 [N, K/2]: byte j holds k=2j (low nibble) and k=2j+1 (high)."""
    return q[:, 0::2] | (q[:, 1::2] << 4)


def unpack_nibbles(p: torch.Tensor) -> torch.Tensor:
    """uint8 [N, K/2] -> uint8 [N, K] (inverse of ``pack_nibbles``)."""
    return torch.stack((p & 0x0F, p >> 4), dim=-1).reshape(p.shape[0], -1)
