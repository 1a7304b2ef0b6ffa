"""SGLang-native ``POST /generate``: same request and response shapes as SGLang.

Streaming sends ``data: {"text": <text so far>, "output_ids", "meta_info", "index"}`` lines
(cumulative text, as SGLang does) and ends with ``data: [DONE]``.
"""
from __future__ import annotations

from typing import Any, AsyncIterator

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from .errors import APIError
from .protocol_native import GenerateRequest
from .serving_common import (DONE, build, collect, first_chunk, sse, sse_response, until_disconnect,
                             with_first)
from .tokenizer_manager import Chunk, GenerateInput, TokenizerManager


def _inputs(body: GenerateRequest) -> list[GenerateInput]:
    inputs = []
    try:
        for i, prompt in enumerate(body.prompts()):
            params = body.item("sampling_params", i) or {}
            if not isinstance(params, dict):
                raise APIError(400, "sampling_params must be an object (or a list of them for a batch)",
                               param="sampling_params")
            inputs.append(GenerateInput(
                prompt=prompt, sampling_params=params, rid=body.item("rid", i),
                return_logprob=bool(body.item("return_logprob", i)),
                logprob_start_len=int(body.item("logprob_start_len", i)),
                top_logprobs_num=int(body.item("top_logprobs_num", i)), stream=body.stream))
    except ValueError as exc:
        raise APIError(400, str(exc))
    return inputs


def _partial_meta(chunk: Chunk) -> dict[str, Any]:
    out = chunk.output
    return {"id": out.rid, "finish_reason": None, "prompt_tokens": out.prompt_tokens,
            "completion_tokens": out.completion_tokens, "cached_tokens": out.cached_tokens}


async def generate(tm: TokenizerManager, body: GenerateRequest, request: Request) -> Response:
    inputs = _inputs(body)
    if not inputs:
        raise APIError(400, "text: the batch is empty", param="text")
    reqs = build(tm, inputs)
    single = not body.is_batch and len(reqs) == 1
    chunks = tm.generate(reqs)
    if not body.stream:
        results = await until_disconnect(request, collect(chunks, len(reqs)))
        payload = [r.result for r in results]
        return JSONResponse(payload[0] if single else payload)
    first = await first_chunk(chunks)
    return sse_response(_stream(with_first(first, chunks), len(reqs)))


async def _stream(chunks: AsyncIterator[Chunk], num: int) -> AsyncIterator[str]:
    texts = [""] * num
    ids: list[list[int]] = [[] for _ in range(num)]
    async for chunk in chunks:
        i = chunk.index
        texts[i] += chunk.delta
        ids[i] += chunk.new_token_ids
        if chunk.finished and chunk.result is not None:
            data = dict(chunk.result)
        else:
            data = {"text": texts[i], "output_ids": list(ids[i]), "meta_info": _partial_meta(chunk)}
        data["index"] = i
        yield sse(data)
    yield DONE
