"""Run the JSON Schema Test Suite (draft 2020-12) and maskbench-dev through the compiler.

Prints passing schemas, compile errors grouped by reason, and invalid instances accepted
(which must be 0). Usage: python benchmarks/grammar_suites.py [--limit N] [--suite NAME]
"""
from __future__ import annotations

import argparse
import json
import re
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sglike.grammar import GrammarCompiler, GrammarError, Vocabulary

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
    cfg: int = 0  # schemas compiled to a CFG (recursive)
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


def run_suite(suite: str, limit: int | None = None, time_limit: int = 10) -> SuiteResult:
    """Compile every schema (at most `time_limit` s each) and check every instance."""
    signal.signal(signal.SIGALRM, _alarm)
    gc = GrammarCompiler(Vocabulary.from_tokens([b"a"]), cache_dir=False)
    res = SuiteResult()
    for name, schema, tests in cases(suite, limit):
        res.schemas += 1
        if res.schemas % 100 == 0:
            print(f"  ... {res.schemas} schemas, {res.passing} passing", flush=True)
        t0 = time.time()
        signal.alarm(time_limit)
        try:
            g = gc.compile_json_schema(schema)
            res.cfg += type(g).__name__ == "CompiledCfg"
            ok = True
            for t in tests:
                text = json.dumps(t["data"], separators=(",", ":"), ensure_ascii=False)
                got = g.accepts(text)
                if got and not t["valid"]:
                    res.invalid_accepted.append(f"{name} / {t['description']}: {text[:120]}")
                if got != t["valid"]:
                    ok = False
                    res.valid_rejected += t["valid"]
            signal.alarm(0)
        except CompileTimeout:
            res.errors[f"compile+check time over {time_limit}s"] += 1
            continue
        except GrammarError as e:
            signal.alarm(0)
            res.errors[_reason(str(e))] += 1
            continue
        except Exception as e:  # a crash is a bug: report it
            signal.alarm(0)
            res.crashes.append(f"{name}: {type(e).__name__}: {e}")
            continue
        finally:
            res.slowest.append((time.time() - t0, name))
        res.passing += ok
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int)
    ap.add_argument("--suite", choices=sorted(SUITES), help="run only this suite")
    args = ap.parse_args()
    if not DATA.exists():
        print(f"test data not found at {DATA}; nothing to run")
        return
    for suite in [args.suite] if args.suite else SUITES:
        t = time.time()
        r = run_suite(suite, args.limit)
        print(f"== {suite}: {r.schemas} schemas in {time.time() - t:.1f}s")
        print(f"passing schemas: {r.passing}/{r.schemas}; valid instances rejected: {r.valid_rejected}")
        print(f"compiled as CFG (recursive): {r.cfg}; crashes: {len(r.crashes)}")
        print("slowest compiles: " + ", ".join(f"{s:.1f}s {n[:40]}" for s, n in sorted(r.slowest)[-3:]))
        print(f"compile errors: {sum(r.errors.values())}")
        for reason, n in r.errors.most_common():
            print(f"  {n:4d}  {reason}")
        print(f"invalid instances accepted: {len(r.invalid_accepted)}")
        for line in r.invalid_accepted[:50]:
            print("  BUG", line)
        for line in r.crashes[:50]:
            print("  CRASH", line)
        print(flush=True)


if __name__ == "__main__":
    main()
