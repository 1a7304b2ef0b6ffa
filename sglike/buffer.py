"""``ProgramBuffer``: the data of one running program branch and the operations on it.

Text so far, variables, chat messages, the open role and var scopes, plus the stream log
that ``text_iter`` reads. The interpreter executes IR nodes through these operations;
``ProgramState`` (the user-facing ``s``) owns one buffer. Nothing here waits or calls a
backend.
"""
from __future__ import annotations

from typing import Any

from .chat_template import ChatTemplate
from .context import RunDefaults
from .streaming import TextStream


class ProgramError(RuntimeError):
    """A program used the DSL wrongly (unbalanced roles, unknown node, ...)."""


class ProgramBuffer:
    """Everything a program branch has produced so far."""

    def __init__(self, chat_template: ChatTemplate, defaults: RunDefaults | None = None, *,
                 streaming: bool = False) -> None:
        self.chat_template = chat_template
        self.defaults = defaults or RunDefaults()
        self.variables: dict[str, Any] = {}
        self.meta_info: dict[str, Any] = {}
        self.streaming = streaming
        self.stream = TextStream()
        self.current_var: str | None = None  # the variable a streamed gen is filling
        self.written: dict[str, None] = {}  # variable names set since this buffer began (ordered)
        self._text = ""
        self._messages: list[dict[str, str]] = []
        self._roles: list[tuple[str, int]] = []  # (role, text position where its content starts)
        self._scopes: dict[str, int] = {}
        self._fork_point: tuple[int, int] = (0, 0)  # (text length, message count) when forked

    # ---- reads (never wait) ---------------------------------------------------------
    @property
    def current_text(self) -> str:
        return self._text

    @property
    def current_role(self) -> str | None:
        """The role of the open message, or None."""
        return self._roles[-1][0] if self._roles else None

    def role_text(self) -> str:
        """The content of the open message so far ("" when none is open)."""
        return self._text[self._roles[-1][1]:] if self._roles else ""

    def chat_messages(self) -> list[dict[str, str]]:
        return [dict(m) for m in self._messages]

    def added_since_fork(self) -> tuple[str, list[dict[str, str]]]:
        """The text and messages this branch added after it was forked."""
        pos, count = self._fork_point
        return self._text[pos:], [dict(m) for m in self._messages[count:]]

    # ---- writes ---------------------------------------------------------------------
    def append(self, text: str, var: str | None = None, *, published: bool = False) -> None:
        """Add ``text``; stream it too unless it was already published piece by piece."""
        self._text += text
        if self.streaming and not published:
            self.stream.put(var, text)

    def publish(self, var: str | None, text: str) -> None:
        """Stream a piece of a gen that is still running (the text is appended at its end)."""
        if self.streaming:
            self.stream.put(var, text)

    def set_var(self, name: str, value: Any) -> None:
        self.variables[name] = value
        self.written[name] = None

    def set_result(self, name: str, value: Any, meta_info: Any) -> None:
        """A gen's or select's value and its meta info."""
        self.set_var(name, value)
        self.meta_info[name] = meta_info

    def extend_messages(self, messages: list[dict[str, str]]) -> None:
        self._messages.extend(dict(m) for m in messages)

    def begin_role(self, role: str) -> None:
        if self._roles:
            raise ProgramError(f"cannot begin a {role!r} message inside an open {self._roles[-1][0]!r} message")
        if not self._messages and self._text == "":
            self.append(self.chat_template.opening(role))
        self.append(self.chat_template.prefix(role))
        self._roles.append((role, len(self._text)))

    def end_role(self, role: str) -> None:
        if self.current_role != role:
            raise ProgramError(f"{role}_end() does not match the open message ({self.current_role!r})")
        _, start = self._roles.pop()
        self._messages.append({"role": role, "content": self._text[start:]})
        self.append(self.chat_template.suffix(role))

    def begin_scope(self, name: str) -> None:
        self._scopes[name] = len(self._text)

    def end_scope(self, name: str) -> None:
        start = self._scopes.pop(name, None)
        if start is None:
            raise ProgramError(f"var_scope({name!r}) ended but never began")
        self.set_var(name, self._text[start:])

    def branch(self, defaults: RunDefaults | None = None) -> "ProgramBuffer":
        """A non-streaming copy that starts where this buffer is now (for ``fork``)."""
        child = ProgramBuffer(self.chat_template, defaults or self.defaults)
        child._text = self._text
        child.variables = dict(self.variables)
        child.meta_info = dict(self.meta_info)
        child._messages = [dict(m) for m in self._messages]
        child._roles = list(self._roles)
        child._scopes = dict(self._scopes)
        child._fork_point = (len(self._text), len(self._messages))
        return child
