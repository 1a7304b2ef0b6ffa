"""The prefix-cache interface (token-id prefixes -> KV slots), and the no-op cache.

A prefix cache owns KV slots whose contents are valid for a token-id prefix:

1. ``match_prefix(tokens)`` -> ``PrefixMatch(slots, handle)``: the longest cached prefix.
2. ``insert(tokens, slots)``: keep what is new.
3. ``lock(handle)`` / ``unlock(handle)``: a locked prefix is never evicted.
4. ``evict(n)`` when the allocator runs dry: free at least ``n`` unlocked slots if it can.

What a *request* does with it (hand its KV over after a prefill chunk and when it ends)
is ``cache_manager.KVCacheManager``; the caches themselves are chosen in ``registry``.
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

    shares_prefixes = True  # False: nothing is ever matched (requests keep their own KV)

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


class NoPrefixCache(PrefixCache):
    """``disable_radix_cache=True``: nothing is shared; finished requests free all their slots."""

    shares_prefixes = False

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
