"""The engine process: owns the Scheduler and runs its loop, fed over ZMQ.

Loop, top to bottom: block on the socket while idle → take every waiting message →
one ``scheduler.step()`` → push the step's ``TokenOutput`` list back to the API process.
"""
from __future__ import annotations

import importlib
import logging
import os
import signal
import traceback
from typing import Any, Callable

import zmq

from ..config import EngineConfig
from ..io_struct import AbortRequest, FinishReason, TokenizedRequest, TokenOutput
from . import ipc

logger = logging.getLogger("sglike.engine")

DEFAULT_SCHEDULER = "sglike.runtime.scheduler.scheduler:Scheduler"
_IDLE_POLL_MS = 1000  # how often an idle engine checks that its parent is still alive


def _load_factory(path: str) -> Callable[[EngineConfig], Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class EngineLoop:
    """Feeds one scheduler from a PULL socket and reports to a PUSH socket."""

    def __init__(self, scheduler: Any, inbox: zmq.Socket, outbox: zmq.Socket, parent_pid: int) -> None:
        self.scheduler = scheduler
        self.inbox = inbox
        self.outbox = outbox
        self.parent_pid = parent_pid
        self.stopping = False

    def run(self) -> None:
        while True:
            if not self.scheduler.has_work():
                if self.stopping or not self._wait_for_message():
                    return
            for msg in ipc.drain(self.inbox):
                self._handle(msg)
            outputs = self.scheduler.step()
            if outputs:
                ipc.send(self.outbox, outputs)

    def _wait_for_message(self) -> bool:
        """Block until a message arrives; False when the parent process is gone."""
        while not self.inbox.poll(_IDLE_POLL_MS):
            if os.getppid() != self.parent_pid:
                logger.warning("parent process exited; engine stops")
                return False
        return True

    def _handle(self, msg: Any) -> None:
        if isinstance(msg, TokenizedRequest):
            self._add_request(msg)
        elif isinstance(msg, AbortRequest):
            self.scheduler.abort(msg.rid)
        elif isinstance(msg, ipc.ControlRequest):
            ipc.send(self.outbox, self._control(msg))
        else:
            logger.error("engine got an unknown message type %s", type(msg).__name__)

    def _add_request(self, req: TokenizedRequest) -> None:
        try:
            self.scheduler.add_request(req)
        except Exception as exc:  # a bad request must not take the engine down
            logger.warning("rejected request %s: %s", req.rid, exc)
            reason = FinishReason(type="abort", message=str(exc))
            ipc.send(self.outbox, [TokenOutput(
                rid=req.rid, new_token_ids=[], finished=True, finish_reason=reason,
                prompt_tokens=len(req.input_ids), completion_tokens=0, cached_tokens=0)])

    def _control(self, msg: ipc.ControlRequest) -> ipc.ControlReply:
        try:
            if msg.kind == "stats":
                value = self.scheduler.info()
            elif msg.kind == "flush_cache":
                value = self.scheduler.flush_cache()
            elif msg.kind == "shutdown":
                self.stopping, value = True, True
            else:
                raise ValueError(f"unknown control request {msg.kind!r}")
            return ipc.ControlReply(req_id=msg.req_id, kind=msg.kind, value=value)
        except Exception as exc:
            return ipc.ControlReply(req_id=msg.req_id, kind=msg.kind, error=str(exc))


def run_engine_process(config: EngineConfig, addrs: ipc.IpcAddresses, parent_pid: int,
                       scheduler_factory: str = DEFAULT_SCHEDULER, log_level: str = "INFO") -> None:
    """Entry point of the spawned process: build the scheduler, say ready, run the loop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the API process coordinates shutdown
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx = zmq.Context()
    inbox = ctx.socket(zmq.PULL)
    inbox.connect(addrs.to_engine)
    outbox = ctx.socket(zmq.PUSH)
    outbox.connect(addrs.from_engine)
    try:
        try:
            scheduler = _load_factory(scheduler_factory)(config)
            ready = ipc.EngineReady(info={"stats": scheduler.info(),
                                          "context_length": scheduler.context_length,
                                          "max_total_tokens": scheduler.max_total_tokens})
        except BaseException as exc:
            logger.error("engine failed to start:\n%s", traceback.format_exc())
            ipc.send(outbox, ipc.EngineFailed(error=f"{type(exc).__name__}: {exc}"))
            return
        ipc.send(outbox, ready)
        try:
            EngineLoop(scheduler, inbox, outbox, parent_pid).run()
        except Exception as exc:
            logger.error("engine loop crashed:\n%s", traceback.format_exc())
            ipc.send(outbox, ipc.EngineFailed(error=f"{type(exc).__name__}: {exc}"))
    finally:
        inbox.close(linger=0)
        outbox.close(linger=1000)
        ctx.term()
