"""Deciding when a request is done: EOS, stop tokens, stop strings, length, grammar."""
from __future__ import annotations

from ..io_struct import FinishReason
from ..api.stop import StopChecker, find_regex
from .request import Req


class FinishChecker:
    def __init__(self, tokenizer, eos_ids: set[int]) -> None:
        self.tokenizer = tokenizer
        self.eos_ids = eos_ids

    def banned_tokens(self, req: Req, ahead: int = 0) -> list[int]:
        """Tokens that may not end the output yet (before ``min_new_tokens``), for the token
        ``ahead`` positions after the next one (speculative verification)."""
        if len(req.output_ids) + ahead >= req.sp.min_new_tokens:
            return []
        ids = set(req.sp.stop_token_ids)
        if not req.sp.ignore_eos:
            ids |= self.eos_ids
        return sorted(ids)

    def check(self, req: Req) -> FinishReason | None:
        """Called after ``req.output_ids`` got a new token."""
        if req.grammar is not None and req.grammar.error:  # it cannot go on: abort, never an invalid "stop"
            return FinishReason("abort", message=f"grammar: {req.grammar.error}")
        token = req.output_ids[-1]
        if len(req.output_ids) >= req.sp.min_new_tokens:
            if token in req.sp.stop_token_ids or (not req.sp.ignore_eos and token in self.eos_ids):
                return FinishReason("stop", matched=token)
            matched = self._stop_string(req)
            if matched is None:
                matched = self._stop_regex(req)
            if matched is not None:
                return FinishReason("stop", matched=matched)
            if req.grammar is not None and req.grammar.is_finished():
                return FinishReason("stop", matched=None)
        if len(req.output_ids) >= req.sp.max_new_tokens:
            return FinishReason("length", matched=None)
        return None

    def _stop_string(self, req: Req) -> str | None:
        if not req.sp.stop:
            return None
        longest = max(len(s) for s in req.sp.stop)
        # a char is at most 4 byte-tokens; decode enough tail to see any stop string end here
        tail_ids = req.output_ids[-(4 * longest + 2):]
        tail = self.tokenizer.decode(tail_ids, skip_special_tokens=req.sp.skip_special_tokens)
        prev = self.tokenizer.decode(tail_ids[:-1], skip_special_tokens=req.sp.skip_special_tokens)
        # only occurrences that end inside the newest token's text count (older ones were seen)
        match = StopChecker(req.sp.stop).find(tail, len(prev))
        return match.stop if match else None

    def _stop_regex(self, req: Req) -> str | None:
        """The text matched by a ``stop_regex`` pattern that ends in the newest token."""
        if not req.sp.stop_regex:
            return None
        skip = req.sp.skip_special_tokens
        text = self.tokenizer.decode(req.output_ids, skip_special_tokens=skip)
        prev = self.tokenizer.decode(req.output_ids[:-1], skip_special_tokens=skip)
        match = find_regex(req.sp.stop_regex, text, len(prev))
        return match.stop if match else None
