"""The two interfaces every grammar backend implements (regex, JSON schema, CFG)."""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class GrammarMatcher(ABC):
    """Per-request decoding state over a compiled grammar.

    Token ids index the vocabulary the grammar was compiled for; ids that are special tokens
    (other than EOS) or beyond the tokenizer are never allowed.

    `error` is set (a message) when the grammar cannot go on mid-request: a lazily built DFA
    outgrew its state limit. From then on the mask allows only EOS and `advance` refuses
    other tokens; the caller should abort the request with the message.
    """

    error: str | None = None

    @abstractmethod
    def allowed_tokens(self) -> torch.Tensor:
        """A new bool tensor [vocab.size]: True where the token may come next."""

    @abstractmethod
    def fill_mask(self, out_row: torch.Tensor) -> None:
        """Write `allowed_tokens()` into a preallocated bool row [vocab.size]."""

    @abstractmethod
    def advance(self, token_id: int) -> bool:
        """Consume one token; False (and state unchanged) when the token is not allowed."""

    @abstractmethod
    def is_finished(self) -> bool:
        """EOS was accepted, or the state accepts and no further token can follow."""

    @abstractmethod
    def copy(self) -> "GrammarMatcher":
        """An independent matcher in the same state (for fork / parallel sampling)."""

    @abstractmethod
    def rollback(self, n: int) -> None:
        """Undo the last `n` advanced tokens (n <= number of tokens advanced)."""

    @abstractmethod
    def jump_forward_bytes(self) -> bytes:
        """The bytes the grammar forces from the current state (b"" when there is a choice)."""


class CompiledGrammar(ABC):
    """A grammar compiled against one vocabulary; immutable and shared between requests."""

    @abstractmethod
    def accepts(self, text: str) -> bool:
        """Whether the whole string is in the grammar's language."""

    @abstractmethod
    def matcher(self) -> GrammarMatcher:
        """A fresh matcher at the start state."""
