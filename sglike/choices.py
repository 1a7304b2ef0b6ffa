"""How ``select()`` turns per-choice token logprobs into a decision (SGLang's three methods).

Each method gets, per choice, the logprobs of that choice's own tokens given the prompt
(``[[logprob, token_id, None], ...]``), and for the unconditional method the logprobs of
the same tokens with no prompt (first entry's logprob is None, counted as 0).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

LogprobList = Sequence[Sequence[Any]]  # [[logprob, token_id, text|None], ...]


@dataclass
class ChoicesDecision:
    decision: str
    meta_info: dict[str, Any] = field(default_factory=dict)


class ChoicesMethod(Protocol):
    """Picks a choice from conditional (and optionally unconditional) token logprobs."""

    requires_unconditional_logprobs: bool

    def __call__(self, *, choices: Sequence[str], input_token_logprobs: Sequence[LogprobList],
                 unconditional_token_logprobs: Sequence[LogprobList] | None = None) -> ChoicesDecision: ...


def _values(entries: LogprobList) -> list[float]:
    return [0.0 if e[0] is None else float(e[0]) for e in entries]


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _argmax(xs: Sequence[float]) -> int:
    best = 0
    for i, x in enumerate(xs):
        if x > xs[best]:
            best = i
    return best


def normalized_logprobs(input_token_logprobs: Sequence[LogprobList]) -> list[float]:
    """Mean token logprob of each choice."""
    return [_mean(_values(lp)) for lp in input_token_logprobs]


class TokenLengthNormalized:
    """Highest mean token logprob (the default)."""

    requires_unconditional_logprobs = False

    def __call__(self, *, choices, input_token_logprobs, unconditional_token_logprobs=None):
        scores = normalized_logprobs(input_token_logprobs)
        return ChoicesDecision(choices[_argmax(scores)], {
            "normalized_prompt_logprobs": scores, "input_token_logprobs": list(input_token_logprobs)})


class GreedyTokenSelection:
    """Compare choices token by token, keeping those with the best logprob at each
    position; a shorter choice is padded with its own mean logprob."""

    requires_unconditional_logprobs = False

    def __call__(self, *, choices, input_token_logprobs, unconditional_token_logprobs=None):
        rows = [_values(lp) for lp in input_token_logprobs]
        width = max(len(r) for r in rows)
        matrix = [r + [_mean(r)] * (width - len(r)) for r in rows]
        remaining = list(range(len(choices)))
        for j in range(width):
            best = max(matrix[i][j] for i in remaining)
            remaining = [i for i in remaining if matrix[i][j] == best]
            if len(remaining) == 1:
                break
        return ChoicesDecision(choices[remaining[0]], {
            "normalized_prompt_logprobs": normalized_logprobs(input_token_logprobs),
            "input_token_logprobs": list(input_token_logprobs), "greedy_logprob_matrix": matrix})


class UnconditionalLikelihoodNormalized:
    """Highest mean of (conditional - unconditional) token logprob."""

    requires_unconditional_logprobs = True

    def __call__(self, *, choices, input_token_logprobs, unconditional_token_logprobs=None):
        if unconditional_token_logprobs is None:
            raise ValueError("unconditional_likelihood_normalized needs unconditional token logprobs")
        scores = []
        for cond, uncond in zip(input_token_logprobs, unconditional_token_logprobs):
            c, u = _values(cond), _values(uncond)
            if len(c) != len(u):
                raise ValueError("conditional and unconditional logprobs differ in length")
            scores.append(_mean([a - b for a, b in zip(c, u)]))
        return ChoicesDecision(choices[_argmax(scores)], {
            "normalized_prompt_logprobs": normalized_logprobs(input_token_logprobs),
            "input_token_logprobs": list(input_token_logprobs),
            "unconditional_token_logprobs": list(unconditional_token_logprobs),
            "normalized_unconditional_prompt_logprobs": scores})


token_length_normalized = TokenLengthNormalized()
greedy_token_selection = GreedyTokenSelection()
unconditional_likelihood_normalized = UnconditionalLikelihoodNormalized()
