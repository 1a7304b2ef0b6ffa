"""The worker pool: each worker's URL, health and outstanding requests; health checks.

A worker is dropped (``healthy = False``) when a request to it cannot connect or breaks
off, or after ``health_failure_threshold`` failed ``GET /health`` checks in a row; a
dropped worker keeps being checked and comes back after ``health_success_threshold`` good
checks in a row. Dropping a worker makes the policy forget its tree.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable

import httpx

from .config import RouterConfig
from .metrics import RouterMetrics

logger = logging.getLogger("sglike.router")


@dataclass(eq=False)
class Worker:
    url: str
    healthy: bool = True
    load: int = 0  # requests the router has outstanding on this worker
    failures: int = 0  # consecutive failed health checks
    successes: int = 0  # consecutive good health checks while dropped


class WorkerPool:
    def __init__(self, config: RouterConfig, client: httpx.AsyncClient, metrics: RouterMetrics,
                 on_drop: Callable[[str], None] = lambda url: None) -> None:
        self.config, self.client, self.metrics, self.on_drop = config, client, metrics, on_drop
        self.workers: list[Worker] = []
        for url in config.worker_urls:
            self.add(url)

    def healthy(self) -> list[Worker]:
        return [w for w in self.workers if w.healthy]

    def get(self, url: str) -> Worker | None:
        return next((w for w in self.workers if w.url == url), None)

    def add(self, url: str) -> Worker:
        url = url.rstrip("/")
        worker = self.get(url)
        if worker is None:
            worker = Worker(url)
            self.workers.append(worker)
        self.metrics.worker_healthy.labels(url).set(1 if worker.healthy else 0)
        return worker

    def remove(self, url: str) -> bool:
        worker = self.get(url.rstrip("/"))
        if worker is None:
            return False
        self.workers.remove(worker)
        self.on_drop(worker.url)
        self.metrics.worker_healthy.labels(worker.url).set(0)
        return True

    def drop(self, worker: Worker, why: str) -> None:
        """Take a worker out of routing until its health checks pass again."""
        if worker.healthy:
            logger.warning("worker %s dropped: %s", worker.url, why)
            worker.healthy = False
            self.on_drop(worker.url)
            self.metrics.worker_healthy.labels(worker.url).set(0)
        worker.successes = 0

    def _restore(self, worker: Worker) -> None:
        logger.info("worker %s is healthy again", worker.url)
        worker.healthy, worker.failures = True, 0
        self.metrics.worker_healthy.labels(worker.url).set(1)

    async def check(self, worker: Worker) -> bool:
        """One ``GET /health``; updates the worker's state; returns whether it answered 200."""
        try:
            r = await self.client.get(f"{worker.url}/health", timeout=self.config.health_check_timeout_secs)
            ok = r.status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok:
            worker.failures = 0
            if not worker.healthy:
                worker.successes += 1
                if worker.successes >= self.config.health_success_threshold:
                    self._restore(worker)
        else:
            worker.failures += 1
            worker.successes = 0
            if worker.healthy and worker.failures >= self.config.health_failure_threshold:
                self.drop(worker, f"{worker.failures} failed health checks")
        return ok

    async def check_all(self) -> None:
        await asyncio.gather(*(self.check(w) for w in list(self.workers)))

    async def wait_ready(self, timeout_s: float) -> None:
        """At start: wait until every worker answers /health (those that never do start dropped)."""
        deadline = time.monotonic() + timeout_s
        pending, said = list(self.workers), 0.0
        while pending and time.monotonic() < deadline:
            results = await asyncio.gather(*(self._probe(w) for w in pending))
            pending = [w for w, ok in zip(pending, results) if not ok]
            if pending and time.monotonic() - said > 10:
                said = time.monotonic()
                logger.info("waiting for workers to answer /health: %s", " ".join(w.url for w in pending))
            if pending:
                await asyncio.sleep(0.5)
        for worker in pending:
            self.drop(worker, f"not healthy within {timeout_s:.0f}s of the router's start")

    async def _probe(self, worker: Worker) -> bool:
        try:
            r = await self.client.get(f"{worker.url}/health", timeout=self.config.health_check_timeout_secs)
            return r.status_code == 200
        except httpx.HTTPError:
            return False

    async def run_health_checks(self) -> None:
        """Forever: check every worker each ``health_check_interval_secs``."""
        while True:
            await asyncio.sleep(self.config.health_check_interval_secs)
            try:
                await self.check_all()
            except Exception as exc:  # the loop must outlive any one bad check
                logger.exception("health check failed: %s", exc)
