"""Prefix caches by name; ``disable_radix_cache`` picks ``none`` instead of ``radix``."""
from __future__ import annotations

from ..config import EngineConfig
from .allocator import SlotAllocator
from .prefix_cache import NoPrefixCache, PrefixCache
from .radix_cache import RadixCache

PREFIX_CACHES: dict[str, type[PrefixCache]] = {"radix": RadixCache, "none": NoPrefixCache}


def prefix_cache_name(config: EngineConfig) -> str:
    return "none" if config.disable_radix_cache else "radix"


def create_prefix_cache(name: str, allocator: SlotAllocator) -> PrefixCache:
    if name not in PREFIX_CACHES:
        raise ValueError(f"unknown prefix cache {name!r}; known: {', '.join(PREFIX_CACHES)}")
    return PREFIX_CACHES[name](allocator)
