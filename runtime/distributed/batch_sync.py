"""Rank 0 broadcasts each forward's batch; the other ranks rebuild it and run the same forward.

Two broadcasts on the gloo "batch" group per forward: a fixed header (command, mode, sizes)
and one int64 payload: input ids, positions, KV slots written, request rows, lengths, logit
rows, and each request's row of the request->slot table up to its length. The rows travel
whole, not just the new slots: a cached prefix enters the table without a forward, and
caching a finished prefill chunk may repoint a row at the cache's own copy of that prefix
(``Admission.cache_chunk``). The other ranks keep their own table and KV pool in step with
rank 0's. ``STOP`` ends the ranks' loops.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

from ..forward_batch import ForwardBatch, ForwardMode

STOP, FORWARD = 0, 1
_MODES = list(ForwardMode)
_HEADER = 6  # command, mode, tokens, requests, logit rows, table slots


class BatchChannel:
    def __init__(self, group: Any, device: torch.device) -> None:
        self.group, self.device = group, device

    def send(self, batch: ForwardBatch, table: torch.Tensor) -> None:
        """Rank 0: the batch and the table rows it reads."""
        rows = [table[row, :n] for row, n in zip(batch.req_rows.tolist(), batch.seq_lens)]
        slots = torch.cat(rows) if rows else torch.empty(0, dtype=torch.int64, device=table.device)
        t, b, r = batch.input_ids.numel(), batch.batch_size, batch.logit_indices.numel()
        header = torch.tensor([FORWARD, _MODES.index(batch.mode), t, b, r, slots.numel()], dtype=torch.int64)
        dist.broadcast(header, 0, group=self.group)
        lens = torch.tensor(batch.seq_lens + batch.extend_lens, dtype=torch.int64)
        parts = [batch.input_ids, batch.positions, batch.out_cache_loc, batch.req_rows, lens, batch.logit_indices, slots]
        dist.broadcast(torch.cat([p.to("cpu", torch.int64) for p in parts]), 0, group=self.group)

    def send_stop(self) -> None:
        dist.broadcast(torch.tensor([STOP] + [0] * (_HEADER - 1), dtype=torch.int64), 0, group=self.group)

    def recv(self, table: torch.Tensor) -> ForwardBatch | None:
        """Ranks > 0: the next batch (its table rows written into ``table``), or None on STOP."""
        header = torch.empty(_HEADER, dtype=torch.int64)
        dist.broadcast(header, 0, group=self.group)
        cmd, mode, t, b, r, n_slots = header.tolist()
        if cmd == STOP:
            return None
        payload = torch.empty(3 * t + 3 * b + r + n_slots, dtype=torch.int64)
        dist.broadcast(payload, 0, group=self.group)
        ids, pos, loc, req_rows, lens, logit, slots = payload.split([t, t, t, b, 2 * b, r, n_slots])
        seq_lens, extend_lens = lens[:b].tolist(), lens[b:].tolist()
        offset = 0
        for row, n in zip(req_rows.tolist(), seq_lens):
            table[row, :n] = slots[offset : offset + n].to(table.device)
            offset += n
        dev = self.device
        return ForwardBatch(mode=_MODES[mode], input_ids=ids.to(dev), positions=pos.to(dev), out_cache_loc=loc.to(dev),
                            req_rows=req_rows.to(dev), seq_lens=seq_lens, extend_lens=extend_lens, logit_indices=logit.to(dev))
