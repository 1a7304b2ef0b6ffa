"""Per-layer K/V buffers indexed by token slot, and the request->slot table."""
from __future__ import annotations

import torch

from sglike.kernels import cpu as cpu_ext


class KVPool:
    """``k[layer]``, ``v[layer]``: [num_kv_heads, num_slots + 1, head_dim]; slot 0 is padding.

    Head-major, so gathering ``[B, L]`` slots for all heads is one ``index_select`` that
    yields ``[Hk, B, L, D]``, ready for batched matmuls without another copy.
    """

    def __init__(self, num_slots: int, num_layers: int, num_kv_heads: int, head_dim: int, dtype: torch.dtype, device: torch.device) -> None:
        shape = (num_kv_heads, num_slots + 1, head_dim)
        self.num_slots = num_slots
        self.k = [self._zeros(shape, dtype, device) for _ in range(num_layers)]
        self.v = [self._zeros(shape, dtype, device) for _ in range(num_layers)]

    @staticmethod
    def _zeros(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """On the CPU, pages backed on first touch (the memory of tokens never held is never
        used); ordinary 4 KiB pages: huge ones measured slower here (a VM backs a fresh 2 MiB
        page ~9x slower than 4 KiB ones, and warm decode was no faster)."""
        if device.type == "cpu":
            return cpu_ext.lazy_zeros(shape, dtype)
        return torch.zeros(shape, dtype=dtype, device=device)

    def write(self, layer: int, slots: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
        """k, v: [T, Hk, D] for the T tokens at ``slots`` (float32 CPU: sglike's C++ copy,
        else ``index_copy_``, its plain twin)."""
        k_buf = self.k[layer]
        if cpu_ext.available() and k_buf.dtype == k.dtype == torch.float32 and k_buf.device.type == "cpu" \
                and k.stride(-1) == 1 and k.stride(1) == k.shape[2] and v.stride(-1) == 1 and v.stride(1) == v.shape[2]:
            cpu_ext.kv_store(k_buf, self.v[layer], slots, k, v)
            return
        self.k[layer].index_copy_(1, slots, k.transpose(0, 1))
        self.v[layer].index_copy_(1, slots, v.transpose(0, 1))

    def gather(self, layer: int, slots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """slots: [B, L] -> keys, values [Hk, B, L, D] (contiguous row copies)."""
        flat = slots.reshape(-1)
        shape = (self.k[layer].shape[0], *slots.shape, self.k[layer].shape[2])
        return self.k[layer].index_select(1, flat).view(shape), self.v[layer].index_select(1, flat).view(shape)

    @staticmethod
    def bytes_per_token(num_layers: int, num_kv_heads: int, head_dim: int, dtype: torch.dtype) -> int:
        return 2 * num_layers * num_kv_heads * head_dim * torch.tensor([], dtype=dtype).element_size()


class ReqToTokenTable:
    """Rows of KV slots, one row per live request; rows are recycled through a free list."""

    def __init__(self, num_rows: int, max_context: int, device: torch.device) -> None:
        self.table = torch.zeros((num_rows, max_context), dtype=torch.int64, device=device)
        self._free = list(range(num_rows - 1, -1, -1))

    def alloc(self) -> int | None:
        return self._free.pop() if self._free else None

    def free(self, row: int) -> None:
        self._free.append(row)

    def available(self) -> int:
        return len(self._free)
