"""Incremental detokenization: turn a stream of output token ids into text deltas.

Decoding one token at a time is wrong for byte-level BPE (a CJK character or an emoji is
often split over several tokens, each decoding to "\\ufffd") and for tokenizers whose decode
depends on neighbours (SentencePiece's leading space). Decoding the whole sequence every
step is right but O(n) per step. We decode a small window instead:

    ids:  ... | surround ... read | read ... end |
               `-- already emitted  `-- new tokens

``prefix = decode(ids[surround:read])`` and ``full = decode(ids[surround:])``; the new text
is ``full[len(prefix):]``. It is held back while ``full`` ends in "\\ufffd" (an incomplete
UTF-8 character) and emitted once the character completes; then the window slides
(``surround = read``, ``read = end``). The window stays a few tokens long, so each step
costs O(1) in the sequence length.
"""
from __future__ import annotations

from typing import Any, Iterable

REPLACEMENT_CHAR = "\ufffd"
# Held-back tokens beyond this many (only invalid bytes, runs of skipped special tokens or
# a large multi-token feed get here) are emitted up to the last whole character.
MAX_PENDING_TOKENS = 8


class IncrementalDetokenizer:
    """Per-request detokenizer state. ``feed(ids)`` returns the text delta those ids add.

    The concatenation of all deltas plus ``finish()`` equals
    ``tokenizer.decode(all_ids, skip_special_tokens=..., clean_up_tokenization_spaces=False)``
    whenever the ids decode to valid UTF-8.
    """

    def __init__(
        self,
        tokenizer: Any,
        *,
        skip_special_tokens: bool = True,
        spaces_between_special_tokens: bool = True,
    ) -> None:
        self.tokenizer = tokenizer
        self.skip_special_tokens = skip_special_tokens
        self.spaces_between_special_tokens = spaces_between_special_tokens
        self.ids: list[int] = []
        self._surround = 0  # window start: context for the decode of the new tokens
        self._read = 0  # tokens before this have been emitted as text
        self._text: list[str] = []

    @property
    def text(self) -> str:
        """All text emitted so far (without a held-back incomplete character)."""
        if len(self._text) > 1:
            self._text = ["".join(self._text)]
        return self._text[0] if self._text else ""

    def feed(self, ids: Iterable[int]) -> str:
        """Append output token ids; return the newly decodable text ("" while held back)."""
        self.ids.extend(ids)
        end = len(self.ids)
        if end == self._read:
            return ""
        prefix = self._decode(self.ids[self._surround : self._read])
        full = self._decode(self.ids[self._surround : end])
        if len(full) > len(prefix) and not full.endswith(REPLACEMENT_CHAR):
            return self._emit(full[len(prefix) :], end)
        if end - self._read <= MAX_PENDING_TOKENS:
            return ""  # nothing visible yet, or an incomplete UTF-8 character at the end
        # A long run is held back. Valid text breaks cleanly before one of the last 3
        # tokens (a character has at most 4 bytes); if none does, the bytes are invalid.
        for cut in range(end - 1, end - 4, -1):
            text = self._decode(self.ids[self._surround : cut])
            if not text.endswith(REPLACEMENT_CHAR):
                break
        return self._emit(text[len(prefix) :], cut)

    def finish(self) -> str:
        """End of stream: emit whatever is still held back (invalid bytes as "\\ufffd")."""
        if len(self.ids) == self._read:
            return ""
        prefix = self._decode(self.ids[self._surround : self._read])
        full = self._decode(self.ids[self._surround :])
        return self._emit(full[len(prefix) :], len(self.ids))

    def _emit(self, delta: str, read: int) -> str:
        self._surround, self._read = self._read, read
        self._text.append(delta)
        return delta

    def _decode(self, ids: list[int]) -> str:
        if not ids:
            return ""
        return self.tokenizer.decode(
            ids,
            skip_special_tokens=self.skip_special_tokens,
            spaces_between_special_tokens=self.spaces_between_special_tokens,
            clean_up_tokenization_spaces=False,
        )
