"""Tool calling: JSON schemas that constrain the output to a tool call, and parsing of
the generated text back into OpenAI ``tool_calls``.

- ``tool_choice`` = a named function: the output is that function's arguments object.
- ``required``: the output is ``{"name": <one of the tools>, "arguments": {...}}``.
- ``auto``: unconstrained; a ``<tool_call>{...}</tool_call>`` block (the Hermes/SmolLM2
  convention) or a bare ``{"name", "arguments"}`` object naming a known tool is a call.
"""
from __future__ import annotations

import json
import re
import uuid
from typing import Any

from .errors import APIError
from .protocol_openai import NamedToolChoice, Tool

_ANY_OBJECT: dict[str, Any] = {"type": "object"}
_TOOL_CALL_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)


def tool_mode(tools: list[Tool] | None, choice: Any) -> str:
    """One of "none", "auto", "required", "named" (no tools: "none")."""
    if not tools or choice == "none":
        return "none"
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


def make_call(name: str, arguments: Any) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": name, "arguments": args}}


def parse_calls(text: str, tools: list[Tool]) -> list[dict[str, Any]] | None:
    """Tool calls found in ``text`` (``{"name", "arguments"}`` objects), or None."""
    names = {t.function.name for t in tools}
    blocks = _TOOL_CALL_BLOCK.findall(text) or [text.strip()]
    calls: list[dict[str, Any]] = []
    for block in blocks:
        try:
            payload = json.loads(block)
        except (json.JSONDecodeError, RecursionError):
            continue
        for item in payload if isinstance(payload, list) else [payload]:
            if isinstance(item, dict) and item.get("name") in names:
                args = item.get("arguments", item.get("parameters", {}))
                calls.append(make_call(item["name"], args))
    return calls or None
