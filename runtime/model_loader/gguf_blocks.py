"""A GGUF tensor kept in its own blocks, so a quantized linear method can take the file's
own integers and scales instead of a float copy.

Exact block formats (32 weights per block, one fp16 scale ``d``, Q4_1 also an fp16 min ``m``):
Q4_0 ``w = d*(q-8)``, Q4_1 ``w = d*q + m``, Q8_0 ``w = d*q``. Every other type is
dequantized with the ``gguf`` package.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

BLOCK = 32
EXACT_INT4 = ("Q4_0", "Q4_1")
EXACT_INT8 = ("Q8_0",)


@dataclass(frozen=True)
class GGUFTensor:
    qtype: str  # GGML type name: "Q4_1", "Q8_0", ...
    data: np.ndarray  # [rows, bytes_per_row] uint8 blocks (rows in HF order)
    shape: tuple[int, int]  # [out_features, in_features]

    def narrow_rows(self, start: int, size: int) -> "GGUFTensor":
        return GGUFTensor(self.qtype, self.data[start : start + size], (size, self.shape[1]))

    def dequantize(self) -> torch.Tensor:
        """float32 [out, in], exactly what the ``gguf`` package computes."""
        import gguf

        arr = gguf.quants.dequantize(self.data, gguf.GGMLQuantizationType[self.qtype])
        return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32).reshape(self.shape))

    def int4_parts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q4_0/Q4_1 -> (q uint8 [N, K] in 0..15, scale [N, K/32], min [N, K/32]); w = scale*q + min."""
        n, k = self.shape
        nb = k // BLOCK
        head = 2 if self.qtype == "Q4_0" else 4
        blocks = self.data.reshape(n, nb, head + BLOCK // 2)
        d = blocks[..., :2].copy().view(np.float16)[..., 0].astype(np.float32)
        if self.qtype == "Q4_1":
            m = blocks[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32)
        else:
            m = -8.0 * d
        qs = blocks[..., head:]  # [N, nb, 16]: low nibbles are weights 0..15, high 16..31
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).reshape(n, k)
        return torch.from_numpy(q.astype(np.uint8)), torch.from_numpy(d), torch.from_numpy(np.ascontiguousarray(m))

    def int8_parts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Q8_0 -> (q int8 [N, K], scale [N, K/32]); w = scale*q."""
        n, k = self.shape
        blocks = self.data.reshape(n, k // BLOCK, 2 + BLOCK)
        d = blocks[..., :2].copy().view(np.float16)[..., 0].astype(np.float32)
        q = blocks[..., 2:].copy().view(np.int8).reshape(n, k)
        return torch.from_numpy(q), torch.from_numpy(d)


def to_float(tensor: "torch.Tensor | GGUFTensor") -> torch.Tensor:
    return tensor.dequantize() if isinstance(tensor, GGUFTensor) else tensor
