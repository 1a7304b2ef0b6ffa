"""Routing policies on plain worker views (no HTTP)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from sglike.runtime.router.config import RouterConfig
from sglike.runtime.router.policy import POLICIES, CacheAware, RoundRobin, ShortestQueue, make_policy


@dataclass(eq=False)
class W:
    url: str
    load: int = 0


def _workers(n: int = 2) -> list[W]:
    return [W(f"http://w{i}") for i in range(n)]


PREFIX_A = "You are a helpful travel agent. " * 10
PREFIX_B = "Translate the following into French. " * 10


def test_registry_names_every_policy():
    assert set(POLICIES) == {"cache_aware", "round_robin", "shortest_queue", "random"}
    for name in POLICIES:
        assert make_policy(RouterConfig(policy=name)).name == name


def test_cache_aware_sends_a_shared_prefix_to_the_worker_holding_it():
    policy, workers = CacheAware(), _workers(2)
    first_a, how = policy.select(workers, PREFIX_A + "question 0")
    assert how == "cache_miss"
    first_b, how = policy.select(workers, PREFIX_B + "text 0")
    assert how == "cache_miss" and first_b is not first_a  # the other worker: the smaller tree
    for i in range(1, 6):
        for prefix, home in ((PREFIX_A, first_a), (PREFIX_B, first_b)):
            worker, how = policy.select(workers, prefix + f"item {i}")
            assert (worker, how) == (home, "cache_hit")


def test_cache_aware_below_the_threshold_goes_to_the_smallest_tree():
    policy, workers = CacheAware(RouterConfig(cache_threshold=0.9)), _workers(2)
    home, _ = policy.select(workers, "abcdefghij" * 10)
    other, how = policy.select(workers, "abcdefghij" * 5 + "z" * 50)  # 50% match < 0.9
    assert how == "cache_miss" and other is not home


def test_cache_aware_switches_to_shortest_queue_when_imbalanced():
    policy, workers = CacheAware(RouterConfig(balance_abs_threshold=4, balance_rel_threshold=1.5)), _workers(2)
    home, _ = policy.select(workers, PREFIX_A)
    home.load = 5  # 5 - 0 > 4 and 5 > 0 * 1.5: imbalanced
    worker, how = policy.select(workers, PREFIX_A + "more")
    assert how == "shortest_queue" and worker is not home
    home.load, worker.load = 5, 2  # 5 - 2 = 3: within the absolute threshold, balanced again
    worker, how = policy.select(workers, PREFIX_A + "more and more")
    assert how == "cache_hit" and worker is not home  # the text the shortest queue took went there


def test_imbalance_needs_both_thresholds():
    policy = CacheAware(RouterConfig(balance_abs_threshold=32, balance_rel_threshold=1.5))
    assert policy.imbalanced([W("a", 100), W("b", 60)]) is True
    assert policy.imbalanced([W("a", 100), W("b", 80)]) is False  # only 1.25x
    assert policy.imbalanced([W("a", 30), W("b", 0)]) is False  # only 30 apart


def test_cache_aware_tree_is_bounded_and_forgets_a_dropped_worker():
    policy, workers = CacheAware(RouterConfig(max_tree_size=100)), _workers(2)
    for i in range(50):
        policy.select(workers, f"{i:03d}" + "x" * 40)
    assert all(tree.size <= 100 for tree in policy.trees.values())
    policy.remove_worker(workers[0].url)
    assert workers[0].url not in policy.trees
    policy.reset()
    assert not policy.trees


def test_round_robin_cycles():
    policy, workers = RoundRobin(), _workers(3)
    assert [policy.select(workers, "t")[0].url for _ in range(6)] == [w.url for w in workers] * 2


def test_shortest_queue_picks_the_least_loaded():
    workers = _workers(3)
    workers[0].load, workers[1].load, workers[2].load = 3, 1, 2
    assert ShortestQueue().select(workers, "t") == (workers[1], "shortest_queue")


@pytest.mark.parametrize("kwargs", [dict(policy="nope"), dict(cache_threshold=1.5), dict(balance_rel_threshold=0.5),
                                    dict(worker_urls=("localhost:1",))])
def test_config_refuses_bad_values(kwargs):
    with pytest.raises(ValueError):
        RouterConfig(**kwargs)
