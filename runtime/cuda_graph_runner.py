"""CUDA-graph capture and replay of the decode step, one graph per batch-size bucket.

A decode step launches hundreds of small kernels; on a GPU their launch time, not the
arithmetic, bounds small batches. At start-up each bucket size in ``capture_sizes`` is run
once eagerly (Triton compiles its kernels then) and captured once; a decode batch of B
requests is then copied into the static input tensors of the smallest bucket >= B (the
padding rows write their K/V into pool slot 0, the padding slot, and attend one key of
table row 0, which nothing reads back) and that graph is replayed. Only backends whose
decode metadata is tensors (``supports_cuda_graph``, the ``triton`` backend) take part;
prefill and larger batches run eagerly. Mirrors SGLang's ``cuda_graph_max_bs`` and
``disable_cuda_graph``. CPU engines never build one.
"""
from __future__ import annotations

import bisect

import torch

from .attention.base import AttentionBackend
from .forward_batch import ForwardBatch, ForwardMode

DEFAULT_MAX_BS = 160


def capture_sizes(max_bs: int) -> list[int]:
    """Bucket sizes up to ``max_bs``: 1, 2, 4, 8, then every 8 (and ``max_bs`` itself)."""
    sizes = [s for s in (1, 2, 4, 8) if s < max_bs] + list(range(16, max_bs, 8))
    return sorted(set(sizes + [max_bs]))


class CudaGraphRunner:
    def __init__(self, model: torch.nn.Module, attn: AttentionBackend, max_bs: int, context_length: int, device: torch.device) -> None:
        self.model, self.attn = model, attn
        self.sizes = capture_sizes(max_bs)
        n = self.sizes[-1]
        with torch.inference_mode():  # the model runs in inference mode: so do its static inputs
            self.input_ids = torch.zeros(n, dtype=torch.int64, device=device)
            self.positions = torch.zeros(n, dtype=torch.int64, device=device)
            self.out_cache_loc = torch.zeros(n, dtype=torch.int64, device=device)  # 0: the padding slot
            self.req_rows = torch.zeros(n, dtype=torch.int64, device=device)
            self.seq_lens = torch.ones(n, dtype=torch.int64, device=device)
            self.logit_indices = torch.arange(n, device=device)
        self.splits = {bs: attn.splits_for(bs, context_length) for bs in self.sizes}  # any length fits
        self.graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self.outputs: dict[int, torch.Tensor] = {}
        with torch.inference_mode():
            self._capture_all(device)

    def _batch(self, bs: int) -> ForwardBatch:
        batch = ForwardBatch(
            mode=ForwardMode.DECODE, input_ids=self.input_ids[:bs], positions=self.positions[:bs],
            out_cache_loc=self.out_cache_loc[:bs], req_rows=self.req_rows[:bs], seq_lens=[1] * bs, extend_lens=[1] * bs,
            logit_indices=self.logit_indices[:bs],
        )
        batch.attn_meta = self.attn.decode_meta(self.req_rows[:bs], self.seq_lens[:bs], self.splits[bs])
        return batch

    def _capture_all(self, device: torch.device) -> None:
        stream = torch.cuda.Stream(device)
        pool = None
        for bs in reversed(self.sizes):  # largest first: the smaller graphs reuse its memory
            batch = self._batch(bs)
            stream.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(stream):
                for _ in range(2):  # eager warm-up: Triton JIT, cuBLAS workspaces
                    self.model(batch, self.attn)
            torch.cuda.synchronize(device)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=pool, stream=stream):
                self.outputs[bs] = self.model(batch, self.attn)  # [bs, vocab] float32
            pool = graph.pool()
            self.graphs[bs] = graph
        torch.cuda.synchronize(device)

    def can_run(self, batch: ForwardBatch) -> bool:
        return batch.mode is ForwardMode.DECODE and batch.batch_size <= self.sizes[-1]

    @torch.inference_mode()
    def replay(self, batch: ForwardBatch) -> torch.Tensor:
        """Float32 logits [B, vocab] of a decode batch (one logit row per request)."""
        bs = batch.batch_size
        padded = self.sizes[bisect.bisect_left(self.sizes, bs)]
        self.input_ids[:bs].copy_(batch.input_ids)
        self.positions[:bs].copy_(batch.positions)
        self.out_cache_loc[:bs].copy_(batch.out_cache_loc)
        self.req_rows[:bs].copy_(batch.req_rows)
        self.seq_lens[:bs].copy_(torch.tensor(batch.seq_lens, dtype=torch.int64), non_blocking=True)
        if padded > bs:  # padding rows: token 0 at position 0, written to slot 0, one key
            for buf in (self.input_ids, self.positions, self.out_cache_loc, self.req_rows):
                buf[bs:padded].zero_()
            self.seq_lens[bs:padded].fill_(1)
        self.graphs[padded].replay()
        return self.outputs[padded][:bs].clone()  # the static output is overwritten by the next replay
