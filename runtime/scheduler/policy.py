"""Orders the waiting queue: fcfs, lpm (longest cached prefix first), dfs-weight."""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

from ..mem.prefix_cache import PrefixCache
from .request import Req

# requests whose uncached prefixes share at least this many tokens are prefilled apart,
# so the shared part is computed once and then reused from the cache (16: a chat template's
# system preamble; holding a request back costs it one step, which on a CPU is worth less
# than recomputing 16 tokens for every follower)
SHARED_PREFIX_HOLD_BACK = 16
_DFS_PREFIX_TOKENS = 256


def order_fcfs(waiting: list[Req], cache: PrefixCache) -> list[Req]:
    return sorted(waiting, key=lambda r: r.arrival)


def order_lpm(waiting: list[Req], cache: PrefixCache) -> list[Req]:
    matched = {id(r): len(cache.match_prefix(r.all_ids[: r.max_prefix_match()]).slots) for r in waiting}
    return sorted(waiting, key=lambda r: (-matched[id(r)], r.arrival))


def order_dfs_weight(waiting: list[Req], cache: PrefixCache) -> list[Req]:
    """Depth-first over a trie of the waiting prompts, heaviest subtree (most requests)
    first, so requests that share prefixes run back to back."""
    children: dict[tuple, set[tuple]] = defaultdict(set)
    weight: dict[tuple, int] = defaultdict(int)
    at_node: dict[tuple, list[Req]] = defaultdict(list)
    for req in sorted(waiting, key=lambda r: r.arrival):
        key = tuple(req.all_ids[:_DFS_PREFIX_TOKENS])
        at_node[key].append(req)
        for depth in range(0, len(key) + 1, 16):
            node = key[:depth]
            weight[node] += 1
            nxt = key[: min(depth + 16, len(key))]
            if nxt != node:
                children[node].add(nxt)
    out: list[Req] = []
    stack: list[tuple] = [()]
    while stack:
        node = stack.pop()
        out.extend(at_node.pop(node, []))
        stack.extend(sorted(children[node], key=lambda c: weight[c]))
    return out


POLICIES: dict[str, Callable[[list[Req], PrefixCache], list[Req]]] = {
    "fcfs": order_fcfs,
    "lpm": order_lpm,
    "dfs-weight": order_dfs_weight,
}


def shared_uncached_prefix(a: list[int], b: list[int], cached: int) -> int:
    """Tokens past ``cached`` that ``a`` and ``b`` have in common at their start."""
    n = min(len(a), len(b))
    i = cached
    while i < n and a[i] == b[i]:
        i += 1
    return i - cached
