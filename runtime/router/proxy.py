"""Forwarding one request to a worker, with retries on another worker; broadcasts.

A try fails when the worker cannot be reached, breaks off before the response is complete,
or answers 502/503/504. A non-streaming request is then tried again on another worker (up
to ``retry_max_retries`` more tries). A streaming request is held until the worker's first
body bytes arrive, so it is retried as long as nothing has reached the client; once bytes
have gone out, a break ends the stream with an SSE error event. A worker that cannot be
reached or breaks off is dropped from routing at once (health checks bring it back).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable

import anyio
import httpx
from fastapi.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ..server.errors import APIError
from .config import RouterConfig
from .metrics import RouterMetrics
from .policy import make_policy
from .routing_text import is_streaming, routing_text
from .workers import Worker, WorkerPool

logger = logging.getLogger("sglike.router")
RETRY_STATUSES = frozenset({502, 503, 504})
WORKER_HEADER = "x-sglike-worker"  # which worker answered (for clients, tests and debugging)
_REQUEST_DROP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "trailer",
                 "upgrade", "accept-encoding", "proxy-authorization"}
_RESPONSE_DROP = {"content-length", "connection", "keep-alive", "transfer-encoding", "content-encoding", "date",
                  "server"}


@dataclass
class Incoming:
    """What the proxy needs of a client request."""
    route: str  # the router's route template (metrics label, routing text rule)
    method: str
    path: str  # path and query sent to the worker
    headers: dict[str, str]
    body: bytes = b""


class Router:
    def __init__(self, config: RouterConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.metrics = RouterMetrics()
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(config.request_timeout_secs, connect=5.0),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=256))
        self.policy = make_policy(config)
        self.pool = WorkerPool(config, self.client, self.metrics, on_drop=self.policy.remove_worker)

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- choosing ----------------------------------------------------------------------
    def no_worker_error(self) -> APIError:
        self.metrics.no_worker.inc()
        down = ", ".join(w.url for w in self.pool.workers) or "none configured"
        return APIError(503, f"no healthy worker to serve the request (workers: {down})", retry_after=5,
                        code="no_healthy_worker")

    def choose(self, text: str, tried: list[Worker]) -> Worker:
        healthy = self.pool.healthy()
        if not healthy:
            raise self.no_worker_error()
        candidates = [w for w in healthy if w not in tried] or healthy
        worker, decision = self.policy.select(candidates, text)
        self.metrics.decisions.labels(self.policy.name, decision).inc()
        return worker  # type: ignore[return-value]

    def _take(self, worker: Worker, route: str) -> None:
        worker.load += 1
        self.metrics.worker_load.labels(worker.url).set(worker.load)
        self.metrics.requests.labels(worker.url, route).inc()

    def _release(self, worker: Worker) -> None:
        worker.load -= 1
        self.metrics.worker_load.labels(worker.url).set(worker.load)

    def _failed(self, worker: Worker, why: str, drop: bool) -> None:
        self.metrics.worker_errors.labels(worker.url).inc()
        logger.warning("try on %s failed: %s", worker.url, why)
        if drop:
            self.pool.drop(worker, why)

    def upstream_headers(self, headers: dict[str, str]) -> dict[str, str]:
        out = {k: v for k, v in headers.items() if k.lower() not in _REQUEST_DROP}
        if self.config.api_key:
            out = {k: v for k, v in out.items() if k.lower() not in ("authorization", "x-api-key")}
            out["authorization"] = f"Bearer {self.config.api_key}"
        return out

    # -- routed requests ----------------------------------------------------------------
    async def forward(self, req: Incoming) -> Response:
        """Route a generation request by its text and forward it, retrying where allowed."""
        try:
            body = json.loads(req.body) if req.body else None
        except ValueError:
            body = None  # the worker answers the 400
        text, stream = routing_text(req.route, body), is_streaming(body)
        headers = self.upstream_headers(req.headers)
        started = time.perf_counter()
        tried: list[Worker] = []
        why = "no try made"
        for attempt in range(self.config.retry_max_retries + 1):
            if attempt:
                self.metrics.retries.labels(req.route).inc()
                await asyncio.sleep(min(2.0, self.config.retry_initial_backoff_ms / 1000 * 1.5 ** (attempt - 1)))
            worker = self.choose(text, tried)
            tried.append(worker)
            response, why = await self._try(worker, req, headers, stream, started)
            if response is not None:
                return response
        raise APIError(503, f"request failed on {len(tried)} tries: {why}", retry_after=5, code="worker_failed")

    async def _try(self, worker: Worker, req: Incoming, headers: dict[str, str], stream: bool,
                   started: float) -> tuple[Response | None, str]:
        """One try: the response to return, or None and why the try failed (worker released)."""
        self._take(worker, req.route)
        upstream: httpx.Response | None = None
        handed_off = done = False

        async def finish() -> None:  # exactly once: release the worker, close its response
            nonlocal done
            if not done:
                done = True
                self._release(worker)
                await _close(upstream)
                self.metrics.latency.labels(req.route).observe(time.perf_counter() - started)

        try:
            upstream = await self.client.send(
                self.client.build_request(req.method, worker.url + req.path, content=req.body, headers=headers),
                stream=True)
            if upstream.status_code in RETRY_STATUSES:
                await upstream.aread()
                why = f"{worker.url} answered {upstream.status_code}: {upstream.text[:200]}"
                self._failed(worker, why, drop=False)
                return None, why
            if not stream:
                content = await upstream.aread()
                return Response(content, upstream.status_code, headers=self._response_headers(upstream, worker)), ""
            chunks = upstream.aiter_bytes()
            first = await anext(chunks, b"")
            handed_off = True  # from here the response's own cleanup finishes the try
            relay = self._relay(upstream, chunks, first, worker, finish)
            return _Relayed(relay, upstream.status_code, self._response_headers(upstream, worker), finish), ""
        except httpx.ReadTimeout as exc:  # slow, not dead: no retry (it may still be running)
            self._failed(worker, f"{worker.url}: read timeout", drop=False)
            raise APIError(504, f"{worker.url} sent nothing for {self.config.request_timeout_secs:.0f}s: {exc}")
        except httpx.HTTPError as exc:
            why = f"{worker.url}: {type(exc).__name__}: {exc}"
            self._failed(worker, why, drop=True)
            return None, why
        finally:
            if not handed_off:
                await finish()

    async def _relay(self, upstream: httpx.Response, chunks: AsyncIterator[bytes], first: bytes,
                     worker: Worker, finish: Callable[[], Awaitable[None]]) -> AsyncIterator[bytes]:
        try:
            if first:
                yield first
            async for chunk in chunks:
                yield chunk
        except httpx.HTTPError as exc:
            why = f"{worker.url} broke off a stream: {type(exc).__name__}: {exc}"
            self._failed(worker, why, drop=not isinstance(exc, httpx.ReadTimeout))
            if "text/event-stream" in upstream.headers.get("content-type", ""):
                error = APIError(502, why + " (output so far was sent; not retried)").body()
                yield f"data: {json.dumps(error)}\n\n".encode()
        finally:
            await finish()

    @staticmethod
    def _response_headers(upstream: httpx.Response, worker: Worker) -> dict[str, str]:
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in _RESPONSE_DROP}
        out[WORKER_HEADER] = worker.url
        return out

    # -- requests that any worker, or every worker, answers --------------------------------
    async def any_worker(self, req: Incoming) -> Response:
        """Forward to one healthy worker (round the healthy ones on failure), no policy."""
        healthy = self.pool.healthy()
        if not healthy:
            raise self.no_worker_error()
        why = ""
        for worker in healthy:
            try:
                r = await self.client.request(req.method, worker.url + req.path, content=req.body,
                                              headers=self.upstream_headers(req.headers))
            except httpx.HTTPError as exc:
                why = f"{worker.url}: {type(exc).__name__}: {exc}"
                self._failed(worker, why, drop=True)
                continue
            return Response(r.content, r.status_code, headers=self._response_headers(r, worker))
        raise APIError(503, f"no worker answered: {why}", retry_after=5)

    async def broadcast(self, req: Incoming) -> list[tuple[Worker, httpx.Response | Exception]]:
        """Send to every healthy worker at once; each one's response or error."""
        healthy = self.pool.healthy()
        if not healthy:
            raise self.no_worker_error()
        headers = self.upstream_headers(req.headers)

        async def one(worker: Worker) -> httpx.Response | Exception:
            try:
                return await self.client.request(req.method, worker.url + req.path, content=req.body,
                                                 headers=headers)
            except httpx.HTTPError as exc:
                return exc

        return list(zip(healthy, await asyncio.gather(*(one(w) for w in healthy))))


