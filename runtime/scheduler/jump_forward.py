"""Jump-forward: when the grammar forces the next bytes, append them in one step.

The forced text is re-tokenized together with the just-sampled token (not yet sent to the
client, and without KV yet), so the boundary between generated and forced text is
tokenized the way the tokenizer would tokenize the whole string. The request then goes
through an extend step for the new tokens instead of one decode step per token.

The other boundary, between the forced text and what the model writes next, is healed the
same way: unless the grammar ends with the forced text, its last token is left for the
model to sample (the mask still forces its bytes, but lets the model choose a longer token
that starts with them, as in `SELECT` + ` name` rather than `SELECT ` + `name`).
"""
from __future__ import annotations

from typing import Any

from ..config import EngineConfig
from .request import Req


def may_jump_forward(req: Req, config: EngineConfig) -> bool:
    """Only constrained requests without logprobs or stop strings jump forward."""
    return config.enable_jump_forward and req.grammar is not None and not req.return_logprob and not req.sp.stop and not req.sp.stop_regex


def _utf8_prefix(data: bytes) -> str:
    """The longest prefix of ``data`` that is complete UTF-8 text."""
    for cut in range(len(data), max(len(data) - 4, -1), -1):
        try:
            return data[:cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return ""


def _commit(matcher: Any, new_ids: list[int]) -> list[int] | None:
    """Advance ``matcher`` through ``new_ids`` and heal the far boundary (unless the grammar
    ends there, the last token is rolled back and left to the model). Returns the ids the
    matcher consumed, or None (matcher unchanged) when the grammar rejects them."""
    for i, token in enumerate(new_ids):
        if not matcher.advance(token):
            matcher.rollback(i)
            return None
    if new_ids and not matcher.is_finished():
        matcher.rollback(1)
        return new_ids[:-1]
    return new_ids


def try_jump_forward(req: Req, tokenizer: Any, special_ids: set[int]) -> int:
    """Extend ``req.output_ids`` with the grammar's forced continuation; returns how many
    tokens it added (0: nothing forced, or the re-tokenized text did not fit the grammar)."""
    matcher = req.grammar
    forced = _utf8_prefix(matcher.jump_forward_bytes())
    if not forced:
        return 0
    last = req.output_ids[-1]
    if last in special_ids:
        return 0
    last_text = tokenizer.decode([last], skip_special_tokens=False, clean_up_tokenization_spaces=False)
    if "\ufffd" in last_text:
        return 0
    new_ids = tokenizer.encode(last_text + forced, add_special_tokens=False)
    new_ids = new_ids[: req.sp.max_new_tokens - len(req.output_ids) + 1]
    if len(new_ids) <= 1:
        return 0
    matcher.rollback(1)
    kept = _commit(matcher, new_ids)
    if kept is None or len(kept) <= 1:
        matcher.rollback(len(kept or []))
        matcher.advance(last)
        return 0
    req.output_ids[-1:] = kept
    req.decoding = False  # the new tokens need an extend step before the next sample
    req.jump_forward_tokens += len(kept) - 1
    return len(kept) - 1


def jump_forward_at_start(req: Req, tokenizer: Any) -> int:
    """Before the first prefill: text the grammar forces from its start becomes the first
    output tokens, prefilled with the prompt (healed like ``try_jump_forward``). Returns how
    many tokens it added."""
    forced = _utf8_prefix(req.grammar.jump_forward_bytes())
    if not forced or req.output_ids:
        return 0
    new_ids = tokenizer.encode(forced, add_special_tokens=False)[: req.sp.max_new_tokens - 1]
    kept = _commit(req.grammar, new_ids)
    if not kept:
        return 0
    req.output_ids = list(kept)
    req.jump_forward_tokens += len(kept)
    return len(kept)
