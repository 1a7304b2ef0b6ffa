"""What the machine computes fast: detected once at start into a frozen ``Platform``.

Kernel tables are keyed by ``Platform.isa``: ``cuda``, ``amx``, ``avx512_bf16``,
``avx512_vnni``, ``avx512``, ``avx2`` or ``generic`` (anything else, e.g. ARM). Each level
implies the ones after it among the x86 levels (every AVX512-BF16 or AMX CPU seen has VNNI).
Nothing is assumed about the CPU.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sglike.kernels import cpu as cpu_ext


@dataclass(frozen=True)
class Platform:
    device_type: str  # "cpu" | "cuda"
    avx2: bool = False
    avx512: bool = False
    avx512_vnni: bool = False  # int8 dot products (vpdpbusd): sglike's VNNI GEMMs
    avx512_bf16: bool = False
    amx: bool = False
    cpu_kernels: bool = False  # sglike's C++ extension is built and its AVX2 path runs here
    vnni_kernels: bool = False  # ... and its AVX512-VNNI path runs here

    @property
    def isa(self) -> str:
        if self.device_type == "cuda":
            return "cuda"
        for name in ("amx", "avx512_bf16", "avx512_vnni", "avx512", "avx2"):
            if getattr(self, name):
                return name
        return "generic"


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def detect_platform(device: torch.device) -> Platform:
    if device.type == "cuda":
        return Platform("cuda")
    capability = torch.backends.cpu.get_cpu_capability()  # "AVX2", "AVX512", "DEFAULT", ...
    flags = _cpu_flags()
    avx512 = capability.startswith("AVX512")
    vnni = avx512 and "avx512_vnni" in flags
    return Platform(
        "cpu",
        avx2=avx512 or capability == "AVX2",
        avx512=avx512,
        avx512_vnni=vnni,
        avx512_bf16=vnni and "avx512_bf16" in flags,
        amx=vnni and "amx_tile" in flags and "amx_bf16" in flags,
        cpu_kernels=cpu_ext.has_simd(),
        vnni_kernels=cpu_ext.has_vnni(),
    )
