"""sglike's C++ CPU kernels (sglike.kernels.cpu) against their plain twins: the scalar
path inside the extension, the dequantize-then-matmul references and the torch code each
fused op replaces."""
from __future__ import annotations

import platform

import pytest
import torch

from sglike.kernels import cpu
from sglike.kernels.attention.decode import decode_attention
from sglike.kernels.attention.partial import mask_bias
from sglike.runtime.layers.norm import rms_norm_reference
from sglike.runtime.layers.quant_ref import dequantize_int4, dequantize_int8
from sglike.runtime.layers.rotary import RotaryEmbedding

X86 = platform.machine() in ("x86_64", "AMD64")


def test_extension_is_built_on_x86():
    """On x86 the install builds the extension; a silent fallback would hide a broken build."""
    if not X86:
        pytest.skip("the extension is built on x86 only")
    assert cpu.available(), cpu.IMPORT_ERROR


needs_ext = pytest.mark.skipif(not cpu.available(), reason="sglike CPU extension not built")


def _rel_err(y: torch.Tensor, ref: torch.Tensor) -> float:
    return float((y - ref).abs().max() / ref.abs().max())


@needs_ext
def test_q4_pack_roundtrip():
    q = torch.randint(0, 16, (7, 96), dtype=torch.uint8)
    assert torch.equal(cpu.unpack_q4(cpu.pack_q4(q)), q)


