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
FALLBACK = {"float": "f.linear", "int4": "int4_dequant_gemm", "int8": "int8_dequant_gemm", "w8a8_int8": "w8a8_dequant_gemm",
            "w4a8_int8": "w4a8_dequant_gemm"}

# AVX2 (measured): torch's int4pack/int8pack CPU kernels run 5-60x slower than float32 here,
# so weight-only methods run sglike's AVX2 GEMMs for decode and dequantized tiles for prefill.
_AVX2 = {
    ("float", "decode"): "f.linear", ("float", "prefill"): "f.linear",
    ("int4", "decode"): "sglike_q4_gemv", ("int4", "prefill"): "sglike_q4_tiled",
    ("int8", "decode"): "sglike_q8_gemv", ("int8", "prefill"): "sglike_q8_tiled",
    ("w8a8_int8", "decode"): "sglike_w8a8_q8_gemv", ("w8a8_int8", "prefill"): "sglike_w8a8_q8_tiled",
    ("w4a8_int8", "decode"): "sglike_w4a8_q4_gemv", ("w4a8_int8", "prefill"): "sglike_w4a8_q4_tiled",
}
# AVX512-VNNI (measured on Zen 4 with AVX512-BF16, bench_decode.py / bench_linear.py): torch's
# int4pack ran 20x slower than sglike's VNNI GEMMs (vpdpbusd over 16-row groups), which run
# 2.3-3.4x faster than its AVX2 ones at decode sizes and 1.0-2.5x faster than dequantized
# tiles + float32 GEMM at prefill sizes, so they take both phases. AVX-512 without VNNI
# takes the AVX2 rows.
_VNNI = {
    **_AVX2,
    ("int4", "decode"): "sglike_vnni_q4_gemm", ("int4", "prefill"): "sglike_vnni_q4_gemm",
    ("int8", "decode"): "sglike_vnni_q8_gemm", ("int8", "prefill"): "sglike_vnni_q8_gemm",
    ("w8a8_int8", "decode"): "sglike_vnni_w8a8_gemm", ("w8a8_int8", "prefill"): "sglike_vnni_w8a8_gemm",
    ("w4a8_int8", "decode"): "sglike_vnni_w4a8_gemm", ("w4a8_int8", "prefill"): "sglike_vnni_w4a8_gemm",
}
_PORTABLE = {
    ("float", "decode"): "f.linear", ("float", "prefill"): "f.linear",
    ("int4", "decode"): "int4_dequant_gemm", ("int4", "prefill"): "int4_dequant_gemm",
    ("int8", "decode"): "int8_dequant_gemm", ("int8", "prefill"): "int8_dequant_gemm",
    ("w8a8_int8", "decode"): "w8a8_dequant_gemm", ("w8a8_int8", "prefill"): "w8a8_dequant_gemm",
    ("w4a8_int8", "decode"): "w4a8_dequant_gemm", ("w4a8_int8", "prefill"): "w4a8_dequant_gemm",
}
KERNEL_TABLE: dict[tuple[str, str, str], str] = {
    (method, isa, phase): kernel
    for isa, table in {"amx": _VNNI, "avx512_bf16": _VNNI, "avx512_vnni": _VNNI, "avx512": _AVX2, "avx2": _AVX2,
                       "generic": _PORTABLE, "cuda": _PORTABLE}.items()
    for (method, phase), kernel in table.items()
}


def phase_of(m: int) -> str:
    return "decode" if m <= DECODE_MAX_M else "prefill"
