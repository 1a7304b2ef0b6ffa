"""Speculative decoding (NGRAM) on vs off, same run, same engine options, greedy.

    taskset -c 1 python benchmarks/bench_speculative.py [--threads 1] [--new-tokens 96]
                                                        [--batch 16] [--algorithm NGRAM]

Workloads: single-stream copy-heavy prompts (repeat a passage, rename an identifier in
code, echo JSON fields), single-stream ordinary chat prompts, and a batch of 16 chat
prompts. For each: tok/s (completion tokens / wall time of the whole request, prefill
included, the same for both sides) with speculation off and on, their ratio, the mean
accepted length (tokens gained per verify forward) and whether the greedy tokens are
identical. Each prompt runs off then on, alternating the order, after a warm-up.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from common import chat_prompts, print_table

PASSAGE = ("Speculative decoding drafts a few tokens cheaply and lets the large model check them all in "
           "one forward pass. When the drafts are right, several tokens come out of a single step; when "
           "they are wrong, nothing is lost but a little compute.")
CODE = '''def total_price(items, tax_rate):
    subtotal = 0
    for item in items:
        subtotal += item.price * item.quantity
    tax = subtotal * tax_rate
    return subtotal + tax
'''
RECORD = {"name": "Ada Lovelace", "born": "1815-12-10", "city": "London", "field": "mathematics",
          "known_for": "the first published algorithm", "collaborator": "Charles Babbage"}


def copy_prompts(tokenizer) -> dict[str, str]:
    msgs = {
        "repeat a passage": f"Repeat the following text exactly, word for word.\n\n{PASSAGE}",
        "rename in code": f"Rename the variable `subtotal` to `net` in this code and print the whole code.\n\n```python\n{CODE}```",
        "echo JSON fields": f"Return this record as JSON with exactly the same fields and values.\n\n{json.dumps(RECORD)}",
    }
    return {name: tokenizer.apply_chat_template([{"role": "user", "content": m}], tokenize=False, add_generation_prompt=True)
            for name, m in msgs.items()}


def run(engine, prompts: list[str], new_tokens: int) -> tuple[float, list[list[int]], float]:
    """(seconds, output ids, mean accepted length) for one generate call."""
    params = {"max_new_tokens": new_tokens, "temperature": 0}
    start = time.perf_counter()
    outs = engine.generate(prompts, params)
    seconds = time.perf_counter() - start
    steps = sum(o["meta_info"].get("spec_verify_ct", 0) for o in outs)
    accepted = sum(o["meta_info"].get("spec_accepted_tokens", 0) for o in outs)
    return seconds, [o["output_ids"] for o in outs], (1.0 + accepted / steps) if steps else 1.0


def compare(plain, spec, prompts: list[str], new_tokens: int, flip: bool) -> list:
    order = [(spec, "spec"), (plain, "plain")] if flip else [(plain, "plain"), (spec, "spec")]
    got = {}
    for engine, name in order:
        engine.flush_cache()
        got[name] = run(engine, prompts, new_tokens)
    (t_off, ids_off, _), (t_on, ids_on, accept) = got["plain"], got["spec"]
    tokens = sum(len(i) for i in ids_off)
    return [tokens / t_off, sum(len(i) for i in ids_on) / t_on, t_off / t_on * sum(len(i) for i in ids_on) / tokens,
            accept, "yes" if ids_on == ids_off else "NO"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--new-tokens", type=int, default=96)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--algorithm", default="NGRAM")
    ap.add_argument("--quantization", default="auto")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from sglike.runtime import Engine

    common = dict(quantization=args.quantization, max_running_requests=max(args.batch, 4), max_total_tokens=16384)
    plain = Engine(**common)
    spec = Engine(**common, speculative_algorithm=args.algorithm)
    tok = plain.tokenizer
    warm = chat_prompts(tok, 1)
    run(plain, warm, 8), run(spec, warm, 8)
    rows, flip = [], False
    for name, prompt in copy_prompts(tok).items():
        rows.append(["copy: " + name, *compare(plain, spec, [prompt], args.new_tokens, flip)])
        flip = not flip
    for i, prompt in enumerate(chat_prompts(tok, 3, seed=1)):
        rows.append([f"chat prompt {i + 1}", *compare(plain, spec, [prompt], args.new_tokens, flip)])
        flip = not flip
    batch = chat_prompts(tok, args.batch, seed=2)
    rows.append([f"chat batch of {args.batch}", *compare(plain, spec, batch, args.new_tokens // 2, flip)])
    print_table(f"speculative decoding ({args.algorithm}) vs plain, greedy, {args.threads} thread(s), "
                f"quantization={args.quantization}, {torch.backends.cpu.get_cpu_capability()}",
                ["workload", "plain tok/s", "spec tok/s", "speed-up", "mean accepted length", "identical tokens"], rows)
    plain.shutdown()
    spec.shutdown()


if __name__ == "__main__":
    main()
