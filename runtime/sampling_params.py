"""Per-request sampling parameters (SGLang's names), validated once at submission.

Every field of SGLang's native ``sampling_params`` is accepted (a null value means the
default, as in SGLang); names SGLang does not know are refused. ``sampling_seed`` is
SGLang's name for ``seed``. Accepted and ignored: ``custom_params`` (read only by custom
logit processors, which sglike does not have) and ``stream_interval`` (sglike streams every
step). ``stop_regex`` is validated here and matched by the stop checker.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, fields
from typing import Any

from sglike.grammar.structural.tag import StructuralTag

_DEFAULT_MAX_NEW_TOKENS = 128
_CONSTRAINTS = ("regex", "json_schema", "ebnf", "structural_tag")
JSON_WHITESPACE = ("compact", "flexible")
JSON_KEY_ORDER = ("schema", "any")
_ALIASES = {"sampling_seed": "seed"}  # SGLang's name -> ours


@dataclass
class SamplingParams:
    max_new_tokens: int = _DEFAULT_MAX_NEW_TOKENS
    min_new_tokens: int = 0
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    min_p: float = 0.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    repetition_penalty: float = 1.0
    stop: list[str] = field(default_factory=list)
    stop_token_ids: list[int] = field(default_factory=list)
    stop_regex: list[str] = field(default_factory=list)  # Python `re` patterns
    ignore_eos: bool = False
    n: int = 1
    seed: int | None = None
    skip_special_tokens: bool = True
    spaces_between_special_tokens: bool = True
    no_stop_trim: bool = False
    regex: str | None = None
    json_schema: str | None = None
    ebnf: str | None = None
    structural_tag: str | None = None  # JSON text; see runtime/structural_tag.py
    json_whitespace: str = "compact"  # json_schema constraints: "compact" | "flexible"
    json_key_order: str = "schema"  # json_schema constraints: "schema" | "any"
    logit_bias: dict[int, float] | None = None  # token id -> added to its logit before sampling
    custom_params: dict[str, Any] | None = None  # accepted, ignored
    stream_interval: int | None = None  # accepted, ignored

    @classmethod
    def from_dict(cls, params: dict[str, Any] | None) -> "SamplingParams":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params or {}) - known - set(_ALIASES))
        if unknown:
            raise ValueError(f"unknown sampling_params field(s): {', '.join(unknown)}")
        params = {_ALIASES.get(k, k): v for k, v in (params or {}).items() if v is not None}
        for name in ("stop", "stop_regex"):
            if isinstance(params.get(name), str):
                params[name] = [params[name]]
        if isinstance(params.get("stop_token_ids"), int):
            params["stop_token_ids"] = [params["stop_token_ids"]]
        for name in ("stop", "stop_regex", "stop_token_ids"):
            if isinstance(params.get(name), tuple):
                params[name] = list(params[name])
        if isinstance(params.get("logit_bias"), dict):
            params["logit_bias"] = _token_keys(params["logit_bias"])
        for name in ("json_schema", "structural_tag"):
            if isinstance(params.get(name), (dict, bool)):
                params[name] = json.dumps(params[name])
        sp = cls(**params)
        sp.validate()
        return sp

    def validate(self) -> None:
        def bad(name: str, why: str) -> None:
            raise ValueError(f"sampling_params.{name} {why} (got {getattr(self, name)!r})")

        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 0:
            bad("max_new_tokens", "must be an integer >= 0")
        if not isinstance(self.min_new_tokens, int) or self.min_new_tokens < 0:
            bad("min_new_tokens", "must be an integer >= 0")
        if self.min_new_tokens > self.max_new_tokens:
            bad("min_new_tokens", "must be <= max_new_tokens")
        if not self.temperature >= 0.0:
            bad("temperature", "must be >= 0")
        if not 0.0 < self.top_p <= 1.0:
            bad("top_p", "must be in (0, 1]")
        if not isinstance(self.top_k, int) or (self.top_k < 1 and self.top_k != -1) :
            bad("top_k", "must be -1 (off) or an integer >= 1")
        if not 0.0 <= self.min_p <= 1.0:
            bad("min_p", "must be in [0, 1]")
        if not -2.0 <= self.frequency_penalty <= 2.0:
            bad("frequency_penalty", "must be in [-2, 2]")
        if not -2.0 <= self.presence_penalty <= 2.0:
            bad("presence_penalty", "must be in [-2, 2]")
        if not 0.0 < self.repetition_penalty <= 2.0:
            bad("repetition_penalty", "must be in (0, 2]")
        if not isinstance(self.n, int) or self.n < 1:
            bad("n", "must be an integer >= 1")
        if self.seed is not None and (not isinstance(self.seed, int) or not -(2**63) <= self.seed < 2**64):
            bad("seed", "must be an integer in [-2^63, 2^64)")
        if any(not isinstance(s, str) or not s for s in self.stop):
            bad("stop", "must be non-empty strings")
        if any(not isinstance(t, int) or t < 0 for t in self.stop_token_ids):
            bad("stop_token_ids", "must be non-negative integers")
        for pattern in self.stop_regex:
            if not isinstance(pattern, str) or not pattern:
                bad("stop_regex", "must be non-empty strings")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"sampling_params.stop_regex: invalid pattern {pattern!r}: {exc}") from None
        if self.logit_bias is not None and (
                not isinstance(self.logit_bias, dict)
                or any(not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v)
                       for v in self.logit_bias.values())):
            bad("logit_bias", "must map token ids to finite numbers")
        if self.custom_params is not None and not isinstance(self.custom_params, dict):
            bad("custom_params", "must be an object")
        for name in _CONSTRAINTS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                bad(name, "must be a string")
        if sum(getattr(self, name) is not None for name in _CONSTRAINTS) > 1:
            raise ValueError(f"sampling_params: give at most one of {', '.join(_CONSTRAINTS)}")
        if self.structural_tag is not None:
            StructuralTag.parse(self.structural_tag)
        if self.json_whitespace not in JSON_WHITESPACE:
            bad("json_whitespace", f"must be one of {JSON_WHITESPACE}")
        if self.json_key_order not in JSON_KEY_ORDER:
            bad("json_key_order", f"must be one of {JSON_KEY_ORDER}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0 or self.top_k == 1

    @property
    def constraint(self) -> tuple[str, str] | None:
        """``(kind, source)`` of the grammar constraint, if any."""
        for kind in _CONSTRAINTS:
            value = getattr(self, kind)
            if value is not None:
                return kind, value
        return None

    @property
    def constraint_options(self) -> tuple[tuple[str, str], ...]:
        """Keyword options of the constraint's compile (JSON schemas: whitespace, key order)."""
        if self.json_schema is None:
            return ()
        return (("whitespace", self.json_whitespace), ("key_order", self.json_key_order))


def _token_keys(bias: dict) -> dict:
    """``{"123": 2.5}`` (JSON keys are strings) -> ``{123: 2.5}``."""
    out = {}
    for key, value in bias.items():
        try:
            token = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"sampling_params.logit_bias: key {key!r} is not a token id") from None
        if token < 0:
            raise ValueError(f"sampling_params.logit_bias: token id {token} is negative")
        out[token] = value
    return out
