"""Output processing after sampling: append each new token, advance its grammar, check
whether the request is done (``FinishChecker``), jump forward through forced text, and
emit a ``TokenOutput`` (new tokens since the last one, or the final state)."""
from __future__ import annotations

from typing import Any, Callable

from ..config import EngineConfig
from ..io_struct import FinishReason, TokenOutput
from .finish import FinishChecker
from .grammar_hook import GrammarHook
from .jump_forward import may_jump_forward, try_jump_forward
from .request import Req, ReqState
from .stats import SchedulerStats

Settle = Callable[[Req, int], None]


class OutputProcessor:
    def __init__(self, config: EngineConfig, finish: FinishChecker, grammar: GrammarHook, tokenizer: Any,
                 special_ids: set[int], stats: SchedulerStats, leave: Callable[[Req], None]) -> None:
        """``leave(req)`` takes a running request out and frees its KV (``Admission.leave``)."""
        self.config, self.checker, self.grammar, self.tokenizer = config, finish, grammar, tokenizer
        self.special_ids, self.stats, self.leave = special_ids, stats, leave
        self._outbox: list[TokenOutput] = []

    def process(self, reqs: list[Req], next_ids: list[int]) -> None:
        """Each request got one sampled token."""
        self.process_runs(reqs, [[t] for t in next_ids])

    def process_runs(self, reqs: list[Req], runs: list[list[int]], settle: Settle | None = None) -> None:
        """Each request got a run of tokens (speculative decoding: accepted drafts and the
        token after them). They are appended one at a time, each checked like a sampled
        token; the run stops at the first that finishes the request or after which the
        grammar forces text (jump-forward happens there, as plain decoding would do it).
        ``settle(req, kept)`` hears how many run tokens were appended, before the request
        completes."""
        for req, run in zip(reqs, runs):
            reason, kept = None, 0
            for token in run:
                req.output_ids.append(token)
                kept += 1
                self.stats.generated_tokens += 1
                self.grammar.advance(req, token)
                reason = self.checker.check(req)
                if reason is None and may_jump_forward(req, self.config):
                    jumped = try_jump_forward(req, self.tokenizer, self.special_ids)
                    if jumped:
                        self.stats.jump_forward_tokens += jumped
                        reason = self.checker.check(req)
                        break
                if reason is not None:
                    break
            if settle is not None:
                settle(req, kept)
            if reason is not None:
                self.complete(req, reason)
            else:
                self.emit(req)

    def complete(self, req: Req, reason: FinishReason) -> None:
        """A running request is done: free its KV, report it finished."""
        self.leave(req)
        self.finish(req, reason)

    def finish(self, req: Req, reason: FinishReason) -> None:
        req.state = ReqState.FINISHED
        req.finish_reason = reason
        self.emit(req)

    def emit(self, req: Req) -> None:
        self._outbox.append(req.take_output())

    def take(self) -> list[TokenOutput]:
        out, self._outbox = self._outbox, []
        return out

    def pending(self) -> bool:
        return bool(self._outbox)
