"""Tool calling: the constraint that makes calls valid, and parsing calls out of the text.

- ``tool_choice`` = a named function: the output is that function's arguments object.
- ``required``: the output is ``{"name": <one of the tools>, "arguments": {...}}``.
- ``auto``: free text with triggered calls (a ``structural_tag``): once the model writes
  ``<tool_call>`` (the Hermes/SmolLM2 convention), the text must go on as
  ``\\n{"name": ..., "arguments": ...}\\n</tool_call>`` with the arguments valid for that
  tool's schema; after the closing tag the text is free again, so the model may call more
  tools or end. Only such blocks become calls, so every call returned passed a grammar.
  When another constraint is given (response_format, regex, ebnf) it wins and no calls are
  parsed.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from .errors import APIError
from .protocol_openai import NamedToolChoice, Tool

_ANY_OBJECT: dict[str, Any] = {"type": "object"}
CALL_BEGIN, CALL_END = "<tool_call>", "</tool_call>"


def tool_mode(tools: list[Tool] | None, choice: Any) -> str:
    """One of "none", "auto", "required", "named" (no tools: "none"; a choice that needs
    tools without them is a 400, as OpenAI's)."""
    if not tools and (choice == "required" or isinstance(choice, NamedToolChoice)):
        raise APIError(400, "tool_choice: a tool_choice other than 'none' or 'auto' requires tools",
                       param="tool_choice")
    if not tools or choice == "none":
        return "none"
    names = [t.function.name for t in tools]
    dup = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if dup is not None:
        raise APIError(400, f"tools: more than one function is named {dup!r}", param="tools")
    if isinstance(choice, NamedToolChoice):
        return "named"
    return choice or "auto"


def named_tool(tools: list[Tool], choice: NamedToolChoice) -> Tool:
    for tool in tools:
        if tool.function.name == choice.function.name:
            return tool
    raise APIError(400, f"tool_choice: no tool named {choice.function.name!r} in tools",
                   param="tool_choice")


def parameters_schema(tool: Tool) -> dict[str, Any]:
    return tool.function.parameters or _ANY_OBJECT


def required_schema(tools: list[Tool]) -> dict[str, Any]:
    """Schema of one call to any of ``tools``."""
    options = [{"type": "object",
                "properties": {"name": {"enum": [t.function.name]}, "arguments": parameters_schema(t)},
                "required": ["name", "arguments"], "additionalProperties": False} for t in tools]
    return options[0] if len(options) == 1 else {"anyOf": options}


def auto_structural_tag(tools: list[Tool]) -> dict[str, Any]:
    """``structural_tag`` for ``tool_choice="auto"``: a call block after each trigger."""
    return {"structures": [{"begin": CALL_BEGIN + "\n", "schema": required_schema(tools),
                            "end": "\n" + CALL_END}],
            "triggers": [CALL_BEGIN]}


def make_call(name: str, arguments: Any) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": name, "arguments": args}}


def _as_calls(payload: Any, names: set[str]) -> list[dict[str, Any]]:
    calls = []
    for item in payload if isinstance(payload, list) else [payload]:
        if isinstance(item, dict) and item.get("name") in names:
            calls.append(make_call(item["name"], item.get("arguments", item.get("parameters", {}))))
    return calls


def parse_calls(text: str, tools: list[Tool]) -> list[dict[str, Any]] | None:
    """Calls in a ``required`` output (one ``{"name", "arguments"}`` object), or None."""
    try:
        payload = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    return _as_calls(payload, {t.function.name for t in tools}) or None


def parse_tagged_calls(text: str, tools: list[Tool]) -> tuple[str | None, list[dict[str, Any]] | None]:
    """(content, calls) of an ``auto`` output: each ``<tool_call>`` block holding a whole
    JSON call is a call; the text before the first call is the content (None if blank)."""
    names = {t.function.name for t in tools}
    decoder = json.JSONDecoder()
    calls: list[dict[str, Any]] = []
    first = None
    at = text.find(CALL_BEGIN)
    while at >= 0:
        start = at + len(CALL_BEGIN)
        start += len(text[start:]) - len(text[start:].lstrip())
        try:
            payload, stop = decoder.raw_decode(text, start)
        except (json.JSONDecodeError, RecursionError):
            payload, stop = None, start
        found = _as_calls(payload, names) if isinstance(payload, dict) else []
        if found and first is None:
            first = at
        calls += found
        at = text.find(CALL_BEGIN, stop)
    if not calls:
        return text, None
    content = text[:first].strip()
    return content or None, calls
