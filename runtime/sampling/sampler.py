"""One batched sampling step for a list of requests' next-token logits."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..sampling_params import SamplingParams
from .argmax import argmax_rows
from .penalties import apply_penalties, needs_penalties


@dataclass
class SampleInput:
    """Per-row data for ``sample`` (row i of the logits belongs to entry i of each list)."""

    params: list[SamplingParams]
    prompt_ids: list[list[int]]
    output_ids: list[list[int]]
    generators: list[torch.Generator | None]  # per-request seeded generators
    banned_ids: list[list[int]]  # tokens forbidden this step (EOS/stop before min_new_tokens)
    vocab_mask: torch.Tensor | None = None  # [N, V] bool, True = allowed (grammar)


class Sampler:
    def __init__(self, seed: int = 0) -> None:
        self.generator = torch.Generator().manual_seed(seed)

    @torch.inference_mode()
    def sample(self, logits: torch.Tensor, inp: SampleInput) -> torch.Tensor:
        """logits: [N, V] float32 (modified in place). Returns next token ids [N] int64."""
        self.prepare(logits, inp)
        greedy = torch.tensor([sp.greedy for sp in inp.params], device=logits.device)
        out = argmax_rows(logits)
        if bool(greedy.all()):
            return out
        sampled_rows = (~greedy).nonzero().squeeze(1)
        sub = logits[sampled_rows]
        params = [inp.params[i] for i in sampled_rows.tolist()]
        probs = filtered_probs(sub, params)
        noise = self._exponential_noise(probs.shape, [inp.generators[i] for i in sampled_rows.tolist()]).to(probs.device)
        out[sampled_rows] = argmax_rows(probs / noise)
        return out

    @torch.inference_mode()
    def prepare(self, logits: torch.Tensor, inp: SampleInput) -> None:
        """In place on logits [N, V]: penalties, logit bias, banned tokens, grammar masks
        (everything before the choice; speculative verification shares it)."""
        pen_rows = [i for i, sp in enumerate(inp.params) if needs_penalties(sp)]
        if pen_rows:
            apply_penalties(
                logits, pen_rows, [inp.params[i] for i in pen_rows], [inp.prompt_ids[i] for i in pen_rows], [inp.output_ids[i] for i in pen_rows]
            )
        _add_logit_bias(logits, inp.params)
        for row, banned in enumerate(inp.banned_ids):
            if banned:
                logits[row, banned] = float("-inf")
        if inp.vocab_mask is not None:
            logits.masked_fill_(~inp.vocab_mask, float("-inf"))

    def _exponential_noise(self, shape: torch.Size, generators: list[torch.Generator | None]) -> torch.Tensor:
        """Exp(1) noise: argmax(p / E) draws from p. Seeded rows use their own generator so
        their draws do not depend on the rest of the batch."""
        noise = torch.empty(shape).exponential_(generator=self.generator)
        for i, gen in enumerate(generators):
            if gen is not None:
                noise[i].exponential_(generator=gen)
        return noise.clamp_min_(1e-20)


def _add_logit_bias(logits: torch.Tensor, params: list[SamplingParams]) -> None:
    """logits: [N, V] float32, in place: each row's ``logit_bias`` added to its tokens (ids
    outside the model's vocabulary are skipped)."""
    vocab = logits.shape[1]
    for row, sp in enumerate(params):
        bias = {t: b for t, b in (sp.logit_bias or {}).items() if 0 <= t < vocab}
        if bias:
            ids = torch.tensor(list(bias), dtype=torch.int64, device=logits.device)  # [k]
            logits[row, ids] += torch.tensor(list(bias.values()), dtype=logits.dtype, device=logits.device)


def filtered_probs(logits: torch.Tensor, params: list[SamplingParams]) -> torch.Tensor:
    """Temperature, then top-k, top-p and min-p filtering; returns renormalized-free probs
    (zeros where filtered; argmax(p / E) does not need normalization)."""
    temps = torch.tensor([max(sp.temperature, 1e-5) for sp in params], device=logits.device)
    probs = torch.softmax(logits / temps[:, None], dim=-1)  # [N, V]
    top_k = [sp.top_k for sp in params]
    top_p = [sp.top_p for sp in params]
    min_p = [sp.min_p for sp in params]
    if all(k == -1 for k in top_k) and all(p >= 1.0 for p in top_p) and all(m <= 0.0 for m in min_p):
        return probs
    sorted_p, order = probs.sort(dim=-1, descending=True)
    ranks = torch.arange(probs.shape[1], device=probs.device)[None, :]
    k = torch.tensor([min(k, probs.shape[1]) if k > 0 else probs.shape[1] for k in top_k], device=probs.device)
    drop = ranks >= k[:, None]
    cum_before = sorted_p.cumsum(dim=-1) - sorted_p
    drop |= cum_before >= torch.tensor(top_p, device=probs.device)[:, None]
    drop |= sorted_p < (torch.tensor(min_p, device=probs.device)[:, None] * sorted_p[:, :1])
    drop[:, 0] = False  # always keep the most likely token
    sorted_p = sorted_p.masked_fill(drop, 0.0)
    return torch.zeros_like(probs).scatter_(1, order, sorted_p)
