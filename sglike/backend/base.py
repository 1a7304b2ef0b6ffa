"""The small interface every DSL backend implements, and the request/result records.

The interpreter only ever calls :meth:`Backend.execute` with a *list* of requests (one
per program branch that is ready), so a backend can send them as one batch.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from ..chat_template import ChatTemplate
from ..choices import ChoicesDecision


class BackendError(RuntimeError):
    """A backend request failed (transport error, engine abort, unsupported feature)."""


class UnsupportedFeature(BackendError):
    """The backend cannot do what the program asks (see the backend's docstring)."""


@dataclass
class GenRequest:
    """Generate a continuation of ``prompt``. ``sampling_params`` uses SGLang names.
    ``messages`` is the chat view of the prompt (for chat-only backends)."""

    prompt: str
    sampling_params: dict[str, Any]
    return_logprob: bool = False
    logprob_start_len: int | None = None
    top_logprobs_num: int = 0
    messages: list[dict] | None = None
    in_assistant_role: bool = False
    partial_assistant: str = ""  # text already in the open assistant message


@dataclass
class GenResult:
    text: str
    meta_info: dict[str, Any] = field(default_factory=dict)
    output_ids: list[int] = field(default_factory=list)


@dataclass
class SelectRequest:
    """Score each of ``choices`` as a continuation of ``prompt`` and decide."""

    prompt: str
    choices: tuple[str, ...]
    method: Any  # sglike.choices.ChoicesMethod


Request = GenRequest | SelectRequest
Result = GenResult | ChoicesDecision


class Backend(ABC):
    """Runs generation and choice-scoring requests for the interpreter."""

    @property
    @abstractmethod
    def chat_template(self) -> ChatTemplate:
        """Role prefixes/suffixes used by ``system/user/assistant``."""

    @abstractmethod
    def generate(self, requests: Sequence[GenRequest]) -> list[GenResult]:
        """Run all requests together (one batch where the backend allows it)."""

    @abstractmethod
    def select(self, requests: Sequence[SelectRequest]) -> list[ChoicesDecision]:
        """Score all choices of all requests together and decide each."""

    def generate_stream(self, request: GenRequest) -> Iterator[str | GenResult]:
        """Yield text deltas, then the final :class:`GenResult`. Default: no streaming."""
        yield self.generate([request])[0]

    def execute(self, requests: Sequence[Request]) -> list[Result]:
        """Run a mixed list, keeping order: gens in one batch, selects in another."""
        out: list[Result | None] = [None] * len(requests)
        gens = [i for i, r in enumerate(requests) if isinstance(r, GenRequest)]
        sels = [i for i, r in enumerate(requests) if isinstance(r, SelectRequest)]
        if gens:
            for i, res in zip(gens, self.generate([requests[i] for i in gens])):
                out[i] = res
        if sels:
            for i, res in zip(sels, self.select([requests[i] for i in sels])):
                out[i] = res
        return out  # type: ignore[return-value]

    def cache_prefix(self, prefix: str) -> None:
        """Warm the prefix cache with ``prefix`` (no-op where there is no cache)."""

    def shutdown(self) -> None:
        """Release resources."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
