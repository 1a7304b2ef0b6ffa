"""API-process request handling: tokenize (and apply chat templates), admit or reject,
send to the engine, and turn its ``TokenOutput`` stream back into text chunks.

One HTTP call may carry several sequences (a native batch, or ``n > 1``): they share one
output queue, and every chunk says which sequence (``index``) it belongs to. A caller that
stops iterating (client disconnect) gets all its unfinished sequences aborted.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Union

from ..config import EngineConfig
from ..io_struct import TokenizedRequest, TokenOutput
from .engine_client import EngineClient, EngineUnavailable
from .errors import APIError
from .metrics import ServerMetrics

logger = logging.getLogger("sglike.server")

Prompt = Union[str, list[int]]


@dataclass
class GenerateInput:
    """One prompt of an HTTP call, with the SGLang-native per-prompt options."""

    prompt: Prompt
    sampling_params: dict[str, Any] = field(default_factory=dict)
    rid: str | None = None
    return_logprob: bool = False
    logprob_start_len: int = -1
    top_logprobs_num: int = 0
    stream: bool = False


@dataclass
class Chunk:
    """What one engine output means for one sequence."""

    index: int  # sequence index within the HTTP call (prompt-major, then n)
    delta: str  # new text since the previous chunk of this sequence
    new_token_ids: list[int]
    output: TokenOutput
    finished: bool
    result: dict | None = None  # {"text", "output_ids", "meta_info"} once finished


class TokenizerManager:
    def __init__(self, config: EngineConfig, engine: EngineClient, tokenizer: Any,
                 metrics: ServerMetrics, builder: Any = None, assembler_cls: Any = None) -> None:
        """``builder``/``assembler_cls`` default to ``api.RequestBuilder``/``api.OutputAssembler``."""
        if builder is None or assembler_cls is None:
            from ..api.output import OutputAssembler
            from ..api.request_builder import RequestBuilder

            builder = builder or RequestBuilder(
                tokenizer, config, context_length=engine.info.get("context_length"),
                max_total_tokens=engine.info.get("max_total_tokens"))
            assembler_cls = assembler_cls or OutputAssembler
        self.config = config
        self.engine = engine
        self.tokenizer = tokenizer
        self.metrics = metrics
        self.builder = builder
        self.assembler_cls = assembler_cls
        self.draining = False

    # -- prompts ---------------------------------------------------------------------
    def chat_prompt(self, messages: list[dict], tools: list[dict] | None = None,
                    continue_final_message: bool = False, **template_kwargs: Any) -> list[int]:
        """Token ids of a chat rendered with the tokenizer's chat template."""
        try:
            text = self.tokenizer.apply_chat_template(
                messages, tools=tools, tokenize=False,
                add_generation_prompt=not continue_final_message,
                continue_final_message=continue_final_message, **template_kwargs)
        except Exception as exc:  # template errors are about the request (roles, order)
            raise APIError(400, f"messages: cannot apply the chat template: {exc}", param="messages")
        return self.tokenizer.encode(text, add_special_tokens=False)

    def build(self, inputs: list[GenerateInput]) -> list[TokenizedRequest]:
        """Validate and tokenize; ``n`` expands each prompt into n requests."""
        reqs: list[TokenizedRequest] = []
        for inp in inputs:
            try:
                reqs.extend(self.builder.build(
                    inp.prompt, inp.sampling_params, rid=inp.rid,
                    return_logprob=inp.return_logprob, logprob_start_len=inp.logprob_start_len,
                    top_logprobs_num=inp.top_logprobs_num, stream=inp.stream))
            except (ValueError, TypeError) as exc:
                from .errors import param_from_message

                raise APIError(400, str(exc), param=param_from_message(str(exc)))
        return reqs

    # -- admission -------------------------------------------------------------------
    def admit(self, num: int) -> None:
        """Raise 503 while draining or without an engine, 429 when the queue is full."""
        if self.draining:
            raise APIError(503, "server is shutting down", retry_after=5)
        if not self.engine.alive:
            raise APIError(503, self.engine.status, retry_after=5)
        limit = self.config.max_queued_requests
        if limit is not None and self.engine.num_in_flight + num > self.config.max_running_requests + limit:
            raise APIError(429, "too many requests queued; retry later", retry_after=1)

    # -- generation ------------------------------------------------------------------
    async def generate(self, reqs: list[TokenizedRequest]) -> AsyncIterator[Chunk]:
        """Submit ``reqs`` and yield their chunks as they come; abort what is left on exit."""
        self.admit(len(reqs))
        rids = [req.rid for req in reqs]
        if len(set(rids)) != len(rids) or any(self.engine.has_request(r) for r in rids):
            raise APIError(400, "rid: request ids must be unique among running requests", param="rid")
        shared = None
        index = {req.rid: i for i, req in enumerate(reqs)}
        assemblers = {req.rid: self.assembler_cls(self.tokenizer, req) for req in reqs}
        timing = {req.rid: _Timing() for req in reqs}
        unfinished = set(index)
        try:
            for req in reqs:
                shared = self.engine.submit(req, shared)
            while unfinished:
                out: TokenOutput = await shared.get()
                if out.rid not in unfinished:
                    continue
                asm = assemblers[out.rid]
                delta = asm.add(out)
                timing[out.rid].observe(out, self.metrics)
                chunk = Chunk(index=index[out.rid], delta=delta, new_token_ids=out.new_token_ids,
                              output=out, finished=out.finished)
                if out.finished:
                    unfinished.discard(out.rid)
                    chunk.result = asm.result()
                    self._finished(out, timing[out.rid])
                yield chunk
        except EngineUnavailable as exc:
            raise APIError(503, f"engine is not available: {exc}", retry_after=5)
        finally:
            for rid in unfinished:
                logger.info("request aborted rid=%s reason=client_gone", rid)
                self.engine.abort(rid)
                self.metrics.requests.labels("abort").inc()

    def _finished(self, out: TokenOutput, t: "_Timing") -> None:
        reason = out.finish_reason.type if out.finish_reason else "stop"
        m = self.metrics
        m.requests.labels(reason).inc()
        m.prompt_tokens.inc(out.prompt_tokens)
        m.generation_tokens.inc(out.completion_tokens)
        m.cached_tokens.inc(out.cached_tokens)
        e2e = time.perf_counter() - t.start
        m.e2e.observe(e2e)
        logger.info("request finished rid=%s finish=%s prompt_tokens=%d completion_tokens=%d "
                    "cached_tokens=%d ttft=%.4f e2e=%.4f", out.rid, reason, out.prompt_tokens,
                    out.completion_tokens, out.cached_tokens, t.ttft or 0.0, e2e)

    @staticmethod
    def new_rid() -> str:
        return uuid.uuid4().hex


@dataclass
class _Timing:
    start: float = field(default_factory=time.perf_counter)
    last: float | None = None
    ttft: float | None = None

    def observe(self, out: TokenOutput, metrics: ServerMetrics) -> None:
        if not out.new_token_ids:
            return
        now = time.perf_counter()
        if self.last is None:
            self.ttft = now - self.start
            metrics.ttft.observe(self.ttft)
        else:
            per_token = (now - self.last) / len(out.new_token_ids)
            for _ in out.new_token_ids:
                metrics.itl.observe(per_token)
        self.last = now
