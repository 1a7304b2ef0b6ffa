"""What one model forward needs: the batch's tokens, positions, and KV bookkeeping."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import torch


class ForwardMode(Enum):
    EXTEND = "extend"  # prefill of new tokens, possibly after a cached prefix (chunked too)
    DECODE = "decode"  # exactly one new token per request


@dataclass
class ForwardBatch:
    mode: ForwardMode
    input_ids: torch.Tensor  # [T] int64, all requests' new tokens back to back
    positions: torch.Tensor  # [T] int64
    out_cache_loc: torch.Tensor  # [T] int64, KV slots the new tokens write to
    req_rows: torch.Tensor  # [B] int64, rows of the request->slot table
    seq_lens: list[int]  # [B] KV length after this forward (prefix + new)
    extend_lens: list[int]  # [B] new tokens per request (1 in decode)
    logit_indices: torch.Tensor  # [R] int64, positions in [0, T) whose logits are needed
    attn_meta: Any = None  # filled by the attention backend's ``prepare``
    # each token's attention computed as a lone decode step would (a speculative verify):
    # the C++ step then skips its shared-prefix cascade, so the results match bit for bit
    decode_exact: bool = False

    @property
    def batch_size(self) -> int:
        return len(self.seq_lens)

    @property
    def prefix_lens(self) -> list[int]:
        return [s - e for s, e in zip(self.seq_lens, self.extend_lens)]
