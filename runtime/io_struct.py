"""Messages between the front (tokenizer side) and the scheduler. Plain, picklable data,
so they cross a ZMQ socket unchanged in the server and a method call in the offline Engine."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from .sampling_params import SamplingParams


@dataclass
class TokenizedRequest:
    """One sequence to generate (``n > 1`` is expanded by the front into n requests)."""

    rid: str
    input_ids: list[int]
    sampling_params: SamplingParams
    return_logprob: bool = False
    logprob_start_len: int = -1  # -1: no prompt logprobs; k: logprobs of prompt tokens k..end
    top_logprobs_num: int = 0
    stream: bool = False


@dataclass
class AbortRequest:
    rid: str


@dataclass
class ControlRequest:
    """Ask the engine for something that is not generation; answered by ``ControlReply``.

    ``kind``: "stats" (scheduler.info()), "flush_cache" (scheduler.flush_cache()),
    "shutdown" (finish in-flight work, then exit) or, in-process only, "call"
    (``arg(scheduler)`` between steps).
    """

    kind: str
    arg: Any = None
    req_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class ControlReply:
    req_id: str
    kind: str
    value: Any = None
    error: str | None = None


@dataclass
class FinishReason:
    type: str  # "stop" | "length" | "abort"
    matched: int | str | None = None
    message: str | None = None

    def to_json(self) -> dict:
        out: dict = {"type": self.type, "matched": self.matched}
        if self.message is not None:
            out["message"] = self.message
        return out


@dataclass
class TokenOutput:
    """What a scheduler step produced for one request: the new tokens since the last
    output (and their logprobs), and the finish state."""

    rid: str
    new_token_ids: list[int]
    finished: bool
    finish_reason: FinishReason | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    # (logprob, token_id) per new output token; top alternatives as [(logprob, token_id)]
    output_token_logprobs: list[tuple[float, int]] = field(default_factory=list)
    output_top_logprobs: list[list[tuple[float, int]]] = field(default_factory=list)
    # only in the first output of a request that asked for prompt logprobs
    input_token_logprobs: list[tuple[float | None, int]] = field(default_factory=list)
    input_top_logprobs: list[list[tuple[float, int]] | None] = field(default_factory=list)
    # number of trailing chars of the decoded text to drop (a matched stop string)
    stop_str: str | None = None
    # speculative decoding, so far: verify forwards, drafted and accepted draft tokens
    spec_verify_steps: int = 0
    spec_draft_tokens: int = 0
    spec_accepted_tokens: int = 0
