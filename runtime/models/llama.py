"""Llama-family decoder (Llama 2/3, SmolLM/SmolLM2, TinyLlama, Mistral, Qwen2) in plain PyTorch.

Attention goes through an ``AttentionBackend`` that owns the KV pool, so the model itself
holds no per-request state. q/k/v and gate/up projections are fused into one matmul each;
every linear computes through the linear method of the ``QuantPlan``. With tensor
parallelism (``tp``) the linears are the column/row-parallel ones of ``parallel_linear``
and the vocabulary is split (``vocab.py``): a rank holds its heads, its slice of the MLP and
of the vocabulary, and ``forward`` returns logits on rank 0 only.
"""
from __future__ import annotations

from typing import Any, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ..attention.base import AttentionBackend
from ..forward_batch import ForwardBatch
from ..distributed.comm import SINGLE, TPInfo
from ..distributed.sharding import check_tp_size
from ..layers.linear import LinearBase, MergedColumnLinear, QKVLinear
from ..layers.linear_method import get_linear_method
from ..layers.parallel_linear import MergedColumnParallelLinear, QKVParallelLinear, RowParallelLinear
from ..model_loader.lazy_weights import materialize
from ..layers.norm import RMSNorm
from ..layers.rotary import RotaryEmbedding
from ..layers.vocab import LMHead, VocabEmbedding, VocabRowsLinear
from ..model_loader.model_config import ModelConfig
from ..model_loader.quant_plan import QuantPlan
from ..platform import Platform

FLOAT_PLAN = QuantPlan("float", "float", "float")
# checkpoint projection -> (fused module, shard id)
_FUSED = {"q_proj": ("qkv_proj", "q"), "k_proj": ("qkv_proj", "k"), "v_proj": ("qkv_proj", "v"), "gate_proj": ("gate_up_proj", 0), "up_proj": ("gate_up_proj", 1)}


class LlamaAttention(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int, plan: QuantPlan, tp: TPInfo = SINGLE) -> None:
        super().__init__()
        self.layer, self.d = layer, cfg.head_dim
        self.qkv_proj = QKVParallelLinear(cfg.hidden_size, self.d, cfg.num_heads, cfg.num_kv_heads, cfg.attention_bias, get_linear_method(plan.linear), tp)
        self.hq, self.hk = self.qkv_proj.q_heads[1], self.qkv_proj.kv_heads[1]  # this rank's heads
        self.o_proj = RowParallelLinear(cfg.num_heads * self.d, cfg.hidden_size, False, get_linear_method(plan.linear), tp)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, rope: RotaryEmbedding, attn: AttentionBackend, batch: ForwardBatch) -> torch.Tensor:
        t = x.shape[0]
        qkv, split = self.qkv_proj(x), (self.hq + self.hk) * self.d
        qk, v = qkv[:, :split], qkv[:, split:]
        qk = rope(positions, qk.view(t, self.hq + self.hk, self.d))  # q and k heads rotated together
        q, k = qk[:, : self.hq], qk[:, self.hq :]
        out = attn.forward(self.layer, q, k, v.view(t, self.hk, self.d), batch)  # [T, Hq, D]
        return self.o_proj(out.reshape(t, self.hq * self.d))


