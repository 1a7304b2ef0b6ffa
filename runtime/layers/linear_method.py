"""Linear methods: how a linear layer stores its weight and computes ``x @ W^T + b``.

A method creates the layer's load-time parameters (``create_weights``), fills rows of them
from a checkpoint tensor (``load_rows``: a float tensor, or a ``GGUFTensor`` whose own blocks
it keeps when they map exactly), turns them into the kernels' storage once loaded
(``process_weights_after_loading``) and computes (``apply``). ``reference`` is the plain
dequantize-then-matmul twin. Kernels come from ``KERNEL_TABLE`` by (method, ISA, phase).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..model_loader.gguf_blocks import EXACT_INT4, EXACT_INT8, GGUFTensor, to_float
from ..platform import Platform
from .kernel_table import FALLBACK, KERNEL_TABLE, KERNELS, phase_of
from .linear_kernels import Kernel
from .quant_ref import dequantize_int4, dequantize_int8, quantize_int4, round_activations_int8, quantize_int8

LoadedTensor = "torch.Tensor | GGUFTensor"


class LinearMethod:
    """Base: canonical weights are plain tensors named in ``canonical`` (set at load time)."""

    name = "base"
    canonical: tuple[str, ...] = ()

    def create_weights(self, layer: nn.Module, in_features: int, out_features: int) -> None:
        raise NotImplementedError

    def load_rows(self, layer: nn.Module, loaded: Any, start: int) -> None:
        """Fill output rows ``[start, start + rows(loaded))`` of the load-time weights."""
        raise NotImplementedError

    def canonical_weights(self, layer: nn.Module) -> dict[str, torch.Tensor]:
        return {n: getattr(layer, n).data for n in self.canonical}

    def reference(self, layer: nn.Module, weights: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def process_weights_after_loading(self, layer: nn.Module, platform: Platform, device: torch.device) -> None:
        """Pick this ISA's kernels, build their storage once (on ``device``, scales kept in
        float32 whatever the model dtype), drop the load-time tensors."""
        weights = {n: t.to(device) for n, t in self.canonical_weights(layer).items()}
        kernels: dict[str, Kernel] = {}
        for phase in ("decode", "prefill"):
            name = KERNEL_TABLE.get((self.name, platform.isa, phase))
            if name is None:
                raise ValueError(f"quantization {self.name!r} has no kernel on this machine ({platform.isa})")
            kernel = KERNELS[name]
            kernels[phase] = kernel if kernel.supports(weights) else KERNELS[FALLBACK[self.name]]
        storage = {k.storage: k.prepare(weights) for k in kernels.values()}
        for n in self.canonical:
            delattr(layer, n)
        layer.kernels = kernels
        layer.storage = storage

    def apply(self, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        kernel = layer.kernels[phase_of(x.shape[0])]
        return kernel.run(layer.storage[kernel.storage], x, layer.bias)

    def step_spec(self, layer: nn.Module) -> tuple[str, list[torch.Tensor]] | None:
        """(kind, tensors) of this layer's decode kernel for the C++ decode step; None where
        that kernel has no C++ twin."""
        kernel = layer.kernels["decode"]
        return kernel.step(layer.storage[kernel.storage]) if kernel.step is not None else None


class FloatMethod(LinearMethod):
    """Today's path: one float weight; GGUF blocks are dequantized on load."""

    name = "float"
    canonical = ("weight",)

    def create_weights(self, layer, in_features, out_features):
        layer.weight = nn.Parameter(torch.empty(out_features, in_features), requires_grad=False)

    def load_rows(self, layer, loaded, start):
        w = to_float(loaded)
        layer.weight.data[start : start + w.shape[0]].copy_(w)

    def process_weights_after_loading(self, layer, platform, device):
        pass  # the weight stays a Parameter (dtype/device follow the model)

    def apply(self, layer, x):
        return F.linear(x, layer.weight, layer.bias)

    def step_spec(self, layer):
        return ("dense", [layer.weight.data])

    def reference(self, layer, weights, x):
        return F.linear(x, weights["weight"].to(x.dtype), layer.bias)


