"""Helpers shared by the native and OpenAI handlers: SSE framing, collecting a whole
generation, turning engine aborts into HTTP errors, and watching for client disconnects."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse

from .errors import APIError, param_from_message
from .tokenizer_manager import Chunk, GenerateInput, TokenizerManager

T = TypeVar("T")
DONE = "data: [DONE]\n\n"
_DISCONNECT_POLL_S = 0.5


def sse(data: Any) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def build(tm: TokenizerManager, inputs: list[GenerateInput]) -> list[Any]:
    """``tm.build`` after the checks that need the vocabulary size (``logit_bias`` ids)."""
    vocab = len(tm.tokenizer)
    for inp in inputs:
        bias = inp.sampling_params.get("logit_bias") if isinstance(inp.sampling_params, dict) else None
        for key in bias if isinstance(bias, dict) else ():
            if str(key).lstrip("-").isdigit() and not 0 <= int(key) < vocab:
                raise APIError(400, f"logit_bias: token id {key} is outside the vocabulary (0..{vocab - 1})",
                               param="logit_bias")
    return tm.build(inputs)


def abort_error(chunk: Chunk) -> APIError | None:
    """The HTTP error for a sequence the engine refused (bad grammar, prompt too long...)."""
    reason = chunk.output.finish_reason
    if not chunk.finished or reason is None or reason.type != "abort" or not reason.message:
        return None
    if chunk.output.completion_tokens:
        return None
    if reason.message.startswith("engine failed"):
        return APIError(503, reason.message, retry_after=5)
    return APIError(400, reason.message, param=param_from_message(reason.message))


async def first_chunk(chunks: AsyncIterator[Chunk]) -> Chunk | None:
    """Wait for the first chunk so a refused request still gets a proper status code."""
    try:
        chunk = await chunks.__anext__()
    except StopAsyncIteration:
        return None
    err = abort_error(chunk)
    if err is not None:
        await chunks.aclose()
        raise err
    return chunk


async def with_first(first: Chunk | None, rest: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    if first is not None:
        yield first
    async for chunk in rest:
        yield chunk


def sse_response(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@dataclass
class SequenceResult:
    """Everything one sequence produced, gathered from its chunks."""

    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[tuple[float, int]] = field(default_factory=list)
    top_logprobs: list[list[tuple[float, int]]] = field(default_factory=list)
    input_logprobs: list[tuple[float | None, int]] = field(default_factory=list)  # prompt tokens
    input_top_logprobs: list[list[tuple[float, int]] | None] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    finish_reason: str | None = None
    matched: Any = None
    result: dict | None = None

    def add(self, chunk: Chunk) -> None:
        out = chunk.output
        self.text += chunk.delta
        self.token_ids += chunk.new_token_ids
        self.logprobs += out.output_token_logprobs
        self.top_logprobs += out.output_top_logprobs
        self.input_logprobs += out.input_token_logprobs
        self.input_top_logprobs += out.input_top_logprobs
        self.prompt_tokens, self.completion_tokens = out.prompt_tokens, out.completion_tokens
        self.cached_tokens = out.cached_tokens
        if chunk.finished:
            self.result = chunk.result
            self.finish_reason = out.finish_reason.type if out.finish_reason else "stop"
            self.matched = out.finish_reason.matched if out.finish_reason else None
            if self.result is not None:
                self.text = self.result.get("text", self.text)


async def collect(chunks: AsyncIterator[Chunk], num: int) -> list[SequenceResult]:
    """Run a whole generation; the first refused sequence becomes the HTTP error."""
    results = [SequenceResult() for _ in range(num)]
    async for chunk in chunks:
        err = abort_error(chunk)
        if err is not None:
            await chunks.aclose()
            raise err
        results[chunk.index].add(chunk)
    return results


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``, cancelling it (which aborts its requests) if the client goes away."""
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=_DISCONNECT_POLL_S)
        if done:
            return task.result()
        if await request.is_disconnected():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
            raise APIError(499, "client disconnected")
