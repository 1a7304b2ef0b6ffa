"""Rotary position embeddings (HF half-split layout), incl. llama3 and linear scaling."""
from __future__ import annotations

import math
from typing import Any

import torch

from sglike.kernels import cpu as cpu_ext


def _inv_freq(head_dim: int, theta: float, scaling: dict[str, Any] | None) -> torch.Tensor:
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64, device="cpu") / head_dim))
    kind = (scaling or {}).get("rope_type") or (scaling or {}).get("type")
    if kind in (None, "default"):
        return inv
    if kind == "linear":
        return inv / scaling["factor"]
    if kind == "llama3":
        factor = scaling["factor"]
        low, high = scaling.get("low_freq_factor", 1.0), scaling.get("high_freq_factor", 4.0)
        old_ctx = scaling["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old_ctx / wavelen - low) / (high - low)
        mid = (1 - smooth) * scaled / factor + smooth * scaled
        is_mid = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
        return torch.where(is_mid, mid, scaled)
    raise ValueError(f"unsupported rope_scaling type {kind!r} (supported: default, linear, llama3)")


class RotaryEmbedding:
    """Precomputed cos/sin tables (computed in float64, stored in the model dtype like the
    reference implementation); calling it rotates a [T, H, D] block of query+key heads."""

    def __init__(self, head_dim: int, max_positions: int, theta: float, scaling: dict[str, Any] | None) -> None:
        inv = _inv_freq(head_dim, theta, scaling)
        freqs = torch.outer(torch.arange(max_positions, dtype=torch.float64, device="cpu"), inv)  # [P, D/2]
        self.cos = freqs.cos().float()
        self.sin = freqs.sin().float()

    def to(self, device: torch.device, dtype: torch.dtype = torch.float32) -> "RotaryEmbedding":
        self.cos, self.sin = self.cos.to(device, dtype), self.sin.to(device, dtype)
        return self

    def __call__(self, positions: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """x: [T, H, D] (HF half-split layout) -> rotated; float32 CPU rotates x in place
        (sglike's C++ kernel), other dtypes return a rotated copy (``reference``)."""
        if cpu_ext.available() and x.dtype == torch.float32 and self.cos.dtype == torch.float32 and x.device.type == "cpu" \
                and x.stride(2) == 1 and x.stride(1) == x.shape[2]:
            return cpu_ext.rope_inplace(x, positions, self.cos, self.sin)
        return self.reference(positions, x)

    def reference(self, positions: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The plain twin: a rotated copy of x [T, H, D]."""
        cos = self.cos[positions].unsqueeze(1)  # [T, 1, D/2]
        sin = self.sin[positions].unsqueeze(1)
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)
