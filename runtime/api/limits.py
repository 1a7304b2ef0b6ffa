"""The one prompt-length check: prompt + max_new_tokens must fit one request's KV."""
from __future__ import annotations


def length_problem(prompt_len: int, max_new_tokens: int, *, context_length: int | None,
                   max_total_tokens: int | None) -> str | None:
    """Why a request of this size cannot run (a message naming the field), or None.

    ``RequestBuilder`` raises it as a ``ValueError`` (HTTP 400) before anything is sent; the
    scheduler aborts a request that reaches it anyway with the same message.
    """
    if prompt_len == 0:
        return "text: the prompt is empty"
    limits = [(v, name) for v, name in ((context_length, "context length"), (max_total_tokens, "KV pool size")) if v]
    for limit, name in limits:
        if prompt_len >= limit:
            return f"text: the prompt has {prompt_len} tokens, more than the model's {name} allows ({limit})"
        if prompt_len + max_new_tokens > limit:
            return f"max_new_tokens: prompt ({prompt_len} tokens) + max_new_tokens ({max_new_tokens}) exceeds the {name} ({limit})"
    return None
