"""Data-parallel router: cache_aware vs round_robin over the same 2 workers, same run.

    python benchmarks/bench_router.py                       # 8 groups x 4 requests, ~800-token prefixes
    python benchmarks/bench_router.py --groups 8 --per-group 6 --concurrency 8 --max-total-tokens 8192  # every prefix fits

Starts 2 ``sglike serve`` workers (``OMP_NUM_THREADS=1`` each, so each uses one core; pin the
whole run with ``taskset`` to choose the cores), then for each policy: flushes both workers'
caches, starts ``sglike router --policy P`` over them and streams a shared-prefix workload
through it (``--groups`` long prefixes, each followed by a short question, interleaved:
every group once per wave, each wave shuffled). Reports request throughput, output tokens/s,
TTFT (mean, p50, p90) and each worker's prefix-cache hit rate in the run (from its
``/get_server_info``).

The workers' KV pool (``--max-total-tokens``) is sized so one worker holds about half of the
groups' prefixes: the regime where routing decides whether a prefix is found in cache.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

_WORDS = ("time person year way day thing man world life hand part child eye woman place work week case "
          "point government company number group problem fact river garden music table window").split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workload(groups: int, per_group: int, prefix_words: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    prefixes = [f"Document {g}: " + " ".join(rng.choice(_WORDS) for _ in range(prefix_words)) for g in range(groups)]
    out = []
    for i in range(per_group):  # one wave per round, each wave in its own order (a fixed order
        order = list(range(groups))  # would pin group g to worker g % 2 under round robin)
        rng.shuffle(order)
        out += [f"{prefixes[g]}\nQuestion {i}: " + " ".join(rng.choice(_WORDS) for _ in range(12)) for g in order]
    return out


def start(cmd: list[str], ready: str, log_dir: str, name: str, env: dict | None = None) -> subprocess.Popen:
    log_path = os.path.join(log_dir, name + ".log")
    proc = subprocess.Popen(cmd, stdout=open(log_path, "w"), stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    deadline = time.time() + 600
    while ready not in open(log_path, errors="replace").read():
        if proc.poll() is not None or time.time() > deadline:
            raise SystemExit(f"{name} did not start:\n{open(log_path, errors='replace').read()[-2000:]}")
        time.sleep(0.5)
    return proc


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


async def one(client: httpx.AsyncClient, url: str, prompt: str, max_tokens: int) -> tuple[float, float, int, str]:
    """(ttft, latency, output tokens, worker) of one streamed completion."""
    body = {"model": "default", "prompt": prompt, "max_tokens": max_tokens, "temperature": 0.0, "stream": True,
            "ignore_eos": True}
    t0 = time.perf_counter()
    ttft, tokens = 0.0, 0
    async with client.stream("POST", f"{url}/v1/completions", json=body) as r:
        r.raise_for_status()
        worker = r.headers.get("x-sglike-worker", "?")
        async for line in r.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                tokens += 1
                if not ttft:
                    ttft = time.perf_counter() - t0
    return ttft, time.perf_counter() - t0, tokens, worker


async def run_policy(url: str, prompts: list[str], concurrency: int, max_tokens: int) -> dict:
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=1800) as client:
        async def bounded(p: str):
            async with sem:
                return await one(client, url, p, max_tokens)

        t0 = time.perf_counter()
        results = await asyncio.gather(*(bounded(p) for p in prompts))
        duration = time.perf_counter() - t0
    ttfts = sorted(r[0] for r in results)
    return {"duration": duration, "req_s": len(results) / duration,
            "tok_s": sum(r[2] for r in results) / duration, "ttft_mean": statistics.mean(ttfts),
            "ttft_p50": ttfts[len(ttfts) // 2], "ttft_p90": ttfts[int(len(ttfts) * 0.9)],
            "per_worker": {w: sum(1 for r in results if r[3] == w) for w in {r[3] for r in results}}}


def stats(urls: list[str]) -> dict[str, tuple[int, int]]:
    out = {}
    for u in urls:
        info = httpx.get(f"{u}/get_server_info", timeout=60).json()
        out[u] = (info["prompt_tokens"], info["prompt_tokens_cached"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--groups", type=int, default=8)
    ap.add_argument("--per-group", type=int, default=4)
    ap.add_argument("--prefix-words", type=int, default=800, help="words per shared prefix (~1 token each)")
    ap.add_argument("--max-tokens", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-total-tokens", type=int, default=4096, help="each worker's KV pool")
    ap.add_argument("--policies", nargs="+", default=["cache_aware", "round_robin"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    prompts = workload(args.groups, args.per_group, args.prefix_words, args.seed)
    logs = tempfile.mkdtemp(prefix="bench_router_")
    workers, urls = [], []
    try:
        for i in range(2):
            port = free_port()
            cmd = [sys.executable, "-m", "sglike.cli", "serve", "--port", str(port),
                   "--max-total-tokens", str(args.max_total_tokens), "--log-level", "warning"]
            workers.append(start(cmd, "sglike: serving", logs, f"worker{i}", env={"OMP_NUM_THREADS": "1"}))
            urls.append(f"http://127.0.0.1:{port}")
        rows = []
        for policy in args.policies:
            for u in urls:
                httpx.post(f"{u}/flush_cache", timeout=60).raise_for_status()
            port = free_port()
            router = start([sys.executable, "-m", "sglike.cli", "router", "--port", str(port), "--policy", policy,
                            "--log-level", "warning", "--worker-urls", *urls], "router serving", logs, policy)
            try:
                before = stats(urls)
                result = asyncio.run(run_policy(f"http://127.0.0.1:{port}", prompts, args.concurrency, args.max_tokens))
                after = stats(urls)
            finally:
                stop(router)
            hits = []
            for u in urls:
                fresh = after[u][0] - before[u][0]
                cached = after[u][1] - before[u][1]
                hits.append(f"{cached / (fresh + cached):.0%}" if fresh + cached else "-")
            total_cached = sum(after[u][1] - before[u][1] for u in urls)
            total = total_cached + sum(after[u][0] - before[u][0] for u in urls)
            rows.append([policy, f"{result['req_s']:.2f}", f"{result['tok_s']:.1f}", f"{result['ttft_mean']:.2f}",
                         f"{result['ttft_p50']:.2f}", f"{result['ttft_p90']:.2f}", " / ".join(hits),
                         f"{total_cached / total:.0%}", " / ".join(str(result["per_worker"].get(u, 0)) for u in urls),
                         f"{result['duration']:.1f}"])
        _print(args, prompts, rows)
    finally:
        for w in workers:
            stop(w)


def _print(args, prompts: list[str], rows: list[list[str]]) -> None:
    header = ["policy", "req/s", "out tok/s", "TTFT mean s", "p50", "p90", "cache hit w0 / w1", "overall",
              "requests w0 / w1", "wall s"]
    print(f"\nrouter: 2 workers x 1 thread, {args.groups} groups x {args.per_group} requests "
          f"(~{args.prefix_words}-word prefixes, interleaved), {args.max_tokens} output tokens, "
          f"concurrency {args.concurrency}, KV pool {args.max_total_tokens} tokens per worker, "
          f"{len(prompts)} requests per policy")
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    for r in [header, ["-" * w for w in widths]] + rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    if len(rows) == 2:
        print(f"{rows[0][0]} / {rows[1][0]}: throughput x{float(rows[0][1]) / float(rows[1][1]):.2f}, "
              f"mean TTFT x{float(rows[0][3]) / float(rows[1][3]):.2f}")


if __name__ == "__main__":
    main()
