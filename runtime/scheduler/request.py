"""A request's state inside the scheduler."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import torch

from ..io_struct import FinishReason, TokenizedRequest, TokenOutput
from ..sampling.logprobs import token_logprobs
from ..sampling_params import SamplingParams


class ReqState(Enum):
    WAITING = "waiting"
    RUNNING = "running"  # has a table row and KV (prefilling or decoding)
    FINISHED = "finished"


@dataclass(eq=False)
class Req:
    rid: str
    origin_input_ids: list[int]
    sp: SamplingParams
    return_logprob: bool = False
    logprob_start_len: int = -1
    top_logprobs_num: int = 0
    arrival: int = 0  # admission order, for fcfs and retraction
    output_ids: list[int] = field(default_factory=list)
    state: ReqState = ReqState.WAITING
    # KV memory: table row, and how many leading tokens of all_ids have KV in the pool
    row: int | None = None
    kv_len: int = 0
    cache_handle: Any = None
    owned_from: int = 0  # slots [0, owned_from) of the row belong to the prefix cache
    cached_tokens: int = 0  # prompt tokens reused from the prefix cache (reported)
    decoding: bool = False  # prefill of all_ids done; next forward feeds the newest token
    retractions: int = 0
    jump_forward_tokens: int = 0  # output tokens appended by jump-forward
    start_jump_checked: bool = False  # the grammar's forced start was looked for
    finish_reason: FinishReason | None = None
    # speculative decoding: the draft-length state (speculative.adaptive) and counters
    spec: Any = None
    spec_verify_steps: int = 0  # forwards that verified a draft of this request
    spec_draft_tokens: int = 0  # tokens drafted
    spec_accepted_tokens: int = 0  # drafted tokens accepted (kept in the output)
    reported_len: int = 0  # output tokens already sent out
    generator: torch.Generator | None = None
    grammar: Any = None  # a GrammarMatcher, when constrained
    grammar_pending: Any = None  # a Future of the compiled grammar
    # logprobs not yet reported
    out_logprobs: list[tuple[float, int]] = field(default_factory=list)
    out_top_logprobs: list[list[tuple[float, int]]] = field(default_factory=list)
    in_logprobs: list[tuple[float | None, int]] = field(default_factory=list)
    in_top_logprobs: list[list[tuple[float, int]] | None] = field(default_factory=list)

    @classmethod
    def from_tokenized(cls, treq: TokenizedRequest, arrival: int) -> "Req":
        req = cls(
            rid=treq.rid,
            origin_input_ids=list(treq.input_ids),
            sp=treq.sampling_params,
            return_logprob=treq.return_logprob,
            logprob_start_len=treq.logprob_start_len,
            top_logprobs_num=treq.top_logprobs_num,
            arrival=arrival,
        )
        if treq.sampling_params.seed is not None:
            req.generator = torch.Generator().manual_seed(treq.sampling_params.seed)
        return req

    @property
    def all_ids(self) -> list[int]:
        return self.origin_input_ids + self.output_ids

    @property
    def wants_prompt_logprobs(self) -> bool:
        return self.return_logprob and self.logprob_start_len >= 0

    def max_prefix_match(self) -> int:
        """How many leading tokens may come from the cache: never the last input token
        (its logits are needed) nor prompt positions whose logprobs were asked for."""
        limit = len(self.all_ids) - 1
        if self.wants_prompt_logprobs and not self.output_ids:
            limit = min(limit, max(self.logprob_start_len - 1, 0))
        return max(limit, 0)

    def remaining_new_tokens(self) -> int:
        return max(self.sp.max_new_tokens - len(self.output_ids), 0)

    @property
    def last_token(self) -> int:
        return self.output_ids[-1] if self.output_ids else self.origin_input_ids[-1]

    def add_prompt_logprobs(self, start: int, positions: list[int], logits: torch.Tensor) -> None:
        """Record logprobs of the prompt tokens after ``positions`` (logits: [len(positions), V])."""
        ids = self.origin_input_ids
        if self.logprob_start_len == 0 and start == 0:
            self.in_logprobs.append((None, ids[0]))  # the first token has no context
            self.in_top_logprobs.append(None)
        if not positions:
            return
        targets = torch.tensor([ids[p + 1] for p in positions], device=logits.device)
        chosen, tops = token_logprobs(logits, targets, [self.top_logprobs_num] * len(targets))
        self.in_logprobs.extend(zip(chosen, targets.tolist()))
        self.in_top_logprobs.extend(tops)

    def take_output(self) -> TokenOutput:
        """What is new since the last output (tokens, logprobs), plus the finish state."""
        reason = self.finish_reason
        out = TokenOutput(
            rid=self.rid,
            new_token_ids=self.output_ids[self.reported_len :],
            finished=self.state is ReqState.FINISHED,
            finish_reason=reason,
            prompt_tokens=len(self.origin_input_ids),
            completion_tokens=len(self.output_ids),
            cached_tokens=self.cached_tokens,
            output_token_logprobs=self.out_logprobs,
            output_top_logprobs=self.out_top_logprobs,
            input_token_logprobs=self.in_logprobs,
            input_top_logprobs=self.in_top_logprobs,
            stop_str=reason.matched if reason and isinstance(reason.matched, str) else None,
            spec_verify_steps=self.spec_verify_steps,
            spec_draft_tokens=self.spec_draft_tokens,
            spec_accepted_tokens=self.spec_accepted_tokens,
        )
        self.reported_len = len(self.output_ids)
        self.out_logprobs, self.out_top_logprobs, self.in_logprobs, self.in_top_logprobs = [], [], [], []
        return out
