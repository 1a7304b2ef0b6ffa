"""Helpers shared by the benchmark scripts (workloads, timing, tables)."""
from __future__ import annotations

import os
import random
import time
from contextlib import contextmanager
from typing import Iterator

TOPICS = [
    "the ocean", "a robot", "coffee", "mountains", "a lost key", "the moon", "trains", "a garden",
    "winter", "a library", "volcanoes", "friendship", "bicycles", "the desert", "music", "rain",
]


def chat_prompts(tokenizer, n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        extra = " ".join(rng.choice(TOPICS) for _ in range(rng.randint(0, 12)))
        msg = f"Write a short story about {topic}. Mention {extra}." if extra else f"Write a short story about {topic}."
        out.append(tokenizer.apply_chat_template([{"role": "user", "content": msg}], tokenize=False, add_generation_prompt=True))
    return out


@contextmanager
def timer() -> Iterator[dict]:
    box: dict = {}
    start = time.perf_counter()
    yield box
    box["seconds"] = time.perf_counter() - start


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(f"{c:.2f}" if isinstance(c, float) else str(c) for c in row) + " |")


def default_gguf() -> tuple[str, str]:
    from sglike.runtime.model_loader.resolve import default_model_file

    return os.path.split(default_model_file())


def isa() -> str:
    """The ISA level sglike's kernel tables key on, and the CPU's model name."""
    import torch

    from sglike.runtime.platform import detect_platform

    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{detect_platform(torch.device('cpu')).isa} ({model or 'unknown CPU'})"


def add_engine_args(ap) -> None:
    """Options every engine-vs-reference benchmark takes."""
    ap.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"])
    ap.add_argument("--threads", type=int, default=0, help="torch threads for both sides (0: torch's default)")


def engine_dtype(dtype: str):
    """The torch dtype an ``Engine(dtype=dtype)`` of the default model resolves to on this
    CPU (``auto`` depends on the linear kernels the default quantization picks)."""
    import torch

    from sglike.runtime.device import resolve_dtype
    from sglike.runtime.model_loader import resolve_model
    from sglike.runtime.model_loader.gguf_loader import gguf_tensor_types, open_gguf
    from sglike.runtime.model_loader.quant_plan import plan_quantization
    from sglike.runtime.platform import detect_platform

    cpu = torch.device("cpu")
    plan = plan_quantization("auto", detect_platform(cpu), gguf_tensor_types(open_gguf(resolve_model(None).path)))
    return resolve_dtype(dtype, cpu, integer_linears=plan.linear != "float")


def setup_run(args):
    """Apply --threads; return (default-model tokenizer, dtype name, torch dtype), the dtype
    being the one the engine resolves ``--dtype`` to."""
    import torch

    from sglike.runtime.model_loader import resolve_model
    from sglike.runtime.api.tokenizer import load_tokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    torch_dtype = engine_dtype(args.dtype)
    name = {torch.float32: "float32", torch.bfloat16: "bfloat16"}[torch_dtype]
    return load_tokenizer(resolve_model(None)), name, torch_dtype
