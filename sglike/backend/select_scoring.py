"""Exact select() scoring from prompt logprobs (shared by the native-schema backends).

For a prompt P and choice c we score the tokens of ``tokenize(P + c)`` that are not shared
with ``tokenize(P)`` (their longest common prefix); at least one token always counts. The
conditional logprobs of those tokens come from one request per choice with
``max_new_tokens=0`` and a ``logprob_start_len`` just before them; all choices of all
selects go in one batch, so the radix cache shares the prompt. The unconditional logprobs
(for ``unconditional_likelihood_normalized``) score the same token ids with no prompt.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ..choices import ChoicesDecision, token_length_normalized


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def choice_start(prefix_ids: Sequence[int], full_ids: Sequence[int]) -> int:
    """Index of the first token that belongs to the choice in ``full_ids``."""
    return min(common_prefix_len(prefix_ids, full_ids), len(full_ids) - 1)


@dataclass
class ScoringItem:
    """One prompt-scoring request in the native schema (input_ids form)."""

    input_ids: list[int]
    logprob_start_len: int

    def as_native(self) -> dict[str, Any]:
        return {"input_ids": self.input_ids, "logprob_start_len": self.logprob_start_len,
                "return_logprob": True, "top_logprobs_num": 0,
                "sampling_params": {"max_new_tokens": 0, "temperature": 0.0}}


@dataclass
class SelectPlan:
    """The scoring items of one select and how to read them back."""

    choices: tuple[str, ...]
    method: Any
    starts: list[int]  # choice token start per choice
    items: list[ScoringItem]  # conditional items, then unconditional ones if needed


def plan_select(prefix_ids: list[int], full_ids: list[list[int]], choices: tuple[str, ...], method: Any) -> SelectPlan:
    """Build the conditional (and unconditional) scoring items for one select.

    We ask logprobs from one position *before* the choice's first token, then drop that
    entry, so the result never depends on how the engine fills the first entry."""
    method = method or token_length_normalized
    starts = [choice_start(prefix_ids, ids) for ids in full_ids]
    items = [ScoringItem(ids, max(k - 1, 0)) for ids, k in zip(full_ids, starts)]
    if method.requires_unconditional_logprobs:
        items += [ScoringItem(ids[k:], 0) for ids, k in zip(full_ids, starts)]
    return SelectPlan(choices, method, starts, items)


def _entries(meta: dict[str, Any], ids: list[int], start: int, from_pos: int) -> list[list[Any]]:
    """Input logprob entries for positions ``from_pos..`` given entries from ``start``."""
    entries = [list(e) for e in meta.get("input_token_logprobs") or []]
    if start == 0 and len(entries) == len(ids) - 1:
        entries.insert(0, [None, ids[0], None])  # some engines omit the context-free first entry
    if len(entries) != len(ids) - start:
        raise ValueError(f"engine returned {len(entries)} prompt logprobs, expected {len(ids) - start}")
    return entries[from_pos - start:]


def decide(plan: SelectPlan, metas: Sequence[dict[str, Any]]) -> ChoicesDecision:
    """Apply the choices method to the engine's answers for ``plan.items`` (same order)."""
    n = len(plan.choices)
    conditional = []
    for i in range(n):
        item = plan.items[i]
        entries = _entries(metas[i], item.input_ids, item.logprob_start_len, plan.starts[i])
        if plan.starts[i] == 0:
            entries[0][0] = None  # no context: the first token has no logprob
        conditional.append(entries)
    unconditional = None
    if plan.method.requires_unconditional_logprobs:
        unconditional = [_entries(metas[n + i], plan.items[n + i].input_ids, 0, 0) for i in range(n)]
        for entries in unconditional:
            entries[0][0] = None
    decision = plan.method(choices=plan.choices, input_token_logprobs=conditional,
                           unconditional_token_logprobs=unconditional)
    decision.meta_info["choice_token_starts"] = plan.starts
    return decision
