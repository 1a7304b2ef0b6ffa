"""The in-process transport: runs an ``EngineCore`` on one background thread and routes its
outputs to waiting callers (the offline ``Engine``).

Callers from any thread (or asyncio loop) submit requests with a callback; concurrent
callers are batched together by the scheduler. The thread sleeps while there is no work.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any, Callable

from .engine_core import EngineCore
from .io_struct import AbortRequest, ControlReply, ControlRequest, FinishReason, TokenizedRequest, TokenOutput

log = logging.getLogger(__name__)

OutputCallback = Callable[[TokenOutput], None]


class EngineDriver:
    """``make_core`` runs on the engine thread: torch work that starts on one thread and
    continues on another runs ~1.7x slower here (two OpenMP teams), so the model is loaded
    by the same thread that runs it."""

    def __init__(self, make_core: Callable[[], EngineCore]) -> None:
        self._inbox: deque[Any] = deque()
        self._callbacks: dict[str, OutputCallback] = {}
        self._replies: dict[str, tuple[threading.Event, list[ControlReply]]] = {}
        self._wake = threading.Condition()
        self._stopped = False
        self.error: BaseException | None = None
        ready = threading.Event()
        box: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._start, args=(make_core, box, ready), name="sglike-engine", daemon=True)
        self._thread.start()
        ready.wait()
        if "error" in box:
            raise box["error"]
        self.core: EngineCore = box["core"]

    def _start(self, make_core: Callable[[], EngineCore], box: dict, ready: threading.Event) -> None:
        try:
            box["core"] = core = make_core()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the constructor's thread
            box["error"] = exc
            ready.set()
            return
        ready.set()
        try:
            core.run(self)
        except BaseException as exc:  # noqa: BLE001 - fail every caller instead of hanging
            log.exception("engine loop crashed")
            self.error = exc
            self._fail_all(exc)
        finally:
            core.close()

    # -- the caller's side ----------------------------------------------------------------

    def submit(self, reqs: list[TokenizedRequest], callback: OutputCallback) -> None:
        with self._wake:
            if self._stopped or self.error is not None:
                raise RuntimeError(f"the engine is not running ({self.error or 'shut down'})")
            for req in reqs:
                if req.rid in self._callbacks:
                    raise ValueError(f"rid {req.rid!r} is already running")
            for req in reqs:
                self._callbacks[req.rid] = callback
                self._inbox.append(req)
            self._wake.notify()

    def abort(self, rid: str) -> None:
        self._put(AbortRequest(rid))

    def control(self, kind: str, arg: Any = None) -> Any:
        """Send a control request (``EngineCore.CONTROLS``) and wait for its reply."""
        msg = ControlRequest(kind, arg)
        done = threading.Event()
        box: list[ControlReply] = []
        self._replies[msg.req_id] = (done, box)
        self._put(msg)
        while not done.wait(0.5):
            if not self._thread.is_alive():
                self._replies.pop(msg.req_id, None)
                raise RuntimeError(f"the engine thread died: {self.error}")
        if box[0].error is not None:
            raise RuntimeError(box[0].error)
        return box[0].value

    def call(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(scheduler)`` on the engine thread (between steps) and return its result."""
        return self.control("call", fn)

    def shutdown(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=30)

    def _put(self, msg: Any) -> None:
        with self._wake:
            self._inbox.append(msg)
            self._wake.notify()

    # -- Transport (the engine thread's side) -----------------------------------------------

    def receive(self, block: bool) -> list[Any] | None:
        with self._wake:
            while block and not self._inbox and not self._stopped:
                self._wake.wait()
            if self._stopped:
                return None
            messages = list(self._inbox)
            self._inbox.clear()
        return messages

    def send_outputs(self, outputs: list[TokenOutput]) -> None:
        for out in outputs:
            with self._wake:
                callback = self._callbacks.pop(out.rid, None) if out.finished else self._callbacks.get(out.rid)
            if callback is not None:
                callback(out)

    def send_reply(self, reply: ControlReply) -> None:
        done, box = self._replies.pop(reply.req_id)
        box.append(reply)
        done.set()

    def _fail_all(self, exc: BaseException) -> None:
        with self._wake:
            pending, self._callbacks = self._callbacks, {}
        for rid, callback in pending.items():
            callback(TokenOutput(rid, [], True, FinishReason("abort", message=f"engine error: {exc}"), 0, 0, 0))
