"""The chunk log behind ``state.text_iter()`` and ``state.text_async_iter()``."""
from __future__ import annotations

import asyncio
import threading
from typing import AsyncIterator, Iterator


class TextStream:
    """An append-only log of ``(var_name | None, text)`` chunks with a done flag.

    The program thread appends; any number of readers iterate from the start and
    block (or await) until more arrives. ``finish()`` is always called, with the
    program's error if any, so readers never hang."""

    def __init__(self) -> None:
        self._chunks: list[tuple[str | None, str]] = []
        self._cond = threading.Condition()
        self._done = False
        self._error: BaseException | None = None

    def put(self, var: str | None, text: str) -> None:
        if not text:
            return
        with self._cond:
            self._chunks.append((var, text))
            self._cond.notify_all()

    def finish(self, error: BaseException | None = None) -> None:
        with self._cond:
            self._done = True
            self._error = error
            self._cond.notify_all()

    @property
    def done(self) -> bool:
        return self._done

    def wait(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._done, timeout)

    def _next(self, pos: int, timeout: float | None) -> tuple[int, tuple[str | None, str] | None, bool]:
        """(next position, chunk or None, whether the log is finished and drained)."""
        with self._cond:
            self._cond.wait_for(lambda: pos < len(self._chunks) or self._done, timeout)
            if pos < len(self._chunks):
                return pos + 1, self._chunks[pos], False
            return pos, None, self._done

    def iter(self, var_name: str | None = None) -> Iterator[str]:
        """Yield chunks (of ``var_name`` only, when given); raise the program's error at the end."""
        pos = 0
        while True:
            pos, chunk, _ = self._next(pos, None)
            if chunk is None:
                break
            if var_name is None or chunk[0] == var_name:
                yield chunk[1]
        if self._error is not None:
            raise self._error

    async def aiter(self, var_name: str | None = None) -> AsyncIterator[str]:
        """Async twin of :meth:`iter` (polls without blocking the event loop)."""
        pos = 0
        while True:
            new_pos, chunk, finished = self._next(pos, 0)
            if chunk is None:
                if finished:
                    break
                await asyncio.sleep(0.005)
                continue
            pos = new_pos
            if var_name is None or chunk[0] == var_name:
                yield chunk[1]
        if self._error is not None:
            raise self._error
