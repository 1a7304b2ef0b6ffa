"""The table that picks a linear kernel per (method, ISA, phase), from the torch kernels
(``linear_kernels.py``) and sglike's own C++ ones (``ext_kernels.py``).

Measured per machine with benchmarks/bench_linear.py and bench_decode.py. A kernel whose
``supports`` refuses a layer (a shape it does not take, or the extension not built) gives
way to the method's ``FALLBACK``.
"""
from __future__ import annotations

from .ext_kernels import EXT_KERNELS
from .linear_kernels import TORCH_KERNELS, Kernel

DECODE_MAX_M = 32  # rows up to this run the "decode" kernel, more the "prefill" kernel

KERNELS: dict[str, Kernel] = {k.name: k for k in TORCH_KERNELS + EXT_KERNELS}
# the kernel each method falls back to when the table's choice does not take a layer
FALLBACK = {"float": "f.linear", "int4": "int4_dequant_gemm", "int8": "int8_dequant_gemm"}

_AVX512 = {
    ("float", "decode"): "f.linear", ("float", "prefill"): "f.linear",
    ("int4", "decode"): "int4pack_cpu", ("int4", "prefill"): "int4pack_cpu",
    ("int8", "decode"): "int8pack", ("int8", "prefill"): "int8_dequant_gemm",
    ("w8a8_int8", "decode"): "fbgemm_w8a8", ("w8a8_int8", "prefill"): "fbgemm_w8a8",
}
# AVX2 (measured): torch's int4pack/int8pack CPU kernels run 5-60x slower than float32 here,
# so weight-only methods run sglike's AVX2 GEMMs for decode and dequantized tiles for prefill.
_AVX2 = {
    **_AVX512,
    ("int4", "decode"): "sglike_q4_gemv", ("int4", "prefill"): "sglike_q4_tiled",
    ("int8", "decode"): "sglike_q8_gemv", ("int8", "prefill"): "sglike_q8_tiled",
}
_PORTABLE = {  # no fbgemm: w8a8 is missing on purpose (a clear error, not a slow path)
    ("float", "decode"): "f.linear", ("float", "prefill"): "f.linear",
    ("int4", "decode"): "int4_dequant_gemm", ("int4", "prefill"): "int4_dequant_gemm",
    ("int8", "decode"): "int8_dequant_gemm", ("int8", "prefill"): "int8_dequant_gemm",
}
KERNEL_TABLE: dict[tuple[str, str, str], str] = {
    (method, isa, phase): kernel
    for isa, table in {"amx": _AVX512, "avx512_bf16": _AVX512, "avx512": _AVX512, "avx2": _AVX2,
                       "generic": _PORTABLE, "cuda": _PORTABLE}.items()
    for (method, phase), kernel in table.items()
}


def phase_of(m: int) -> str:
    return "decode" if m <= DECODE_MAX_M else "prefill"
