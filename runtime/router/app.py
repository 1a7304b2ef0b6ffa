"""The router's FastAPI app: the workers' native and OpenAI routes, forwarded.

Generation (``/generate``, ``/v1/completions``, ``/v1/chat/completions``) is routed by the
policy, with retries; model and tokenizer questions go to any healthy worker;
``/flush_cache`` and ``/abort_request`` go to every worker; ``/get_server_info`` sums the
workers'; ``/health``, ``/metrics`` and the worker list (``/list_workers``,
``/add_worker?url=``, ``/remove_worker?url=`` as sglang-router's) are the router's own.
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from typing import Any, AsyncIterator

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..server.errors import APIError
from .proxy import Incoming, Router, aggregate_server_info

logger = logging.getLogger("sglike.router")
_OPEN_PATHS = ("/health", "/metrics")
_ROUTED = ("/generate", "/v1/completions", "/v1/chat/completions")
_ANY_WORKER_GET = ("/v1/models", "/v1/models/{model_id:path}", "/get_model_info", "/model_info", "/version",
                   "/health_generate")
_ANY_WORKER_POST = ("/tokenize", "/detokenize", "/concate_and_append_request")


async def _incoming(request: Request, route: str) -> Incoming:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Incoming(route=route, method=request.method, path=path, headers=dict(request.headers),
                    body=await request.body())


def create_app(router: Router, *, wait_for_workers: bool = True) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if wait_for_workers:
            await router.pool.wait_ready(router.config.worker_startup_timeout_secs)
        checks = asyncio.create_task(router.pool.run_health_checks())
        try:
            yield
        finally:
            checks.cancel()
            await router.aclose()

    app = FastAPI(title="sglike router", lifespan=lifespan)
    app.state.router = router
    app.add_middleware(_AuthAndCount, router=router)

    @app.exception_handler(APIError)
    async def api_error(_: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    for route in _ROUTED:
        async def routed(request: Request, route: str = route) -> Response:
            return await router.forward(await _incoming(request, route))
        app.add_api_route(route, routed, methods=["POST"])

    for route in _ANY_WORKER_GET + _ANY_WORKER_POST:
        async def any_worker(request: Request, route: str = route) -> Response:
            return await router.any_worker(await _incoming(request, route))
        app.add_api_route(route, any_worker, methods=["GET"] if route in _ANY_WORKER_GET else ["POST"])

    @app.get("/health")
    async def health() -> Response:
        if not router.pool.healthy():
            raise router.no_worker_error()
        return Response(status_code=200)

    @app.get("/get_server_info")
    @app.get("/server_info")
    async def get_server_info(request: Request) -> dict[str, Any]:
        answers = await router.broadcast(await _incoming(request, "/get_server_info"))
        infos = [(w, r.json()) for w, r in answers if isinstance(r, httpx.Response) and r.status_code == 200]
        if not infos:
            raise APIError(503, "no worker answered /get_server_info", retry_after=5)
        return aggregate_server_info(infos)

    @app.post("/flush_cache")
    async def flush_cache(request: Request) -> Response:
        answers = await router.broadcast(await _incoming(request, "/flush_cache"))
        router.policy.reset()  # the workers' caches are empty: so are the router's guesses
        failed = [f"{w.url}: {r if isinstance(r, Exception) else r.text}" for w, r in answers
                  if not isinstance(r, httpx.Response) or r.status_code != 200]
        if failed:
            return PlainTextResponse("cache not flushed on every worker: " + "; ".join(failed), status_code=400)
        return PlainTextResponse(f"Cache flushed on {len(answers)} workers.", status_code=200)

    @app.post("/abort_request")
    async def abort_request(request: Request) -> Response:
        await router.broadcast(await _incoming(request, "/abort_request"))
        return Response(status_code=200)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(router.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/list_workers")
    async def list_workers() -> dict[str, Any]:
        return {"policy": router.policy.name,
                "workers": [{"url": w.url, "healthy": w.healthy, "load": w.load} for w in router.pool.workers]}

    @app.post("/add_worker")
    async def add_worker(url: str) -> Response:
        if not url.startswith(("http://", "https://")):
            raise APIError(400, f"url must start with http:// or https://; got {url!r}", param="url")
        worker = router.pool.add(url)
        if not await router.pool.check(worker):
            router.pool.drop(worker, "not healthy when added")
        return PlainTextResponse(f"Successfully added worker: {worker.url}")

    @app.post("/remove_worker")
    async def remove_worker(url: str) -> Response:
        if not router.pool.remove(url):
            raise APIError(404, f"no worker {url!r}", param="url")
        return PlainTextResponse(f"Successfully removed worker: {url.rstrip('/')}")

    return app


class _AuthAndCount:
    """Pure ASGI middleware (streaming and disconnects stay intact): the API key, and a
    count of the router's responses by route and status."""

    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app, self.router = app, router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_and_note(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        key = self.router.config.api_key
        if key and scope["path"] not in _OPEN_PATHS and not _authorized(Headers(scope=scope), key):
            await APIError(401, "invalid or missing API key").response()(scope, receive, send_and_note)
        else:
            await self.app(scope, receive, send_and_note)
        route = getattr(scope.get("route"), "path", "unmatched")
        self.router.metrics.responses.labels(route, str(status)).inc()


def _authorized(headers: Headers, key: str) -> bool:
    header = headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else headers.get("x-api-key", "")
    return hmac.compare_digest(token.encode(), key.encode())
