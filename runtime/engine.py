"""The offline engine: ``Engine(...).generate(...)`` in-process, same shape as SGLang's."""
from __future__ import annotations

import asyncio
import queue
import uuid
from typing import Any, AsyncIterator, Iterator

from .config import EngineConfig
from .engine_core import EngineCore
from .engine_driver import EngineDriver
from .api.output import OutputAssembler
from .api.request_builder import RequestBuilder
from .io_struct import TokenizedRequest, TokenOutput


def _per_prompt(value: Any, n: int, name: str) -> list[Any]:
    if isinstance(value, list):
        if len(value) != n:
            raise ValueError(f"{name}: got {len(value)} values for {n} prompts")
        return value
    return [value] * n


class _Batch:
    """The requests of one ``generate`` call: routes outputs to their assemblers."""

    def __init__(self, tokenizer: Any, reqs: list[TokenizedRequest]) -> None:
        self.reqs = reqs
        self.index = {r.rid: i for i, r in enumerate(reqs)}
        self.asm = {r.rid: OutputAssembler(tokenizer, r) for r in reqs}
        self.pending = set(self.asm)

    def add(self, out: TokenOutput) -> dict:
        """Take one output; return its incremental stream chunk."""
        asm = self.asm[out.rid]
        delta = asm.add(out)
        if out.finished:
            self.pending.discard(out.rid)
        return {"index": self.index[out.rid], "text": delta, "output_ids": list(out.new_token_ids), "meta_info": asm.meta_info()}

    def results(self, single: bool) -> dict | list[dict]:
        results = [self.asm[r.rid].result() for r in self.reqs]
        return results[0] if single else results


class Engine:
    """In-process engine: an ``EngineCore`` on a background thread (``EngineDriver``), plus
    the API side (``api.RequestBuilder`` in, ``api.OutputAssembler`` out).

    Thread-safe: calls from several threads (or an asyncio loop) are batched together.
    """

    def __init__(self, model_path: str | None = None, **options: Any) -> None:
        self.config = EngineConfig.from_kwargs(model_path=model_path, **options)
        self._driver = EngineDriver(lambda: EngineCore.from_config(self.config))
        self.scheduler = self._driver.core.scheduler
        self.tokenizer = self._driver.core.tokenizer
        self.source = self._driver.core.source
        self.builder = RequestBuilder(
            self.tokenizer, self.config, context_length=self.scheduler.context_length, max_total_tokens=self.scheduler.max_total_tokens
        )

    # -- request building -----------------------------------------------------------------

    def _build(self, prompt, sampling_params, input_ids, return_logprob, logprob_start_len, top_logprobs_num, stream, rid) -> tuple[list[TokenizedRequest], bool]:
        if (prompt is None) == (input_ids is None):
            raise ValueError("give exactly one of prompt (text) and input_ids")
        single = isinstance(prompt, str) or (input_ids is not None and input_ids and isinstance(input_ids[0], int))
        prompts = [prompt if prompt is not None else input_ids] if single else list(prompt if prompt is not None else input_ids)
        n = len(prompts)
        if n == 0:
            raise ValueError("no prompts given")
        params = _per_prompt(sampling_params, n, "sampling_params")
        rids = _per_prompt(rid, n, "rid")
        reqs: list[TokenizedRequest] = []
        for i, p in enumerate(prompts):
            reqs += self.builder.build(
                p,
                params[i],
                rid=rids[i],
                return_logprob=_per_prompt(return_logprob, n, "return_logprob")[i],
                logprob_start_len=_per_prompt(logprob_start_len, n, "logprob_start_len")[i],
                top_logprobs_num=_per_prompt(top_logprobs_num, n, "top_logprobs_num")[i],
                stream=stream,
            )
        return reqs, single and len(reqs) == 1

    # -- public API -----------------------------------------------------------------------

    def generate(
        self,
        prompt: str | list[str] | None = None,
        sampling_params: dict | list[dict] | None = None,
        input_ids: list[int] | list[list[int]] | None = None,
        return_logprob: bool | list[bool] = False,
        logprob_start_len: int | list[int] | None = None,
        top_logprobs_num: int | list[int] | None = None,
        stream: bool = False,
        rid: str | list[str] | None = None,
    ) -> dict | list[dict] | Iterator[dict]:
        """Generate for one prompt (returns a dict) or a list (returns a list); ``n > 1``
        returns a list too. ``stream=True`` returns an iterator of incremental dicts."""
        reqs, single = self._build(prompt, sampling_params, input_ids, return_logprob, logprob_start_len, top_logprobs_num, stream, rid)
        outbox: queue.Queue[TokenOutput] = queue.Queue()
        self._driver.submit(reqs, outbox.put)
        batch = _Batch(self.tokenizer, reqs)
        if stream:
            return self._stream(batch, outbox)
        outputs: list[TokenOutput] = []
        finished = 0
        while finished < len(reqs):  # detokenize only at the end: no CPU stolen from the engine
            outputs.append(outbox.get())
            finished += outputs[-1].finished
        for out in outputs:
            batch.add(out)
        return batch.results(single)

    def _stream(self, batch: "_Batch", outbox: queue.Queue) -> Iterator[dict]:
        try:
            while batch.pending:
                yield batch.add(outbox.get())
        finally:
            for rid in batch.pending:
                self._driver.abort(rid)

    async def async_generate(self, prompt=None, sampling_params=None, input_ids=None, return_logprob=False, logprob_start_len=None, top_logprobs_num=None, stream=False, rid=None):
        """Awaitable result, or (``stream=True``) an async iterator of incremental dicts."""
        reqs, single = self._build(prompt, sampling_params, input_ids, return_logprob, logprob_start_len, top_logprobs_num, stream, rid)
        loop = asyncio.get_running_loop()
        outbox: asyncio.Queue[TokenOutput] = asyncio.Queue()
        self._driver.submit(reqs, lambda out: loop.call_soon_threadsafe(outbox.put_nowait, out))
        batch = _Batch(self.tokenizer, reqs)
        if stream:
            return self._astream(batch, outbox)
        outputs: list[TokenOutput] = []
        finished = 0
        while finished < len(reqs):
            outputs.append(await outbox.get())
            finished += outputs[-1].finished
        for out in outputs:
            batch.add(out)
        return batch.results(single)

    async def _astream(self, batch: "_Batch", outbox: asyncio.Queue) -> AsyncIterator[dict]:
        try:
            while batch.pending:
                yield batch.add(await outbox.get())
        finally:
            for rid in batch.pending:
                self._driver.abort(rid)

    def abort(self, rid: str) -> None:
        self._driver.abort(rid)

    def flush_cache(self) -> bool:
        return bool(self._driver.control("flush_cache"))

    def get_server_info(self) -> dict[str, Any]:
        info = self._driver.control("stats")
        return {**info, "model_path": self.source.path, "context_length": self.scheduler.context_length}

    def free_slots(self) -> int:
        """Free KV slots plus slots only held by the (evictable) cache."""
        return int(self._driver.call(lambda s: s.kv.free_size()))

    def shutdown(self) -> None:
        self._driver.shutdown()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
