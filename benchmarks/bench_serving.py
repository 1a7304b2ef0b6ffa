"""Serving benchmark: streams requests to an OpenAI-compatible /v1/completions endpoint and
reports TTFT, ITL, TPOT, end-to-end latency and throughput.

    python benchmarks/bench_serving.py --base-url http://127.0.0.1:30000 --max-concurrency 32
    python benchmarks/bench_serving.py --dataset shared-prefix --request-rate 4 --num-prompts 64
    # side by side with llama-cpp-python's server on the same GGUF:
    python benchmarks/bench_serving.py --base-url URL_A --compare-url URL_B --max-concurrency 32

Datasets: ``random`` (random words, --input-len/--output-len) and ``shared-prefix``
(--num-groups system prompts of --prefix-len words, each followed by a short question).
Output length is forced with ignore_eos (sglike) / a fixed max_tokens.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from dataclasses import dataclass, field

import httpx

_WORDS = ("time person year way day thing man world life hand part child eye woman place work week case "
          "point government company number group problem fact river garden music table window").split()


@dataclass
class Result:
    ok: bool = False
    ttft: float = 0.0
    itls: list[float] = field(default_factory=list)
    latency: float = 0.0
    output_tokens: int = 0
    error: str = ""


def random_dataset(n: int, input_len: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(_WORDS) for _ in range(input_len)) for _ in range(n)]


def shared_prefix_dataset(n: int, groups: int, prefix_len: int, question_len: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    prefixes = [" ".join(rng.choice(_WORDS) for _ in range(prefix_len)) for _ in range(groups)]
    return [f"{prefixes[i % groups]}\nQuestion {i}: " + " ".join(rng.choice(_WORDS) for _ in range(question_len))
            for i in range(n)]


async def one_request(client: httpx.AsyncClient, url: str, model: str, prompt: str, max_tokens: int) -> Result:
    body = {"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0.0, "stream": True,
            "ignore_eos": True, "stream_options": {"include_usage": True}}
    res, start = Result(), time.perf_counter()
    last = start
    try:
        async with client.stream("POST", f"{url}/v1/completions", json=body) as r:
            if r.status_code != 200:
                res.error = f"HTTP {r.status_code}: {(await r.aread())[:200]!r}"
                return res
            async for line in r.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                data = json.loads(line[6:])
                if data.get("usage"):
                    res.output_tokens = data["usage"]["completion_tokens"]
                if not data.get("choices") or not data["choices"][0].get("text"):
                    continue
                now = time.perf_counter()
                if res.ttft == 0.0:
                    res.ttft = now - start
                else:
                    res.itls.append(now - last)
                last = now
        res.latency = time.perf_counter() - start
        res.output_tokens = res.output_tokens or len(res.itls) + 1
        res.ok = True
    except (httpx.HTTPError, json.JSONDecodeError) as exc:
        res.error = repr(exc)
    return res


async def run(url: str, model: str, prompts: list[str], max_tokens: int, rate: float, concurrency: int,
              api_key: str | None) -> tuple[list[Result], float]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    sem = asyncio.Semaphore(concurrency)
    rng = random.Random(0)
    async with httpx.AsyncClient(timeout=3600, headers=headers,
                                 limits=httpx.Limits(max_connections=concurrency + 4)) as client:
        async def limited(prompt: str) -> Result:
            async with sem:
                return await one_request(client, url, model, prompt, max_tokens)

        tasks, start = [], time.perf_counter()
        for prompt in prompts:
            tasks.append(asyncio.create_task(limited(prompt)))
            if rate != float("inf"):
                await asyncio.sleep(rng.expovariate(rate))
        results = await asyncio.gather(*tasks)
    return results, time.perf_counter() - start


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q / 100 * len(xs)))]


def summarize(results: list[Result], duration: float) -> dict:
    ok = [r for r in results if r.ok]
    ttft = [r.ttft for r in ok]
    itl = [x for r in ok for x in r.itls]
    tpot = [(r.latency - r.ttft) / (r.output_tokens - 1) for r in ok if r.output_tokens > 1]
    out_tokens = sum(r.output_tokens for r in ok)
    return {"completed": len(ok), "failed": len(results) - len(ok), "duration_s": duration,
            "request_throughput": len(ok) / duration, "output_throughput": out_tokens / duration,
            "median_ttft_ms": 1e3 * statistics.median(ttft) if ttft else float("nan"),
            "p99_ttft_ms": 1e3 * _pct(ttft, 99), "median_itl_ms": 1e3 * statistics.median(itl) if itl else float("nan"),
            "p99_itl_ms": 1e3 * _pct(itl, 99), "median_tpot_ms": 1e3 * statistics.median(tpot) if tpot else float("nan"),
            "median_e2e_s": statistics.median([r.latency for r in ok]) if ok else float("nan"),
            "errors": sorted({r.error for r in results if not r.ok})[:3]}


def print_table(named: dict[str, dict]) -> None:
    keys = [k for k in next(iter(named.values())) if k != "errors"]
    print(f"{'metric':<22}" + "".join(f"{name:>18}" for name in named))
    for k in keys:
        print(f"{k:<22}" + "".join(f"{s[k]:>18.2f}" for s in named.values()))
    if len(named) == 2:
        (na, a), (nb, b) = named.items()
        print(f"\n{na}/{nb}: output throughput x{a['output_throughput'] / max(b['output_throughput'], 1e-9):.2f}, "
              f"median TTFT x{a['median_ttft_ms'] / max(b['median_ttft_ms'], 1e-9):.2f}")
    for name, s in named.items():
        if s["errors"]:
            print(f"{name} errors: {s['errors']}")


async def _model_id(url: str, api_key: str | None) -> str:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(timeout=30, headers=headers) as c:
        return (await c.get(f"{url}/v1/models")).json()["data"][0]["id"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base-url", default="http://127.0.0.1:30000")
    p.add_argument("--compare-url", default=None, help="a second OpenAI server (e.g. llama-cpp-python)")
    p.add_argument("--api-key", default=None)
    p.add_argument("--dataset", choices=["random", "shared-prefix"], default="random")
    p.add_argument("--num-prompts", type=int, default=64)
    p.add_argument("--input-len", type=int, default=64, help="words per random prompt")
    p.add_argument("--output-len", type=int, default=32)
    p.add_argument("--num-groups", type=int, default=4)
    p.add_argument("--prefix-len", type=int, default=256)
    p.add_argument("--question-len", type=int, default=16)
    p.add_argument("--request-rate", type=float, default=float("inf"), help="Poisson requests/s (inf: all at once)")
    p.add_argument("--max-concurrency", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the summaries as JSON")
    args = p.parse_args()
    if args.dataset == "random":
        prompts = random_dataset(args.num_prompts, args.input_len, args.seed)
    else:
        prompts = shared_prefix_dataset(args.num_prompts, args.num_groups, args.prefix_len, args.question_len, args.seed)
    summaries = {}
    for name, url in (("sglike", args.base_url), ("compare", args.compare_url)):
        if url is None:
            continue
        model = asyncio.run(_model_id(url, args.api_key))
        results, duration = asyncio.run(run(url, model, prompts, args.output_len, args.request_rate,
                                            args.max_concurrency, args.api_key))
        summaries[name] = summarize(results, duration)
    print(json.dumps(summaries, indent=2) if args.json else "", end="")
    if not args.json:
        print_table(summaries)


if __name__ == "__main__":
    main()
