"""``@program`` / ``@function``: a Python function over a state, with run/run_batch/bind/trace."""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Callable, Sequence

from .backend.base import Backend
from .binding import ProgramSignature
from .context import RunDefaults, resolve_backend
from .state import ProgramState
from .tracer import TracedProgram, constant_prefix, trace_program
from .workers import background_pool


class Program:
    """A DSL program. Call :meth:`run` with the function's arguments (after ``s``)."""

    def __init__(self, func: Callable[..., Any], bound: dict[str, Any] | None = None, *,
                 signature: ProgramSignature | None = None) -> None:
        self.signature = signature or ProgramSignature.of(func, bound)
        self.func = func
        self.bound = dict(self.signature.bound)
        self.arg_names = list(self.signature.arg_names)
        self.__name__ = func.__name__
        self.__doc__ = func.__doc__

    def bind(self, **kwargs: Any) -> "Program":
        """A copy with some arguments fixed."""
        return Program(self.func, signature=self.signature.bind(**kwargs))

    def _arguments(self, args: Sequence[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        return self.signature.arguments(args, kwargs)

    def _execute(self, state: ProgramState, arguments: dict[str, Any]) -> None:
        """Run the function on ``state``; record (and re-raise) any error."""
        try:
            self.func(state, **arguments)
            state.finish_children()
            role = state.buffer.current_role
            if role is not None:
                raise RuntimeError(f"program {self.__name__} returned inside an open {role!r} message")
        except BaseException as exc:
            state.record_error(exc)
            raise
        finally:
            state.finish_stream()

    def run(self, *args: Any, backend: Backend | None = None, stream: bool = False, **kwargs: Any) -> ProgramState:
        """Run once. Sampling keywords (max_new_tokens, temperature, stop, ...) become
        defaults for every gen. Errors raise here; with ``stream=True`` the program runs
        in the background and errors surface from ``state.error()`` / ``text_iter``."""
        defaults = RunDefaults.from_kwargs(kwargs, self.arg_names)
        arguments = self._arguments(args, kwargs)
        state = ProgramState(resolve_backend(backend), defaults, streaming=stream)
        if not stream:
            self._execute(state, arguments)
            return state

        def background() -> None:
            try:
                self._execute(state, arguments)
            except BaseException:  # noqa: BLE001 - kept in the state
                pass

        ready = _Started()
        background_pool().submit(_run_marked, ready, state, background)
        ready.wait()
        return state

    def run_batch(self, batch_kwargs: Sequence[dict[str, Any]], *, backend: Backend | None = None,
                  num_threads: int | str = "auto", progress_bar: bool = False,
                  precache: bool = True, **kwargs: Any) -> list[ProgramState]:
        """Run the program once per argument dict, ``num_threads`` at a time. The constant
        prefix shared by the batch is sent to the backend once first, to warm its cache.
        A failing item does not stop the others: see ``state.error()``."""
        chosen = resolve_backend(backend)
        defaults = RunDefaults.from_kwargs(kwargs, self.arg_names)
        if kwargs:
            raise TypeError(f"unknown run_batch keyword(s): {sorted(kwargs)}")
        items = [self._arguments((), dict(kw)) for kw in batch_kwargs]
        if not items:
            return []
        if precache and len(items) > 1:
            prefix = constant_prefix(self.signature, chosen)
            if prefix:
                chosen.cache_prefix(prefix)
        threads = _num_threads(num_threads, len(items))
        states = [ProgramState(chosen, defaults) for _ in items]

        def one(i: int) -> None:
            try:
                self._execute(states[i], items[i])
            except BaseException:  # noqa: BLE001 - kept in the state
                pass

        bar = _progress(len(items)) if progress_bar else None
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sglike-batch") as pool:
            for _ in as_completed([pool.submit(one, i) for i in range(len(items))]):
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
        return states

    def trace(self, *args: Any, backend: Backend | None = None, **kwargs: Any) -> TracedProgram:
        """Record the program's IR without running a model (see :mod:`sglike.tracer`)."""
        return trace_program(self.signature, args, kwargs, backend)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Calling a program inside another program with a state runs it on that state."""
        if args and isinstance(args[0], ProgramState):
            return self.func(args[0], **self._arguments(args[1:], kwargs))
        return self.run(*args, **kwargs)


def program(func: Callable[..., Any]) -> Program:
    """Decorator: turn ``def f(s, ...)`` into a :class:`Program`."""
    return Program(func)


function = program  # SGLang's name


def _num_threads(num_threads: int | str, n: int) -> int:
    if num_threads == "auto":
        return max(1, min(n, 64, 4 * (os.cpu_count() or 1) + 32))
    return max(1, min(int(num_threads), n))


class _Started:
    """Lets run(stream=True) return only after the runner thread is marked."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def wait(self) -> None:
        self._event.wait()


def _run_marked(ready: _Started, state: ProgramState, body: Callable[[], None]) -> None:
    state.mark_runner()
    ready.set()
    body()


def _progress(total: int):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm ships with transformers
        return None
    return tqdm(total=total, desc="run_batch")

