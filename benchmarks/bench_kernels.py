"""Decode attention on a GPU: the Triton split-KV kernel over the KV pool vs torch SDPA
and flex attention, as achieved memory bandwidth.  NEEDS A CUDA GPU (exits saying so).

    python benchmarks/bench_kernels.py [--batch 64] [--context 4096] [--iters 50]

Workload: ``batch`` decode queries, each over ``context`` cached tokens, bfloat16, for two
head layouts (the default model's 9 query / 3 KV heads x 64, and Llama-3-8B's 32 / 8 x 128).
Rows:
- ``triton pool (scattered)``: ``sglike.kernels.triton.decode`` reading K/V through the
  request->slot table, slots a random permutation (what a long-running pool looks like);
- ``triton pool (contiguous)``: the same kernel, each request's slots in one run;
- ``torch gather + matmul``: the ``torch`` backend's decode (gather rows, two matmuls);
- ``torch SDPA (dense)``: ``F.scaled_dot_product_attention`` on dense [B, H, L, D] K/V
  (no pool, no indices: the best case a dense cache gets);
- ``flex attention (dense)``: ``torch.nn.attention.flex_attention`` compiled, same dense K/V.
GB/s counts the K and V bytes each call must read (B x L x Hk x D x 2 tensors x 2 bytes);
"% peak" divides by a device-to-device copy's bandwidth measured in the same run.
"""
from __future__ import annotations

import argparse
import sys

import torch
import torch.nn.functional as F

from common import print_table

LAYOUTS = {"smollm2-135m 9q/3kv x64": (9, 3, 64), "llama3-8b 32q/8kv x128": (32, 8, 128)}


def time_ms(fn, iters: int) -> float:
    """Median milliseconds per call, by CUDA events, after warm-up."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def copy_bandwidth(iters: int) -> float:
    """GB/s of a 2 GiB device-to-device copy (read + write bytes)."""
    src = torch.empty(2**30, dtype=torch.bfloat16, device="cuda")
    dst = torch.empty_like(src)
    ms = time_ms(lambda: dst.copy_(src), iters)
    return 2 * src.numel() * 2 / ms / 1e6


def run_layout(name: str, hq: int, hk: int, d: int, batch: int, context: int, iters: int, peak: float) -> list[list]:
    from sglike.kernels.attention.decode import decode_attention as torch_decode
    from sglike.kernels.attention.partial import mask_bias
    from sglike.kernels.triton.decode import decode_attention, num_kv_splits

    dev, dt = torch.device("cuda"), torch.bfloat16
    tokens = batch * context
    k_buf = torch.randn(hk, tokens + 1, d, dtype=dt, device=dev)
    v_buf = torch.randn_like(k_buf)
    q = torch.randn(batch, hq, d, dtype=dt, device=dev)
    scale = d**-0.5
    seq_lens = torch.full((batch,), context, dtype=torch.int64, device=dev)
    rows = torch.arange(batch, device=dev)
    scattered = (torch.randperm(tokens, device=dev) + 1).view(batch, context)
    contiguous = (torch.arange(tokens, device=dev) + 1).view(batch, context)
    splits = num_kv_splits(batch, hk, context, torch.cuda.get_device_properties(dev).multi_processor_count)
    kv_bytes = 2 * tokens * hk * d * k_buf.element_size()
    results = {
        "triton pool (scattered)": lambda: decode_attention(q, k_buf, v_buf, scattered, rows, seq_lens, scale, splits),
        "triton pool (contiguous)": lambda: decode_attention(q, k_buf, v_buf, contiguous, rows, seq_lens, scale, splits),
    }
    bias = mask_bias(torch.ones((1, batch, 1, context), dtype=torch.bool, device=dev))

    def gather_decode():
        flat = scattered.reshape(-1)
        keys = k_buf.index_select(1, flat).view(hk, batch, context, d)
        values = v_buf.index_select(1, flat).view(hk, batch, context, d)
        return torch_decode(q, keys, values, bias, scale)

    results["torch gather + matmul"] = gather_decode
    k_dense = k_buf[:, 1:].view(hk, batch, context, d).transpose(0, 1).contiguous()  # [B, Hk, L, D]
    v_dense = v_buf[:, 1:].view(hk, batch, context, d).transpose(0, 1).contiguous()
    q4 = q[:, :, None, :]  # [B, Hq, 1, D]
    results["torch SDPA (dense)"] = lambda: F.scaled_dot_product_attention(q4, k_dense, v_dense, scale=scale, enable_gqa=True)
    try:
        from torch.nn.attention.flex_attention import flex_attention

        flex = torch.compile(flex_attention, dynamic=False)
        results["flex attention (dense)"] = lambda: flex(q4, k_dense, v_dense, scale=scale, enable_gqa=True)
    except Exception as exc:  # noqa: BLE001 - shown in the table instead
        print(f"flex attention unavailable: {exc}", file=sys.stderr)
    # scattered rows hold other data than the dense copy: each is checked against its own twin
    want_dense = results["torch SDPA (dense)"]().reshape(batch, hq, d).float()
    want_scattered = gather_decode().float()
    table = []
    for label, fn in results.items():
        try:
            out = fn().reshape(batch, hq, d).float()
            want = want_scattered if "scattered" in label or "gather" in label else want_dense
            ok = "ok" if torch.allclose(out, want, atol=3e-2, rtol=3e-2) else "MISMATCH"
            ms = time_ms(fn, iters)
        except Exception as exc:  # noqa: BLE001
            table.append([name, label, "error", type(exc).__name__, "", ""])
            continue
        gbs = kv_bytes / ms / 1e6
        table.append([name, label, f"{ms:.3f}", f"{gbs:,.0f}", f"{100 * gbs / peak:.0f}%", ok])
    return table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--context", type=int, default=4096)
    ap.add_argument("--iters", type=int, default=50)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("bench_kernels.py needs a CUDA GPU (the Triton kernels are benchmarked compiled, not under "
              "TRITON_INTERPRET); none is visible here, nothing measured.", file=sys.stderr)
        return 0
    peak = copy_bandwidth(args.iters)
    print(f"{torch.cuda.get_device_name()}: device-to-device copy {peak:,.0f} GB/s; batch {args.batch} x context {args.context}, bfloat16")
    rows = []
    for name, (hq, hk, d) in LAYOUTS.items():
        rows += run_layout(name, hq, hk, d, args.batch, args.context, args.iters, peak)
    print_table("decode attention", ["heads", "kernel", "ms", "KV GB/s", "% copy bw", "matches twin"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
