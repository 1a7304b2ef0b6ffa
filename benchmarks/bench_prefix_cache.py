"""Shared-prefix workload: prefix cache on vs off vs transformers generate (same run, dtype).

    python benchmarks/bench_prefix_cache.py [--groups 8] [--per-group 16] [--system-len 1000]
        [--question-len 64] [--output-len 32] [--skip-transformers]
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from common import add_engine_args, default_gguf, print_table, setup_run, timer

WORDS = "time person year way day thing man world life hand part child eye woman place work week case point government company number group problem fact".split()


def make_workload(tokenizer, groups: int, per_group: int, system_len: int, question_len: int, seed: int = 0) -> list[list[int]]:
    rng = random.Random(seed)

    def text_of(n_tokens: int) -> list[int]:
        ids: list[int] = []
        while len(ids) < n_tokens:
            ids += tokenizer.encode(" " + " ".join(rng.choice(WORDS) for _ in range(32)), add_special_tokens=False)
        return ids[:n_tokens]

    prompts = []
    for _ in range(groups):
        system = text_of(system_len)
        prompts += [system + text_of(question_len) for _ in range(per_group)]
    return prompts


def run_engine(prompts: list[list[int]], output_len: int, dtype: str, cache: bool) -> dict:
    from sglike.runtime import Engine

    engine = Engine(dtype=dtype, disable_radix_cache=not cache, max_running_requests=64, max_total_tokens=80000)
    try:
        params = {"max_new_tokens": output_len, "temperature": 0, "ignore_eos": True}
        engine.generate(input_ids=prompts[0][:32], sampling_params={"max_new_tokens": 2})
        engine.flush_cache()
        first: dict[int, float] = {}
        start = time.perf_counter()
        tokens = 0
        for chunk in engine.generate(input_ids=prompts, sampling_params=params, stream=True):
            if chunk["output_ids"]:
                first.setdefault(chunk["index"], time.perf_counter() - start)
            tokens += len(chunk["output_ids"])
        seconds = time.perf_counter() - start
        info = engine.get_server_info()
        return {"seconds": seconds, "tokens": tokens, "ttft": statistics.median(first.values()), "hit_rate": info["cache_hit_rate"]}
    finally:
        engine.shutdown()


def run_transformers(prompts: list[list[int]], output_len: int, torch_dtype: torch.dtype, batch: int) -> dict:
    from transformers import AutoModelForCausalLM

    folder, name = default_gguf()
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch_dtype).eval()
    tokens, ttfts = 0, []
    with torch.no_grad(), timer() as t:
        for i in range(0, len(prompts), batch):
            group = prompts[i : i + batch]
            width = max(len(p) for p in group)
            ids = torch.tensor([[2] * (width - len(p)) + p for p in group])
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in group])
            t0 = time.perf_counter()
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=output_len, min_new_tokens=output_len, do_sample=False, pad_token_id=2)
            ttfts.append(time.perf_counter() - t0)  # upper bound: a batch returns at once
            tokens += (out.shape[1] - width) * out.shape[0]
    return {"seconds": t["seconds"], "tokens": tokens, "ttft": statistics.median(ttfts), "hit_rate": 0.0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=8)
    ap.add_argument("--per-group", type=int, default=16)
    ap.add_argument("--system-len", type=int, default=1000)
    ap.add_argument("--question-len", type=int, default=64)
    ap.add_argument("--output-len", type=int, default=32)
    ap.add_argument("--skip-transformers", action="store_true")
    add_engine_args(ap)
    args = ap.parse_args()
    tokenizer, dtype, torch_dtype = setup_run(args)
    prompts = make_workload(tokenizer, args.groups, args.per_group, args.system_len, args.question_len)
    results = {"sglike, cache on": run_engine(prompts, args.output_len, dtype, cache=True), "sglike, cache off": run_engine(prompts, args.output_len, dtype, cache=False)}
    if not args.skip_transformers:
        results["transformers generate"] = run_transformers(prompts, args.output_len, torch_dtype, args.per_group)
    base = results["sglike, cache on"]["tokens"] / results["sglike, cache on"]["seconds"]
    rows = []
    for name, r in results.items():
        tps = r["tokens"] / r["seconds"]
        rows.append([name, r["seconds"], tps, r["ttft"], f"{r['hit_rate']:.1%}", base / tps])
    print_table(
        f"shared prefix: {args.groups} groups x {args.per_group} requests, {args.system_len}-token system prompt, "
        f"{args.question_len}-token question, {args.output_len} output tokens, {dtype}",
        ["system", "seconds", "output tok/s", "median TTFT s", "cache hit rate", "cache-on speedup"],
        rows,
    )


if __name__ == "__main__":
    main()
