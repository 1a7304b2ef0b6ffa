"""Mapping OpenAI request fields to SGLang ``sampling_params`` and engine results back to
OpenAI's response pieces (finish reasons, usage, logprobs)."""
from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from .errors import APIError
from .protocol_openai import ResponseFormat, _SamplingFields
from .serving_common import SequenceResult

JSON_OBJECT_SCHEMA: dict[str, Any] = {"type": "object"}
_LOGIT_BIAS_LIMIT = 100.0  # OpenAI's range for logit_bias values
# SGLang-side names in error messages -> the OpenAI request's names (plus the prompt field)
_OPENAI_NAMES = {"min_new_tokens": "min_tokens"}
_PROMPT_PARAMS = ("text", "input_ids")


def sampling_params(req: _SamplingFields, max_tokens: int | None) -> dict[str, Any]:
    """SGLang sampling_params from the fields both OpenAI endpoints share."""
    params: dict[str, Any] = {
        "max_new_tokens": max_tokens, "min_new_tokens": req.min_tokens, "n": req.n,
        "stop": req.stop, "stop_token_ids": req.stop_token_ids, "ignore_eos": req.ignore_eos,
        "skip_special_tokens": req.skip_special_tokens, "seed": req.seed,
        "spaces_between_special_tokens": req.spaces_between_special_tokens,
        "no_stop_trim": req.no_stop_trim, "regex": req.regex, "ebnf": req.ebnf,
        "json_whitespace": req.json_whitespace, "json_key_order": req.json_key_order}
    if req.logit_bias:
        bad = next((v for v in req.logit_bias.values() if not -_LOGIT_BIAS_LIMIT <= v <= _LOGIT_BIAS_LIMIT), None)
        if bad is not None:
            raise APIError(400, f"logit_bias: values must be in [-100, 100] (got {bad})", param="logit_bias")
        params["logit_bias"] = req.logit_bias
    for name in ("temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty",
                 "repetition_penalty"):
        value = getattr(req, name)
        if value is not None:
            params[name] = value
    if params.get("top_k") == 0:  # OpenAI-style servers (vLLM) read 0 as "off", SGLang as -1
        params["top_k"] = -1
    return params


def response_format_constraint(fmt: ResponseFormat | None) -> tuple[str, str] | None:
    """``(sampling param, value)`` for a ``response_format``: ``json_schema`` (json_object,
    json_schema) or ``structural_tag``; None for text."""
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return "json_schema", json.dumps(fmt.schema_ if fmt.schema_ is not None else JSON_OBJECT_SCHEMA)
    if fmt.type == "structural_tag":
        if fmt.structures is None:
            raise APIError(400, "response_format.structures is required for type structural_tag",
                           param="response_format.structures")
        return "structural_tag", json.dumps({"structures": fmt.structures, "triggers": fmt.triggers})
    if (fmt.json_schema is None or fmt.json_schema.schema_ is None) and fmt.schema_ is not None:
        return "json_schema", json.dumps(fmt.schema_)
    if fmt.json_schema is None or fmt.json_schema.schema_ is None:
        raise APIError(400, "response_format.json_schema.schema is required for type json_schema",
                       param="response_format.json_schema")
    return "json_schema", json.dumps(fmt.json_schema.schema_)


def openai_error(exc: APIError, prompt_field: str, max_field: str) -> APIError:
    """``exc`` with the request's OpenAI field names (``messages``/``prompt``, ``max_tokens``)
    where the engine side named SGLang's (``text``, ``max_new_tokens``); context-length errors
    get OpenAI's ``context_length_exceeded`` code."""
    names = {**_OPENAI_NAMES, "max_new_tokens": max_field, **{p: prompt_field for p in _PROMPT_PARAMS}}
    param = names.get(exc.param or "")
    if param is None:
        return exc
    message = exc.message.replace("sampling_params.", "")
    message = re.sub(r"\b(" + "|".join(names) + r")\b", lambda m: names[m.group(1)], message)
    too_long = param in (prompt_field, max_field) and ("context length" in message or "KV pool" in message)
    return APIError(exc.status, message, param=param, retry_after=exc.retry_after,
                    code="context_length_exceeded" if too_long else exc.code)


def finish_reason(res: SequenceResult | str | None) -> str | None:
    reason = res.finish_reason if isinstance(res, SequenceResult) else res
    return {"abort": "abort"}.get(reason, reason) if reason else None


def usage(results: list[SequenceResult], n: int) -> dict[str, Any]:
    """Prompt tokens count once per prompt (not per ``n`` sample)."""
    prompt = sum(r.prompt_tokens for i, r in enumerate(results) if i % n == 0)
    completion = sum(r.completion_tokens for r in results)
    cached = sum(r.cached_tokens for i, r in enumerate(results) if i % n == 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion, "prompt_tokens_details": {"cached_tokens": cached}}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


class TokenText:
    """Decodes single tokens for logprob entries (cached: the same ids recur)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._cache: dict[int, str] = {}

    def __call__(self, token_id: int) -> str:
        text = self._cache.get(token_id)
        if text is None:
            text = self._cache[token_id] = self.tokenizer.decode([token_id])
        return text

    def chat_logprobs(self, logprobs: list[tuple[float, int]],
                      tops: list[list[tuple[float, int]]], top_n: int) -> dict[str, Any]:
        """``choice.logprobs`` of a chat completion."""
        content = []
        for i, (lp, tid) in enumerate(logprobs):
            tok = self(tid)
            alts = tops[i] if i < len(tops) and top_n else []
            content.append({"token": tok, "logprob": lp, "bytes": list(tok.encode()),
                            "top_logprobs": [{"token": self(t), "logprob": l, "bytes": list(self(t).encode())}
                                             for l, t in alts[:top_n]]})
        return {"content": content}

    def completion_logprobs(self, logprobs: list[tuple[float, int]],
                            tops: list[list[tuple[float, int]]], offset: int = 0) -> dict[str, Any]:
        """``choice.logprobs`` of a (legacy) completion."""
        tokens, token_lps, top_lps, offsets = [], [], [], []
        for i, (lp, tid) in enumerate(logprobs):
            tok = self(tid)
            tokens.append(tok)
            token_lps.append(lp)
            alts = tops[i] if i < len(tops) else []
            top_lps.append({self(t): l for l, t in alts} if alts else None)
            offsets.append(offset)
            offset += len(tok)
        return {"tokens": tokens, "token_logprobs": token_lps, "top_logprobs": top_lps,
                "text_offset": offsets}
