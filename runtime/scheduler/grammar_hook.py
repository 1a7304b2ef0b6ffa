"""Grammar constraints inside the scheduler: compile off the loop, mask, advance.

Compilation runs in a worker thread and is cached by (kind, source, options), so a slow compile
never stalls other requests; a request waits in the queue until its grammar is ready, and
an invalid pattern or schema fails only that request. Every kind, ``structural_tag``
included, compiles through ``GrammarCompiler.compile(kind, source)``.
"""
from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

import torch

from ..config import EngineConfig
from ..io_struct import FinishReason
from .request import Req

log = logging.getLogger(__name__)


class GrammarHook:
    def __init__(self, config: EngineConfig, tokenizer: Any, vocab_size: int, eos_ids: set[int]) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.eos_ids = eos_ids
        self._compiler = None
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[tuple, Future] = {}

    def _get_compiler(self):
        if self._compiler is None:
            from sglike.grammar import GrammarCompiler, Vocabulary

            vocab = Vocabulary.from_tokenizer(self.tokenizer, eos_ids=sorted(self.eos_ids), vocab_size=self.vocab_size)
            self._compiler = GrammarCompiler(vocab, cache_dir=self.config.grammar_cache_dir)
        return self._compiler

    def _compile(self, kind: str, source: str, options: tuple[tuple[str, str], ...]):
        return self._get_compiler().compile(kind, source, **dict(options))

    def start(self, req: Req) -> str | None:
        """Begin compiling the request's constraint, if any. Returns an error message when
        the grammar package itself is unusable."""
        constraint = _key(req)
        if constraint is None:
            return None
        if constraint not in self._futures:
            if self._pool is None:
                from sglike.grammar.worker_threads import single_threaded_torch

                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grammar", initializer=single_threaded_torch)
            self._futures[constraint] = self._pool.submit(self._compile, *constraint)
        req.grammar_pending = self._futures[constraint]
        return None

    def ready(self, req: Req, fail: Callable[[Req, FinishReason], None]) -> bool:
        """True when the request may be scheduled; fails it if its grammar did not compile."""
        pending = req.grammar_pending
        if pending is None:
            return True
        if not pending.done():
            return False
        req.grammar_pending = None
        exc = pending.exception()
        if exc is not None:
            key = _key(req)
            self._futures.pop(key, None)
            kind = key[0] if key else "grammar"
            fail(req, FinishReason("abort", message=f"invalid {kind}: {exc}"))
            return False
        req.grammar = pending.result().matcher()
        return True

    def masks(self, reqs: list[Req], vocab: int, device: torch.device) -> torch.Tensor | None:
        """[N, V] bool (True = allowed) for the batch, or None when nobody is constrained."""
        if not any(r.grammar is not None for r in reqs):
            return None
        mask = torch.ones((len(reqs), vocab), dtype=torch.bool)
        for i, req in enumerate(reqs):
            if req.grammar is not None:
                req.grammar.fill_mask(mask[i])
        return mask.to(device)

    def advance(self, req: Req, token: int) -> None:
        if req.grammar is not None and not req.grammar.advance(token):
            log.warning("request %s: sampled token %d rejected by its grammar", req.rid, token)


def _key(req: Req) -> tuple | None:
    """(kind, source, options) of the request's constraint: what its compile is cached by."""
    constraint = req.sp.constraint
    return None if constraint is None else (*constraint, req.sp.constraint_options)
