"""The text a request is routed by: the prompt, ``text``, or the chat messages as a string.

Rendered without a tokenizer or chat template (the router has neither): only requests that
share a prefix need to render to strings that share a prefix, which plain concatenation keeps.
"""
from __future__ import annotations

from typing import Any


def _prompt_text(prompt: Any) -> str:
    """A prompt as text: a string, a list of strings (joined), or token ids (as numbers)."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, str) for p in prompt):
            return "\n".join(prompt)
        if all(isinstance(p, int) for p in prompt):
            return " ".join(map(str, prompt))
        return "\n".join(_prompt_text(p) for p in prompt)
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def chat_text(messages: Any) -> str:
    if not isinstance(messages, list):
        return ""
    out = []
    for m in messages:
        if isinstance(m, dict):
            out.append(f"<|{m.get('role', '')}|>{_content_text(m.get('content'))}\n")
    return "".join(out)


def routing_text(route: str, body: Any) -> str:
    """The routing text of a request body on ``route`` ('' when there is none)."""
    if not isinstance(body, dict):
        return ""
    if route == "/generate":
        text = body.get("text")
        return _prompt_text(text if text is not None else body.get("input_ids"))
    if route == "/v1/completions":
        return _prompt_text(body.get("prompt"))
    if route == "/v1/chat/completions":
        return chat_text(body.get("messages"))
    return ""


def is_streaming(body: Any) -> bool:
    return isinstance(body, dict) and bool(body.get("stream"))
