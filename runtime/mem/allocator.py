"""Token-level KV slot allocator: hands out and takes back indices into the KV pool."""
from __future__ import annotations

import torch


class SlotAllocator:
    """Free list of KV slots. Slot 0 is reserved as the padding slot and never handed out.

    ``alloc(n)`` returns an int64 tensor of ``n`` distinct free slots, or ``None`` when fewer
    than ``n`` are free (the caller then evicts or retracts). ``free(slots)`` returns them.
    """

    def __init__(self, size: int, device: torch.device | str = "cpu") -> None:
        if size < 1:
            raise ValueError("KV pool needs at least one usable slot")
        self.size = size
        self.device = torch.device(device)
        self._free = torch.arange(1, size + 1, dtype=torch.int64, device=self.device)
        self._pending: list[torch.Tensor] = []

    def available_size(self) -> int:
        return int(self._free.numel()) + sum(int(p.numel()) for p in self._pending)

    def alloc(self, n: int) -> torch.Tensor | None:
        if n > self._free.numel() and self._pending:
            self._merge_pending()
        if n > self._free.numel():
            return None
        out, self._free = self._free[:n], self._free[n:]
        return out

    def free(self, slots: torch.Tensor) -> None:
        if slots.numel():
            self._pending.append(slots.to(device=self.device, dtype=torch.int64))

    def _merge_pending(self) -> None:
        self._free = torch.cat([self._free, *self._pending])
        self._pending.clear()

    def free_slots(self) -> torch.Tensor:
        """All free slots, sorted (for leak checks in tests)."""
        self._merge_pending()
        return torch.sort(self._free).values
