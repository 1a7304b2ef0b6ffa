"""Builds the model, the KV pool and the attention backend; runs one forward per step.

With tensor parallelism (``dist``: this rank's ``DistContext``) every rank builds its own
runner over its shard of the model and its own KV pool (its KV heads); rank 0's ``forward``
broadcasts the batch first (``BatchChannel``), the other ranks take it in
``distributed.worker`` and call ``run_model``, and only rank 0 gets logits.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from .attention import create_backend
from .config import EngineConfig
from .cpu_decode_step import CpuDecodeStep
from .cuda_graph_runner import DEFAULT_MAX_BS, CudaGraphRunner
from .device import resolve_device, resolve_dtype
from .distributed.batch_sync import BatchChannel
from .distributed.comm import SINGLE
from .distributed.group import DistContext
from .forward_batch import ForwardBatch
from .layers.weight_arena import move_storage_to_huge_pages
from .mem.allocator import SlotAllocator
from .mem.kv_pool import KVPool, ReqToTokenTable
from .model_loader.gguf_loader import gguf_model_config, gguf_tensor_types, iter_gguf_weights, open_gguf
from .model_loader.hf_loader import hf_model_config, iter_safetensors_weights
from .model_loader.model_config import ModelConfig
from .model_loader.quant_plan import QuantPlan, plan_quantization
from .model_loader.resolve import ModelSource
from .models import MODEL_REGISTRY
from .platform import detect_platform

log = logging.getLogger(__name__)


def load_model_config(source: ModelSource, reader=None) -> ModelConfig:
    if source.kind != "gguf":
        return hf_model_config(source.path)
    return gguf_model_config(reader if reader is not None else open_gguf(source.path))


@dataclass(frozen=True)
class MemoryPlan:
    context_length: int
    max_total_tokens: int


def plan_memory(config: EngineConfig, model_config: ModelConfig, dtype: torch.dtype, kv_heads: int) -> MemoryPlan:
    """``kv_heads``: the KV heads this rank holds (the same count on every rank)."""
    context = config.context_length or model_config.max_position_embeddings
    if config.max_total_tokens is not None:
        return MemoryPlan(context, config.max_total_tokens)
    per_token = KVPool.bytes_per_token(model_config.num_layers, kv_heads, model_config.head_dim, dtype)
    budget = int(config.kv_memory_gb * 2**30) // per_token
    cap = context * config.max_running_requests  # never more than every request at full context
    return MemoryPlan(context, max(2, min(budget, cap)))


class ModelRunner:
    def __init__(self, config: EngineConfig, source: ModelSource, dist: DistContext | None = None) -> None:
        self.dist, self.tp = dist, dist.tp if dist is not None else SINGLE
        try:
            self._build(config, source)
        except BaseException:
            self.close()
            raise

    def _build(self, config: EngineConfig, source: ModelSource) -> None:
        self.device = self.dist.device if self.dist is not None else resolve_device(config.device)
        if self.dist is not None and self.device.type == "cpu":
            torch.set_num_threads(self.dist.threads)  # by the thread that runs the forward
        self.platform = detect_platform(self.device)  # once: the kernel tables key on it
        reader = open_gguf(source.path) if source.kind == "gguf" else None  # parsed once (slow)
        self.model_config = load_model_config(source, reader)
        types = gguf_tensor_types(reader) if reader is not None else None
        self.quant_plan = plan_quantization(config.quantization, self.platform, types)
        integer = self.device.type == "cpu" and self.quant_plan.linear != "float"
        self.dtype = resolve_dtype(config.dtype, self.device, integer_linears=integer)
        self.context_length = config.context_length or self.model_config.max_position_embeddings
        self.model = self._load_model(source, self.quant_plan, reader)
        cfg, attn0 = self.model_config, self.model.layers[0].self_attn
        self.num_heads, self.num_kv_heads = attn0.hq, attn0.hk  # this rank's
        plan = plan_memory(config, cfg, self.dtype, self.num_kv_heads)
        self.kv_pool = KVPool(plan.max_total_tokens, cfg.num_layers, self.num_kv_heads, cfg.head_dim, self.dtype, self.device)
        self.allocator = SlotAllocator(plan.max_total_tokens, self.device)
        # one extra row per running request for a prefill chunk in flight
        self.req_table = ReqToTokenTable(config.max_running_requests + 1, plan.context_length, self.device)
        self.attn = create_backend(
            config.attention_backend,
            kv_pool=self.kv_pool,
            req_to_token=self.req_table.table,
            num_heads=self.num_heads,
            num_kv_heads=self.num_kv_heads,
            head_dim=cfg.head_dim,
        )
        self.graphs = self._capture_graphs(config)
        self.cpu_step = None if config.disable_cpu_decode_step or self.device.type != "cpu" else \
            CpuDecodeStep.build(self.model, self.attn, self.kv_pool, self.req_table.table, self.dtype)
        self.channel = BatchChannel(self.dist.batch_group, self.device) if self.tp.size > 1 else None
        if self.channel is not None:
            torch.distributed.barrier(group=self.dist.batch_group)  # every rank has loaded its shard
        log.info("model %s on %s/%s, KV pool %d tokens, attention %s, CUDA graphs %s, C++ decode step %s", source.name, self.device,
                 self.dtype, plan.max_total_tokens, type(self.attn).__name__, self.graphs.sizes if self.graphs else "off",
                 "on" if self.cpu_step else "off")

    def _capture_graphs(self, config: EngineConfig) -> CudaGraphRunner | None:
        """Decode-step CUDA graphs: on CUDA, with a backend that supports them, unless disabled."""
        if self.device.type != "cuda" or config.disable_cuda_graph or self.tp.size > 1 or not getattr(self.attn, "supports_cuda_graph", False):
            return None
        max_bs = config.cuda_graph_max_bs or min(config.max_running_requests, DEFAULT_MAX_BS)
        return CudaGraphRunner(self.model, self.attn, max_bs, self.context_length, self.device)

    def _load_model(self, source: ModelSource, quant: QuantPlan, reader) -> torch.nn.Module:
        cfg = self.model_config
        model_cls = MODEL_REGISTRY[cfg.architecture]
        with torch.device("meta"):
            model = model_cls(cfg, max_positions=self.context_length, plan=quant, tp=self.tp)
        model = model.to_empty(device="cpu")
        if source.kind == "gguf":
            weights = iter_gguf_weights(reader, cfg, keep_blocks=quant.keep_blocks, lazy=self.tp.size > 1)
        else:
            weights = iter_safetensors_weights(source.path, lazy=self.tp.size > 1)
        model.load_weights(weights)
        model.process_weights_after_loading(self.platform, self.device)  # quantized storage, packed for this ISA
        if self.device.type == "cpu":
            move_storage_to_huge_pages(model)  # one arena on huge pages: faster streaming at batch 1
        model = model.to(device=self.device, dtype=self.dtype)
        model.rope.to(self.device, self.dtype)
        return model.eval()

    @property
    def vocab_size(self) -> int:
        return self.model_config.vocab_size

    def forward(self, batch: ForwardBatch) -> torch.Tensor:
        """Float32 logits [len(batch.logit_indices), vocab] (rank 0 of a tensor-parallel group)."""
        if self.graphs is not None and self.graphs.can_run(batch):
            return self.graphs.replay(batch)
        if self.cpu_step is not None and self.cpu_step.can_run(batch):
            return self.cpu_step.run(batch)
        if self.channel is not None:
            self.channel.send(batch, self.req_table.table)  # the other ranks run the same forward
        return self.run_model(batch)

    def run_model(self, batch: ForwardBatch) -> torch.Tensor | None:
        """The module-by-module forward (every rank); logits on rank 0, None elsewhere."""
        self.attn.prepare(batch)
        return self.model(batch, self.attn)

    def close(self) -> None:
        """Tensor parallelism: stop the other ranks (rank 0), leave the group. Idempotent."""
        if self.dist is None or self.dist.closed:
            return
        if self.tp.is_first and getattr(self, "channel", None) is not None:
            try:
                self.channel.send_stop()
            except Exception as exc:  # noqa: BLE001 - a dead rank: the others are stopped by force
                log.warning("could not tell the ranks to stop: %s", exc)
        self.dist.close()
