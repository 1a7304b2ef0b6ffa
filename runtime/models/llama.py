"""Llama-family decoder (Llama 2/3, SmolLM/SmolLM2, TinyLlama, Mistral, Qwen2) in plain PyTorch.

Attention goes through an ``AttentionBackend`` that owns the KV pool, so the model itself
holds no per-request state. q/k/v and gate/up projections are fused into one matmul each.
"""
from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ..attention.base import AttentionBackend
from ..forward_batch import ForwardBatch
from ..layers.norm import RMSNorm
from ..layers.rotary import RotaryEmbedding
from ..model_loader.model_config import ModelConfig


class LlamaAttention(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        self.layer = layer
        self.hq, self.hk, self.d = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.qkv_proj = nn.Linear(cfg.hidden_size, (self.hq + 2 * self.hk) * self.d, bias=cfg.attention_bias)
        self.o_proj = nn.Linear(self.hq * self.d, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, rope: RotaryEmbedding, attn: AttentionBackend, batch: ForwardBatch) -> torch.Tensor:
        t = x.shape[0]
        qk, v = self.qkv_proj(x).split([(self.hq + self.hk) * self.d, self.hk * self.d], dim=-1)
        qk = rope(positions, qk.view(t, self.hq + self.hk, self.d))  # q and k heads rotated together
        q, k = qk[:, : self.hq], qk[:, self.hq :]
        out = attn.forward(self.layer, q, k, v.view(t, self.hk, self.d), batch)  # [T, Hq, D]
        return self.o_proj(out.reshape(t, self.hq * self.d))


class LlamaMLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.inter = cfg.intermediate_size
        self.gate_up_proj = nn.Linear(cfg.hidden_size, 2 * cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).split(self.inter, dim=-1)
        return self.down_proj(F.silu(gate) * up)


class LlamaLayer(nn.Module):
    def __init__(self, cfg: ModelConfig, layer: int) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = LlamaAttention(cfg, layer)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = LlamaMLP(cfg)

    def forward(self, x, positions, rope, attn, batch):
        x = x + self.self_attn(self.input_layernorm(x), positions, rope, attn, batch)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaForCausalLM(nn.Module):
    def __init__(self, cfg: ModelConfig, max_positions: int) -> None:
        super().__init__()
        self.config = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(LlamaLayer(cfg, i) for i in range(cfg.num_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.lm_head = None if cfg.tie_word_embeddings else nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.rope = RotaryEmbedding(cfg.head_dim, max_positions, cfg.rope_theta, cfg.rope_scaling)

    @torch.inference_mode()
    def forward(self, batch: ForwardBatch, attn: AttentionBackend) -> torch.Tensor:
        """Returns float32 logits [R, vocab] for ``batch.logit_indices``."""
        x = self.embed_tokens(batch.input_ids)  # [T, H]
        for layer in self.layers:
            x = layer(x, batch.positions, self.rope, attn, batch)
        x = self.norm(x[batch.logit_indices])  # [R, H]
        weight = self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return F.linear(x, weight).float()

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Load HF-named tensors, fusing q/k/v and gate/up on the fly."""
        params = dict(self.named_parameters())
        fused = {"q_proj": ("qkv_proj", 0), "k_proj": ("qkv_proj", 1), "v_proj": ("qkv_proj", 2), "gate_proj": ("gate_up_proj", 0), "up_proj": ("gate_up_proj", 1)}
        loaded: set[str] = set()
        for name, tensor in weights:
            name = name.removeprefix("model.")
            if "rotary_emb" in name:
                continue
            parts = name.split(".")
            if len(parts) > 2 and parts[-2] in fused:
                target, shard = fused[parts[-2]]
                pname = ".".join(parts[:-2] + [target, parts[-1]])
                self._load_shard(params[pname], tensor, parts[-2], shard)
            else:
                pname = name
                if pname == "lm_head.weight" and self.lm_head is None:
                    continue
                if pname not in params:
                    raise ValueError(f"unexpected weight {name!r} in checkpoint")
                params[pname].data.copy_(tensor)
            loaded.add(pname)
        missing = set(params) - loaded
        if missing:
            raise ValueError(f"checkpoint is missing weights: {sorted(missing)[:5]}")

    def _load_shard(self, param: torch.Tensor, tensor: torch.Tensor, proj: str, shard: int) -> None:
        cfg = self.config
        if proj in ("q_proj", "k_proj", "v_proj"):
            sizes = [cfg.num_heads * cfg.head_dim, cfg.num_kv_heads * cfg.head_dim, cfg.num_kv_heads * cfg.head_dim]
        else:
            sizes = [cfg.intermediate_size, cfg.intermediate_size]
        start = sum(sizes[:shard])
        param.data[start : start + sizes[shard]].copy_(tensor)