class LlamaMLP(nn.Module):
    def __init__(self, cfg: ModelConfig, plan: QuantPlan, tp: TPInfo = SINGLE) -> None:
        super().__init__()
        inter = cfg.intermediate_size
        self.gate_up_proj = MergedColumnParallelLinear(cfg.hidden_size, [inter, inter], False, get_linear_method(plan.linear), tp)
        self.inter = self.gate_up_proj.output_sizes[0]  # this rank's part
        self.down_proj = RowParallelLinear(inter, cfg.hidden_size, False, get_linear_method(plan.linear), tp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate_up = self.gate_up_proj(x)
        return self.down_proj(F.silu(gate_up[:, : self.inter]) * gate_up[:, self.inter :])


class LlamaLayer(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int, plan: QuantPlan, tp: TPInfo = SINGLE) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = LlamaAttention(cfg, layer, plan, tp)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = LlamaMLP(cfg, plan, tp)

    def forward(self, x, residual, positions, rope, attn, batch):
        """Returns (this layer's MLP output, the residual stream before it); the caller adds
        them (fused into the next norm)."""
        if residual is None:
            residual, h = x, self.input_layernorm(x)
        else:
            h, residual = self.input_layernorm(x, residual)
        h = self.self_attn(h, positions, rope, attn, batch)
        h, residual = self.post_attention_layernorm(h, residual)
        return self.mlp(h), residual


class LlamaForCausalLM(nn.Module):
    def __init__(self, cfg: ModelConfig, max_positions: int, plan: QuantPlan = FLOAT_PLAN, tp: TPInfo = SINGLE) -> None:
        super().__init__()
        check_tp_size(cfg, tp.size)
        self.config, self.tp = cfg, tp
        self.embed_tokens = VocabEmbedding(cfg.vocab_size, cfg.hidden_size, get_linear_method(plan.embedding), tp)
        self.layers = nn.ModuleList(LlamaLayer(cfg, i, plan, tp) for i in range(cfg.num_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        tied = cfg.tie_word_embeddings and plan.lm_head == plan.embedding
        own = None if tied else VocabRowsLinear(cfg.vocab_size, cfg.hidden_size, get_linear_method(plan.lm_head), tp)
        self.lm_head = LMHead(self.embed_tokens, own)
        self.rope = RotaryEmbedding(cfg.head_dim, max_positions, cfg.rope_theta, cfg.rope_scaling)

    @torch.inference_mode()
    def forward(self, batch: ForwardBatch, attn: AttentionBackend) -> torch.Tensor:
        """Returns float32 logits [R, vocab] for ``batch.logit_indices`` (None on ranks > 0)."""
        x = self.embed_tokens.embed(batch.input_ids, self.norm.weight.dtype)  # [T, H]
        residual = None
        for layer in self.layers:
            x, residual = layer(x, residual, batch.positions, self.rope, attn, batch)
        idx = batch.logit_indices
        return self.lm_head(self.norm(x[idx], residual[idx])[0])  # [R, vocab]

    def load_weights(self, weights: Iterable[tuple[str, Any]]) -> None:
        """Load HF-named tensors; fused layers place their shards through their weight loaders."""
        modules = dict(self.named_modules())
        loaded: set[str] = set()
        for name, tensor in weights:
            name = name.removeprefix("model.")
            if "rotary_emb" in name:
                continue
            parts = name.split(".")
            prefix, kind, shard = ".".join(parts[:-1]), parts[-1], None
            if len(parts) > 2 and parts[-2] in _FUSED:
                target, shard = _FUSED[parts[-2]]
                prefix = ".".join(parts[:-2] + [target])
            targets = [prefix]
            if name == "embed_tokens.weight" and self.lm_head.own is not None and self.config.tie_word_embeddings:
                targets.append("lm_head.own")
            elif name == "lm_head.weight":
                if self.lm_head.own is None:
                    continue
                targets = ["lm_head.own"]
            for target in targets:
                module = modules.get(target)
                if module is None:
                    raise ValueError(f"unexpected weight {name!r} in checkpoint")
                self._load(module, kind, tensor, shard)
                loaded.add(f"{target}.{kind}" if shard is None else f"{target}.{kind}.{shard}")
        expected = self._expected_weights()
        missing = expected - loaded
        if missing:
            raise ValueError(f"checkpoint is missing weights: {sorted(missing)[:5]}")

    @staticmethod
    def _load(module: nn.Module, kind: str, tensor: Any, shard: Any) -> None:
        if isinstance(module, LinearBase):
            module.weight_loader(module.load_target(kind), tensor, shard)
        else:
            getattr(module, kind).data.copy_(materialize(tensor))

    def _expected_weights(self) -> set[str]:
        out: set[str] = set()
        for mname, module in self.named_modules():
            if isinstance(module, QKVLinear):
                kinds = ["weight"] + (["bias"] if module.bias is not None else [])
                out |= {f"{mname}.{k}.{s}" for k in kinds for s in QKVLinear.SHARDS}
            elif isinstance(module, MergedColumnLinear):
                out |= {f"{mname}.weight.{s}" for s in range(len(module.output_sizes))}
            elif isinstance(module, LinearBase):
                out |= {f"{mname}.weight"} | ({f"{mname}.bias"} if module.bias is not None else set())
            elif isinstance(module, RMSNorm):
                out.add(f"{mname}.weight")
        return out

    def process_weights_after_loading(self, platform: Platform, device: torch.device) -> None:
        for module in self.modules():
            if isinstance(module, LinearBase):
                module.process_weights_after_loading(platform, device)
