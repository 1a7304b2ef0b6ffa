"""Prometheus metrics of the router (its own registry: no process-global state)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class RouterMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter("sglike_router_requests", "Requests sent to a worker (each try counts)",
                                ["worker", "route"], registry=r)
        self.responses = Counter("sglike_router_responses", "Responses the router returned, by route and status",
                                 ["route", "status"], registry=r)
        self.retries = Counter("sglike_router_retries", "Requests tried again on another worker",
                               ["route"], registry=r)
        self.worker_errors = Counter("sglike_router_worker_errors",
                                     "Tries that failed on a worker (connection, broken stream, 502/503/504)",
                                     ["worker"], registry=r)
        self.decisions = Counter("sglike_router_policy_decisions", "Routing decisions by policy and kind",
                                 ["policy", "decision"], registry=r)
        self.worker_healthy = Gauge("sglike_router_worker_healthy", "1 when the worker takes requests",
                                    ["worker"], registry=r)
        self.worker_load = Gauge("sglike_router_worker_load", "Requests outstanding on the worker",
                                 ["worker"], registry=r)
        self.no_worker = Counter("sglike_router_no_worker", "Requests answered 503: no healthy worker",
                                 registry=r)
        self.latency = Histogram("sglike_router_request_latency_seconds", "Routed request latency (to the last byte)",
                                 ["route"], buckets=_LATENCY_BUCKETS, registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
