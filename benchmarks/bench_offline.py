"""Offline throughput: sglike Engine vs transformers' batched generate, same prompts, in the
engine's dtype (what ``--dtype`` resolves to for the engine with its default options); on a
CPU with fast bfloat16 transformers also runs in bfloat16 (the faster of its two dtypes there).

    python benchmarks/bench_offline.py [--num-prompts 32] [--output-len 128] [--dtype auto]
"""
from __future__ import annotations

import argparse

import torch

from common import add_engine_args, chat_prompts, default_gguf, isa, print_table, setup_run, timer
from sglike.runtime.device import cpu_has_fast_bf16


def run_sglike(prompts: list[str], output_len: int, dtype: str) -> tuple[float, int, torch.dtype]:
    """(seconds, output tokens, the dtype the engine resolved)."""
    from sglike.runtime import Engine

    engine = Engine(dtype=dtype, max_running_requests=len(prompts))
    try:
        params = {"max_new_tokens": output_len, "temperature": 0, "ignore_eos": True}
        engine.generate(prompts[:2], {**params, "max_new_tokens": 4})  # warm-up
        engine.flush_cache()
        with timer() as t:
            outs = engine.generate(prompts, params)
        return t["seconds"], sum(o["meta_info"]["completion_tokens"] for o in outs), engine.scheduler.runner.dtype
    finally:
        engine.shutdown()


def run_transformers(prompts: list[str], output_len: int, torch_dtype: torch.dtype) -> tuple[float, int]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = default_gguf()
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch_dtype).eval()
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    kwargs = dict(max_new_tokens=output_len, min_new_tokens=output_len, do_sample=False, pad_token_id=tok.eos_token_id)
    with torch.no_grad():
        model.generate(**tok(prompts[:2], return_tensors="pt", padding=True, add_special_tokens=False), max_new_tokens=4, pad_token_id=tok.eos_token_id)
        with timer() as t:
            out = model.generate(**enc, **kwargs)
    return t["seconds"], int((out.shape[1] - enc["input_ids"].shape[1]) * out.shape[0])


def matmul_ceiling(batch: int, torch_dtype: torch.dtype, steps: int = 10) -> float:
    """Decode tok/s if a step were nothing but the model's weight matmuls at this batch size
    (q/k/v, o, gate/up, down per layer and the LM head), timed on random weights."""
    from sglike.runtime.model_loader import resolve_model
    from sglike.runtime.model_runner import load_model_config

    cfg = load_model_config(resolve_model(None))
    h, kv = cfg.hidden_size, (cfg.num_heads + 2 * cfg.num_kv_heads) * cfg.head_dim
    shapes = [(h, kv), (cfg.num_heads * cfg.head_dim, h), (h, 2 * cfg.intermediate_size), (cfg.intermediate_size, h)]
    weights = [torch.randn(n, k, dtype=torch_dtype) for k, n in shapes for _ in range(cfg.num_layers)]
    weights.append(torch.randn(cfg.vocab_size, h, dtype=torch_dtype))
    inputs = {w.shape[1]: torch.randn(batch, w.shape[1], dtype=torch_dtype) for w in weights}
    for w in weights:  # warm-up
        torch.nn.functional.linear(inputs[w.shape[1]], w)
    with timer() as t:
        for _ in range(steps):
            for w in weights:
                torch.nn.functional.linear(inputs[w.shape[1]], w)
    return batch * steps / t["seconds"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--num-prompts", type=int, default=32)
    ap.add_argument("--output-len", type=int, default=128)
    add_engine_args(ap)
    args = ap.parse_args()
    tokenizer, _, _ = setup_run(args)
    prompts = chat_prompts(tokenizer, args.num_prompts)
    s_sec, s_tok, engine_dtype = run_sglike(prompts, args.output_len, args.dtype)
    h_sec, h_tok = run_transformers(prompts, args.output_len, engine_dtype)
    s_tps, h_tps = s_tok / s_sec, h_tok / h_sec
    name = str(engine_dtype).removeprefix("torch.")
    rows = [["sglike Engine", s_sec, s_tok, s_tps, s_tps / h_tps], [f"transformers generate ({name})", h_sec, h_tok, h_tps, 1.0]]
    if engine_dtype != torch.bfloat16 and cpu_has_fast_bf16():
        b_sec, b_tok = run_transformers(prompts, args.output_len, torch.bfloat16)
        rows.append(["transformers generate (bfloat16)", b_sec, b_tok, b_tok / b_sec, b_tok / b_sec / h_tps])
    ceiling = matmul_ceiling(args.num_prompts, engine_dtype)
    rows.append([f"(ceiling: {name} weight matmuls only, decode)", "", "", ceiling, ceiling / h_tps])
    print_table(
        f"offline throughput: {args.num_prompts} chat prompts x {args.output_len} tokens, engine dtype {name} (--dtype {args.dtype}), "
        f"{torch.get_num_threads()} threads, ISA {isa()}",
        ["system", "seconds", "output tokens", "output tok/s", f"ratio to transformers ({name})"], rows,
    )


if __name__ == "__main__":
    main()
