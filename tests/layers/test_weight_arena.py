"""The kernel storage of a model's linears moved into one huge-page arena keeps its values
and still computes the same outputs."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from sglike.kernels import cpu
from sglike.runtime.layers.linear import LinearBase
from sglike.runtime.layers.linear_method import get_linear_method
from sglike.runtime.layers.weight_arena import move_storage_to_huge_pages
from sglike.runtime.platform import detect_platform


@pytest.mark.skipif(not cpu.available(), reason="sglike CPU extension not built")
def test_storage_moves_into_one_arena_unchanged():
    torch.manual_seed(0)
    layers = nn.ModuleList()
    for method, (k, n) in [("int4", (96, 40)), ("int8", (64, 33)), ("float", (32, 16))]:
        layer = LinearBase(k, [n], False, get_linear_method(method))
        layer.weight_loader(layer.load_target("weight"), torch.randn(n, k) * 0.05)
        layer.process_weights_after_loading(detect_platform(torch.device("cpu")), torch.device("cpu"))
        layers.append(layer)
    xs = [torch.randn(3, layer.in_features) for layer in layers]
    before = [layer(x) for layer, x in zip(layers, xs)]
    stored = [t.clone() for layer in layers for s in getattr(layer, "storage", {}).values() for t in s.values() if isinstance(t, torch.Tensor)]
    assert move_storage_to_huge_pages(layers) > 0
    moved = [t for layer in layers for s in getattr(layer, "storage", {}).values() for t in s.values() if isinstance(t, torch.Tensor)]
    assert all(torch.equal(a, b) for a, b in zip(stored, moved))
    assert len({t.untyped_storage().data_ptr() for t in moved}) == 1  # one buffer
    assert all(t.data_ptr() % 64 == 0 for t in moved)
    for layer, x, y in zip(layers, xs, before):
        assert torch.equal(layer(x), y)
