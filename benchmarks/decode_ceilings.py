"""Hardware ceilings for bench_decode: float32 matvec bandwidth (what bounds batch-1 decode)
and float32 GEMM throughput (what bounds large batches and prefill), measured on this CPU."""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Ceilings:
    matvec_gbps: float  # weight bytes streamed per second by a float32 matvec
    gemm_gflops: float  # float32 GEMM throughput


def _best(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure_ceilings() -> Ceilings:
    w = torch.randn(8192, 8192)  # 256 MiB: far beyond the caches
    x = torch.randn(1, 8192)
    matvec = _best(lambda: torch.nn.functional.linear(x, w), 5)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    gemm = _best(lambda: torch.mm(a, b), 5)
    return Ceilings(w.numel() * 4 / matvec / 1e9, 2 * 1024**3 / gemm / 1e9)


def model_weight_bytes(engine) -> int:
    """Bytes of every parameter and buffer the engine's model holds (each is read once per
    decode step: the tied embedding is the LM head), rotary tables excluded."""
    model = engine.scheduler.runner.model
    total = 0
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if "rope" not in name and "rotary" not in name:
            total += t.numel() * t.element_size()
    for module in model.modules():  # quantized layers keep their kernels' storage as plain tensors
        for store in getattr(module, "storage", {}).values():
            total += sum(t.numel() * t.element_size() for t in store.values() if isinstance(t, torch.Tensor))
    return total
