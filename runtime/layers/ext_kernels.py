"""Linear kernels backed by sglike's own C++ CPU extension (``sglike.kernels.cpu``).

They read the GGUF-style blocks directly: int4 with a scale and min per 32 weights, int8
with a scale per 32 weights; the AVX2 kernels as GGUF lays them out, the AVX512-VNNI ones
repacked into 16-row groups with fp16 scales (``sglike.kernels.cpu.vnni``); dynamic W8A8 / W4A8 run the
int8 / int4 kernels on activations rounded to int8 per 32 values. Small M (decode) runs the extension's GEMM; large M (prefill)
dequantizes tiles into a float scratch and runs torch's float GEMM, so no float copy of the
model stays in memory. Where the extension is missing, ``supports`` says no and the method's
torch fallback runs instead.
"""
from __future__ import annotations

import torch

from sglike.kernels import cpu
from sglike.kernels.cpu import vnni

from .linear_kernels import TILE_ROWS, Kernel, Weights, tiled_gemm
from .quant_ref import dequantize_int8, round_activations_int8

BLOCK = cpu.BLOCK


def _usable(w: Weights) -> bool:
    return cpu.has_simd()


# --- int4: scale + min per 32 weights -----------------------------------------------------
def _q4_prepare(w: Weights) -> Weights:
    return {"qs": cpu.pack_q4(w["q"]), "scale": w["scale"].float().contiguous(), "min": w["min"].float().contiguous()}


def _as_f32(x: torch.Tensor) -> torch.Tensor:
    return x if x.dtype == torch.float32 and x.is_contiguous() else x.float().contiguous()


def _q4_decode(w: Weights, x, bias):
    y = cpu.q4_gemm(_as_f32(x), w["qs"], w["scale"], w["min"])
    y = y if x.dtype == torch.float32 else y.to(x.dtype)
    return y + bias if bias is not None else y


def _q4_prefill(w: Weights, x, bias):
    qs, s, m = w["qs"], w["scale"], w["min"]
    scratch = torch.empty(TILE_ROWS, qs.shape[1] * BLOCK)
    return tiled_gemm(x, qs.shape[0], lambda a, b: cpu.q4_dequant_rows(qs, s, m, a, b, scratch), bias)


def _q4_supports(w: Weights) -> bool:
    n, k = w["q"].shape
    return _usable(w) and k % BLOCK == 0 and w["scale"].shape[1] == k // BLOCK


# --- int8: scale per 32 weights (Q8_0) ----------------------------------------------------
def _q8_prepare(w: Weights) -> Weights:
    return {"q": w["q"].contiguous(), "scale": w["scale"].float().contiguous()}


def _q8_decode(w: Weights, x, bias):
    y = cpu.q8_gemm(_as_f32(x), w["q"], w["scale"])
    y = y if x.dtype == torch.float32 else y.to(x.dtype)
    return y + bias if bias is not None else y


def _q8_prefill(w: Weights, x, bias):
    q, s = w["q"], w["scale"]
    return tiled_gemm(x, q.shape[0], lambda a, b: dequantize_int8(q[a:b], s[a:b]), bias)


def _q8_supports(w: Weights) -> bool:
    n, k = w["q"].shape
    return _usable(w) and k % BLOCK == 0 and w["scale"].shape[1] == k // BLOCK


# --- AVX512-VNNI: int4 / int8 blocks in 16-row groups --------------------------------------
def _vnni_prepare(q4: bool, act8: bool = False):
    def prepare(w: Weights) -> Weights:
        mn = w["min"] if q4 else None
        return {"packed": vnni.pack(w["q"], w["scale"], mn), "n": w["q"].shape[0], "q4": q4, "act8": act8}
    return prepare


def _vnni_decode(w: Weights, x, bias):
    y = cpu.vnni_gemm(_as_f32(x), w["packed"], w["n"], w["q4"], act8=w.get("act8", False))
    y = y if x.dtype == torch.float32 else y.to(x.dtype)
    return y + bias if bias is not None else y


