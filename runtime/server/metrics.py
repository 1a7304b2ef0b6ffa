"""Prometheus metrics of one server (own registry: no process-global state).

Each ``sglike_*`` metric is also exported under SGLang's name (``sglang:*``, with a
``model_name`` label) so dashboards built for SGLang work unchanged; ``SGLANG_NAMES`` is
the map. ``sglang:time_per_output_token_seconds`` is observed per output token (the same
samples as ``sglang:inter_token_latency_seconds``), not once per request.
"""
from __future__ import annotations

from typing import Any, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_ITL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.0)
# ServerMetrics attribute -> SGLang's metric names for the same samples
SGLANG_NAMES: dict[str, tuple[str, ...]] = {
    "requests": ("sglang:num_requests",),
    "prompt_tokens": ("sglang:prompt_tokens",),
    "generation_tokens": ("sglang:generation_tokens",),
    "cached_tokens": ("sglang:cached_tokens",),
    "running": ("sglang:num_running_reqs",),
    "queued": ("sglang:num_queue_reqs",),
    "kv_used": ("sglang:num_used_tokens",),
    "kv_total": ("sglang:max_total_num_tokens",),
    "kv_usage": ("sglang:token_usage",),
    "cache_hit_rate": ("sglang:cache_hit_rate",),
    "spec_accept_length": ("sglang:spec_accept_length",),
    "ttft": ("sglang:time_to_first_token_seconds",),
    "itl": ("sglang:inter_token_latency_seconds", "sglang:time_per_output_token_seconds"),
    "e2e": ("sglang:e2e_request_latency_seconds",),
}


class ServerMetrics:
    def __init__(self, model_name: str = "") -> None:
        self.model_name = model_name  # the sglang:* metrics' model_name label
        self.registry = r = CollectorRegistry()
        self.requests = Counter("sglike_requests", "Finished generation requests (sequences)",
                                ["finish_reason"], registry=r)
        self.http_requests = Counter("sglike_http_requests", "HTTP requests by route and status",
                                     ["route", "status"], registry=r)
        self.prompt_tokens = Counter("sglike_prompt_tokens", "Prompt tokens processed", registry=r)
        self.generation_tokens = Counter("sglike_generation_tokens", "Tokens generated", registry=r)
        self.cached_tokens = Counter("sglike_cached_tokens", "Prompt tokens served from the prefix cache",
                                     registry=r)
        self.running = Gauge("sglike_num_running_requests", "Requests in the running batch", registry=r)
        self.queued = Gauge("sglike_num_queued_requests", "Requests waiting to be scheduled", registry=r)
        self.kv_used = Gauge("sglike_kv_used_tokens", "KV pool slots in use", registry=r)
        self.kv_total = Gauge("sglike_kv_total_tokens", "KV pool capacity in tokens", registry=r)
        self.kv_usage = Gauge("sglike_kv_usage_ratio", "Fraction of the KV pool in use", registry=r)
        self.cache_hit_rate = Gauge("sglike_cache_hit_rate", "Prefix cache hit rate", registry=r)
        self.spec_accept_rate = Gauge("sglike_spec_accept_rate", "Speculative decoding: drafted tokens accepted / drafted",
                                      registry=r)
        self.spec_accept_length = Gauge("sglike_spec_accept_length",
                                        "Speculative decoding: mean tokens gained per verify forward", registry=r)
        self.ttft = Histogram("sglike_time_to_first_token_seconds", "Time to first token",
                              buckets=_LATENCY_BUCKETS, registry=r)
        self.itl = Histogram("sglike_inter_token_latency_seconds", "Time between output tokens",
                             buckets=_ITL_BUCKETS, registry=r)
        self.e2e = Histogram("sglike_e2e_request_latency_seconds", "End-to-end request latency",
                             buckets=_LATENCY_BUCKETS, registry=r)
        r.register(_SGLangNames(self))

    def set_engine_stats(self, stats: dict) -> None:
        """Update the gauges from ``Scheduler.stats()``."""
        self.running.set(stats.get("num_running", 0))
        self.queued.set(stats.get("num_waiting", 0))
        used, total = stats.get("kv_used_tokens", 0), stats.get("kv_total_tokens", 0)
        self.kv_used.set(used)
        self.kv_total.set(total)
        self.kv_usage.set(used / total if total else 0.0)
        self.cache_hit_rate.set(stats.get("cache_hit_rate", 0.0))
        self.spec_accept_rate.set(stats.get("spec_accept_rate", 0.0))
        self.spec_accept_length.set(stats.get("spec_accept_length", 0.0))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _SGLangNames:
    """A collector that re-emits the sglike metrics' samples under ``SGLANG_NAMES``."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        label = {"model_name": self.metrics.model_name}
        for attr, names in SGLANG_NAMES.items():
            for family in getattr(self.metrics, attr).collect():
                for name in names:
                    yield _renamed(family, name, label)


def _renamed(family: Any, name: str, extra_labels: dict[str, str]) -> Metric:
    out = Metric(name, family.documentation, family.type)
    for sample in family.samples:
        out.add_sample(name + sample.name[len(family.name):], {**sample.labels, **extra_labels}, sample.value)
    return out
