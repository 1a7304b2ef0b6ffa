"""Request-level KV bookkeeping on top of a prefix cache: the glue between the scheduler
and the tree. Allocating slots (evicting cached prefixes when the pool runs dry), and
handing a request's computed KV to the cache after a prefill chunk and when it ends.

The prefix cache itself (``PrefixCache``: match, insert, lock, evict) knows nothing about
requests; the scheduler knows nothing about how a cache keeps its slots.
"""
from __future__ import annotations

from typing import Any

import torch

from .prefix_cache import PrefixCache, PrefixMatch


class KVCacheManager:
    def __init__(self, cache: PrefixCache) -> None:
        self.cache = cache
        self.allocator = cache.allocator
        self.evicted_tokens = 0  # slots freed by eviction so far (reported in stats)

    @property
    def shares_prefixes(self) -> bool:
        return self.cache.shares_prefixes

    def match(self, tokens: list[int]) -> PrefixMatch:
        return self.cache.match_prefix(tokens)

    def free_size(self) -> int:
        """Slots that can be had now: free ones plus those only the cache holds, unlocked."""
        return self.allocator.available_size() + self.cache.evictable_size()

    def alloc(self, n: int) -> torch.Tensor | None:
        """``n`` fresh slots, evicting unlocked cached prefixes if needed; None if impossible."""
        slots = self.allocator.alloc(n)
        if slots is None:
            self.evicted_tokens += self.cache.evict(n - self.allocator.available_size())
            slots = self.allocator.alloc(n)
        return slots

    def cache_finished(self, tokens: list[int], slots: torch.Tensor, owned_from: int, handle: Any) -> None:
        """A request ended: ``slots[i]`` holds KV of ``tokens[i]``. ``slots[:owned_from]``
        came from the cache (locked via ``handle``), the rest belong to the request."""
        if not self.shares_prefixes:
            self.allocator.free(slots[owned_from:])
            return
        already = self.cache.insert(tokens, slots)
        if already > owned_from:
            self.allocator.free(slots[owned_from:already])
        self.cache.unlock(handle)

    def cache_unfinished(
        self, tokens: list[int], slots: torch.Tensor, owned_from: int, handle: Any
    ) -> tuple[torch.Tensor, Any, int]:
        """A chunk was prefilled: cache it and return ``(slots, handle, owned_from)`` to use
        from now on (the cache's own slots for the whole prefix, locked via the new handle)."""
        if not self.shares_prefixes:
            return slots, handle, owned_from
        already = self.cache.insert(tokens, slots)
        if already > owned_from:
            self.allocator.free(slots[owned_from:already])
        match = self.cache.match_prefix(tokens)
        self.cache.lock(match.handle)
        self.cache.unlock(handle)
        return match.slots, match.handle, len(match.slots)
