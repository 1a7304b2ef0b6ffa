"""Matmul kernels for the linear methods built on torch's own ops (the table that picks one
per (method, ISA, phase) is ``kernel_table.py``; measured by benchmarks/bench_linear.py).

A kernel says which storage it reads (``storage``), builds it from a method's canonical
weights (``prepare``) and runs ``y = x @ W^T + b`` on it (``run``). Kernels of one method
on one ISA share a storage, so the quantized weights exist once. ``step`` (where given)
names the same computation for the C++ decode step (``runtime/cpu_decode_step.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F

from .quant_ref import dequantize_int4, dequantize_int8, pack_nibbles, round_activations_int8, unpack_nibbles

Weights = dict[str, Any]
TILE_ROWS = 512  # weight rows per dequantized tile (measured: as fast as the float GEMM)


@dataclass(frozen=True)
class Kernel:
    name: str
    storage: str  # key of the prepared weights it reads
    prepare: Callable[[Weights], Weights]
    run: Callable[[Weights, torch.Tensor, torch.Tensor | None], torch.Tensor]
    supports: Callable[[Weights], bool] = lambda w: True
    step: Callable[[Weights], tuple[str, list[torch.Tensor]]] | None = None  # (kind, tensors) of a C++ StepLinear


def tiled_gemm(x: torch.Tensor, n: int, dequant_rows: Callable[[int, int], torch.Tensor], bias, rows: int | None = None) -> torch.Tensor:
    """x [M, K] @ W^T with W dequantized ``rows`` rows at a time into a small scratch (no full
    float copy); each tile runs as ``x @ tile^T`` (the layout torch's GEMM is fastest at)."""
    rows = rows or TILE_ROWS
    y = torch.empty(x.shape[0], n, dtype=x.dtype, device=x.device)
    for r in range(0, n, rows):
        end = min(r + rows, n)
        y[:, r:end] = torch.mm(x, dequant_rows(r, end).to(x.dtype).t())
    return y + bias if bias is not None else y


# --- float -------------------------------------------------------------------------------
def _float_run(w: Weights, x, bias):
    return F.linear(x, w["weight"], bias)


# --- int4 (group-wise scale + min) --------------------------------------------------------
def _nibbles_prepare(w: Weights) -> Weights:
    return {"packed": pack_nibbles(w["q"]), "scale": w["scale"], "min": w["min"]}


def _nibbles_run(w: Weights, x, bias):
    p, s, m = w["packed"], w["scale"], w["min"]
    return tiled_gemm(x, p.shape[0], lambda a, b: dequantize_int4(unpack_nibbles(p[a:b]), s[a:b], m[a:b]), bias)


def _int4pack_prepare(w: Weights) -> Weights:
    q, s, m = w["q"], w["scale"], w["min"]
    packed = torch._convert_weight_to_int4pack_for_cpu(q.to(torch.int32), 1)
    # torch computes (q - 8) * scale + zero, so zero = min + 8 * scale keeps w = scale*q + min
    sz = torch.stack([s.t(), (m + 8 * s).t()], dim=-1).contiguous()  # [K/g, N, 2]
    return {"packed": packed, "scale_zeros": sz, "group": q.shape[1] // s.shape[1]}


def _int4pack_run(w: Weights, x, bias):
    sz = w["scale_zeros"]
    y = torch._weight_int4pack_mm_for_cpu(x.to(sz.dtype).contiguous(), w["packed"], w["group"], sz).to(x.dtype)
    return y + bias if bias is not None else y


def _int4pack_supports(w: Weights) -> bool:
    n, k = w["q"].shape
    g = k // w["scale"].shape[1]
    return n % 64 == 0 and g in (32, 64, 128, 256) and k % g == 0


# --- int8 weight-only (scale per channel or per group) -----------------------------------
def _int8_prepare(w: Weights) -> Weights:
    return {"q": w["q"], "scale": w["scale"]}


def _int8_dequant_run(w: Weights, x, bias):
    q, s = w["q"], w["scale"]
    return tiled_gemm(x, q.shape[0], lambda a, b: dequantize_int8(q[a:b], s[a:b]), bias)


def _int8pack_run(w: Weights, x, bias):
    s = w["scale"][:, 0]
    y = torch._weight_int8pack_mm(x.to(s.dtype).contiguous(), w["q"], s).to(x.dtype)
    return y + bias if bias is not None else y


def _per_channel(w: Weights) -> bool:
    return w["scale"].shape[1] == 1


# --- dynamic W8A8 (int8 weights per 32, activations rounded to int8 per token and 32) ------
def _w8a8_dequant_run(w: Weights, x, bias):
    return _int8_dequant_run(w, round_activations_int8(x).to(x.dtype), bias)


def _w4a8_dequant_run(w: Weights, x, bias):
    return _nibbles_run(w, round_activations_int8(x).to(x.dtype), bias)


TORCH_KERNELS: tuple[Kernel, ...] = (
    Kernel("f.linear", "float", lambda w: {"weight": w["weight"]}, _float_run, step=lambda w: ("dense", [w["weight"]])),
    Kernel("int4_dequant_gemm", "nibbles", _nibbles_prepare, _nibbles_run),
    Kernel("int4pack_cpu", "int4pack_cpu", _int4pack_prepare, _int4pack_run, _int4pack_supports),
    Kernel("int8_dequant_gemm", "int8", _int8_prepare, _int8_dequant_run),
    Kernel("int8pack", "int8", _int8_prepare, _int8pack_run, _per_channel),
    Kernel("w8a8_dequant_gemm", "int8", _int8_prepare, _w8a8_dequant_run),
    Kernel("w4a8_dequant_gemm", "nibbles", _nibbles_prepare, _w4a8_dequant_run),
)
