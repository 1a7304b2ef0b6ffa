"""Resolving ``device`` and ``dtype`` options ("auto" rules from the design doc)."""
from __future__ import annotations

import torch


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but no CUDA device is available")
    return dev


def cpu_has_fast_bf16() -> bool:
    """AMX or AVX512-BF16 makes bfloat16 matmuls fast on the CPU."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_dtype(dtype: str, device: torch.device, integer_linears: bool = False) -> torch.dtype:
    """``auto``: bfloat16 on CUDA, and on a CPU whose bfloat16 matmuls are fast (AMX,
    AVX512-BF16) unless the linears run sglike's integer CPU kernels (``integer_linears``):
    those take float32 activations, and the fused C++ decode step runs in float32."""
    if dtype == "float32":
        return torch.float32
    if dtype == "bfloat16":
        return torch.bfloat16
    if device.type == "cuda" or (cpu_has_fast_bf16() and not integer_linears):
        return torch.bfloat16
    return torch.float32
