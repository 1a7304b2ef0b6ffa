"""``@program`` / ``@function``: a Python function over a state, with run/run_batch/bind/trace."""
from __future__ import annotations

import inspect
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Callable, Sequence

from .backend.base import Backend
from .context import RunDefaults, resolve_backend
from .state import ProgramState
from .workers import background_pool


class Program:
    """A DSL program. Call :meth:`run` with the function's arguments (after ``s``)."""

    def __init__(self, func: Callable[..., Any], bound: dict[str, Any] | None = None) -> None:
        self.func = func
        self.bound = dict(bound or {})
        params = list(inspect.signature(func).parameters.values())
        if not params:
            raise TypeError(f"program {func.__name__} must take the state as its first argument")
        self.arg_names = [p.name for p in params[1:]]
        self.__name__ = func.__name__
        self.__doc__ = func.__doc__

    def bind(self, **kwargs: Any) -> "Program":
        """A copy with some arguments fixed."""
        unknown = set(kwargs) - set(self.arg_names)
        if unknown:
            raise TypeError(f"{self.__name__}() has no argument(s) {sorted(unknown)}")
        return Program(self.func, {**self.bound, **kwargs})

    def _arguments(self, args: Sequence[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        call = dict(self.bound)
        free = [n for n in self.arg_names if n not in self.bound]
        if len(args) > len(free):
            raise TypeError(f"{self.__name__}() takes {len(free)} positional argument(s), got {len(args)}")
        call.update(zip(free, args))
        call.update(kwargs)
        return call

    def _execute(self, state: ProgramState, arguments: dict[str, Any]) -> None:
        """Run the function on ``state``; record (and re-raise) any error."""
        try:
            self.func(state, **arguments)
            state._finish_children()
            if state._roles:
                raise RuntimeError(f"program {self.__name__} returned inside an open {state._roles[-1][0]!r} message")
        except BaseException as exc:
            state._error = exc
            raise
        finally:
            state._stream.finish(state._error)

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
            from .tracer import constant_prefix

            prefix = constant_prefix(self, chosen)
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

    def trace(self, *args: Any, backend: Backend | None = None, **kwargs: Any):
        """Record the program's IR without running a model (see :mod:`sglike.tracer`)."""
        from .tracer import trace_program

        return trace_program(self, args, kwargs, backend)

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


def _thread_id() -> int:
    import threading

    return threading.get_ident()


class _Started:
    """Lets run(stream=True) return only after the runner thread is marked."""

    def __init__(self) -> None:
        import threading

        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def wait(self) -> None:
        self._event.wait()


def _run_marked(ready: _Started, state: ProgramState, body: Callable[[], None]) -> None:
    state._runner = _thread_id()
    ready.set()
    body()


def _progress(total: int):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm ships with transformers
        return None
    return tqdm(total=total, desc="run_batch")

