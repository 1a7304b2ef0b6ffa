"""Runs a Scheduler on one background thread and routes its outputs to waiting callers.

Callers from any thread (or asyncio loop) submit requests with a callback; concurrent
callers are batched together by the scheduler. The thread sleeps while there is no work.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Callable

from .io_struct import FinishReason, TokenizedRequest, TokenOutput
from .scheduler.scheduler import Scheduler

log = logging.getLogger(__name__)

OutputCallback = Callable[[TokenOutput], None]


class EngineDriver:
    """``make_scheduler`` runs on the engine thread: torch work that starts on one thread and
    continues on another runs ~1.7x slower here (two OpenMP teams), so the model is loaded
    by the same thread that runs it."""

    def __init__(self, make_scheduler: Callable[[], Scheduler]) -> None:
        self._inbox: deque[tuple[str, object]] = deque()
        self._callbacks: dict[str, OutputCallback] = {}
        self._wake = threading.Condition()
        self._stopped = False
        self.error: BaseException | None = None
        ready = threading.Event()
        box: dict[str, object] = {}
        self._thread = threading.Thread(target=self._start, args=(make_scheduler, box, ready), name="sglike-engine", daemon=True)
        self._thread.start()
        ready.wait()
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        self.scheduler: Scheduler = box["scheduler"]  # type: ignore[assignment]

    def _start(self, make_scheduler: Callable[[], Scheduler], box: dict, ready: threading.Event) -> None:
        try:
            box["scheduler"] = self.scheduler = make_scheduler()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the constructor's thread
            box["error"] = exc
            ready.set()
            return
        ready.set()
        self._loop()

    def submit(self, reqs: list[TokenizedRequest], callback: OutputCallback) -> None:
        with self._wake:
            if self._stopped or self.error is not None:
                raise RuntimeError(f"the engine is not running ({self.error or 'shut down'})")
            for req in reqs:
                if req.rid in self._callbacks:
                    raise ValueError(f"rid {req.rid!r} is already running")
            for req in reqs:
                self._callbacks[req.rid] = callback
                self._inbox.append(("add", req))
            self._wake.notify()

    def abort(self, rid: str) -> None:
        with self._wake:
            self._inbox.append(("abort", rid))
            self._wake.notify()

    def call(self, fn: Callable[[Scheduler], object]) -> object:
        """Run ``fn(scheduler)`` on the engine thread (between steps) and return its result."""
        done = threading.Event()
        box: dict[str, object] = {}

        def run(s: Scheduler) -> None:
            try:
                box["value"] = fn(s)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                box["error"] = exc
            done.set()

        with self._wake:
            self._inbox.append(("call", run))
            self._wake.notify()
        while not done.wait(0.5):
            if not self._thread.is_alive():
                raise RuntimeError(f"the engine thread died: {self.error}")
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        return box.get("value")

    def shutdown(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        try:
            while True:
                with self._wake:
                    while not self._inbox and not self.scheduler.has_work() and not self._stopped:
                        self._wake.wait()
                    if self._stopped:
                        break
                    messages = list(self._inbox)
                    self._inbox.clear()
                for kind, payload in messages:
                    self._handle(kind, payload)
                for out in self.scheduler.step():
                    self._deliver(out)
        except BaseException as exc:  # noqa: BLE001 - fail every caller instead of hanging
            log.exception("engine loop crashed")
            self.error = exc
            self._fail_all(exc)

    def _handle(self, kind: str, payload: object) -> None:
        if kind == "add":
            try:
                self.scheduler.add_request(payload)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - one bad request must not stop the engine
                log.exception("request %s rejected", payload.rid)  # type: ignore[attr-defined]
                reason = FinishReason("abort", message=f"invalid request: {type(exc).__name__}: {exc}")
                self._deliver(TokenOutput(payload.rid, [], True, reason, 0, 0, 0))  # type: ignore[attr-defined]
        elif kind == "abort":
            self.scheduler.abort(payload)  # type: ignore[arg-type]
        else:
            payload(self.scheduler)  # type: ignore[operator]

    def _deliver(self, out: TokenOutput) -> None:
        with self._wake:
            callback = self._callbacks.pop(out.rid, None) if out.finished else self._callbacks.get(out.rid)
        if callback is not None:
            callback(out)

    def _fail_all(self, exc: BaseException) -> None:
        with self._wake:
            pending, self._callbacks = self._callbacks, {}
        for rid, callback in pending.items():
            callback(TokenOutput(rid, [], True, FinishReason("abort", message=f"engine error: {exc}"), 0, 0, 0))
