"""Per-token mask time over maskbench-dev, the way MaskBench measures it: each schema compiled
fresh, then its first valid instance consumed token by token, the mask computed before each
token (so first visits: a new grammar's states are built on the way). sglike beside
llguidance and xgrammar (when installed) on the same schemas, tokenizer and texts; the
figures are over the schemas every engine compiled, so each engine times the same tokens.

Prints p50 / p90 / p99 / max per engine (and sglike over all schemas it compiled), wall time
and the thread's CPU time, and with --plot writes the wall-time distributions as a CDF PNG.

Usage: python benchmarks/bench_mask_suite.py [--every K] [--limit N] [--plot PATH] [--no-peers]
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import time
from typing import Any, Callable

import numpy as np

from grammar_suites import _tokenizer, cases
from suite_peers import llguidance_matcher

# an engine: schema -> (fill the mask, consume a token); raises when it cannot compile
Stepper = tuple[Callable[[], None], Callable[[int], bool]]


def sglike_steps(tok: Any) -> Callable[[Any], Stepper]:
    import torch
    from sglike.grammar import GrammarCompiler
    gcomp = GrammarCompiler(tok, cache_dir=False)
    row = torch.zeros(gcomp.vocab.size, dtype=torch.bool)

    def start(schema: Any) -> Stepper:
        m = gcomp.compile_json_schema(schema).matcher()
        return (lambda: m.fill_mask(row)), m.advance
    return start


def llguidance_steps(tok: Any) -> Callable[[Any], Stepper]:
    import llguidance.hf
    import llguidance.numpy as lnp
    lt = llguidance.hf.from_tokenizer(tok)
    bits = lnp.allocate_token_bitmask(1, lt.vocab_size)

    def start(schema: Any) -> Stepper:
        _g, m = llguidance_matcher(lt, schema)
        return (lambda: lnp.fill_next_token_bitmask(m, bits, 0)), m.consume_token
    return start


def xgrammar_steps(tok: Any) -> Callable[[Any], Stepper]:
    import xgrammar as xgr
    info = xgr.TokenizerInfo.from_huggingface(tok)
    comp = xgr.GrammarCompiler(info, cache_enabled=False)
    bits = xgr.allocate_token_bitmask(1, info.vocab_size)

    def start(schema: Any) -> Stepper:
        cg = comp.compile_json_schema(json.dumps(schema), any_whitespace=False, strict_mode=False,
                                      separators=(",", ":"))
        m = xgr.GrammarMatcher(cg)
        return (lambda: m.fill_next_token_bitmask(bits)), m.accept_token
    return start


def time_instance(start: Callable[[Any], Stepper], schema: Any, ids: list[int]
                  ) -> tuple[list[float], list[float]] | None:
    """(wall seconds, CPU seconds of this thread) per mask along `ids` (None: no compile, or
    the engine rejected a token). All three engines compute a mask on the calling thread."""
    try:
        fill, consume = start(schema)
    except Exception:
        return None
    wall, cpu = [], []
    for t in ids:
        s, c = time.perf_counter(), time.thread_time()
        fill()
        wall.append(time.perf_counter() - s)
        cpu.append(time.thread_time() - c)
        if not consume(t):
            return None
    return wall, cpu


def _row(name: str, xs: list[float], n: int) -> str:
    a = np.array(xs) * 1e6
    p = np.percentile(a, [50, 90, 99]) if len(a) else [0, 0, 0]
    return (f"{name:12s} {n:5d} schemas {len(a):7d} masks  p50 {p[0]:8.1f}us  p90 {p[1]:8.1f}us  "
            f"p99 {p[2]:8.1f}us  max {a.max() if len(a) else 0:9.1f}us")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--every", type=int, default=1, help="every K-th schema file")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--plot", help="write the per-engine CDFs to this PNG")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--slowest", type=int, default=0, help="list sglike's N slowest masks (CPU time)")
    args = ap.parse_args()
    tok = _tokenizer("smollm2")
    engines: dict[str, Callable[[Any], Stepper]] = {"sglike": sglike_steps(tok)}
    if not args.no_peers:
        for name, make, mod in (("llguidance", llguidance_steps, "llguidance"),
                                ("xgrammar", xgrammar_steps, "xgrammar")):
            if importlib.util.find_spec(mod) is not None:
                engines[name] = make(tok)
            else:
                print(f"{name}: not installed")
    gc.collect()
    gc.freeze()  # as a server does once its model is loaded
    per: dict[str, dict[int, list[float]]] = {e: {} for e in engines}  # wall
    per_cpu: dict[str, dict[int, list[float]]] = {e: {} for e in engines}
    items = cases("maskbench-dev", args.limit, args.every)
    t0 = time.perf_counter()
    for k, (_name, schema, tests) in enumerate(items):
        valid = [t for t in tests if t["valid"]]
        if not valid:
            continue
        text = json.dumps(valid[0]["data"], separators=(",", ":"), ensure_ascii=False)
        ids = tok.encode(text, add_special_tokens=False)
        for e, start in engines.items():
            times = time_instance(start, schema, ids)
            if times is not None:
                per[e][k], per_cpu[e][k] = times
    print(f"maskbench-dev: {len(items)} schemas, {time.perf_counter() - t0:.0f}s; per-token mask "
          f"time, first visits (a fresh compile per schema), SmolLM2 49k vocabulary")
    common = set.intersection(*(set(v) for v in per.values()))
    for label, table in (("wall", per), ("CPU time of the thread (less noisy on a shared machine)", per_cpu)):
        print(f"{label}; the first rows over the {len(common)} schemas every engine ran:")
        for e, by in table.items():
            print(_row(e, [x for k in common for x in by[k]], len(common)))
        print(_row("sglike-all", [x for v in table["sglike"].values() for x in v], len(table["sglike"])))
    if args.slowest:
        slow = sorted(((x, k, i) for k, v in per_cpu["sglike"].items() for i, x in enumerate(v)), reverse=True)
        for x, k, i in slow[:args.slowest]:
            print(f"  {x * 1e6:8.0f}us  {items[k][0][:60]}  token {i}")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for e, by in per.items():
            a = np.sort(np.array([x for k in common for x in by[k]]) * 1e6)
            if len(a):
                ax.plot(a, np.arange(1, len(a) + 1) / len(a), label=e)
        ax.set_xscale("log")
        ax.axvline(500, color="grey", ls=":", lw=1)
        ax.set_xlabel("mask time per token (us, log)")
        ax.set_ylabel("fraction of tokens")
        ax.set_title(f"maskbench-dev per-token masks, first visits ({len(common)} schemas)")
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
