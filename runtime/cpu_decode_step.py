"""The CPU decode step (and small extends) as one C++ call (``sglike.kernels.cpu.DecoderStep``).

At batch 1 a decode step of a small model is hundreds of tiny ops, and Python plus torch's
dispatch between them cost as much as the arithmetic. On the CPU the step is therefore
built once at start-up into a C++ object holding every layer's weights (in the storage its
linear kernels already use: nothing is copied) and the KV pool, and each decode batch is
one call: the CPU's counterpart of replaying a captured CUDA graph, with nothing to compile.
Attention reads the pool in place with the shared-prefix cascade of the ``torch`` backend.
Extends (prefill chunks, speculative verifies) take it too: each new token is a query over
its request's slots up to itself, so one request's tokens share their prefix through the
cascade. Where each linear runs one kernel at every size (the VNNI GEMMs, float weights) it
takes chunks up to ``EXTEND_MAX_ROWS`` tokens; otherwise (AVX2, whose decode GEMVs give way
to dequantized tiles past ``DECODE_MAX_M`` rows) up to ``DECODE_MAX_M``.

It is built only where every piece has a C++ twin: float32 on the CPU, the ``torch``
attention backend, a Llama-family model, and linear kernels with a ``step`` (sglike's
int4/int8 GEMMs or float32 weights), and not for a tensor-parallel shard (the C++ step
cannot all-reduce between its layers: ``unsupported_reason``). Otherwise, and with ``disable_cpu_decode_step``, the
model's module-by-module forward runs, which is also this step's plain twin in the tests.
"""
from __future__ import annotations

import logging

import torch

from sglike.kernels import cpu as cpu_ext

from .attention.torch_backend import TorchAttentionBackend
from .forward_batch import ForwardBatch, ForwardMode
from .layers.kernel_table import DECODE_MAX_M
from .layers.linear import LinearBase
from .mem.kv_pool import KVPool
from .models.llama import LlamaForCausalLM

log = logging.getLogger(__name__)

# Measured on Zen 4 (VNNI, 1 and 2 threads): prefill through the step runs 10-16% faster than
# the module forward for chunks of 48-512 tokens (no Python between ops; norms, RoPE and
# SiLU fused), and 10% slower at 2048, where its per-token attention loses to the blocked one.
EXTEND_MAX_ROWS = 512


def _one_kernel(layer: LinearBase) -> bool:
    """Whether the layer runs the same kernel for decode and prefill sizes."""
    kernels = getattr(layer, "kernels", None)  # None: float weights (one matmul at every size)
    return kernels is None or kernels["decode"] is kernels["prefill"]


def _step_linear(layer: LinearBase):
    spec = layer.method.step_spec(layer)
    if spec is None:
        return None
    kind, tensors = spec
    if kind == "dense" and not all(t.dtype == torch.float32 and t.is_contiguous() for t in tensors):
        return None
    bias = layer.bias.data if layer.bias is not None else None
    return cpu_ext.StepLinear(kind, tensors, layer.out_features, bias)


class CpuDecodeStep:
    def __init__(self, model: LlamaForCausalLM, attn: TorchAttentionBackend, step, max_rows: int = DECODE_MAX_M) -> None:
        self.model, self.attn, self.step = model, attn, step
        self.max_rows = max_rows  # the most token rows a step takes (more: the module forward)

    @staticmethod
    def unsupported_reason(model: torch.nn.Module, attn, req_to_token: torch.Tensor, dtype: torch.dtype) -> str | None:
        """Why the step cannot run this model (None: it can, if every linear has a C++ twin)."""
        if not (cpu_ext.available() and dtype == torch.float32 and isinstance(model, LlamaForCausalLM)
                and isinstance(attn, TorchAttentionBackend) and req_to_token.device.type == "cpu"):
            return "needs the C++ extension, float32, a Llama-family model, the torch backend and a CPU table"
        if model.tp.size > 1:
            return f"tensor parallelism (tp_size {model.tp.size}): the C++ step cannot all-reduce between layers"
        return None

    @classmethod
    def build(cls, model: torch.nn.Module, attn, kv_pool: KVPool, req_to_token: torch.Tensor, dtype: torch.dtype) -> "CpuDecodeStep | None":
        """The step for this model, or None where some piece has no C++ twin."""
        reason = cls.unsupported_reason(model, attn, req_to_token, dtype)
        if reason is not None:
            log.info("C++ decode step off (%s); decoding module by module", reason)
            return None
        cfg = model.config
        head_layer = model.lm_head.own if model.lm_head.own is not None else model.embed_tokens
        lm_head = _step_linear(head_layer)
        if lm_head is None:
            return None
        step = cpu_ext.DecoderStep(cfg.num_heads, cfg.num_kv_heads, cfg.head_dim, cfg.rms_norm_eps, model.rope.cos, model.rope.sin,
                                   req_to_token, model.norm.weight.data, lm_head)
        one_kernel = True
        for i, layer in enumerate(model.layers):
            modules = (layer.self_attn.qkv_proj, layer.self_attn.o_proj, layer.mlp.gate_up_proj, layer.mlp.down_proj)
            linears = [_step_linear(m) for m in modules]
            if any(lin is None for lin in linears):
                log.info("decode step: layer %d has a linear kernel without a C++ twin; decoding module by module", i)
                return None
            one_kernel = one_kernel and all(_one_kernel(m) for m in modules)
            step.add_layer(cpu_ext.StepLayer(layer.input_layernorm.weight.data, layer.post_attention_layernorm.weight.data, *linears,
                                             kv_pool.k[i], kv_pool.v[i]))
        return cls(model, attn, step, EXTEND_MAX_ROWS if one_kernel else DECODE_MAX_M)

    def can_run(self, batch: ForwardBatch) -> bool:
        """Decode batches and extends (prefill chunks, speculative verifies) of up to
        ``max_rows`` tokens."""
        return batch.input_ids.numel() <= self.max_rows

    @torch.inference_mode()
    def run(self, batch: ForwardBatch) -> torch.Tensor:
        """Float32 logits [len(batch.logit_indices), vocab]."""
        x = self.model.embed_tokens.embed(batch.input_ids, torch.float32)  # [T, H]
        if batch.mode is ForwardMode.DECODE:
            rows, lens, logit_rows = batch.req_rows, torch.tensor(batch.seq_lens, dtype=torch.int64), None
        else:  # each new token attends its request's slots up to itself
            rows = batch.req_rows.repeat_interleave(torch.tensor(batch.extend_lens))
            lens, logit_rows = batch.positions + 1, batch.logit_indices
        logits = self.step.forward(x.contiguous(), batch.positions.contiguous(), batch.out_cache_loc.contiguous(), rows, lens, logit_rows,
                                   cascade=not batch.decode_exact)
        if batch.mode is ForwardMode.DECODE:
            self.attn.cascade_steps += self.step.last_cascade_groups > 0
        return logits
