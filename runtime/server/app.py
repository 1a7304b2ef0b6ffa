"""The FastAPI app: routes of the native and OpenAI APIs, auth, errors and metrics.

Request bodies are read as JSON whatever their Content-Type says (``curl -d`` sends
``application/x-www-form-urlencoded``), as SGLang's own server does; a body that is not
JSON gets a 400 saying so.
"""
from __future__ import annotations

import dataclasses
import hmac
import importlib.metadata
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import serving_chat, serving_completions, serving_native
from .engine_client import EngineUnavailable
from .errors import APIError, validation_error
from .protocol_native import (AbortRequestBody, ConcatAppendRequest, DetokenizeRequest, GenerateRequest,
                              TokenizeRequest)
from .protocol_openai import ChatCompletionRequest, CompletionRequest
from .tokenizer_manager import GenerateInput, TokenizerManager

logger = logging.getLogger("sglike.server")
_OPEN_PATHS = ("/health", "/metrics")
_JSON = b"application/json"
_SENT_CONTENT_TYPE = "sglike.sent_content_type"  # scope key: the Content-Type a client sent


def _version() -> str:
    try:
        return importlib.metadata.version("sglike")
    except importlib.metadata.PackageNotFoundError:
        return "0.1.0"


@dataclass
class ServerState:
    tm: TokenizerManager
    model_name: str
    model_path: str
    api_key: str | None = None
    started: float = field(default_factory=time.time)

    @property
    def model_aliases(self) -> set[str]:
        return {self.model_name, self.model_path, "default"}


def create_app(state: ServerState) -> FastAPI:
    version = _version()
    app = FastAPI(title="sglike", version=version)
    app.state.server = state
    tm = state.tm
    _install_error_handlers(app)

    app.add_middleware(_AuthAndCount, state=state)

    def check_model(model: str) -> None:
        if model not in state.model_aliases:
            raise APIError(404, f"model {model!r} not found; this server serves {state.model_name!r}",
                           param="model", code="model_not_found")

    # -- native ----------------------------------------------------------------------
    @app.post("/generate")
    async def generate(body: GenerateRequest, request: Request) -> Response:
        return await serving_native.generate(tm, body, request)

    @app.get("/health")
    async def health() -> Response:
        if not tm.engine.alive:
            return APIError(503, tm.engine.status, retry_after=5).response()
        return Response(status_code=200)

    @app.get("/health_generate")
    async def health_generate() -> Response:
        reqs = tm.build([GenerateInput(prompt=[0], sampling_params={"max_new_tokens": 1})])
        async for _ in tm.generate(reqs):
            pass
        return Response(status_code=200)

    @app.get("/model_info")
    @app.get("/get_model_info")
    async def get_model_info() -> dict[str, Any]:
        tok = tm.tokenizer
        return {"model_path": state.model_path, "tokenizer_path": tm.config.tokenizer_path or state.model_path,
                "is_generation": True, "served_model_name": state.model_name,
                "context_length": tm.engine.info.get("context_length"),
                "chat_template": getattr(tok, "chat_template", None),
                "bos_token": getattr(tok, "bos_token", None), "eos_token": getattr(tok, "eos_token", None)}

    @app.post("/tokenize")
    async def tokenize(body: TokenizeRequest) -> dict[str, Any]:
        tokens = tm.tokenizer.encode(body.prompt, add_special_tokens=body.add_special_tokens)
        return {"tokens": tokens, "count": len(tokens), "max_model_len": tm.engine.info.get("context_length")}

    @app.post("/detokenize")
    async def detokenize(body: DetokenizeRequest) -> dict[str, Any]:
        vocab = len(tm.tokenizer)
        bad = [t for t in body.tokens if not 0 <= t < vocab]
        if bad:
            raise APIError(400, f"tokens: id {bad[0]} is outside the vocabulary (0..{vocab - 1})", param="tokens")
        return {"text": tm.tokenizer.decode(body.tokens, skip_special_tokens=body.skip_special_tokens)}

    @app.get("/server_info")
    @app.get("/get_server_info")
    async def get_server_info() -> dict[str, Any]:
        stats = await _stats(tm)
        config = dataclasses.asdict(tm.config)
        return {**config, "served_model_name": state.model_name, "version": version,
                "context_length": tm.engine.info.get("context_length"),
                "internal_states": [stats], **stats}

    @app.get("/version")
    async def get_version() -> dict[str, Any]:
        return {"version": version}

    @app.post("/concate_and_append_request")
    async def concate_and_append_request(body: ConcatAppendRequest) -> dict[str, Any]:
        """SGLang's fork join (``RuntimeEndpoint.concatenate_and_append``). Its frontend has
        already appended the forks' texts and committed each fork with a zero-token request,
        which left those prefixes in the radix cache, where the next request finds them; so
        there is nothing to move, only to answer."""
        return {"success": True, "dst_rid": body.dst_rid, "src_rids": body.src_rids}

    @app.post("/flush_cache")
    async def flush_cache() -> Response:
        ok = await _control(tm, "flush_cache")
        if not ok:
            return PlainTextResponse("cache not flushed: requests are running", status_code=400)
        return PlainTextResponse("Cache flushed.", status_code=200)

    @app.post("/abort_request")
    async def abort_request(body: AbortRequestBody) -> Response:
        rids = tm.engine.open_rids() if body.abort_all else [body.rid]
        for rid in rids:
            tm.engine.abort(rid)
        return Response(status_code=200)

    @app.get("/metrics")
    async def metrics() -> Response:
        if tm.engine.alive:
            try:
                tm.metrics.set_engine_stats(await tm.engine.control("stats", timeout_s=5))
            except Exception as exc:  # scraping must work even when the engine is slow
                logger.warning("metrics: no engine stats: %s", exc)
        tm.metrics.model_name = state.model_name  # the sglang:* metrics' label
        return Response(tm.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    # -- OpenAI ----------------------------------------------------------------------
    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": state.model_name, "object": "model",
                                            "created": int(state.started), "owned_by": "sglike",
                                            "root": state.model_path}]}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str) -> dict[str, Any]:
        check_model(model_id)
        return {"id": state.model_name, "object": "model", "created": int(state.started), "owned_by": "sglike"}

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request) -> Response:
        check_model(body.model)
        return await serving_completions.create_completion(tm, body, state.model_name, request)

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
        check_model(body.model)
        return await serving_chat.create_chat_completion(tm, body, state.model_name, request)

    return app