class _Relayed(StreamingResponse):
    """A worker's stream, finished even when the client leaves before its body is iterated."""

    def __init__(self, content: AsyncIterator[bytes], status: int, headers: dict[str, str],
                 finish: Callable[[], Awaitable[None]]) -> None:
        super().__init__(content, status, headers=headers)
        self._finish = finish

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._finish()


async def _close(upstream: httpx.Response | None) -> None:
    """Close a worker's response, even while the client's request is being cancelled."""
    if upstream is not None:
        with anyio.CancelScope(shield=True):
            await upstream.aclose()


def aggregate_server_info(infos: list[tuple[Worker, dict[str, Any]]]) -> dict[str, Any]:
    """One ``/get_server_info`` over the workers: the first one's settings, the counters
    summed, each worker's own stats in ``internal_states`` (as SGLang's dp server) and
    ``workers``."""
    base = dict(infos[0][1])
    summed = ("requests", "prompt_tokens", "prompt_tokens_cached", "prefill_tokens", "generated_tokens",
              "decode_steps", "evicted_tokens", "retractions", "num_running", "num_waiting", "kv_total_tokens",
              "kv_used_tokens", "kv_cached_tokens")
    for key in summed:
        values = [info.get(key) for _, info in infos]
        if all(isinstance(v, (int, float)) for v in values):
            base[key] = sum(values)
    total = base.get("prompt_tokens", 0) + base.get("prompt_tokens_cached", 0)
    if "prompt_tokens_cached" in base:
        base["cache_hit_rate"] = base["prompt_tokens_cached"] / total if total else 0.0
    base["internal_states"] = [s for _, info in infos for s in info.get("internal_states", [info])]
    base["workers"] = [{"url": w.url, "load": w.load, **info} for w, info in infos]
    return base
