"""OpenAI ``POST /v1/completions`` (prompt: text, texts, token ids or lists of them).

With ``echo`` and ``logprobs`` the prompt's tokens come first in ``choice.logprobs`` (the
first one's logprob is null, as OpenAI's): ``max_tokens=0`` scores a prompt.
"""
from __future__ import annotations

from typing import Any, AsyncIterator

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from .errors import APIError
from .openai_common import (TokenText, finish_reason, new_id, now, openai_error,
                            response_format_constraint, sampling_params, usage)
from .protocol_openai import CompletionRequest
from .serving_common import (DONE, SequenceResult, build, collect, first_chunk, sse, sse_response,
                             until_disconnect, with_first)
from .tokenizer_manager import Chunk, GenerateInput, TokenizerManager


def _prompts(req: CompletionRequest) -> list[str | list[int]]:
    p = req.prompt
    if isinstance(p, str):
        return [p]
    if not p:
        raise APIError(400, "prompt must not be empty", param="prompt")
    if isinstance(p[0], int):
        return [p]  # type: ignore[list-item]
    return list(p)  # type: ignore[arg-type]


def _inputs(req: CompletionRequest) -> list[GenerateInput]:
    if req.suffix:
        raise APIError(400, "suffix is not supported", param="suffix")
    params = sampling_params(req, req.max_tokens)
    constraint = ("json_schema", req.json_schema) if req.json_schema else response_format_constraint(req.response_format)
    if constraint is not None:
        params[constraint[0]] = constraint[1]
    want_lp = req.logprobs is not None
    start = 0 if want_lp and req.echo else -1
    return [GenerateInput(prompt=p, sampling_params=params, rid=req.rid if i == 0 else None,
                          return_logprob=want_lp, logprob_start_len=start,
                          top_logprobs_num=req.logprobs or 0, stream=req.stream)
            for i, p in enumerate(_prompts(req))]


class _Echo:
    """Prompt text per prompt, for ``echo``."""

    def __init__(self, tm: TokenizerManager, inputs: list[GenerateInput], enabled: bool) -> None:
        self.texts = [(i.prompt if isinstance(i.prompt, str) else tm.tokenizer.decode(i.prompt))
                      if enabled else "" for i in inputs]

    def __call__(self, index: int, n: int) -> str:
        return self.texts[index // n]


async def create_completion(tm: TokenizerManager, req: CompletionRequest, model: str,
                            request: Request) -> Response:
    try:
        return await _create(tm, req, model, request)
    except APIError as exc:
        raise openai_error(exc, "prompt", "max_tokens") from None


async def _create(tm: TokenizerManager, req: CompletionRequest, model: str, request: Request) -> Response:
    inputs = _inputs(req)
    reqs = build(tm, inputs)
    echo = _Echo(tm, inputs, req.echo)
    chunks = tm.generate(reqs)
    rid, created = new_id("cmpl"), now()
    tokens = TokenText(tm.tokenizer)
    if req.stream:
        first = await first_chunk(chunks)
        body = _stream(with_first(first, chunks), req, model, rid, created, len(reqs), echo, tokens)
        return sse_response(body)
    results = await until_disconnect(request, collect(chunks, len(reqs)))
    choices = [_choice(i, r, req, echo(i, req.n), tokens) for i, r in enumerate(results)]
    return JSONResponse({"id": rid, "object": "text_completion", "created": created, "model": model,
                         "choices": choices, "usage": usage(results, req.n)})


def _logprobs(tokens: TokenText, req: CompletionRequest, prompt: tuple[list, list] | None,
              output: tuple[list, list], offset: int) -> dict[str, Any] | None:
    """``choice.logprobs``: the prompt's tokens first (with echo), then the output's from
    ``offset`` characters on."""
    if req.logprobs is None:
        return None
    out = tokens.completion_logprobs(*output, offset)
    if prompt is None or not req.echo:
        return out
    head = tokens.completion_logprobs(*prompt, 0)
    return {key: head[key] + out[key] for key in out}


def _choice(i: int, r: SequenceResult, req: CompletionRequest, prefix: str,
            tokens: TokenText) -> dict[str, Any]:
    logprobs = _logprobs(tokens, req, (r.input_logprobs, r.input_top_logprobs),
                         (r.logprobs, r.top_logprobs), len(prefix))
    return {"index": i, "text": prefix + r.text, "logprobs": logprobs,
            "finish_reason": finish_reason(r), "matched_stop": r.matched}


async def _stream(chunks: AsyncIterator[Chunk], req: CompletionRequest, model: str, rid: str,
                  created: int, num: int, echo: _Echo, tokens: TokenText) -> AsyncIterator[str]:
    results = [SequenceResult() for _ in range(num)]
    started = [False] * num
    offsets = [0] * num
    async for chunk in chunks:
        i = chunk.index
        results[i].add(chunk)
        text, out, prompt = chunk.delta, chunk.output, None
        if not started[i]:
            started[i] = True
            prefix = echo(i, req.n)
            text, offsets[i] = prefix + text, len(prefix)
            prompt = (out.input_token_logprobs, out.input_top_logprobs)
        logprobs = _logprobs(tokens, req, prompt, (out.output_token_logprobs, out.output_top_logprobs),
                             offsets[i])
        offsets[i] += len(chunk.delta)
        if not text and not chunk.finished:
            continue
        choice = {"index": i, "text": text, "logprobs": logprobs,
                  "finish_reason": finish_reason(results[i]) if chunk.finished else None}
        yield sse({"id": rid, "object": "text_completion", "created": created, "model": model,
                   "choices": [choice]})
    if req.stream_options is not None and req.stream_options.include_usage:
        yield sse({"id": rid, "object": "text_completion", "created": created, "model": model,
                   "choices": [], "usage": usage(results, req.n)})
    yield DONE
