"""The DSL primitives users append to a state: gen, select, roles (SGLang's names)."""
from __future__ import annotations

import json
from typing import Any, Sequence

from .ir import Expr, Gen, RoleBegin, RoleBlock, RoleEnd, Select, as_expr

# Regexes for typed generation. Bounded so the grammar finishes on its own.
DTYPE_REGEX: dict[type, str] = {
    int: r"-?(0|[1-9][0-9]{0,8})",
    float: r"-?(0|[1-9][0-9]{0,6})\.[0-9]{1,6}",
    bool: r"(True|False)",
    str: r'"[^"\\\n]{0,64}"',
}


def pydantic_schema(model: Any) -> Any:
    """A pydantic model's JSON schema with its objects closed (`additionalProperties: false`
    where the schema leaves it out), unless the model allows extra fields: pydantic
    ignores undeclared keys, so generating them only costs tokens (and a small model may
    not stop). The grammar compiler's own pydantic input does the same."""
    out = model.model_json_schema()
    if getattr(model, "model_config", {}).get("extra") != "allow":
        _close(out)
    return out


_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "contains")


def _close(node: Any) -> None:
    """Set additionalProperties: false on every object schema with properties that leaves
    it out, walking subschemas only (never enum/const/default values)."""
    if not isinstance(node, dict):
        return
    if "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    for key in _MAPS:
        for sub in (node.get(key) or {}).values():
            _close(sub)
    for key in _LISTS:
        for sub in node.get(key) or []:
            _close(sub)
    for key in _ONE:
        _close(node.get(key))


def _schema_string(schema: Any) -> str:
    """dict, JSON string or pydantic model class -> JSON schema string."""
    if isinstance(schema, str):
        json.loads(schema)  # fail early on invalid JSON
        return schema
    if isinstance(schema, dict):
        return json.dumps(schema)
    if hasattr(schema, "model_json_schema"):
        return json.dumps(pydantic_schema(schema))
    raise TypeError(f"json_schema must be a dict, a JSON string or a pydantic model class (got {type(schema).__name__})")


def gen(
    name: str | None = None,
    max_tokens: int | None = None,
    min_tokens: int | None = None,
    n: int | None = None,
    stop: str | Sequence[str] | None = None,
    stop_token_ids: Sequence[int] | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    min_p: float | None = None,
    frequency_penalty: float | None = None,
    presence_penalty: float | None = None,
    repetition_penalty: float | None = None,
    ignore_eos: bool | None = None,
    return_logprob: bool | None = None,
    logprob_start_len: int | None = None,
    top_logprobs_num: int | None = None,
    dtype: type | None = None,
    choices: Sequence[str] | None = None,
    choices_method: Any = None,
    regex: str | None = None,
    json_schema: Any = None,
    ebnf: str | None = None,
    seed: int | None = None,
    max_new_tokens: int | None = None,
    json_whitespace: str | None = None,
    json_key_order: str | None = None,
) -> Expr:
    """Generate into variable ``name``. With ``choices`` this is :func:`select`.

    ``json_whitespace`` (``"compact"`` / ``"flexible"``) and ``json_key_order``
    (``"schema"`` / ``"any"``) shape the JSON a ``json_schema`` admits (the runtime's
    sampling parameters of the same names).

    ``dtype`` (int, float, bool, str) constrains the output with a regex; the variable
    still holds the text, which ``int()``/``float()``/``== "True"``/``json.loads`` accept.
    """
    if choices is not None:
        return select(name, choices=choices, choices_method=choices_method)
    if dtype is not None and dtype not in DTYPE_REGEX:
        raise TypeError(f"gen(dtype=...) must be one of int, float, bool, str (got {dtype!r})")
    constraints = [c for c in (regex, json_schema, ebnf, dtype) if c is not None]
    if len(constraints) > 1:
        raise ValueError("gen(): give at most one of regex, json_schema, ebnf, dtype")
    if (json_whitespace is not None or json_key_order is not None) and json_schema is None:
        raise ValueError("gen(): json_whitespace and json_key_order apply to json_schema only")
    if dtype is not None:
        regex = DTYPE_REGEX[dtype]
    params: dict[str, Any] = {
        "max_new_tokens": max_new_tokens if max_new_tokens is not None else max_tokens,
        "min_new_tokens": min_tokens,
        "n": n,
        "stop": [stop] if isinstance(stop, str) else (list(stop) if stop is not None else None),
        "stop_token_ids": list(stop_token_ids) if stop_token_ids is not None else None,
        "temperature": temperature,
        "top_p": top_p,
        "top_k": top_k,
        "min_p": min_p,
        "frequency_penalty": frequency_penalty,
        "presence_penalty": presence_penalty,
        "repetition_penalty": repetition_penalty,
        "ignore_eos": ignore_eos,
        "regex": regex,
        "json_schema": _schema_string(json_schema) if json_schema is not None else None,
        "ebnf": ebnf,
        "seed": seed,
        "json_whitespace": json_whitespace,
        "json_key_order": json_key_order,
    }
    params = {k: v for k, v in params.items() if v is not None}
    return Gen(name, params, dtype, return_logprob, logprob_start_len, top_logprobs_num)


def gen_int(name: str | None = None, **kwargs: Any) -> Expr:
    """``gen(name, dtype=int, ...)``."""
    return gen(name, dtype=int, **kwargs)


def gen_string(name: str | None = None, **kwargs: Any) -> Expr:
    """``gen(name, dtype=str, ...)``: a double-quoted string."""
    return gen(name, dtype=str, **kwargs)


def select(name: str | None = None, choices: Sequence[str] | None = None, temperature: float = 0.0,
           choices_method: Any = None) -> Expr:
    """Choose one of ``choices`` from the model's prompt logprobs (exact scoring)."""
    if not choices:
        raise ValueError("select() needs a non-empty list of choices")
    if not all(isinstance(c, str) and c for c in choices):
        raise ValueError("select() choices must be non-empty strings")
    if temperature != 0.0:
        raise ValueError("select() supports temperature=0 only (choices are scored exactly)")
    return Select(name, tuple(choices), choices_method)


def _role(role: str, expr: Any = None) -> Expr:
    return RoleBlock(role, None if expr is None else as_expr(expr))


def system(expr: Any = None) -> Expr:
    """A system message: ``s += system("...")``."""
    return _role("system", expr)


def user(expr: Any = None) -> Expr:
    """A user message: ``s += user("...")``."""
    return _role("user", expr)


def assistant(expr: Any = None) -> Expr:
    """An assistant message: ``s += assistant(gen("answer"))``."""
    return _role("assistant", expr)


def system_begin() -> Expr:
    return RoleBegin("system")


def system_end() -> Expr:
    return RoleEnd("system")


def user_begin() -> Expr:
    return RoleBegin("user")


def user_end() -> Expr:
    return RoleEnd("user")


def assistant_begin() -> Expr:
    return RoleBegin("assistant")


def assistant_end() -> Expr:
    return RoleEnd("assistant")
