"""What each `quantization` costs in quality on the default model, against the dequantized
float32 model (`none`): perplexity on a fixed text, the largest logit difference and top-1
agreement, computed two ways: the whole text in one prefill forward, and token by token (one
token per forward: the decode kernels and, on the CPU, the C++ decode step).

    python benchmarks/bench_quality.py [--quantizations auto,int8,w8a8_int8] [--tokens 256]
"""
from __future__ import annotations

import argparse
import math

import torch

from common import isa, print_table

TEXT = (
    "The lighthouse stood at the end of a long spit of rock, and for forty years the same family had kept "
    "its lamp burning. In winter the storms came in from the west, and the waves broke over the lower "
    "windows, so that the keeper and his wife lived in the upper rooms and carried the oil up the narrow "
    "stairs each evening. Their daughter learned to read by the light of the great lens, and she could "
    "name every ship that passed by the shape of its sails. When the new electric lamp was installed, the "
    "family was told that a keeper was no longer needed. They moved to the town, where the daughter became "
    "a teacher, and every evening she walked to the harbour to watch the beam sweep across the water. "
    "Years later, when the lamp failed during a storm, it was she who rowed out with a lantern and kept "
    "watch until morning, and the fishing boats came home safely, guided by a single flame."
)


def _runner(quantization: str):
    from sglike.runtime.config import EngineConfig
    from sglike.runtime.model_loader import resolve_model
    from sglike.runtime.model_runner import ModelRunner

    return ModelRunner(EngineConfig(dtype="float32", quantization=quantization, max_total_tokens=2048), resolve_model(None))


def _logits(runner, ids: list[int], token_by_token: bool) -> torch.Tensor:
    from sglike.runtime.forward_batch import ForwardBatch, ForwardMode

    n = len(ids)
    row, slots = runner.req_table.alloc(), runner.allocator.alloc(n)
    runner.req_table.table[row, :n] = slots
    spans = [(i, i + 1) for i in range(n)] if token_by_token else [(0, n)]
    out = []
    for a, b in spans:
        batch = ForwardBatch(ForwardMode.EXTEND, torch.tensor(ids[a:b]), torch.arange(a, b), slots[a:b], torch.tensor([row]),
                             [b], [b - a], torch.arange(b - a))
        out.append(runner.forward(batch))
    runner.allocator.free(slots)
    runner.req_table.free(row)
    return torch.cat(out)  # [n, vocab]


def _perplexity(logits: torch.Tensor, ids: list[int]) -> float:
    logp = torch.log_softmax(logits[:-1].double(), -1)
    return math.exp(-logp.gather(1, torch.tensor(ids[1:])[:, None]).mean().item())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quantizations", default="auto,int8,w8a8_int8")
    ap.add_argument("--tokens", type=int, default=256)
    args = ap.parse_args()
    from sglike.runtime.api.tokenizer import load_tokenizer
    from sglike.runtime.model_loader import resolve_model

    ids = load_tokenizer(resolve_model(None)).encode(TEXT)[: args.tokens]
    reference = _runner("none")
    rows = []
    for mode, stepwise in (("one prefill forward", False), ("token by token", True)):
        ref = _logits(reference, ids, stepwise)
        base = _perplexity(ref, ids)
        rows.append([f"none (float32 reference), {mode}", f"{base:.3f}", "1.000", "0", "100%"])
        for q in args.quantizations.split(","):
            try:
                runner = _runner(q)
            except ValueError as exc:  # a method this machine cannot run
                rows.append([f"{q}, {mode}", "n/a", "", str(exc)[:60], ""])
                continue
            got = _logits(runner, ids, stepwise)
            ppl = _perplexity(got, ids)
            agree = (got.argmax(-1) == ref.argmax(-1)).float().mean().item()
            rows.append([f"{q}, {mode}", f"{ppl:.3f}", f"{ppl / base:.3f}", f"{(got - ref).abs().max().item():.3f}", f"{100 * agree:.1f}%"])
    print_table(f"quality vs the dequantized float32 model, {len(ids)} tokens, ISA {isa()}",
                ["quantization, path", "perplexity", "ratio to none", "max |logit diff|", "top-1 agreement"], rows)


if __name__ == "__main__":
    main()
