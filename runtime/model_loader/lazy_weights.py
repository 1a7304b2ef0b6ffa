"""Checkpoint tensors read on demand, so a tensor-parallel rank reads only its shard.

The loaders yield ``LazyWeight``s when asked (``lazy=True``); a linear's weight loader
calls ``narrow(dim, start, size)`` for its rows (column-parallel) or columns (row-parallel)
and gets a tensor (or ``GGUFTensor`` blocks) of just that part; ``materialize()`` reads the
whole tensor. Plain tensors already have ``narrow``; ``materialize(x)`` passes them through.

GGUF: rows are read from the memory-mapped file row by row (a block never spans rows);
columns on block boundaries (32 weights for Q4_0/Q4_1/Q8_0, 256 for the K-quants, 1 for
F32/F16) slice the blocks exactly; other column ranges dequantize the rows first.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from .gguf_blocks import EXACT_INT4, EXACT_INT8, GGUFTensor

log = logging.getLogger(__name__)


class LazyWeight:
    shape: tuple[int, ...]

    def narrow(self, dim: int, start: int, size: int) -> Any:
        raise NotImplementedError

    def materialize(self) -> Any:
        raise NotImplementedError


def materialize(x: Any) -> Any:
    return x.materialize() if isinstance(x, LazyWeight) else x


class SafetensorsWeight(LazyWeight):
    """One tensor of an open safetensors file (``safe_open(...).get_slice(name)``)."""

    def __init__(self, handle: Any) -> None:
        self.handle, self.shape = handle, tuple(handle.get_shape())

    def narrow(self, dim: int, start: int, size: int) -> torch.Tensor:
        index = [slice(None)] * len(self.shape)
        index[dim] = slice(start, start + size)
        return self.handle[tuple(index)]

    def materialize(self) -> torch.Tensor:
        return self.handle[tuple(slice(None) for _ in self.shape)]


def unpermute_rope(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Undo llama.cpp's Q/K row permutation (interleaved rope -> HF's half-split rope)."""
    rows = w.shape[0]
    return w.reshape(n_heads, rows // n_heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


class GGUFWeight(LazyWeight):
    """One GGUF tensor: ``data`` as the reader maps it ([rows, bytes] blocks, or typed values),
    ``shape`` in HF order; ``rope_heads`` > 0 undoes llama.cpp's Q/K permutation per head."""

    def __init__(self, qtype: str, data: np.ndarray, shape: tuple[int, ...], keep_blocks: bool, rope_heads: int = 0) -> None:
        self.qtype, self.data, self.shape, self.keep_blocks, self.rope_heads = qtype, data, shape, keep_blocks, rope_heads

    def narrow(self, dim: int, start: int, size: int) -> Any:
        if dim == 0:
            heads = self.rope_heads * size // self.shape[0] if self.rope_heads else 0
            return self._finish(self.data[start : start + size], (size, *self.shape[1:]), heads)
        import gguf

        block, type_bytes = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[self.qtype]]
        if start % block == 0 and size % block == 0:  # whole blocks: exact, only these bytes
            cut = self.data[:, start // block * type_bytes : (start + size) // block * type_bytes]
            return self._finish(cut, (self.shape[0], size), self.rope_heads)
        log.info("GGUF %s columns [%d, %d) are not on %d-weight blocks: dequantizing whole rows", self.qtype, start, start + size, block)
        return to_float_tensor(self.materialize()).narrow(1, start, size).contiguous()

    def materialize(self) -> Any:
        return self._finish(self.data, self.shape, self.rope_heads)

    def _finish(self, data: np.ndarray, shape: tuple[int, ...], rope_heads: int) -> Any:
        import gguf

        if self.keep_blocks and self.qtype in EXACT_INT4 + EXACT_INT8 and len(shape) == 2:
            arr = unpermute_rope(data, rope_heads) if rope_heads else data
            return GGUFTensor(self.qtype, np.ascontiguousarray(arr), (int(shape[0]), int(shape[1])))
        arr = gguf.quants.dequantize(data, gguf.GGMLQuantizationType[self.qtype]).astype(np.float32, copy=False)
        arr = arr.reshape(shape)
        if rope_heads:
            arr = unpermute_rope(arr, rope_heads)
        return torch.from_numpy(np.array(arr, dtype=np.float32, order="C"))


def to_float_tensor(x: Any) -> torch.Tensor:
    return x.dequantize() if isinstance(x, GGUFTensor) else x
