"""Routing policies: pick one worker for a request, by name from ``POLICIES``.

A policy sees the healthy workers (anything with ``url`` and ``load``, the requests the
router has outstanding on it) and the request's routing text, and returns the worker and a
decision label (counted in ``/metrics``). Names and rules follow sglang-router.
"""
from __future__ import annotations

import random
from abc import ABC, abstractmethod
from typing import Protocol, Sequence

from .config import RouterConfig
from .radix_tree import ApproxTree


class WorkerView(Protocol):
    url: str
    load: int


class Policy(ABC):
    name: str = ""

    @abstractmethod
    def select(self, workers: Sequence[WorkerView], text: str) -> tuple[WorkerView, str]:
        """The worker for a request with this routing text, and the decision's label.
        ``workers`` is non-empty and holds only healthy workers."""

    def remove_worker(self, url: str) -> None:
        """Forget what the policy knows of a worker (dropped, or its cache flushed)."""

    def reset(self) -> None:
        """Forget everything learned (every worker's cache was flushed)."""


def shortest_queue(workers: Sequence[WorkerView]) -> WorkerView:
    """The least loaded worker; the first such one in order on ties."""
    return min(workers, key=lambda w: w.load)


class RoundRobin(Policy):
    name = "round_robin"

    def __init__(self, config: RouterConfig | None = None) -> None:
        self._next = 0

    def select(self, workers, text):
        worker = workers[self._next % len(workers)]
        self._next += 1
        return worker, "round_robin"


class RandomPolicy(Policy):
    name = "random"

    def __init__(self, config: RouterConfig | None = None, seed: int | None = None) -> None:
        self._rng = random.Random(seed)

    def select(self, workers, text):
        return self._rng.choice(list(workers)), "random"


class ShortestQueue(Policy):
    name = "shortest_queue"

    def __init__(self, config: RouterConfig | None = None) -> None:
        pass

    def select(self, workers, text):
        return shortest_queue(workers), "shortest_queue"


class CacheAware(Policy):
    """sglang-router's cache-aware load balancing.

    Imbalanced load (``max - min > balance_abs_threshold`` and ``max > min *
    balance_rel_threshold``): the shortest queue. Otherwise the worker whose approximate tree
    holds the longest prefix of the text, if that prefix is more than ``cache_threshold`` of
    it; else the worker with the smallest tree (the most room). The text then goes into the
    chosen worker's tree, which is kept under ``max_tree_size`` characters (LRU leaves go).
    """

    name = "cache_aware"

    def __init__(self, config: RouterConfig | None = None) -> None:
        config = config or RouterConfig()
        self.cache_threshold = config.cache_threshold
        self.abs_threshold = config.balance_abs_threshold
        self.rel_threshold = config.balance_rel_threshold
        self.max_tree_size = config.max_tree_size
        self.trees: dict[str, ApproxTree] = {}

    def imbalanced(self, workers: Sequence[WorkerView]) -> bool:
        loads = [w.load for w in workers]
        high, low = max(loads), min(loads)
        return high - low > self.abs_threshold and high > low * self.rel_threshold

    def select(self, workers, text):
        trees = [self.trees.setdefault(w.url, ApproxTree()) for w in workers]
        if self.imbalanced(workers):
            worker, decision = shortest_queue(workers), "shortest_queue"
        else:
            matched = [tree.match(text) for tree in trees]
            best = max(range(len(workers)), key=lambda i: (matched[i], -workers[i].load))
            if text and matched[best] / len(text) > self.cache_threshold:
                worker, decision = workers[best], "cache_hit"
            else:
                smallest = min(range(len(workers)), key=lambda i: (trees[i].size, workers[i].load))
                worker, decision = workers[smallest], "cache_miss"
        tree = self.trees[worker.url]
        tree.insert(text)
        tree.evict(self.max_tree_size)
        return worker, decision

    def remove_worker(self, url: str) -> None:
        self.trees.pop(url, None)

    def reset(self) -> None:
        self.trees.clear()


POLICIES: dict[str, type[Policy]] = {p.name: p for p in (CacheAware, RoundRobin, ShortestQueue, RandomPolicy)}


def make_policy(config: RouterConfig) -> Policy:
    return POLICIES[config.policy](config)
