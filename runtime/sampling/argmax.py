"""The index of each row's largest logit: numpy's argmax on CPU float32 (torch's CPU
argmax over a 49k vocabulary measured 0.09 ms a row on Zen 4, numpy's ~0.005 ms), torch's
elsewhere, which is also its plain twin. Both return the first of tied maxima."""
from __future__ import annotations

import torch


def argmax_rows(logits: torch.Tensor) -> torch.Tensor:
    """[N, V] -> [N] int64: the index of each row's largest value (the first where tied)."""
    if logits.device.type == "cpu" and logits.dtype == torch.float32 and logits.dim() == 2:
        return torch.from_numpy(logits.detach().numpy().argmax(axis=-1))
    return logits.argmax(dim=-1)
