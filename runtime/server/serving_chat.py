"""OpenAI ``POST /v1/chat/completions``: chat templates, response_format, tools, streaming."""
from __future__ import annotations

import json
from typing import Any, AsyncIterator

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from . import tool_calls as tc
from .errors import APIError
from .openai_common import (TokenText, finish_reason, new_id, now, openai_error,
                            response_format_constraint, sampling_params, usage)
from .protocol_openai import ChatCompletionRequest
from .serving_common import (DONE, SequenceResult, build, collect, first_chunk, sse, sse_response,
                             until_disconnect, with_first)
from .tokenizer_manager import Chunk, GenerateInput, TokenizerManager


def _messages(req: ChatCompletionRequest) -> list[dict[str, Any]]:
    out = []
    for m in req.messages:
        msg: dict[str, Any] = {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
        if m.name:
            msg["name"] = m.name
        if m.tool_calls:
            msg["tool_calls"] = [c.model_dump() for c in m.tool_calls]
        if m.tool_call_id:
            msg["tool_call_id"] = m.tool_call_id
        out.append(msg)
    return out


def _constraint(req: ChatCompletionRequest, mode: str, params: dict[str, Any]) -> tuple[tuple[str, str] | None, str]:
    """The grammar for this request (the tool choice's, else response_format's) and how to
    read calls from the output. In ``auto`` mode calls are triggered sections, unless another
    constraint was asked for: then that one applies and no calls are read."""
    tools = req.tools or []
    if mode == "named":
        return ("json_schema", json.dumps(tc.parameters_schema(tc.named_tool(tools, req.tool_choice)))), mode
    if mode == "required":
        return ("json_schema", json.dumps(tc.required_schema(tools))), mode
    fmt = response_format_constraint(req.response_format)
    if mode == "auto" and fmt is None and params.get("regex") is None and params.get("ebnf") is None:
        return ("structural_tag", json.dumps(tc.auto_structural_tag(tools))), mode
    return fmt, "none"


def _input(tm: TokenizerManager, req: ChatCompletionRequest, mode: str) -> tuple[GenerateInput, str]:
    """The generation input and how to read calls from its output (a ``tool_mode``)."""
    max_tokens = req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
    params = sampling_params(req, max_tokens)
    tools = [t.model_dump(exclude_none=True) for t in req.tools] if mode != "none" else None
    constraint, mode = _constraint(req, mode, params)
    if constraint is not None:
        params[constraint[0]] = constraint[1]
    if mode == "auto" and req.parallel_tool_calls is False:
        stop = params.get("stop")
        params["stop"] = ([stop] if isinstance(stop, str) else list(stop or [])) + [tc.CALL_END]
    prompt = tm.chat_prompt(_messages(req), tools=tools, continue_final_message=req.continue_final_message,
                            **(req.chat_template_kwargs or {}))
    top = req.top_logprobs or 0
    if top and not req.logprobs:
        raise APIError(400, "top_logprobs requires logprobs=true", param="top_logprobs")
    return GenerateInput(prompt=prompt, sampling_params=params, rid=req.rid, return_logprob=req.logprobs,
                         top_logprobs_num=top, stream=req.stream), mode


def _message(r: SequenceResult, req: ChatCompletionRequest, mode: str) -> tuple[dict[str, Any], str | None]:
    """The assistant message of one choice and its finish reason."""
    reason = finish_reason(r)
    content, calls = r.text, None
    if mode == "named":
        calls = [tc.make_call(req.tool_choice.function.name, r.text)]  # type: ignore[union-attr]
        content = None
    elif mode == "required" and r.finish_reason != "abort":
        calls, content = tc.parse_calls(r.text, req.tools or []), None
    elif mode == "auto" and r.finish_reason != "abort":
        content, calls = tc.parse_tagged_calls(r.text, req.tools or [])
    if calls:
        return ({"role": "assistant", "content": content, "tool_calls": calls},
                "tool_calls" if reason == "stop" else reason)
    return {"role": "assistant", "content": r.text}, reason


async def create_chat_completion(tm: TokenizerManager, req: ChatCompletionRequest, model: str,
                                 request: Request) -> Response:
    max_field = "max_completion_tokens" if req.max_completion_tokens is not None else "max_tokens"
    try:
        return await _create(tm, req, model, request)
    except APIError as exc:
        raise openai_error(exc, "messages", max_field) from None


async def _create(tm: TokenizerManager, req: ChatCompletionRequest, model: str, request: Request) -> Response:
    inp, mode = _input(tm, req, tc.tool_mode(req.tools, req.tool_choice))
    reqs = build(tm, [inp])
    chunks = tm.generate(reqs)
    rid, created = new_id("chatcmpl"), now()
    tokens = TokenText(tm.tokenizer)
    try:
        if req.stream:
            first = await first_chunk(chunks)
            return sse_response(_stream(with_first(first, chunks), req, mode, model, rid, created,
                                        len(reqs), tokens))
        results = await until_disconnect(request, collect(chunks, len(reqs)))
    except APIError as exc:
        if mode != "none" and exc.param in ("json_schema", "structural_tag"):  # a grammar made from tools
            raise APIError(400, f"tools: a function's parameters schema is not supported ({exc.message})",
                           param="tools") from None
        raise
    choices = []
    for i, r in enumerate(results):
        message, reason = _message(r, req, mode)
        logprobs = (tokens.chat_logprobs(r.logprobs, r.top_logprobs, req.top_logprobs or 0)
                    if req.logprobs else None)
        choices.append({"index": i, "message": message, "logprobs": logprobs, "finish_reason": reason,
                        "matched_stop": r.matched})
    return JSONResponse({"id": rid, "object": "chat.completion", "created": created, "model": model,
                         "choices": choices, "usage": usage(results, req.n)})


async def _stream(chunks: AsyncIterator[Chunk], req: ChatCompletionRequest, mode: str, model: str,
                  rid: str, created: int, num: int, tokens: TokenText) -> AsyncIterator[str]:
    """Text streams as content deltas; tool calls are sent whole when the choice ends."""
    results = [SequenceResult() for _ in range(num)]
    started = [False] * num

    def frame(choice: dict[str, Any]) -> str:
        return sse({"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [choice]})

    async for chunk in chunks:
        i = chunk.index
        results[i].add(chunk)
        if not started[i]:
            started[i] = True
            yield frame({"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                         "finish_reason": None})
        buffered = mode != "none"
        if chunk.delta and not buffered:
            out = chunk.output
            logprobs = (tokens.chat_logprobs(out.output_token_logprobs, out.output_top_logprobs,
                                             req.top_logprobs or 0) if req.logprobs else None)
            yield frame({"index": i, "delta": {"content": chunk.delta}, "logprobs": logprobs,
                         "finish_reason": None})
        if chunk.finished:
            delta: dict[str, Any] = {}
            reason = finish_reason(results[i])
            if buffered:
                message, reason = _message(results[i], req, mode)
                if message.get("tool_calls"):
                    delta = {"tool_calls": [dict(c, index=k) for k, c in enumerate(message["tool_calls"])]}
                else:
                    delta = {"content": message["content"]}
            yield frame({"index": i, "delta": delta, "logprobs": None, "finish_reason": reason})
    if req.stream_options is not None and req.stream_options.include_usage:
        yield sse({"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [], "usage": usage(results, req.n)})
    yield DONE
