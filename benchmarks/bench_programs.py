"""Program-level workloads with the prefix cache on vs off, same run, reported as ratios.

    python benchmarks/bench_programs.py            # default model, full sizes
    python benchmarks/bench_programs.py --quick    # smaller batches (a few minutes on 2 cores)

Workloads (each a DSL program run with run_batch or fork):
  few_shot  - a long few-shot header shared by every question, short answers
  select    - multiple choice over a shared passage: select() among 4 options per question
  tree      - tree search: fork(width) twice from a long shared problem statement
Each runs on a Runtime with the radix cache, then on one with disable_radix_cache=True.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any, Callable

import sglike as sgl

FACTS = [("France", "Paris"), ("Japan", "Tokyo"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Egypt", "Cairo"),
         ("Kenya", "Nairobi"), ("Peru", "Lima"), ("Canada", "Ottawa"), ("Norway", "Oslo"), ("Chile", "Santiago"),
         ("Greece", "Athens"), ("Cuba", "Havana"), ("Iran", "Tehran"), ("Ghana", "Accra"), ("Nepal", "Kathmandu")]
QUESTIONS = ["Germany", "Brazil", "India", "China", "Mexico", "Poland", "Sweden", "Turkey", "Vietnam", "Chad",
             "Austria", "Portugal", "Ireland", "Finland", "Morocco", "Iraq"]
PASSAGE = " ".join(
    f"The capital of {c} is {cap}, a city known for its history, its markets and its long winters or summers."
    for c, cap in FACTS * 2)


def few_shot_header() -> str:
    return "".join(f"Question: What is the capital of {c}?\nAnswer: The capital of {c} is {cap}.\n\n"
                   for c, cap in FACTS * 2)


@sgl.program
def few_shot(s, country):
    s += few_shot_header()
    s += f"Question: What is the capital of {country}?\nAnswer:" + sgl.gen("answer", max_tokens=8, stop="\n")


@sgl.program
def multiple_choice(s, country):
    s += sgl.system("Answer from the passage.\n" + PASSAGE)
    s += sgl.user(f"Which city is mentioned right after {country}? Pick one.")
    s += sgl.assistant(sgl.select("choice", choices=["Paris", "Tokyo", "Rome", "Madrid"]))


@sgl.program
def tree_search(s, problem, width):
    s += sgl.system("Solve the planning problem step by step.\n" + PASSAGE)
    s += sgl.user(problem)
    s += sgl.assistant_begin()
    for level in range(2):
        forks = s.fork(width)
        for i, f in enumerate(forks):
            f += f"Option {level}.{i}: " + sgl.gen("step", max_tokens=6, stop="\n", temperature=0.7)
        forks.join()
        s += "Chosen: " + s["step"][0] + "\n"
    s += sgl.assistant_end()


def _cached_ratio(states: list[Any]) -> float:
    prompt = cached = 0
    for st in states:
        for meta in st.meta_info.values():
            for m in meta if isinstance(meta, list) else [meta]:
                if isinstance(m, dict) and "prompt_tokens" in m:
                    prompt += m["prompt_tokens"] or 0
                    cached += m.get("cached_tokens") or 0
    return cached / prompt if prompt else float("nan")


def workloads(n: int, width: int) -> dict[str, Callable[[Any], list[Any]]]:
    countries = (QUESTIONS * ((n // len(QUESTIONS)) + 1))[:n]
    problems = [f"Plan a {d}-day trip visiting three capitals." for d in range(2, 2 + max(2, n // 8))]
    return {
        "few_shot": lambda b: few_shot.run_batch([{"country": c} for c in countries], backend=b, temperature=0),
        "select": lambda b: multiple_choice.run_batch([{"country": c} for c in countries], backend=b),
        "tree": lambda b: tree_search.run_batch([{"problem": p, "width": width} for p in problems], backend=b),
    }


def run_all(cache: bool, n: int, width: int, engine_options: dict[str, Any]) -> dict[str, dict[str, float]]:
    backend = sgl.Runtime(disable_radix_cache=not cache, **engine_options)
    results = {}
    try:
        backend.generate([sgl.backend.GenRequest("warm up", {"max_new_tokens": 2})])
        for name, work in workloads(n, width).items():
            start = time.perf_counter()
            states = work(backend)
            elapsed = time.perf_counter() - start
            errors = [st.error() for st in states if st.error() is not None]
            if errors:
                raise RuntimeError(f"{name}: {len(errors)} program(s) failed: {errors[0]!r}")
            results[name] = {"seconds": elapsed, "programs": len(states), "cached_ratio": _cached_ratio(states)}
            print(f"  cache={'on ' if cache else 'off'} {name:9s} {elapsed:7.2f}s  "
                  f"programs={len(states):3d}  cached/prompt tokens={results[name]['cached_ratio']:.2f}", flush=True)
    finally:
        backend.shutdown()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller batches")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--model-path", default=None)
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    n, width = (16, 3) if args.quick else (64, 4)
    options = {"dtype": args.dtype, "model_path": args.model_path}
    print(f"workloads: {n} programs per batch workload, tree width {width}")
    on = run_all(True, n, width, options)
    off = run_all(False, n, width, options)
    print("\nworkload   cache-on  cache-off  speedup")
    for name in on:
        ratio = off[name]["seconds"] / on[name]["seconds"]
        print(f"{name:9s} {on[name]['seconds']:8.2f}s {off[name]['seconds']:9.2f}s  {ratio:6.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cache_on": on, "cache_off": off}, f, indent=2)


if __name__ == "__main__":
    main()
