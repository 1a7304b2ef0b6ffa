"""Every linear kernel against its method's dequantize-then-matmul reference twin, and the
GGUF block decoders against the gguf package's own dequantizer."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sglike.runtime.layers.linear import LinearBase, MergedColumnLinear, QKVLinear
from sglike.runtime.layers.kernel_table import KERNELS
from sglike.runtime.layers.linear_method import get_linear_method
from sglike.runtime.layers.quant_ref import dequantize_int4, pack_nibbles, quantize_int4, unpack_nibbles
from sglike.runtime.model_loader.gguf_blocks import GGUFTensor
from sglike.runtime.platform import Platform, detect_platform

PLATFORM = detect_platform(torch.device("cpu"))
PORTABLE = Platform("cpu")  # isa "generic": the dequantize-into-float-GEMM kernels


def _gguf_tensor(qtype: str, w: np.ndarray) -> GGUFTensor:
    import gguf

    data = gguf.quants.quantize(w, gguf.GGMLQuantizationType[qtype])
    return GGUFTensor(qtype, data, w.shape)


def _layer(method: str, k: int, n: int, w: torch.Tensor, platform: Platform, bias: bool = False):
    layer = LinearBase(k, [n], bias, get_linear_method(method))
    if bias:
        layer.bias.data.copy_(torch.randn(n))
    layer.weight_loader(layer.load_target("weight"), w)
    ref = {name: t.clone() for name, t in layer.method.canonical_weights(layer).items()}
    layer.process_weights_after_loading(platform, torch.device("cpu"))
    return layer, ref


@pytest.mark.parametrize("platform", [PLATFORM, PORTABLE], ids=["this-cpu", "portable"])
@pytest.mark.parametrize("method", ["float", "int8", "int4"])
@pytest.mark.parametrize("m", [1, 5, 40])
def test_kernel_matches_reference_twin(platform, method, m):
    torch.manual_seed(0)
    n, k = 128, 96
    layer, ref = _layer(method, k, n, torch.randn(n, k) * 0.05, platform, bias=True)
    x = torch.randn(m, k)
    y, y_ref = layer(x), layer.method.reference(layer, ref, x)
    torch.testing.assert_close(y, y_ref, rtol=1e-4, atol=1e-4)
    assert not any(hasattr(layer, n) for n in layer.method.canonical if method != "float")  # one copy


@pytest.mark.parametrize("platform", [PLATFORM, PORTABLE], ids=["this-cpu", "portable"])
@pytest.mark.parametrize("method", ["w8a8_int8", "w4a8_int8"])
@pytest.mark.parametrize("m", [1, 3, 40])
def test_dynamic_int8_activations_match_reference_and_are_batch_invariant(platform, method, m):
    torch.manual_seed(0)
    n, k = 128, 96
    layer, ref = _layer(method, k, n, torch.randn(n, k) * 0.05, platform)
    w = layer.method.reference(layer, ref, torch.eye(k)).t()  # the stored (rounded) weights
    x = torch.randn(m, k)
    y, y_ref, exact = layer(x), layer.method.reference(layer, ref, x), x @ w.t()
    torch.testing.assert_close(y, y_ref, rtol=1e-4, atol=1e-4)
    scale = exact.abs().max()
    assert 1e-4 * scale < (y - exact).abs().max() < 0.05 * scale  # activations really are rounded to int8
    alone = torch.cat([layer(x[i : i + 1]) for i in range(m)])
    torch.testing.assert_close(alone, y, rtol=0, atol=1e-5)  # a row's result ignores its batch


def test_int4pack_convention_keeps_scale_times_q_plus_min():
    """torch's int4pack computes (q - 8) * scale + zero; zero = min + 8*scale gives scale*q + min."""
    torch.manual_seed(0)
    q, s, mn = quantize_int4(torch.randn(64, 64))
    w = {"q": q, "scale": s, "min": mn}
    x = torch.randn(3, 64)
    kernel = KERNELS["int4pack_cpu"]
    y = kernel.run(kernel.prepare(w), x, None)
    torch.testing.assert_close(y, x @ dequantize_int4(q, s, mn).t(), rtol=1e-5, atol=1e-5)


def test_nibble_packing_round_trips():
    q = torch.randint(0, 16, (7, 64), dtype=torch.uint8)
    assert torch.equal(unpack_nibbles(pack_nibbles(q)), q)


@pytest.mark.parametrize("qtype,method", [("Q4_0", "int4"), ("Q4_1", "int4"), ("Q8_0", "int8")])
def test_gguf_blocks_are_kept_exactly(qtype, method):
    rng = np.random.default_rng(0)
    t = _gguf_tensor(qtype, rng.standard_normal((64, 128), dtype=np.float32))
    file_w = t.dequantize()
    layer, ref = _layer(method, 128, 64, t, PORTABLE)
    x = torch.randn(4, 128)
    torch.testing.assert_close(layer(x), x @ file_w.t(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(layer.method.reference(layer, ref, torch.eye(128)).t(), file_w, rtol=0, atol=1e-6)


def test_fused_layers_place_their_shards():
    q, k, v = torch.randn(8, 16), torch.randn(4, 16), torch.randn(4, 16)
    qkv = QKVLinear(16, 4, 2, 1)
    for shard, t in (("v", v), ("q", q), ("k", k)):
        qkv.weight_loader(qkv.load_target("weight"), t, shard)
    assert torch.equal(qkv.weight, torch.cat([q, k, v]))
    gate, up = torch.randn(6, 16), torch.randn(6, 16)
    gu = MergedColumnLinear(16, [6, 6])
    gu.weight_loader(gu.load_target("weight"), up, 1)
    gu.weight_loader(gu.load_target("weight"), gate, 0)
    assert torch.equal(gu.weight, torch.cat([gate, up]))