@needs_ext
@pytest.mark.parametrize("simd", [True, False], ids=["simd", "scalar"])
@pytest.mark.parametrize("m", [1, 2, 3, 4, 7, 33])
@pytest.mark.parametrize("n,k", [(64, 32), (96, 576), (40, 1536)])
def test_q4_gemm_matches_dequantized_matmul(simd, m, n, k):
    g = torch.Generator().manual_seed(n * k + m)
    q = torch.randint(0, 16, (n, k), dtype=torch.uint8, generator=g)
    scale = torch.rand(n, k // 32, generator=g) * 0.02
    mn = -torch.rand(n, k // 32, generator=g) * 0.1
    x = torch.randn(m, k, generator=g) * 3
    ref = x.double() @ dequantize_int4(q, scale, mn).double().t()
    y = cpu.q4_gemm(x, cpu.pack_q4(q), scale, mn, simd)
    assert y.shape == (m, n)
    assert _rel_err(y.double(), ref) < (2e-4 if simd else 1e-5)  # simd rounds x to int16 per block


@needs_ext
@pytest.mark.parametrize("simd", [True, False], ids=["simd", "scalar"])
@pytest.mark.parametrize("m", [1, 5, 32])
def test_q8_gemm_matches_dequantized_matmul(simd, m):
    g = torch.Generator().manual_seed(m)
    n, k = 80, 576
    q = torch.randint(-127, 128, (n, k), dtype=torch.int8, generator=g)
    scale = torch.rand(n, k // 32, generator=g) * 0.01
    x = torch.randn(m, k, generator=g)
    x[0, :32] = 0  # an all-zero block quantizes to zeros, not NaN
    ref = x.double() @ dequantize_int8(q, scale).double().t()
    assert _rel_err(cpu.q8_gemm(x, q, scale, simd).double(), ref) < (2e-4 if simd else 1e-5)


@needs_ext
def test_gemm_rejects_bad_shapes():
    q = torch.randint(-127, 128, (8, 64), dtype=torch.int8)
    with pytest.raises(RuntimeError, match="K="):
        cpu.q8_gemm(torch.randn(1, 32), q, torch.ones(8, 2))
    with pytest.raises(RuntimeError, match="float32"):
        cpu.q8_gemm(torch.randn(1, 64, dtype=torch.float64), q, torch.ones(8, 2))


@needs_ext
def test_q4_dequant_rows_matches_reference():
    q = torch.randint(0, 16, (50, 64), dtype=torch.uint8)
    scale, mn = torch.rand(50, 2), torch.randn(50, 2)
    out = torch.empty(20, 64)
    rows = cpu.q4_dequant_rows(cpu.pack_q4(q), scale, mn, 10, 30, out)
    torch.testing.assert_close(rows, dequantize_int4(q, scale, mn)[10:30])


@needs_ext
@pytest.mark.parametrize("with_residual", [False, True])
def test_rms_norm_matches_reference(with_residual):
    x, w = torch.randn(5, 576) * 4, torch.rand(576) + 0.5
    residual = torch.randn(5, 576) if with_residual else None
    ref = rms_norm_reference(x, w, 1e-5, residual)
    if with_residual:
        res = residual.clone()
        out = cpu.rms_norm(x, w, 1e-5, res)
        torch.testing.assert_close(out, ref[0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(res, ref[1], rtol=0, atol=0)  # the sum lands in residual, exactly
    else:
        torch.testing.assert_close(cpu.rms_norm(x, w, 1e-5), ref, rtol=1e-5, atol=1e-5)


@needs_ext
def test_rope_inplace_matches_reference_on_a_strided_view():
    rope = RotaryEmbedding(64, 512, 10000.0, None)
    qkv = torch.randn(6, (9 + 3 + 3) * 64)
    qk = qkv[:, : 12 * 64].view(6, 12, 64)  # q and k heads of a fused projection, rows strided
    positions = torch.tensor([0, 5, 17, 100, 511, 3])
    ref = rope.reference(positions, qk.clone())
    out = cpu.rope_inplace(qk, positions, rope.cos, rope.sin)
    assert out.data_ptr() == qkv.data_ptr()  # rotated in place
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="rotary table"):
        cpu.rope_inplace(qk, torch.tensor([0, 0, 0, 0, 0, 512]), rope.cos, rope.sin)


def _pool(hk: int, slots: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(hk, slots + 1, d), torch.randn(hk, slots + 1, d)


@needs_ext
@pytest.mark.parametrize("hq,hk", [(9, 3), (4, 4), (8, 1)])
def test_decode_attention_paged_matches_gather_then_attend(hq, hk):
    g = torch.Generator().manual_seed(hq * 10 + hk)
    d, lens = 64, [1, 17, 300]
    k_buf, v_buf = _pool(hk, 1000, d)
    slots = torch.zeros(len(lens), max(lens), dtype=torch.int64)
    for i, n in enumerate(lens):
        slots[i, :n] = torch.randperm(1000, generator=g)[:n] + 1
    q = torch.randn(len(lens), hq, d, generator=g)
    lens_t = torch.tensor(lens)
    mask = torch.arange(max(lens))[None, :] < lens_t[:, None]
    keys = k_buf.index_select(1, slots.reshape(-1)).view(hk, *slots.shape, d)
    values = v_buf.index_select(1, slots.reshape(-1)).view(hk, *slots.shape, d)
    ref = decode_attention(q, keys, values, mask_bias(mask[None, :, None, :]), d**-0.5)
    out = cpu.decode_attention_paged(q, k_buf, v_buf, slots, lens_t, d**-0.5)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


@needs_ext
def test_decode_attention_paged_rejects_slots_outside_the_pool():
    k_buf, v_buf = _pool(1, 10, 64)
    with pytest.raises(RuntimeError, match="slot out of the pool"):
        cpu.decode_attention_paged(torch.randn(1, 1, 64), k_buf, v_buf, torch.tensor([[3, 11]]), torch.tensor([2]), 0.1)


@needs_ext
def test_kv_store_matches_index_copy():
    k_buf, v_buf = _pool(3, 50, 64)
    ref_k, ref_v = k_buf.clone(), v_buf.clone()
    qkv = torch.randn(4, 15 * 64)
    k, v = qkv[:, 9 * 64 : 12 * 64].view(4, 3, 64), qkv[:, 12 * 64 :].view(4, 3, 64)
    slots = torch.tensor([7, 1, 50, 23])
    ref_k.index_copy_(1, slots, k.transpose(0, 1))
    ref_v.index_copy_(1, slots, v.transpose(0, 1))
    cpu.kv_store(k_buf, v_buf, slots, k, v)
    assert torch.equal(k_buf, ref_k) and torch.equal(v_buf, ref_v)


@pytest.mark.skipif(not cpu.available(), reason="sglike CPU extension not built")
def test_huge_page_zeros_are_zero_aligned_and_usable_for_any_size():
    for shape, dtype, make in (((0,), torch.float32, cpu.huge_page_zeros), ((3, 5), torch.int16, cpu.huge_page_zeros),
                               ((1 << 20, 3), torch.float32, cpu.huge_page_zeros), ((1 << 20, 3), torch.float32, cpu.lazy_zeros)):
        t = make(shape, dtype)
        assert t.shape == shape and t.dtype == dtype and t.is_contiguous()
        assert t.numel() == 0 or (t.data_ptr() % (2 << 20) == 0 and not t.any())  # 2 MiB aligned, zero
        t.fill_(7)  # first touch of every page (lazily backed)
        assert t.numel() == 0 or int(t.min()) == int(t.max()) == 7
    src = torch.randn(1000, 7)
    assert torch.equal(cpu.on_huge_pages(src), src)
    del t  # unmapped by its deleter