class _AuthAndCount:
    """Pure ASGI middleware (keeps disconnect detection and streaming intact): checks the
    API key, reads every request body as JSON (see the module docstring) and counts
    responses by route and status."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        _json_body(scope)

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        key = self.state.api_key
        if key and scope["path"] not in _OPEN_PATHS and not _authorized(Headers(scope=scope), key):
            await APIError(401, "invalid or missing API key").response()(scope, receive, send_and_note)
        else:
            await self.app(scope, receive, send_and_note)
        route = getattr(scope.get("route"), "path", "unmatched")
        self.state.tm.metrics.http_requests.labels(route, str(status)).inc()


def _json_body(scope: Scope) -> None:
    """Mark a body-carrying request as JSON, remembering what the client said it was."""
    if scope["method"] not in ("POST", "PUT", "PATCH"):
        return
    sent = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
    if b"json" in sent.lower():
        return
    scope[_SENT_CONTENT_TYPE] = sent.decode("latin-1") or None
    scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"content-type"] + [(b"content-type", _JSON)]


def _authorized(headers: Headers, key: str) -> bool:
    header = headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else headers.get("x-api-key", "")
    return hmac.compare_digest(token.encode(), key.encode())


async def _control(tm: TokenizerManager, kind: str) -> Any:
    try:
        return await tm.engine.control(kind)
    except EngineUnavailable as exc:
        raise APIError(503, f"engine is not available: {exc}", retry_after=5)


async def _stats(tm: TokenizerManager) -> dict[str, Any]:
    stats = await _control(tm, "stats")
    tm.metrics.set_engine_stats(stats)
    return stats


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def api_error(_: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error(list(exc.errors()), request.scope.get(_SENT_CONTENT_TYPE)).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return APIError(exc.status_code, str(exc.detail)).response()

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("internal error: %s", exc)
        return APIError(500, f"internal error: {type(exc).__name__}").response()
