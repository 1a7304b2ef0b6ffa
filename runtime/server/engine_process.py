"""The engine process: an ``EngineCore`` fed over ZMQ (``ZmqTransport``).

Entry point ``run_engine_process``: build the core, send ``EngineReady`` (or
``EngineFailed``), run the core's loop until a "shutdown" control or the API process exits.
"""
from __future__ import annotations

import logging
import os
import signal
import traceback
from typing import Any

import zmq

from ..config import EngineConfig
from ..engine_core import EngineCore, SchedulerFactory
from ..io_struct import ControlReply, TokenOutput
from . import ipc

logger = logging.getLogger("sglike.engine")

_IDLE_POLL_MS = 1000  # how often an idle engine checks that its parent is still alive


class ZmqTransport:
    """Messages from a PULL socket, outputs and replies to a PUSH socket."""

    def __init__(self, inbox: zmq.Socket, outbox: zmq.Socket, parent_pid: int) -> None:
        self.inbox, self.outbox, self.parent_pid = inbox, outbox, parent_pid

    def receive(self, block: bool) -> list[Any] | None:
        if block:
            while not self.inbox.poll(_IDLE_POLL_MS):
                if os.getppid() != self.parent_pid:
                    logger.warning("parent process exited; engine stops")
                    return None
        return ipc.drain(self.inbox)

    def send_outputs(self, outputs: list[TokenOutput]) -> None:
        ipc.send(self.outbox, outputs)

    def send_reply(self, reply: ControlReply) -> None:
        ipc.send(self.outbox, reply)


def run_engine_process(config: EngineConfig, addrs: ipc.IpcAddresses, parent_pid: int,
                       scheduler_factory: SchedulerFactory | None = None, log_level: str = "INFO") -> None:
    """Entry point of the spawned process. ``scheduler_factory``: None for the real engine;
    tests pass a picklable callable (a module-level class) that builds a fake."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the API process coordinates shutdown
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx = zmq.Context()
    inbox = ctx.socket(zmq.PULL)
    inbox.connect(addrs.to_engine)
    outbox = ctx.socket(zmq.PUSH)
    outbox.connect(addrs.from_engine)
    try:
        try:
            core = EngineCore.from_config(config, scheduler_factory)
            ready = ipc.EngineReady(info=core.ready_info())
        except BaseException as exc:
            logger.error("engine failed to start:\n%s", traceback.format_exc())
            ipc.send(outbox, ipc.EngineFailed(error=f"{type(exc).__name__}: {exc}"))
            return
        ipc.send(outbox, ready)
        try:
            core.run(ZmqTransport(inbox, outbox, parent_pid))
        except Exception as exc:
            logger.error("engine loop crashed:\n%s", traceback.format_exc())
            ipc.send(outbox, ipc.EngineFailed(error=f"{type(exc).__name__}: {exc}"))
        finally:
            core.close()
    finally:
        inbox.close(linger=0)
        outbox.close(linger=1000)
        ctx.term()
