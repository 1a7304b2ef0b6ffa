"""API-process side of the ZMQ link: starts the engine process and routes its outputs.

``TokenOutput`` batches are dispatched to one asyncio queue per request id; control
replies resolve futures. The engine is started with multiprocessing ``spawn``.
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
from ..io_struct import AbortRequest, FinishReason, TokenizedRequest, TokenOutput
from . import ipc
from .engine_process import DEFAULT_SCHEDULER, run_engine_process

logger = logging.getLogger("sglike.server")


class EngineUnavailable(RuntimeError):
    """The engine process is not running (failed to start, crashed or shutting down)."""


class EngineClient:
    def __init__(self, config: EngineConfig, scheduler_factory: str = DEFAULT_SCHEDULER) -> None:
        self.config = config
        self.scheduler_factory = scheduler_factory
        self.addrs = ipc.IpcAddresses.fresh()
        self.info: dict = {}
        self.error: str | None = None
        self._queues: dict[str, asyncio.Queue[TokenOutput]] = {}
        self._pending: dict[str, asyncio.Future[ipc.ControlReply]] = {}
        self._proc: Any = None
        self._sync_ctx = zmq.Context()  # sends never wait: a plain socket will do
        self._ctx = zmq.asyncio.Context()
        self._to_engine = self._sync_ctx.socket(zmq.PUSH)
        self._from_engine = self._ctx.socket(zmq.PULL)
        self._reader: asyncio.Task | None = None
        self._closing = False

    # -- lifecycle -------------------------------------------------------------------
    async def start(self, timeout_s: float = 600.0) -> None:
        """Spawn the engine and wait for its ready message; raise with its startup error."""
        self._to_engine.bind(self.addrs.to_engine)
        self._from_engine.bind(self.addrs.from_engine)
        proc_ctx = mp.get_context("spawn")
        self._proc = proc_ctx.Process(
            target=run_engine_process, name="sglike-engine", daemon=True,
            args=(self.config, self.addrs, os.getpid(), self.scheduler_factory,
                  logging.getLevelName(logging.getLogger("sglike").getEffectiveLevel())))
        self._proc.start()
        deadline = time.monotonic() + timeout_s
        while True:
            if await self._from_engine.poll(500):
                msg = await ipc.arecv(self._from_engine)
                break
            if not self._proc.is_alive():
                raise EngineUnavailable(f"engine process exited with code {self._proc.exitcode} during startup")
            if time.monotonic() > deadline:
                raise EngineUnavailable(f"engine did not start within {timeout_s:.0f}s")
        if isinstance(msg, ipc.EngineFailed):
            self.error = msg.error
            raise EngineUnavailable(f"engine failed to start: {msg.error}")
        self.info = msg.info
        self._reader = asyncio.create_task(self._read_loop())

    async def shutdown(self, timeout_s: float = 10.0) -> None:
        """Ask the engine to finish and exit; terminate it if it does not."""
        self._closing = True
        if self._proc is not None and self._proc.is_alive() and self.error is None:
            try:
                await asyncio.wait_for(self.control("shutdown"), timeout=2.0)
            except Exception:
                pass
        if self._proc is not None:
            await asyncio.to_thread(self._proc.join, timeout_s)
            if self._proc.is_alive():
                self._proc.terminate()
                await asyncio.to_thread(self._proc.join, 5)
        if self._reader is not None:
            self._reader.cancel()
        self._to_engine.close(linger=0)
        self._from_engine.close(linger=0)
        self._ctx.term()
        self._sync_ctx.term()
        self.addrs.cleanup()

    @property
    def alive(self) -> bool:
        return self.error is None and self._proc is not None and self._proc.is_alive()

    # -- requests --------------------------------------------------------------------
    def submit(self, req: TokenizedRequest,
               queue: asyncio.Queue[TokenOutput] | None = None) -> asyncio.Queue[TokenOutput]:
        """Send one request to the engine; its outputs arrive on ``queue`` (new if None),
        which several requests may share."""
        if not self.alive:
            raise EngineUnavailable(self.error or "engine is not running")
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
            raise EngineUnavailable(self.error or "engine is not running")
        msg = ipc.ControlRequest(kind=kind)
        fut: asyncio.Future[ipc.ControlReply] = asyncio.get_running_loop().create_future()
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
            elif isinstance(msg, ipc.ControlReply):
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
