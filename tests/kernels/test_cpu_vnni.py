"""sglike's AVX512-VNNI GEMM (vnni_gemm.cpp) against its plain twins: the scalar path over the
same layout and the dequantize-then-matmul reference; the layout's pack/unpack round trip."""
from __future__ import annotations

import pytest
import torch

from sglike.kernels import cpu
from sglike.kernels.cpu import vnni
from sglike.runtime.layers.quant_ref import dequantize_int4, dequantize_int8, round_activations_int8

needs_ext = pytest.mark.skipif(not cpu.available(), reason="sglike CPU extension not built")
SIMD = [True, False] if cpu.has_vnni() else [False]  # without VNNI the scalar path runs either way


def _int4(n: int, k: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    q = torch.randint(0, 16, (n, k), dtype=torch.uint8, generator=g)
    scale = (torch.rand(n, k // 32, generator=g) * 0.02).half().float()  # fp16-exact, as GGUF stores them
    mn = (-torch.rand(n, k // 32, generator=g) * 0.1).half().float()
    return q, scale, mn


def _rel_err(y: torch.Tensor, ref: torch.Tensor) -> float:
    return float((y.double() - ref).abs().max() / ref.abs().max())


@needs_ext
@pytest.mark.parametrize("n,k", [(16, 32), (50, 64), (960, 576), (40, 1536)])
def test_pack_round_trips(n, k):
    q, scale, mn = _int4(n, k, n + k)
    assert all(torch.equal(a, b) for a, b in zip(vnni.unpack(vnni.pack(q, scale, mn), n, True), (q, scale, mn)))
    q8 = torch.randint(-128, 128, (n, k), dtype=torch.int8)
    assert all(torch.equal(a, b) for a, b in zip(vnni.unpack(vnni.pack(q8, scale, None), n, False), (q8, scale)))


@needs_ext
@pytest.mark.parametrize("simd", SIMD, ids=lambda s: "vnni" if s else "scalar")
@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 9, 32])
@pytest.mark.parametrize("n,k", [(16, 32), (50, 64), (96, 576), (40, 1536)])
def test_int4_gemm_matches_dequantized_matmul(simd, m, n, k):
    q, scale, mn = _int4(n, k, m * 7 + n)
    x = torch.randn(m, k, generator=torch.Generator().manual_seed(m)) * 3
    x[0, :32] = 0 if k > 32 else x[0, :32]  # an all-zero block quantizes to zeros, not NaN
    ref = x.double() @ dequantize_int4(q, scale, mn).double().t()
    y = cpu.vnni_gemm(x, vnni.pack(q, scale, mn), n, True, simd)
    assert y.shape == (m, n)
    assert _rel_err(y, ref) < (5e-5 if simd else 1e-6)  # the VNNI path rounds x to int16 per block


@needs_ext
@pytest.mark.parametrize("simd", SIMD, ids=lambda s: "vnni" if s else "scalar")
@pytest.mark.parametrize("m", [1, 4, 7, 32])
def test_int8_gemm_matches_dequantized_matmul(simd, m):
    g = torch.Generator().manual_seed(m)
    n, k = 72, 576
    q = torch.randint(-128, 128, (n, k), dtype=torch.int8, generator=g)
    q[0] = -128  # the extreme value (the activations' high bytes enter with a +128 bias)
    scale = (torch.rand(n, k // 32, generator=g) * 0.01).half().float()
    x = torch.randn(m, k, generator=g)
    ref = x.double() @ dequantize_int8(q, scale).double().t()
    assert _rel_err(cpu.vnni_gemm(x, vnni.pack(q, scale, None), n, False, simd), ref) < (5e-5 if simd else 1e-6)


@needs_ext
@pytest.mark.parametrize("simd", SIMD, ids=lambda s: "vnni" if s else "scalar")
@pytest.mark.parametrize("q4", [True, False], ids=["int4", "int8"])
@pytest.mark.parametrize("m", [1, 3, 8, 13])
def test_act8_gemm_equals_matmul_of_int8_rounded_activations(simd, q4, m):
    """W8A8's mode: x rounded to int8 per row and 32 values exactly as the torch twin does it."""
    g = torch.Generator().manual_seed(m + 10 * q4)
    n, k = 40, 576
    if q4:
        q, scale, mn = _int4(n, k, m)
        w = dequantize_int4(q, scale, mn)
    else:
        q, mn = torch.randint(-128, 128, (n, k), dtype=torch.int8, generator=g), None
        q[0] = -128
        scale = (torch.rand(n, k // 32, generator=g) * 0.01).half().float()
        w = dequantize_int8(q, scale)
    x = torch.randn(m, k, generator=g) * 2
    x[0, 32:64] = 0  # an all-zero block
    xr = round_activations_int8(x)
    assert (xr - x).abs().max() > 1e-3  # the rounding is real: int8, not int16
    ref = xr.double() @ w.double().t()
    assert _rel_err(cpu.vnni_gemm(x, vnni.pack(q, scale, mn), n, q4, simd, act8=True), ref) < 1e-6


@needs_ext
@pytest.mark.parametrize("q4", [True, False])
def test_dequant_rows_gathers_any_rows(q4):
    n, k = 50, 64
    q, scale, mn = _int4(n, k, 3)
    if not q4:
        q, mn = torch.randint(-128, 128, (n, k), dtype=torch.int8), None
    packed = vnni.pack(q, scale, mn)
    full = dequantize_int4(q, scale, mn) if q4 else dequantize_int8(q, scale)
    rows = torch.tensor([49, 0, 17, 17, 32])
    assert torch.equal(cpu.vnni_dequant_rows(packed, q4, rows), full[rows])
    with pytest.raises(RuntimeError, match="out of range"):
        cpu.vnni_dequant_rows(packed, q4, torch.tensor([64]))


@needs_ext
def test_bad_input_is_a_clear_error():
    q, scale, mn = _int4(32, 64, 0)
    packed = vnni.pack(q, scale, mn)
    with pytest.raises(RuntimeError, match="K="):
        cpu.vnni_gemm(torch.randn(1, 32), packed, 32, True)
    with pytest.raises(RuntimeError, match="records are 320 bytes"):
        cpu.vnni_gemm(torch.randn(1, 64), packed, 32, False)
    with pytest.raises(RuntimeError, match="does not fit"):
        cpu.vnni_gemm(torch.randn(1, 64), packed, 33, True)
    with pytest.raises(ValueError, match="fp16-exact"):
        vnni.pack(q, scale + 1e-6, mn)
