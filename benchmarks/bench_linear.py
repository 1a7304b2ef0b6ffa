"""Linear kernels side by side on this machine, for the default model's shapes.

    python benchmarks/bench_linear.py [--threads 1] [--ms 5,1,4,16,32,512]

For each (shape, M): ms per call and effective GB/s (bytes of the weight storage the kernel
reads / time) of every kernel in ``sglike.runtime.layers.linear_kernels.KERNELS``, next to
float32 ``F.linear``; plus the machine's single-stream read bandwidth (the matvec ceiling).
A kernel slower than 1 s per call is not run at larger M (shown as "-").
"""
from __future__ import annotations

import argparse
import time

import torch

from common import print_table

SHAPES = {"qkv 576->960": (576, 960), "o 576->576": (576, 576), "gate_up 576->3072": (576, 3072),
          "down 1536->576": (1536, 576), "lm_head 576->49152": (576, 49152)}

def method_of(kernel: str) -> str:
    """The linear method whose weights a kernel computes with (from its name)."""
    for part, method in (("w8a8", "w8a8_int8"), ("w4a8", "w4a8_int8")):
        if part in kernel:
            return method
    for part, method in (("int4", "int4"), ("q4", "int4"), ("int8", "int8"), ("q8", "int8")):
        if part in kernel:
            return method
    return "float"



def time_ms(fn, budget_s: float = 0.3) -> float:
    fn()
    start, n = time.perf_counter(), 0
    while n < 3 or time.perf_counter() - start < budget_s:
        fn()
        n += 1
        if time.perf_counter() - start > 2.0:
            break
    return (time.perf_counter() - start) / n * 1e3


def storage_bytes(state) -> int:
    return sum(v.numel() * v.element_size() for v in state.values() if isinstance(v, torch.Tensor))


def engine_decode(quantizations: list[str], new_tokens: int = 128) -> None:
    """Single-stream greedy decode tok/s of ``Engine`` per quantization (same run)."""
    from sglike.runtime import Engine

    rows = []
    for q in quantizations:
        engine = Engine(quantization=q, max_total_tokens=2048)
        try:
            prompt = "Write a long story about a lighthouse keeper."
            engine.generate(prompt, {"max_new_tokens": 8, "temperature": 0})  # warm-up
            params = {"max_new_tokens": new_tokens, "temperature": 0, "ignore_eos": True}
            start = time.perf_counter()
            out = engine.generate(prompt, params)
            seconds = time.perf_counter() - start
            plan = engine.scheduler.runner.quant_plan
            rows.append([q, f"{plan.linear}/{plan.embedding}/{plan.lm_head}", out["meta_info"]["completion_tokens"] / seconds])
        finally:
            engine.shutdown()
    print_table(f"Engine single-stream greedy decode, {new_tokens} tokens", ["quantization", "plan", "tok/s"], rows)


def read_bandwidth_gbs() -> float:
    big = torch.ones(64 * 2**20)  # 256 MB, beyond any cache
    ms = time_ms(lambda: big.sum(), 0.5)
    return big.numel() * 4 / ms / 1e6


def main() -> None:
    from sglike.runtime.layers.kernel_table import KERNELS
    from sglike.runtime.layers.linear_method import get_linear_method
    from sglike.runtime.platform import detect_platform

    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ms", default="1,4,16,32,512")
    ap.add_argument("--engine", default="", help="also time Engine decode for these quantizations, e.g. none,auto,w8a8_int8")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.engine:
        engine_decode(args.engine.split(","))
    platform = detect_platform(torch.device("cpu"))
    print(f"torch {torch.__version__}, capability {torch.backends.cpu.get_cpu_capability()}, isa {platform.isa}, threads {args.threads}")
    print(f"read bandwidth (sum over 256 MB, the matvec ceiling): {read_bandwidth_gbs():.2f} GB/s")
    ms_list = [int(m) for m in args.ms.split(",")]
    names = list(KERNELS)
    torch.manual_seed(0)
    for label, (k, n) in SHAPES.items():
        w = torch.randn(n, k) * 0.02
        rows, slow = [], set()
        for name in names:
            method = get_linear_method(method_of(name))
            canonical = _canonical(method, w)
            kernel = KERNELS[name]
            if not kernel.supports(canonical):
                continue
            state = kernel.prepare(canonical)
            nbytes = storage_bytes(state)
            row = [name, f"{nbytes / 2**20:.1f}"]
            for m in ms_list:
                if name in slow:
                    row.append("-")
                    continue
                x = torch.randn(m, k)
                t = time_ms(lambda: kernel.run(state, x, None))
                slow.add(name) if t > 1000 else None
                row.append(f"{t:.3f} ms / {nbytes / t / 1e6:.2f} GB/s")
            rows.append(row)
        print_table(f"{label} (1 call)", ["kernel", "MiB"] + [f"M={m}" for m in ms_list], rows)


def _canonical(method, w: torch.Tensor) -> dict:
    from sglike.runtime.layers.quant_ref import quantize_int4, quantize_int8

    if method.name == "float":
        return {"weight": w}
    if method.name in ("int4", "w4a8_int8"):
        q, s, mn = quantize_int4(w)
        return {"q": q, "scale": s, "min": mn}
    q, s = quantize_int8(w, method.group)
    return {"q": q, "scale": s}


if __name__ == "__main__":
    main()
