"""Tensor parallelism on the CPU: tp_size 1 vs 2 on a random-weight Llama large enough that
splitting its matmuls might pay, same run, plus the latency of one gloo all-reduce.

    python benchmarks/bench_tp.py [--hidden 2048] [--inter 5632] [--layers 4] [--heads 16]
                                  [--kv-heads 4] [--prefill-len 128] [--decode-len 16] [--batches 1,4]
                                  [--quantizations none,int8]

Decode step ms at batch B is (t(1 + decode_len new tokens) - t(1 new token)) / decode_len;
prefill tok/s is prompt tokens / t(1 new token) on a fresh cache. tp 1 runs with every core
of the process; tp 2 gives each rank half of them (``distributed.group.init_rank``), and a
decode step then costs 2 * layers + 1 all-reduces, one gather of the logits and two
broadcasts of the batch on top of its halved matmuls.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import torch

from common import isa, print_table


def write_random_llama(folder: str, args) -> str:
    """config.json + one safetensors file of N(0, 0.02) weights + the default tokenizer."""
    from safetensors.torch import save_file

    from sglike.runtime.api.tokenizer import load_tokenizer
    from sglike.runtime.model_loader import resolve_model

    tokenizer = load_tokenizer(resolve_model(None))
    vocab, h, d = len(tokenizer), args.hidden, args.hidden // args.heads
    kv = args.kv_heads * d
    config = {"architectures": ["LlamaForCausalLM"], "vocab_size": vocab, "hidden_size": h, "intermediate_size": args.inter,
              "num_hidden_layers": args.layers, "num_attention_heads": args.heads, "num_key_value_heads": args.kv_heads,
              "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "tie_word_embeddings": True,
              "eos_token_id": tokenizer.eos_token_id, "bos_token_id": tokenizer.bos_token_id}
    gen = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=gen) * 0.02

    tensors = {"model.embed_tokens.weight": rand(vocab, h), "model.norm.weight": torch.ones(h)}
    for i in range(args.layers):
        p = f"model.layers.{i}."
        tensors |= {p + "input_layernorm.weight": torch.ones(h), p + "post_attention_layernorm.weight": torch.ones(h),
                    p + "self_attn.q_proj.weight": rand(h, h), p + "self_attn.k_proj.weight": rand(kv, h),
                    p + "self_attn.v_proj.weight": rand(kv, h), p + "self_attn.o_proj.weight": rand(h, h),
                    p + "mlp.gate_proj.weight": rand(args.inter, h), p + "mlp.up_proj.weight": rand(args.inter, h),
                    p + "mlp.down_proj.weight": rand(h, args.inter)}
    save_file(tensors, os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    tokenizer.save_pretrained(folder)
    return folder


def measure(folder: str, args, **options) -> list[float]:
    from sglike.runtime import Engine

    batches = [int(b) for b in args.batches.split(",")]
    engine = Engine(folder, dtype="float32", max_total_tokens=4096, max_running_requests=max(batches),
                    disable_radix_cache=True, context_length=1024, **options)
    try:
        gen = torch.Generator().manual_seed(1)

        def timed(batch: int, new: int, length: int) -> float:
            ids = [torch.randint(100, 40000, (length,), generator=gen).tolist() for _ in range(batch)]
            params = {"max_new_tokens": new, "temperature": 0, "ignore_eos": True}
            start = time.perf_counter()
            engine.generate(input_ids=ids, sampling_params=params)
            return time.perf_counter() - start

        timed(1, 2, 16)  # warm-up
        row = [args.prefill_len / timed(1, 1, args.prefill_len)]
        for b in batches:
            t1, tn = timed(b, 1, 16), timed(b, 1 + args.decode_len, 16)
            row.append(1000 * (tn - t1) / args.decode_len)
        return row
    finally:
        engine.shutdown()


def _allreduce_worker(rank: int, addr: str, hidden: int, iters: int, out) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://{addr}", world_size=2, rank=rank)
    x = torch.randn(1, hidden)
    for _ in range(20):
        dist.all_reduce(x)
    dist.barrier()
    start = time.perf_counter()
    for _ in range(iters):
        dist.all_reduce(x)
    if rank == 0:
        out.put((time.perf_counter() - start) / iters * 1e6)
    dist.destroy_process_group()


def allreduce_us(hidden: int, iters: int = 500) -> float:
    import torch.multiprocessing as mp

    from sglike.runtime.distributed.group import free_loopback_addr

    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    addr = free_loopback_addr()
    procs = [ctx.Process(target=_allreduce_worker, args=(r, addr, hidden, iters, out)) for r in range(2)]
    for p in procs:
        p.start()
    value = out.get(timeout=300)
    for p in procs:
        p.join(30)
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--inter", type=int, default=5632)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--prefill-len", type=int, default=128)
    parser.add_argument("--decode-len", type=int, default=16)
    parser.add_argument("--batches", default="1,4")
    parser.add_argument("--quantizations", default="none,int8", help="none: float32 GEMMs; int8: sglike's int8 CPU kernels")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as folder:
        write_random_llama(folder, args)
        runs = [("tp 1, C++ decode step", {}), ("tp 1, module by module", {"disable_cpu_decode_step": True}), ("tp 2 (gloo)", {"tp_size": 2})]
        rows = []
        for quantization in args.quantizations.split(","):
            group = []
            for name, options in runs:
                group.append([f"{quantization}: {name}", *measure(folder, args, quantization=quantization, **options)])
                print(group[-1], flush=True)
            for row in group:  # decode speed vs the same quantization's tp 1 module path
                row.append(" / ".join(f"{group[1][i] / row[i]:.2f}x" for i in range(2, len(row))))
            rows += group
    batches = args.batches.split(",")
    title = (f"tensor parallelism, random Llama hidden {args.hidden} / MLP {args.inter} / {args.layers} layers / "
             f"{args.heads} heads ({args.kv_heads} KV), float32 activations, {cores} cores, {isa()}")
    print_table(title, ["run", f"prefill tok/s ({args.prefill_len})", *[f"decode ms/step b={b}" for b in batches],
                        "decode speed vs tp 1 module path"], rows)
    print(f"\ngloo all-reduce of one [1, {args.hidden}] float32 row between 2 processes: {allreduce_us(args.hidden):.0f} us "
          f"({2 * args.layers + 1} per decode step at tp 2)")


if __name__ == "__main__":
    main()
