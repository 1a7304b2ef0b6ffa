"""The prefix-cache interface the scheduler talks to, and the no-op cache.

A prefix cache owns KV slots whose contents are valid for a token-id prefix. The scheduler
uses it in four moves:

1. ``match_prefix(tokens)`` -> ``PrefixMatch(slots, handle)``: the longest cached prefix.
2. ``lock(handle)`` / ``unlock(handle)``: a locked prefix is never evicted.
3. ``cache_unfinished(...)`` after a prefill chunk, ``cache_finished(...)`` when a request
   ends: hand the request's computed KV to the cache (which frees what it does not keep).
4. ``evict(n)`` when the allocator runs dry: free at least ``n`` unlocked slots if it can.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import torch

from .allocator import SlotAllocator


@dataclass(frozen=True)
class PrefixMatch:
    slots: torch.Tensor  # [prefix_len] int64 KV slots of the matched prefix
    handle: Any  # opaque node handle to lock/unlock; None when nothing matched


class PrefixCache(ABC):
    """Maps token-id prefixes to KV slots. Subclasses: ``NoPrefixCache``, ``RadixCache``."""

    def __init__(self, allocator: SlotAllocator) -> None:
        self.allocator = allocator

    @abstractmethod
    def match_prefix(self, tokens: list[int]) -> PrefixMatch: ...

    @abstractmethod
    def insert(self, tokens: list[int], slots: torch.Tensor) -> int:
        """Insert ``tokens`` -> ``slots``; return how many leading tokens were already cached.

        The cache keeps ``slots[already:]``; ``slots[:already]`` stay owned by the caller
        (they duplicate slots the cache already holds and must be freed by the caller).
        """

    @abstractmethod
    def lock(self, handle: Any) -> None: ...

    @abstractmethod
    def unlock(self, handle: Any) -> None: ...

    @abstractmethod
    def evict(self, num_tokens: int) -> int:
        """Free at least ``num_tokens`` slots of unlocked, least recently used leaves if
        possible; return how many were freed."""

    @abstractmethod
    def evictable_size(self) -> int: ...

    @abstractmethod
    def cached_size(self) -> int:
        """Slots held by the cache (locked or not)."""

    @abstractmethod
    def flush(self) -> None:
        """Drop every cached prefix (the caller ensures no request runs)."""

    # -- request-level helpers (shared by every tree-backed cache) -------------------------

    def cache_finished(self, tokens: list[int], slots: torch.Tensor, owned_from: int, handle: Any) -> None:
        """A request ended: ``slots[i]`` holds KV of ``tokens[i]``. ``slots[:owned_from]``
        came from the cache (locked via ``handle``), the rest belong to the request."""
        already = self.insert(tokens, slots)
        if already > owned_from:
            self.allocator.free(slots[owned_from:already])
        self.unlock(handle)

    def cache_unfinished(
        self, tokens: list[int], slots: torch.Tensor, owned_from: int, handle: Any
    ) -> tuple[torch.Tensor, Any, int]:
        """A chunk was prefilled: cache it and return ``(slots, handle, owned_from)`` to use
        from now on (the cache's own slots for the whole prefix, locked via the new handle)."""
        already = self.insert(tokens, slots)
        if already > owned_from:
            self.allocator.free(slots[owned_from:already])
        match = self.match_prefix(tokens)
        self.lock(match.handle)
        self.unlock(handle)
        return match.slots, match.handle, len(match.slots)


class NoPrefixCache(PrefixCache):
    """``disable_radix_cache=True``: nothing is shared; finished requests free all their slots."""

    def match_prefix(self, tokens: list[int]) -> PrefixMatch:
        return PrefixMatch(torch.empty(0, dtype=torch.int64, device=self.allocator.device), None)

    def insert(self, tokens: list[int], slots: torch.Tensor) -> int:
        return 0

    def lock(self, handle: Any) -> None:
        pass

    def unlock(self, handle: Any) -> None:
        pass

    def evict(self, num_tokens: int) -> int:
        return 0

    def evictable_size(self) -> int:
        return 0

    def cached_size(self) -> int:
        return 0

    def flush(self) -> None:
        pass

    def cache_finished(self, tokens, slots, owned_from, handle) -> None:
        self.allocator.free(slots[owned_from:])

    def cache_unfinished(self, tokens, slots, owned_from, handle):
        return slots, handle, owned_from