class Int4Method(LinearMethod):
    """Weight-only int4, group-wise scale and min (w = scale*q + min); Q4_0/Q4_1 kept exactly."""

    name = "int4"
    canonical = ("q", "scale", "min")
    group = 32

    def create_weights(self, layer, in_features, out_features):
        if in_features % self.group:
            raise ValueError(f"int4 needs in_features divisible by {self.group} (got {in_features})")
        layer.q = nn.Parameter(torch.empty(out_features, in_features, dtype=torch.uint8), requires_grad=False)
        layer.scale = nn.Parameter(torch.empty(out_features, in_features // self.group), requires_grad=False)
        layer.min = nn.Parameter(torch.empty(out_features, in_features // self.group), requires_grad=False)

    def load_rows(self, layer, loaded, start):
        if isinstance(loaded, GGUFTensor) and loaded.qtype in EXACT_INT4:
            q, s, m = loaded.int4_parts()
        else:
            q, s, m = quantize_int4(to_float(loaded), self.group)
        for name, t in (("q", q), ("scale", s), ("min", m)):
            getattr(layer, name).data[start : start + t.shape[0]].copy_(t)

    def reference(self, layer, weights, x):
        w = dequantize_int4(weights["q"], weights["scale"], weights["min"])
        return F.linear(x, w.to(x.dtype), layer.bias)


class Int8Method(LinearMethod):
    """Weight-only int8 with a scale per 32 weights (Q8_0 kept exactly, float input quantized
    the same way)."""

    name = "int8"
    canonical = ("q", "scale")
    group: int | None = 32

    def create_weights(self, layer, in_features, out_features):
        layer.q = nn.Parameter(torch.empty(out_features, in_features, dtype=torch.int8), requires_grad=False)
        layer.scale = None  # its shape depends on what the checkpoint holds

    def load_rows(self, layer, loaded, start):
        if isinstance(loaded, GGUFTensor) and loaded.qtype in EXACT_INT8:
            q, s = loaded.int8_parts()
        else:
            q, s = quantize_int8(to_float(loaded), self.group)
        if layer.scale is None:
            layer.scale = nn.Parameter(torch.empty(layer.q.shape[0], s.shape[1]), requires_grad=False)
        elif layer.scale.shape[1] != s.shape[1]:
            raise ValueError("int8 shards with different scale groups cannot share one layer")
        layer.q.data[start : start + q.shape[0]].copy_(q)
        layer.scale.data[start : start + s.shape[0]].copy_(s)

    def reference(self, layer, weights, x):
        w = dequantize_int8(weights["q"], weights["scale"])
        return F.linear(x, w.to(x.dtype), layer.bias)


class W8A8Int8Method(Int8Method):
    """Dynamic W8A8: int8 weights with a scale per 32 (as ``int8``), and activations rounded
    to int8 per token and 32 values at run time (llama.cpp's Q8_0 x Q8_0)."""

    name = "w8a8_int8"

    def reference(self, layer, weights, x):
        return super().reference(layer, weights, round_activations_int8(x).to(x.dtype))


class W4A8Int8Method(Int4Method):
    """Dynamic W4A8: int4 weights with a scale and min per 32 (as ``int4``; Q4_0/Q4_1 kept
    exactly), and activations rounded to int8 per token and 32 values at run time
    (llama.cpp's Q4_x x Q8_x): half the integer work of ``int4``'s int16 activations."""

    name = "w4a8_int8"

    def reference(self, layer, weights, x):
        return super().reference(layer, weights, round_activations_int8(x).to(x.dtype))


LINEAR_METHODS: dict[str, type[LinearMethod]] = {
    m.name: m for m in (FloatMethod, Int4Method, Int8Method, W8A8Int8Method, W4A8Int8Method)
}


def get_linear_method(name: str) -> LinearMethod:
    if name not in LINEAR_METHODS:
        raise ValueError(f"unknown linear method {name!r}; known: {', '.join(LINEAR_METHODS)}")
    return LINEAR_METHODS[name]()
