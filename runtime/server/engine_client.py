"""API-process side of the ZMQ link: starts and supervises the engine process, and routes
its outputs.

``TokenOutput`` batches are dispatched to one asyncio queue per request id; control
replies resolve futures. The engine is started with multiprocessing ``spawn``.

Supervision: when the engine process dies (a kernel crash, an OOM kill) or reports a
crashed loop, every in-flight request ends at once with an abort whose message starts
"engine failed" (HTTP 503 for a request that has not started streaming; the last event of
a stream), and a fresh engine process is started on fresh sockets. While it starts,
``alive`` is False: new requests and ``/health`` get 503. After ``MAX_FAILED_STARTS``
failed starts in a row the client gives up and stays unavailable.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import os
import time
from typing import Any

import zmq
import zmq.asyncio

from ..config import EngineConfig
from ..engine_core import SchedulerFactory
from ..io_struct import AbortRequest, ControlReply, ControlRequest, FinishReason, TokenizedRequest, TokenOutput
from . import ipc
from .engine_process import run_engine_process

logger = logging.getLogger("sglike.server")

MAX_FAILED_STARTS = 3  # restarts in a row that may fail before the client gives up
_RESTART_BACKOFF_S = 1.0


class EngineUnavailable(RuntimeError):
    """The engine process is not running (failed to start, crashed or shutting down)."""


class EngineClient:
    def __init__(self, config: EngineConfig, scheduler_factory: SchedulerFactory | None = None) -> None:
        self.config = config
        self.scheduler_factory = scheduler_factory
        self.addrs: ipc.IpcAddresses | None = None
        self.info: dict = {}
        self.error: str | None = None
        self.restarting = False
        self.restarts = 0  # engine processes started after a failure
        self._queues: dict[str, asyncio.Queue[TokenOutput]] = {}
        self._pending: dict[str, asyncio.Future[ControlReply]] = {}
        self._proc: Any = None
        self._sync_ctx = zmq.Context()  # sends never wait: a plain socket will do
        self._ctx = zmq.asyncio.Context()
        self._to_engine: zmq.Socket | None = None
        self._from_engine: Any = None
        self._supervisor: asyncio.Task | None = None
        self._startup_timeout_s = 600.0
        self._closing = False

    # -- lifecycle -------------------------------------------------------------------
    async def start(self, timeout_s: float = 600.0) -> None:
        """Spawn the engine and wait for its ready message; raise with its startup error."""
        self._startup_timeout_s = timeout_s
        await self._spawn()
        self._supervisor = asyncio.create_task(self._supervise())

    async def _spawn(self) -> None:
        """A fresh engine process on fresh sockets; returns once it is ready."""
        self._close_sockets()
        self.addrs = ipc.IpcAddresses.fresh()
        self._to_engine = self._sync_ctx.socket(zmq.PUSH)
        self._from_engine = self._ctx.socket(zmq.PULL)
        self._to_engine.bind(self.addrs.to_engine)
        self._from_engine.bind(self.addrs.from_engine)
        self._proc = mp.get_context("spawn").Process(
            # a daemonic process cannot start children: not daemonic when it starts tensor-parallel ranks
            target=run_engine_process, name="sglike-engine", daemon=self.config.tp_size == self.config.nnodes,
            args=(self.config, self.addrs, os.getpid(), self.scheduler_factory,
                  logging.getLevelName(logging.getLogger("sglike").getEffectiveLevel())))
        self._proc.start()
        deadline = time.monotonic() + self._startup_timeout_s
        while True:
            if await self._from_engine.poll(500):
                msg = await ipc.arecv(self._from_engine)
                break
            if not self._proc.is_alive():
                raise EngineUnavailable(f"engine process exited with code {self._proc.exitcode} during startup")
            if time.monotonic() > deadline:
                raise EngineUnavailable(f"engine did not start within {self._startup_timeout_s:.0f}s")
        if isinstance(msg, ipc.EngineFailed):
            self.error = msg.error
            raise EngineUnavailable(f"engine failed to start: {msg.error}")
        self.info = msg.info
        self.error = None

    async def _supervise(self) -> None:
        """Read outputs; when the engine dies, fail what was in flight and start another."""
        failed_starts = 0
        while not self._closing:
            await self._read_loop()
            if self._closing:
                return
            self.restarting = True
            await self._stop_process(timeout_s=5)
            try:
                logger.warning("restarting the engine process")
                await self._spawn()
            except EngineUnavailable as exc:
                failed_starts += 1
                self.error = str(exc)
                logger.error("engine restart failed (%d in a row): %s", failed_starts, exc)
                if failed_starts >= MAX_FAILED_STARTS:
                    self.restarting = False
                    return
                await asyncio.sleep(_RESTART_BACKOFF_S * failed_starts)
                continue
            failed_starts = 0
            self.restarts += 1
            self.restarting = False
            logger.warning("engine process restarted (pid %s)", self._proc.pid)

    async def shutdown(self, timeout_s: float = 10.0) -> None:
        """Ask the engine to finish and exit; terminate it if it does not."""
        alive, self._closing = self.alive, True
        if alive:
            try:
                await asyncio.wait_for(self.control("shutdown"), timeout=2.0)
            except Exception:
                pass
        await self._stop_process(timeout_s)
        if self._supervisor is not None:
            self._supervisor.cancel()
        self._close_sockets()
        self._ctx.term()
        self._sync_ctx.term()

    async def _stop_process(self, timeout_s: float) -> None:
        if self._proc is None:
            return
        await asyncio.to_thread(self._proc.join, timeout_s)
        if self._proc.is_alive():
            self._proc.terminate()
            await asyncio.to_thread(self._proc.join, 5)

    def _close_sockets(self) -> None:
        for sock in (self._to_engine, self._from_engine):
            if sock is not None:
                sock.close(linger=0)
        self._to_engine = self._from_engine = None
        if self.addrs is not None:
            self.addrs.cleanup()

    @property
    def alive(self) -> bool:
        return self.error is None and not self.restarting and self._proc is not None and self._proc.is_alive()

    @property
    def status(self) -> str:
        """Why the engine is not serving ("" when it is)."""
        if self.alive:
            return ""
        if self.restarting:
            return f"engine is restarting after a failure ({self.error})"
        return f"engine is not running: {self.error or 'shutting down'}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # -- requests --------------------------------------------------------------------
    def submit(self, req: TokenizedRequest,
               queue: asyncio.Queue[TokenOutput] | None = None) -> asyncio.Queue[TokenOutput]:
        """Send one request to the engine; its outputs arrive on ``queue`` (new if None),
        which several requests may share."""
        if not self.alive:
            raise EngineUnavailable(self.status)
        if req.rid in self._queues:
            raise ValueError(f"rid: request id {req.rid!r} is already in use")
        queue = queue if queue is not None else asyncio.Queue()
        self._queues[req.rid] = queue
        ipc.send(self._to_engine, req)
        return queue

    def abort(self, rid: str, message: str | None = None) -> None:
        """Abort a request: the engine frees it, and its queue gets a final abort output."""
        queue = self._queues.pop(rid, None)
        if queue is None:
            return
        queue.put_nowait(_abort_output(rid, message))
        if self.alive:
            ipc.send(self._to_engine, AbortRequest(rid=rid))

    async def control(self, kind: str, timeout_s: float = 30.0) -> Any:
        if not self.alive:
            raise EngineUnavailable(self.status)
        msg = ControlRequest(kind=kind)
        fut: asyncio.Future[ControlReply] = asyncio.get_running_loop().create_future()
        self._pending[msg.req_id] = fut
        ipc.send(self._to_engine, msg)
        try:
            reply = await asyncio.wait_for(fut, timeout_s)
        finally:
            self._pending.pop(msg.req_id, None)
        if reply.error is not None:
            raise RuntimeError(reply.error)
        return reply.value

    def open_rids(self) -> list[str]:
        return list(self._queues)

    def has_request(self, rid: str) -> bool:
        return rid in self._queues

    @property
    def num_in_flight(self) -> int:
        return len(self._queues)

    # -- reader ----------------------------------------------------------------------
    async def _read_loop(self) -> None:
        """Dispatch the engine's messages until it dies (then its requests have failed)."""
        while True:
            msg = await self._recv()
            if msg is None:
                return
            if isinstance(msg, list):
                for out in msg:
                    queue = self._queues.get(out.rid)
                    if queue is not None:
                        queue.put_nowait(out)
                        if out.finished:
                            self._queues.pop(out.rid, None)
            elif isinstance(msg, ControlReply):
                fut = self._pending.get(msg.req_id)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
            elif isinstance(msg, ipc.EngineFailed):
                self._fail(msg.error)
                return

    async def _recv(self) -> Any:
        """Next message from the engine; None (after failing open requests) if it died."""
        while not await self._from_engine.poll(1000):
            if self._proc is not None and not self._proc.is_alive():
                self._fail(f"engine process exited with code {self._proc.exitcode}")
                return None
        return await ipc.arecv(self._from_engine)

    def _fail(self, error: str) -> None:
        """The engine is gone: finish every open request with an abort."""
        if not self._closing:
            logger.error("engine failed: %s", error)
            self.restarting = True
        self.error = error
        for rid, queue in list(self._queues.items()):
            queue.put_nowait(_abort_output(rid, f"engine failed: {error}"))
        self._queues.clear()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(EngineUnavailable(error))


def _abort_output(rid: str, message: str | None) -> TokenOutput:
    return TokenOutput(rid=rid, new_token_ids=[], finished=True,
                       finish_reason=FinishReason(type="abort", message=message),
                       prompt_tokens=0, completion_tokens=0, cached_tokens=0)
