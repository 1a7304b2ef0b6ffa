"""Decode and prefill speed on the CPU: sglike under each quantization vs transformers (the
engine's dtype) vs llama-cpp-python on the same GGUF, same thread count, same run; beside
each, the ceilings of its path (weight bytes / measured matvec bandwidth, FLOPs / GEMM peak).

    python benchmarks/bench_decode.py [--threads 1] [--batches 1,4,16,32] [--quantizations auto,none]
                                      [--decode-len 64] [--prefill-len 693] [--plot decode.png]

Decode tok/s at batch B is B * decode_len / (t(1 + decode_len new tokens) - t(1 new token)),
so prompt processing is excluded; prefill tok/s is prompt tokens / t(1 new token) on a fresh cache.
"""
from __future__ import annotations

import argparse
import textwrap
import time

import torch

from common import chat_prompts, default_gguf, isa, print_table
from decode_ceilings import Ceilings, measure_ceilings, model_weight_bytes
from decode_peers import LlamaCpp, Transformers
from sglike.runtime.device import cpu_has_fast_bf16


def long_prompt(tokenizer, n_tokens: int) -> str:
    text = " ".join(chat_prompts(tokenizer, 64))
    ids = tokenizer.encode(text, add_special_tokens=False)[:n_tokens]
    return tokenizer.decode(ids)


class Sglike:
    def __init__(self, quantization: str, max_batch: int) -> None:
        from sglike.runtime import Engine

        options = {"max_running_requests": max_batch, "disable_radix_cache": True}
        if quantization != "-":
            options["quantization"] = quantization
        self.engine = Engine(**options)
        dtype = str(self.engine.scheduler.runner.dtype).removeprefix("torch.")
        self.name = f"sglike quantization={quantization} ({dtype})"

    def tokenizer(self):
        return self.engine.tokenizer

    def weight_bytes(self) -> int:
        return model_weight_bytes(self.engine)

    def _time(self, prompts: list[str], new_tokens: int) -> float:
        params = {"max_new_tokens": new_tokens, "temperature": 0, "ignore_eos": True}
        start = time.perf_counter()
        self.engine.generate(prompts, params)
        return time.perf_counter() - start

    def decode(self, prompts: list[str], n: int) -> float:
        self._time(prompts, 2)  # warm-up at this batch size
        return len(prompts) * n / (self._time(prompts, 1 + n) - self._time(prompts, 1))

    def prefill(self, prompt: str, n_tokens: int) -> float:
        self._time([prompt], 1)
        return n_tokens / self._time([prompt], 1)

    def close(self) -> None:
        self.engine.shutdown()


def run_system(system, prompts: list[str], batches: list[int], decode_len: int, prefill_prompt: str, prefill_tokens: int) -> dict:
    row = {"name": system.name}
    for b in batches:
        try:
            row[b] = system.decode(prompts[:b], decode_len)
        except NotImplementedError:
            row[b] = None
    row["prefill"] = system.prefill(prefill_prompt, prefill_tokens)
    row["bytes"] = system.weight_bytes()
    return row


def matmul_params(cfg) -> int:
    """Weights one token multiplies (every decoder linear and the LM head): FLOPs = 2x this."""
    h, d = cfg.hidden_size, cfg.head_dim
    per_layer = h * (cfg.num_heads + 2 * cfg.num_kv_heads) * d + cfg.num_heads * d * h + 3 * h * cfg.intermediate_size
    return cfg.num_layers * per_layer + cfg.vocab_size * h


def ceiling_cells(row: dict, ceil: Ceilings, params: int) -> list[str]:
    flops = ceil.gemm_gflops * 1e9 / (2 * params)  # tok/s if every token only paid its matmul FLOPs
    mem = ceil.matvec_gbps * 1e9 / row["bytes"]  # batch-1 tok/s if a step only read its weights once
    return [f"{row['bytes'] / 2**20:.0f} MiB", f"{mem:.1f}", f"{flops:.0f}"]


def plot(rows: list[dict], batches: list[int], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        xs = [b for b in batches if row.get(b)]
        ax.plot(xs, [row[b] for b in xs], marker="o", label=row["name"])
    ax.set_xscale("log", base=2)
    ax.set_xticks(batches, [str(b) for b in batches])
    ax.set_xlabel("batch size (concurrent sequences)")
    ax.set_ylabel("decode tok/s (all sequences)")
    ax.set_title(textwrap.fill(title, 90), fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", default="1,4,16,32")
    ap.add_argument("--quantizations", default="auto,none", help="comma list; '-' means the engine's default")
    ap.add_argument("--decode-len", type=int, default=64)
    ap.add_argument("--prefill-len", type=int, default=693)
    ap.add_argument("--skip", default="", help="comma list of peers to skip: transformers,llama")
    ap.add_argument("--plot", default="", help="write tok/s against batch size as a PNG here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.batches.split(",")]
    skip = set(args.skip.split(","))
    rows = []
    prompts = prefill_prompt = engine_dtype = None
    params = 0
    for q in args.quantizations.split(","):
        system = Sglike(q, max(batches))
        try:
            if prompts is None:
                tok = system.tokenizer()
                prompts = chat_prompts(tok, max(batches))
                prefill_prompt = long_prompt(tok, args.prefill_len)
                params = matmul_params(system.engine.scheduler.runner.model_config)
                engine_dtype = system.engine.scheduler.runner.dtype  # the first system's: the default options
            rows.append(run_system(system, prompts, batches, args.decode_len, prefill_prompt, args.prefill_len))
        finally:
            system.close()
    peers = []  # built one at a time: each loads its own copy of the model
    if "transformers" not in skip:  # in the engine's dtype, and in bfloat16 where that is fast
        for dtype in [engine_dtype] + ([torch.bfloat16] if engine_dtype != torch.bfloat16 and cpu_has_fast_bf16() else []):
            peers.append(lambda dtype=dtype: Transformers(default_gguf(), args.threads, dtype))
    if "llama" not in skip:
        peers.append(lambda: LlamaCpp(default_gguf(), args.threads))
    for make in peers:
        peer = make()
        rows.append(run_system(peer, prompts, batches, args.decode_len, prefill_prompt, args.prefill_len))
        peer.close()
    ceil = measure_ceilings()
    ref = next((r for r in rows if r["name"].startswith("llama")), rows[-1])
    header = ["system", *[f"decode b={b}" for b in batches], "prefill tok/s", "b=1 vs " + ref["name"].split()[0],
              "weights", "ceiling b=1 (bytes/BW)", "ceiling (FLOPs / float32 GEMM peak)"]
    table = []
    for row in rows:
        cells = [f"{row[b]:.1f}" if row.get(b) else "n/a" for b in batches]
        ratio = f"{row[1] / ref[1]:.2f}x" if row.get(1) and ref.get(1) else "n/a"
        table.append([row["name"], *cells, f"{row['prefill']:.0f}", ratio, *ceiling_cells(row, ceil, params)])
    title = (f"decode / prefill, {args.threads} thread(s), ISA {isa()}, decode {args.decode_len} tokens, "
             f"prefill {args.prefill_len} tokens; matvec {ceil.matvec_gbps:.1f} GB/s, GEMM {ceil.gemm_gflops:.0f} GFLOP/s (float32)")
    print_table(title, header, table)
    if args.plot:
        plot(rows, batches, args.plot, title)
        print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
