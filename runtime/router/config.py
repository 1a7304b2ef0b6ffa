"""Router configuration: one frozen dataclass, one place for every default.

Names follow sglang-router's ``RouterArgs``. Defaults: ``cache_threshold`` 0.5 and
``balance_abs_threshold`` 32 as sglang-router's first documented release,
``balance_rel_threshold`` 1.5 as its later ones. ``max_tree_size`` counts characters of one
worker's approximate tree (sglang-router counts nodes of its shared tree).
"""
from __future__ import annotations

from dataclasses import dataclass

POLICY_NAMES = ("cache_aware", "round_robin", "shortest_queue", "random")


@dataclass(frozen=True, kw_only=True)
class RouterConfig:
    worker_urls: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = 30000
    policy: str = "cache_aware"
    cache_threshold: float = 0.5  # prefix match ratio above which cache_aware follows the cache
    balance_abs_threshold: int = 32  # imbalanced when max_load - min_load > this ...
    balance_rel_threshold: float = 1.5  # ... and max_load > min_load * this
    max_tree_size: int = 2**24  # characters per worker's approximate tree; LRU leaves beyond it go
    health_check_interval_secs: float = 10.0
    health_check_timeout_secs: float = 5.0
    health_failure_threshold: int = 3  # consecutive failed checks before a worker is dropped
    health_success_threshold: int = 2  # consecutive good checks before a dropped worker is back
    worker_startup_timeout_secs: float = 600.0  # wait at start for every worker's /health
    retry_max_retries: int = 5  # tries on other workers after the first, for a retryable request
    retry_initial_backoff_ms: int = 50
    request_timeout_secs: float = 1800.0
    api_key: str | None = None  # required from clients and sent to the workers
    log_level: str = "info"

    def __post_init__(self) -> None:
        if self.policy not in POLICY_NAMES:
            raise ValueError(f"policy must be one of {', '.join(POLICY_NAMES)}; got {self.policy!r}")
        if not 0.0 <= self.cache_threshold <= 1.0:
            raise ValueError(f"cache_threshold must be in [0, 1]; got {self.cache_threshold}")
        if self.balance_abs_threshold < 0 or self.balance_rel_threshold < 1.0:
            raise ValueError("balance_abs_threshold must be >= 0 and balance_rel_threshold >= 1")
        if self.max_tree_size < 1:
            raise ValueError(f"max_tree_size must be >= 1; got {self.max_tree_size}")
        if self.retry_max_retries < 0:
            raise ValueError("retry_max_retries must be >= 0")
        bad = [u for u in self.worker_urls if not u.startswith(("http://", "https://"))]
        if bad:
            raise ValueError(f"worker URLs must start with http:// or https://; got {bad[0]!r}")
