"""Speculative decoding (NGRAM) on vs off, same run, same engine options, greedy.

    python benchmarks/bench_speculative.py [--threads 0] [--new-tokens 96] [--batch 16]
                    [--algorithm NGRAM] [--quantization auto] [--repeats 5]

Workloads: single-stream copy-heavy prompts (repeat a passage, rename an identifier in
code, echo JSON fields), single-stream ordinary chat prompts, and a batch of 16 chat
prompts. For each: tok/s (completion tokens / wall time of the whole request, prefill
included, the same for both sides) with speculation off and on and their ratio; the decode
speed-up alone (the request's time less its prefill, measured by the same engine as a
one-token request on the same prompt: speculation cannot speed up prefill, so a short
answer to a long prompt bounds the end-to-end ratio); the mean accepted length (tokens
gained per verify forward) and whether the greedy tokens are identical. Each prompt runs
off and on ``--repeats`` times, alternating the order, after a warm-up; medians. Each side
is an engine in its own process (``engine_process.py``), so the two never share the cores'
OpenMP threads; ``--threads 0`` is torch's default (every core), as an ``Engine`` runs.
"""
from __future__ import annotations

import argparse
import json
from functools import partial

from common import chat_prompts, isa, print_table
from engine_process import EngineProcess

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
CLASS = '''class Inventory:
    def __init__(self):
        self.items = {}

    def add(self, name, count):
        self.items[name] = self.items.get(name, 0) + count

    def remove(self, name, count):
        if self.items.get(name, 0) < count:
            raise ValueError("not enough " + name)
        self.items[name] -= count

    def total(self):
        return sum(self.items.values())
'''
RECORD = {"name": "Ada Lovelace", "born": "1815-12-10", "city": "London", "field": "mathematics",
          "known_for": "the first published algorithm", "collaborator": "Charles Babbage"}


def copy_prompts(tokenizer) -> dict[str, str]:
    msgs = {
        "repeat a passage": f"Repeat the following text exactly, word for word.\n\n{PASSAGE}",
        "rename in code": f"Rename the variable `subtotal` to `net` in this code and print the whole code.\n\n```python\n{CODE}```",
        # the default model answers the short function above with two new lines (little to
        # copy); this class it prints back whole, which is the copy this workload is about
        "rename in a class": f"Rename the method `total` to `count_all` in this code and print the whole code.\n\n```python\n{CLASS}```",
        "echo JSON fields": f"Return this record as JSON with exactly the same fields and values.\n\n{json.dumps(RECORD)}",
    }
    return {name: tokenizer.apply_chat_template([{"role": "user", "content": m}], tokenize=False, add_generation_prompt=True)
            for name, m in msgs.items()}


def workload_prompts(tokenizer, batch: int) -> dict[str, list[str]]:
    """Every workload's prompts (computed in an engine process, which has the tokenizer)."""
    out = {"copy: " + name: [p] for name, p in copy_prompts(tokenizer).items()}
    out.update({f"chat prompt {i + 1}": [p] for i, p in enumerate(chat_prompts(tokenizer, 3, seed=1))})
    out[f"chat batch of {batch}"] = chat_prompts(tokenizer, batch, seed=2)
    return out


def run(engine: EngineProcess, prompts: list[str], new_tokens: int) -> tuple[float, list[list[int]], float]:
    """(seconds, output ids, mean accepted length) for one generate call."""
    seconds, outs = engine.generate(prompts, {"max_new_tokens": new_tokens, "temperature": 0})
    steps = sum(o["meta_info"].get("spec_verify_ct", 0) for o in outs)
    accepted = sum(o["meta_info"].get("spec_accepted_tokens", 0) for o in outs)
    return seconds, [o["output_ids"] for o in outs], (1.0 + accepted / steps) if steps else 1.0


def _median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def compare(plain, spec, prompts: list[str], new_tokens: int, repeats: int) -> list:
    """Both engines on the same prompts ``repeats`` times (alternating which goes first);
    median times per side."""
    times = {"plain": [], "spec": []}
    prefill = {"plain": [], "spec": []}
    ids, accept = {}, []
    for rep in range(repeats):
        order = [(plain, "plain"), (spec, "spec")][:: -1 if rep % 2 else 1]
        for engine, name in order:
            prefill[name].append(run(engine, prompts, 1)[0])
            seconds, ids[name], accepted = run(engine, prompts, new_tokens)
            times[name].append(seconds)
            if name == "spec":
                accept.append(accepted)
    t_off, t_on = _median(times["plain"]), _median(times["spec"])
    n_off, n_on = sum(len(i) for i in ids["plain"]), sum(len(i) for i in ids["spec"])
    decode_off, decode_on = t_off - _median(prefill["plain"]), t_on - _median(prefill["spec"])
    decode_ratio = (n_on - len(prompts)) / decode_on / ((n_off - len(prompts)) / decode_off)
    return [n_off / t_off, n_on / t_on, n_on / t_on / (n_off / t_off), decode_ratio, _median(accept),
            "yes" if ids["spec"] == ids["plain"] else "NO"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0, help="torch threads per engine (0: torch's default, every core)")
    ap.add_argument("--new-tokens", type=int, default=96)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--algorithm", default="NGRAM")
    ap.add_argument("--quantization", default="auto")
    ap.add_argument("--repeats", type=int, default=5, help="runs per workload and side (median reported)")
    args = ap.parse_args()
    common = dict(quantization=args.quantization, max_running_requests=max(args.batch, 4), max_total_tokens=16384)
    plain = EngineProcess(args.threads, common, partial(workload_prompts, batch=args.batch))
    spec = EngineProcess(args.threads, {**common, "speculative_algorithm": args.algorithm})
    workloads = plain.prompts
    warm = workloads["chat prompt 1"]
    run(plain, warm, 8), run(spec, warm, 8)
    rows = []
    for name, prompts in workloads.items():
        batch = len(prompts) > 1
        new_tokens = args.new_tokens // 2 if batch else args.new_tokens
        rows.append([name, *compare(plain, spec, prompts, new_tokens, args.repeats)])
    threads = args.threads or "default"
    print_table(f"speculative decoding ({args.algorithm}) vs plain, greedy, {threads} thread(s), "
                f"quantization={args.quantization}, median of {args.repeats}, {isa()}",
                ["workload", "plain tok/s", "spec tok/s", "speed-up", "decode speed-up (prefill excluded)", "mean accepted length", "identical tokens"], rows)
    plain.close()
    spec.close()


if __name__ == "__main__":
    main()
