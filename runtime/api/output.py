"""``OutputAssembler``: one request's ``TokenOutput`` stream -> text deltas safe to show and
the final ``{"text", "output_ids", "meta_info"}`` dict (SGLang's shape)."""
from __future__ import annotations

from typing import Any

from ..io_struct import TokenizedRequest, TokenOutput
from .detokenizer import IncrementalDetokenizer
from .stop import StopChecker, trim


def spec_meta(out: TokenOutput) -> dict[str, Any]:
    """Speculative decoding in ``meta_info``: ``spec_verify_ct`` (SGLang's name: forwards
    that verified a draft), ``spec_draft_tokens`` and ``spec_accepted_tokens`` (drafted
    tokens, and those accepted into the output), ``spec_accept_length`` (mean tokens
    gained per verify forward, the accepted drafts plus the token the forward itself adds)."""
    steps = out.spec_verify_steps
    return {"spec_verify_ct": steps, "spec_draft_tokens": out.spec_draft_tokens,
            "spec_accepted_tokens": out.spec_accepted_tokens,
            "spec_accept_length": 1.0 + out.spec_accepted_tokens / steps if steps else 0.0}


def _triples(pairs: list[tuple[float | None, int]]) -> list[list]:
    return [[lp, tok, None] for lp, tok in pairs]


class OutputAssembler:
    """Accumulates one request's outputs; ``add`` returns the text delta safe to show."""

    def __init__(self, tokenizer: Any, req: TokenizedRequest) -> None:
        sp = req.sampling_params
        self.req = req
        self.detok = IncrementalDetokenizer(
            tokenizer, skip_special_tokens=sp.skip_special_tokens, spaces_between_special_tokens=sp.spaces_between_special_tokens
        )
        self.stops = StopChecker(sp.stop)
        self.text = ""
        self.sent = 0
        self.output_ids: list[int] = []
        self.last: TokenOutput | None = None
        self.logprobs: dict[str, list] = {k: [] for k in ("input_token_logprobs", "output_token_logprobs", "input_top_logprobs", "output_top_logprobs")}

    def add(self, out: TokenOutput) -> str:
        self.last = out
        self.output_ids.extend(out.new_token_ids)
        self.text += self.detok.feed(out.new_token_ids)
        if self.req.return_logprob:
            self.logprobs["input_token_logprobs"] += _triples(out.input_token_logprobs)
            self.logprobs["input_top_logprobs"] += [None if t is None else _triples(t) for t in out.input_top_logprobs]
            self.logprobs["output_token_logprobs"] += _triples(out.output_token_logprobs)
            self.logprobs["output_top_logprobs"] += [_triples(t) for t in out.output_top_logprobs]
        if out.finished:
            self.text += self.detok.finish()
            if out.stop_str and not self.req.sampling_params.no_stop_trim:
                self.text = trim(self.text, out.stop_str, self.sent)
            visible = len(self.text)
        else:
            visible = len(self.text) - self.stops.holdback(self.text)
        delta = self.text[self.sent : visible] if visible > self.sent else ""
        self.sent = max(self.sent, visible)
        return delta

    def meta_info(self) -> dict[str, Any]:
        out = self.last
        meta: dict[str, Any] = {
            "id": self.req.rid,
            "finish_reason": out.finish_reason.to_json() if out and out.finish_reason else None,
            "prompt_tokens": out.prompt_tokens if out else len(self.req.input_ids),
            "completion_tokens": out.completion_tokens if out else 0,
            "cached_tokens": out.cached_tokens if out else 0,
        }
        if out is not None and out.spec_verify_steps:
            meta.update(spec_meta(out))
        if self.req.return_logprob:
            meta.update(self.logprobs)
        return meta

    def result(self) -> dict[str, Any]:
        return {"text": self.text[: self.sent], "output_ids": list(self.output_ids), "meta_info": self.meta_info()}
