"""JSON Schema Test Suite (draft 2020-12) and maskbench-dev against compiled schema grammars.

For every schema that compiles, no invalid instance (compact `json.dumps`) may be accepted,
and at least FLOOR schemas must pass fully (accept exactly the valid instances). Schemas
that do not compile must fail with GrammarError. To stay within a few minutes on a busy
2-core machine, the suites are sampled (every SUITE_STRIDE-th / MASKBENCH_STRIDE-th file) and each compile gets
COMPILE_TIMEOUT_S seconds to compile and check (a timeout counts as not passing). benchmarks/grammar_suites.py
runs everything and prints the full numbers.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from sglike.grammar import GrammarCompiler, GrammarError, Vocabulary

_ROOT = Path(__file__).resolve().parents[2]
# ../shared/data beside the checkout (or beside the folder of git worktrees)
DATA = next((p / "shared" / "data" for p in (_ROOT.parent, _ROOT.parent.parent)
             if (p / "shared" / "data").is_dir()), _ROOT.parent / "shared" / "data")
SUITE_DIR = DATA / "json-schema-test-suite" / "tests" / "draft2020-12"
MASKBENCH_DIR = DATA / "maskbench-dev"
SUITE_STRIDE, MASKBENCH_STRIDE = 2, 16
COMPILE_TIMEOUT_S = 4
# (folder, stride, floor): floors sit a bit below the measured pass counts.
SUITES = {
    "json-schema-test-suite": (SUITE_DIR, SUITE_STRIDE, 45),
    "maskbench-dev": (MASKBENCH_DIR, MASKBENCH_STRIDE, 46),
}


class _Timeout(BaseException):  # not Exception: library code must not swallow it
    pass


_armed = threading.Event()


def _alarm(*_args: Any) -> None:
    if _armed.is_set():
        raise _Timeout()


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise _Timeout in the main thread after ``seconds`` (a timer thread sends SIGALRM:
    the process's ITIMER is shared with pytest-timeout and not reliable here)."""
    main = threading.main_thread().ident
    timer = threading.Timer(seconds, signal.pthread_kill, (main, signal.SIGALRM))
    _armed.set()
    timer.start()
    try:
        yield
    finally:
        _armed.clear()
        timer.cancel()


def _cases(folder: Path, stride: int) -> Iterator[tuple[str, Any, list]]:
    for f in sorted(folder.glob("*.json"))[::stride]:
        doc = json.loads(f.read_text())
        for i, group in enumerate(doc if isinstance(doc, list) else [doc]):
            yield f"{f.stem}[{i}]", group["schema"], group["tests"]


def _compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def run_suite(suite: str) -> dict[str, Any]:
    """Check one (sampled) suite in this process; returns the counts and failures."""
    folder, stride, _floor = SUITES[suite]
    compiler = GrammarCompiler(Vocabulary.from_tokens([b"a"]), cache_dir=False)  # accepts() only
    signal.signal(signal.SIGALRM, _alarm)
    passing, timeouts, invalid_accepted, wrong_errors = 0, 0, [], []
    for name, schema, tests in _cases(folder, stride):
        try:
            with _deadline(COMPILE_TIMEOUT_S):  # covers compiling and checking the instances
                g = compiler.compile_json_schema(schema)
                ok = True
                for t in tests:
                    got = g.accepts(_compact(t["data"]))
                    if got and not t["valid"]:
                        invalid_accepted.append(f"{name} / {t['description']}: {_compact(t['data'])[:100]}")
                    ok &= got == t["valid"]
        except _Timeout:
            timeouts += 1
            continue
        except GrammarError:
            continue
        except Exception as e:  # noqa: BLE001 - any other error is a bug to report
            wrong_errors.append(f"{name}: {type(e).__name__}: {e}")
            continue
        passing += ok
    return {"passing": passing, "timeouts": timeouts, "invalid_accepted": invalid_accepted, "wrong_errors": wrong_errors}


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_schema_suite(suite: str) -> None:
    """Runs in a fresh interpreter: compile deadlines rely on signals, which a long test
    session (threads, big heap, pytest-timeout's own timer) makes unreliable."""
    folder, _stride, floor = SUITES[suite]
    if not folder.is_dir():
        pytest.skip(f"test data not found at {folder} (see ../shared/data/README.md)")
    proc = subprocess.run([sys.executable, __file__, suite], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{suite}: passing={res['passing']} timeouts={res['timeouts']}")
    assert not res["wrong_errors"], res["wrong_errors"][:10]
    assert res["invalid_accepted"] == [], res["invalid_accepted"][:10]
    assert res["passing"] >= floor, f"{res['passing']} schemas pass, floor {floor} ({res['timeouts']} compile timeouts)"


if __name__ == "__main__":
    print(json.dumps(run_suite(sys.argv[1])))
