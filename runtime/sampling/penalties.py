"""Repetition, frequency and presence penalties applied to a batch of logits in place."""
from __future__ import annotations

import torch

from ..sampling_params import SamplingParams


def needs_penalties(sp: SamplingParams) -> bool:
    return sp.repetition_penalty != 1.0 or sp.frequency_penalty != 0.0 or sp.presence_penalty != 0.0


def apply_penalties(logits: torch.Tensor, rows: list[int], params: list[SamplingParams], prompt_ids: list[list[int]], output_ids: list[list[int]]) -> None:
    """logits: [N, V] float32. ``rows`` index the rows that carry penalties.

    repetition (HF/SGLang semantics): over prompt and output tokens, positive logits are
    divided by the penalty and negative ones multiplied; frequency/presence (OpenAI
    semantics): over output tokens, subtract ``freq * count + presence * (count > 0)``.
    """
    vocab = logits.shape[1]
    device = logits.device
    for row, sp, prompt, out in zip(rows, params, prompt_ids, output_ids):
        if sp.repetition_penalty != 1.0:
            seen = torch.tensor(sorted(set(prompt) | set(out)), dtype=torch.int64, device=device)
            vals = logits[row, seen]
            logits[row, seen] = torch.where(vals > 0, vals / sp.repetition_penalty, vals * sp.repetition_penalty)
        if out and (sp.frequency_penalty != 0.0 or sp.presence_penalty != 0.0):
            counts = torch.bincount(torch.tensor(out, dtype=torch.int64, device=device), minlength=vocab)[:vocab].float()
            logits[row] -= sp.frequency_penalty * counts + sp.presence_penalty * (counts > 0).float()
