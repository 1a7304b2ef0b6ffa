"""The GPU engine end to end: greedy decode tok/s (triton attention, bfloat16) with CUDA
graphs on and off, batch 1 / 8 / 64, 128 new tokens each (prefill included).
NEEDS A CUDA GPU (exits saying so).

    python benchmarks/bench_gpu_engine.py [--random-model] [--new-tokens 128]

The default model when it is installed; with ``--random-model`` (or where it is not: a GPU
machine with no package index) a random-weight model of the same shape (30 layers, 576
wide, 9 query / 3 KV heads of 64) with the default tokenizer, from ``SGLIKE_TEST_TOKENIZER``
(a saved copy) when the model is missing.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch

from common import print_table

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "runtime"))


def random_default_shaped_model() -> str:
    from conftest import make_tiny_model  # tests/runtime/conftest.py
    from transformers import AutoTokenizer

    saved = os.environ.get("SGLIKE_TEST_TOKENIZER")
    if saved:
        tokenizer = AutoTokenizer.from_pretrained(saved, local_files_only=True)
    else:
        from sglike.runtime.api.tokenizer import load_tokenizer
        from sglike.runtime.model_loader import resolve_model

        tokenizer = load_tokenizer(resolve_model(None))
    return make_tiny_model(tempfile.mkdtemp(), tokenizer, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                           num_attention_heads=9, num_key_value_heads=3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--random-model", action="store_true")
    ap.add_argument("--new-tokens", type=int, default=128)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("bench_gpu_engine.py needs a CUDA GPU; none is visible here, nothing measured.")
        return
    from sglike.runtime import Engine
    from sglike.runtime.model_loader import resolve_model

    model = None
    if not args.random_model:
        try:
            resolve_model(None)
        except (FileNotFoundError, ImportError):
            args.random_model = True
    if args.random_model:
        model = random_default_shaped_model()
    rows = []
    for graphs in (True, False):
        engine = Engine(model, dtype="bfloat16", disable_cuda_graph=not graphs, max_running_requests=64, max_total_tokens=65536)
        params = {"max_new_tokens": args.new_tokens, "temperature": 0, "ignore_eos": True}
        for batch in (1, 8, 64):
            prompts = [f"Request {i}: tell me a story about the number {i}." for i in range(batch)]
            engine.generate(prompts[:1], {**params, "max_new_tokens": 4})
            start = time.perf_counter()
            outs = engine.generate(prompts, params)
            seconds = time.perf_counter() - start
            tokens = sum(len(o["output_ids"]) for o in outs)
            rows.append(["on" if graphs else "off", batch, f"{tokens / seconds:,.0f}", f"{seconds / args.new_tokens * 1000:.2f}"])
        engine.shutdown()
    print_table(f"GPU engine, {torch.cuda.get_device_name()}, bfloat16, triton attention, "
                f"{'random default-shaped model' if args.random_model else 'default model'}, {args.new_tokens} new tokens",
                ["CUDA graphs", "batch", "tok/s (prefill included)", "ms per step"], rows)


if __name__ == "__main__":
    main()
