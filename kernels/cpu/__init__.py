"""CPU kernels built from C++ at install time (``quant_gemm.cpp``, see setup.py).

GEMMs over GGUF-style blocks for small M (decode) and a dequantizer for large-M tiles; the
plain twins are the dequantize-then-matmul functions of ``sglike.runtime.layers.quant_ref``
and the scalar paths inside the extension (``use_simd=False``).
"""
from __future__ import annotations

import torch

try:
    from . import _C  # type: ignore[attr-defined]
except ImportError as exc:  # not built (no compiler at install time, or a non-x86 machine)
    _C = None
    IMPORT_ERROR: str | None = str(exc)
else:
    IMPORT_ERROR = None

BLOCK = 32
# the fused decode step (decode_step.cpp): a StepLinear per linear, a StepLayer per layer
StepLinear = getattr(_C, "StepLinear", None)
StepLayer = getattr(_C, "StepLayer", None)
DecoderStep = getattr(_C, "DecoderStep", None)


def available() -> bool:
    """Whether the extension was built and imports."""
    return _C is not None


def has_simd() -> bool:
    """Whether the AVX2+FMA path runs on this CPU (else the scalar path)."""
    return _C is not None and bool(_C.has_avx2_fma())


def has_vnni() -> bool:
    """Whether the AVX512-VNNI GEMM path (``vnni_gemm``) runs on this CPU."""
    return _C is not None and bool(_C.has_avx512_vnni())


def vnni_gemm(x: torch.Tensor, packed: torch.Tensor, n: int, q4: bool, use_simd: bool = True, act8: bool = False) -> torch.Tensor:
    """float32 x [M, K] @ W^T -> [M, n] for W in the VNNI layout (``vnni.pack``); the scalar
    path (``use_simd=False``) computes in float32 from the dequantized weights. ``act8``
    rounds x to int8 per row and 32 values first (s = amax / 127; dynamic W8A8)."""
    return _C.vnni_gemm(x, packed, n, q4, use_simd, act8)


def vnni_dequant_rows(packed: torch.Tensor, q4: bool, rows: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Rows ``rows`` (int64 [R], e.g. token ids) of VNNI-packed weights as float32 [R, K]
    (written into ``out[:R]`` when given)."""
    if out is None:
        out = torch.empty(rows.numel(), packed.shape[1] * BLOCK)
    _C.vnni_dequant_rows(packed, q4, rows, out)
    return out[: rows.numel()]


def pack_q4(q: torch.Tensor) -> torch.Tensor:
    """uint8 [N, K] in 0..15 -> [N, K/32, 16]: byte j of a block holds weight j (low) and j+16 (high)."""
    n, k = q.shape
    blocks = q.reshape(n, k // BLOCK, 2, 16)
    return (blocks[:, :, 0] | (blocks[:, :, 1] << 4)).contiguous()


def unpack_q4(qs: torch.Tensor) -> torch.Tensor:
    """Inverse of ``pack_q4``."""
    n, nb, _ = qs.shape
    return torch.stack((qs & 0x0F, qs >> 4), dim=2).reshape(n, nb * BLOCK)


def q4_gemm(x: torch.Tensor, qs: torch.Tensor, scale: torch.Tensor, mn: torch.Tensor, use_simd: bool = True) -> torch.Tensor:
    """float32 x [M, K] @ (scale*q + min)^T -> [M, N]."""
    return _C.q4_gemm(x, qs, scale, mn, use_simd)


def q8_gemm(x: torch.Tensor, q: torch.Tensor, scale: torch.Tensor, use_simd: bool = True) -> torch.Tensor:
    """float32 x [M, K] @ (scale*q)^T -> [M, N], one scale per 32 weights."""
    return _C.q8_gemm(x, q, scale, use_simd)


def q4_dequant_rows(qs: torch.Tensor, scale: torch.Tensor, mn: torch.Tensor, r0: int, r1: int, out: torch.Tensor) -> torch.Tensor:
    """Rows [r0, r1) of the int4 weights as float32 into ``out[: r1 - r0]``."""
    _C.q4_dequant_rows(qs, scale, mn, r0, r1, out)
    return out[: r1 - r0]


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float, residual: torch.Tensor | None = None) -> torch.Tensor:
    """float32 RMSNorm of x [T, H]; with ``residual``: ``residual += x`` first, then its norm."""
    return _C.rms_norm(x, weight, eps, residual)


def rope_inplace(x: torch.Tensor, positions: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotates float32 x [T, H, D] (HF half-split layout) in place; returns x."""
    _C.rope_inplace(x, positions, cos, sin)
    return x


def decode_attention_paged(q: torch.Tensor, k_buf: torch.Tensor, v_buf: torch.Tensor, slots: torch.Tensor, lens: torch.Tensor,
                           scale: float, cascade: bool = False, use_simd: bool = True) -> torch.Tensor:
    """One query per request over the first ``lens[b]`` slots of row b, read in place from the
    pool. q [B, Hq, D]; k_buf/v_buf [Hk, S, D]; slots [B, L] int64 -> [B, Hq, D]. With
    ``cascade``, prefixes shared by several rows are read once for the group (``cascade_groups``);
    ``use_simd=False`` takes the plain loops (the AVX-512 path's twin)."""
    return _C.decode_attention_paged(q, k_buf, v_buf, slots, lens, scale, cascade, use_simd)


def cascade_groups(slots: torch.Tensor, lens: torch.Tensor) -> list[tuple[list[int], int]]:
    """The shared-prefix groups (members, prefix length) the cascade forms for these rows; the
    C++ twin of ``sglike.kernels.attention.cascade.shared_prefix_groups``."""
    return [(list(m), int(p)) for m, p in _C.cascade_groups(slots, lens)]


def silu_mul(gate_up: torch.Tensor, use_simd: bool = True) -> torch.Tensor:
    """float32 gate_up [T, 2I] (a merged gate/up projection) -> silu(gate) * up [T, I]."""
    return _C.silu_mul(gate_up, use_simd)


def _mapped(shape: tuple[int, ...], dtype: torch.dtype, huge: bool) -> torch.Tensor:
    nbytes = torch.Size(shape).numel() * torch.empty((), dtype=dtype).element_size()
    return _C.mapped_zeros(nbytes, huge).view(dtype).view(shape)


def huge_page_zeros(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """A zeroed tensor on transparent huge pages where the kernel grants them (2 MiB-aligned,
    advised before first touch); ordinary pages otherwise."""
    return _mapped(shape, dtype, True)


def lazy_zeros(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """A zeroed tensor whose pages are backed only when first touched (``torch.zeros`` writes
    every page at once); ``torch.zeros`` without the extension."""
    return _mapped(shape, dtype, False) if _C is not None else torch.zeros(shape, dtype=dtype)


def on_huge_pages(t: torch.Tensor) -> torch.Tensor:
    """A copy of ``t`` on huge pages (see ``huge_page_zeros``)."""
    return huge_page_zeros(tuple(t.shape), t.dtype).copy_(t)


def kv_store(k_buf: torch.Tensor, v_buf: torch.Tensor, slots: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    """Writes float32 k, v [T, Hk, D] into the pool buffers [Hk, S, D] at ``slots`` [T]."""
    _C.kv_store(k_buf, v_buf, slots, k, v)