def _vnni_prefill(w: Weights, x, bias):
    packed, q4 = w["packed"], w["q4"]
    scratch = torch.empty(TILE_ROWS, packed.shape[1] * BLOCK)
    return tiled_gemm(x, w["n"], lambda a, b: cpu.vnni_dequant_rows(packed, q4, torch.arange(a, b), scratch), bias)


# --- dynamic W8A8: activations rounded to int8 per token and 32 values first -------------
def _w8a8_q8_decode(w: Weights, x, bias):
    return _q8_decode(w, round_activations_int8(x), bias)


def _w8a8_q8_prefill(w: Weights, x, bias):
    return _q8_prefill(w, round_activations_int8(x).to(x.dtype), bias)


def _w4a8_q4_decode(w: Weights, x, bias):
    return _q4_decode(w, round_activations_int8(x), bias)


def _w4a8_q4_prefill(w: Weights, x, bias):
    return _q4_prefill(w, round_activations_int8(x).to(x.dtype), bias)


def _vnni_supports(q4: bool):
    def supports(w: Weights) -> bool:
        return cpu.has_vnni() and vnni.packable(w["q"], w["scale"], w["min"] if q4 else None)
    return supports


EXT_KERNELS: tuple[Kernel, ...] = (
    Kernel("sglike_q4_gemv", "q4_blocks", _q4_prepare, _q4_decode, _q4_supports, step=lambda w: ("q4", [w["qs"], w["scale"], w["min"]])),
    Kernel("sglike_q4_tiled", "q4_blocks", _q4_prepare, _q4_prefill, _q4_supports),
    Kernel("sglike_q8_gemv", "int8", _q8_prepare, _q8_decode, _q8_supports, step=lambda w: ("q8", [w["q"], w["scale"]])),
    Kernel("sglike_q8_tiled", "int8", _q8_prepare, _q8_prefill, _q8_supports),
    Kernel("sglike_vnni_q4_gemm", "vnni_q4", _vnni_prepare(True), _vnni_decode, _vnni_supports(True), step=lambda w: ("vnni_q4", [w["packed"]])),
    Kernel("sglike_vnni_q4_tiled", "vnni_q4", _vnni_prepare(True), _vnni_prefill, _vnni_supports(True)),
    Kernel("sglike_vnni_q8_gemm", "vnni_q8", _vnni_prepare(False), _vnni_decode, _vnni_supports(False), step=lambda w: ("vnni_q8", [w["packed"]])),
    Kernel("sglike_vnni_q8_tiled", "vnni_q8", _vnni_prepare(False), _vnni_prefill, _vnni_supports(False)),
    # W8A8: AVX2 rounds the activations in torch, then runs the int8 kernels (which take them
    # exactly up to their own int16 rounding); VNNI rounds them inside the GEMM (one vpdpbusd
    # per 4 weights instead of two)
    Kernel("sglike_w8a8_q8_gemv", "int8", _q8_prepare, _w8a8_q8_decode, _q8_supports),
    Kernel("sglike_w8a8_q8_tiled", "int8", _q8_prepare, _w8a8_q8_prefill, _q8_supports),
    Kernel("sglike_vnni_w8a8_gemm", "vnni_w8a8", _vnni_prepare(False, act8=True), _vnni_decode, _vnni_supports(False),
           step=lambda w: ("vnni_w8a8", [w["packed"]])),
    # W4A8 the same way over the int4 kernels
    Kernel("sglike_w4a8_q4_gemv", "q4_blocks", _q4_prepare, _w4a8_q4_decode, _q4_supports),
    Kernel("sglike_w4a8_q4_tiled", "q4_blocks", _q4_prepare, _w4a8_q4_prefill, _q4_supports),
    Kernel("sglike_vnni_w4a8_gemm", "vnni_w4a8", _vnni_prepare(True, act8=True), _vnni_decode, _vnni_supports(True),
           step=lambda w: ("vnni_w4a8", [w["packed"]])),
)
