"""Which linear method each part of the model uses, from ``quantization`` and the machine.

``auto`` keeps a GGUF's own format where this ISA has a kernel for it that is faster than
float32 (``AUTO_METHOD``); elsewhere it dequantizes to the model dtype like ``none``.
On x86 those kernels are sglike's C++ extension, so ``auto`` keeps the blocks there only
when the extension is built (``Platform.cpu_kernels``).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..layers.kernel_table import KERNEL_TABLE
from ..platform import Platform

# (isa, GGML type) -> method for `auto`; a type that is not listed loads as float.
# On AVX2 and AVX-512 (Zen 4) no torch kernel computes weight-only int4/int8 faster than
# float32 (measured, benchmarks/bench_linear.py); sglike's own AVX2 / VNNI GEMMs do.
_FAST_WEIGHT_ONLY = {"Q4_0": "int4", "Q4_1": "int4", "Q8_0": "int8"}  # blocks kept exactly
AUTO_METHOD: dict[tuple[str, str], str] = {
    (isa, qtype): method for isa in ("amx", "avx512_bf16", "avx512_vnni", "avx512", "avx2") for qtype, method in _FAST_WEIGHT_ONLY.items()
}
NEEDS_EXTENSION = {"amx", "avx512_bf16", "avx512_vnni", "avx512", "avx2"}  # `auto` kernels: sglike's C++ extension
# quantization -> (decoder linears, embedding, lm_head)
EXPLICIT: dict[str, tuple[str, str, str]] = {
    "none": ("float", "float", "float"),
    "int8": ("int8", "int8", "int8"),
    "int4": ("int4", "int8", "int8"),  # a 49k-row LM head in 4 bits costs too much quality
    # the embedding shares the LM head's method, so a tied head is one copy of the matrix
    "w8a8_int8": ("w8a8_int8", "w8a8_int8", "w8a8_int8"),
    "w4a8_int8": ("w4a8_int8", "w8a8_int8", "w8a8_int8"),  # the int8 LM head takes int8 activations too
}


@dataclass(frozen=True)
class QuantPlan:
    linear: str
    embedding: str
    lm_head: str

    @property
    def keep_blocks(self) -> bool:
        """Whether the loader should hand over GGUF blocks instead of float tensors."""
        return any(m != "float" for m in (self.linear, self.embedding, self.lm_head))


def _auto_role(platform: Platform, types: set[str]) -> str:
    if platform.isa in NEEDS_EXTENSION and not platform.cpu_kernels:
        return "float"
    methods = {AUTO_METHOD.get((platform.isa, t), "float") for t in types}
    return methods.pop() if len(methods) == 1 else "float"


def plan_quantization(quantization: str, platform: Platform, tensor_types: dict[str, str] | None) -> QuantPlan:
    """``tensor_types``: HF weight name -> GGML type for a GGUF, None for a float checkpoint."""
    if quantization == "auto":
        if not tensor_types:
            return QuantPlan("float", "float", "float")
        linear = {t for n, t in tensor_types.items() if ".layers." in n and n.endswith("proj.weight")}
        embed = {tensor_types.get("model.embed_tokens.weight", "F32")}
        head = {tensor_types["lm_head.weight"]} if "lm_head.weight" in tensor_types else embed
        plan = QuantPlan(_auto_role(platform, linear), _auto_role(platform, embed), _auto_role(platform, head))
    elif quantization in EXPLICIT:
        plan = QuantPlan(*EXPLICIT[quantization])
    else:
        raise ValueError(f"unknown quantization {quantization!r}; known: auto, {', '.join(EXPLICIT)}")
    for method in {plan.linear, plan.embedding, plan.lm_head}:
        if (method, platform.isa, "decode") not in KERNEL_TABLE:
            raise ValueError(
                f"quantization={quantization!r} needs a {method} kernel this machine lacks (ISA {platform.isa}); "
                "use quantization='none' or 'int8'"
            )
    return plan
