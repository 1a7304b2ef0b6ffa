"""The engine core: builds the engine from a config and holds the one loop body.

    loop: take waiting messages (block while idle) -> handle them (add, abort, control)
          -> scheduler.step() -> deliver the step's outputs

Two transports drive it, behind ``Transport``: ``engine_driver.EngineDriver`` (a thread of
the offline ``Engine``) and ``server.engine_process.ZmqTransport`` (the server's engine
process). Messages are ``io_struct`` objects: ``TokenizedRequest``, ``AbortRequest``,
``ControlRequest``; outputs are ``TokenOutput`` lists and ``ControlReply``s.
"""
from __future__ import annotations

import gc

import logging
from typing import Any, Callable, Protocol

from .config import EngineConfig
from .io_struct import AbortRequest, ControlReply, ControlRequest, FinishReason, TokenizedRequest, TokenOutput

log = logging.getLogger(__name__)


class SchedulerLike(Protocol):
    """What the core needs of a scheduler (``scheduler.Scheduler``; tests pass fakes)."""

    context_length: int
    max_total_tokens: int

    def add_request(self, req: TokenizedRequest) -> None: ...
    def abort(self, rid: str) -> None: ...
    def has_work(self) -> bool: ...
    def step(self) -> list[TokenOutput]: ...
    def flush_cache(self) -> bool: ...
    def info(self) -> dict[str, Any]: ...


SchedulerFactory = Callable[[EngineConfig], SchedulerLike]


class Transport(Protocol):
    """How messages reach the core and how its results leave."""

    def receive(self, block: bool) -> list[Any] | None:
        """The messages waiting now; with ``block``, wait for at least one first.
        None: the other side is gone (shut down, or its process exited): stop now."""

    def send_outputs(self, outputs: list[TokenOutput]) -> None: ...

    def send_reply(self, reply: ControlReply) -> None: ...


def _stats(core: "EngineCore", arg: Any) -> Any:
    return core.scheduler.info()


def _flush_cache(core: "EngineCore", arg: Any) -> Any:
    return core.scheduler.flush_cache()


def _shutdown(core: "EngineCore", arg: Any) -> Any:
    core.stopping = True
    return True


def _call(core: "EngineCore", arg: Any) -> Any:
    return arg(core.scheduler)


CONTROLS: dict[str, Callable[["EngineCore", Any], Any]] = {
    "stats": _stats, "flush_cache": _flush_cache, "shutdown": _shutdown, "call": _call}


class EngineCore:
    def __init__(self, scheduler: SchedulerLike, *, tokenizer: Any = None, source: Any = None) -> None:
        self.scheduler = scheduler
        self.tokenizer = tokenizer  # None for fake schedulers
        self.source = source  # the resolved model (ModelSource), None for fakes
        self.stopping = False  # a "shutdown" arrived: finish in-flight work, then return

    @classmethod
    def from_config(cls, config: EngineConfig, scheduler_factory: SchedulerFactory | None = None) -> "EngineCore":
        """The real engine (``build_scheduler``), or ``scheduler_factory(config)``."""
        if scheduler_factory is not None:
            return cls(scheduler_factory(config))
        from .engine_core_build import build  # here: the API process never loads the model code

        scheduler, parts = build(config)
        # everything built so far (model, tokenizer, torch's and transformers' modules) lives
        # as long as the engine: out of the collector's sight, so its full collections, which
        # the per-step allocations trigger, stop rescanning it (measured ~5% of a step)
        gc.freeze()
        return cls(scheduler, **parts)

    def ready_info(self) -> dict[str, Any]:
        s = self.scheduler
        return {"stats": s.info(), "context_length": s.context_length, "max_total_tokens": s.max_total_tokens}

    def run(self, transport: Transport) -> None:
        """The loop; returns on shutdown (once idle) or when the transport closes."""
        while True:
            idle = not self.scheduler.has_work()
            if idle and self.stopping:
                return
            messages = transport.receive(block=idle)
            if messages is None:
                return
            outputs: list[TokenOutput] = []
            for msg in messages:
                self.handle(msg, outputs, transport)
            outputs += self.scheduler.step()
            if outputs:
                transport.send_outputs(outputs)

    def close(self) -> None:
        """After the loop (returned or crashed): release the scheduler's resources (the
        tensor-parallel ranks); schedulers without any (test fakes) have no ``close``."""
        close = getattr(self.scheduler, "close", None)
        if close is not None:
            close()

    def handle(self, msg: Any, outputs: list[TokenOutput], transport: Transport) -> None:
        if isinstance(msg, TokenizedRequest):
            self._add(msg, outputs)
        elif isinstance(msg, AbortRequest):
            self.scheduler.abort(msg.rid)
        elif isinstance(msg, ControlRequest):
            transport.send_reply(self._control(msg))
        else:
            log.error("engine got an unknown message type %s", type(msg).__name__)

    def _add(self, req: TokenizedRequest, outputs: list[TokenOutput]) -> None:
        """The one bad-request handler: a request the scheduler cannot take fails alone."""
        try:
            self.scheduler.add_request(req)
        except Exception as exc:  # noqa: BLE001 - one bad request must not stop the engine
            log.warning("rejected request %s: %s: %s", req.rid, type(exc).__name__, exc)
            message = str(exc) if isinstance(exc, ValueError) else f"invalid request: {type(exc).__name__}: {exc}"
            outputs.append(TokenOutput(rid=req.rid, new_token_ids=[], finished=True,
                                       finish_reason=FinishReason("abort", message=message),
                                       prompt_tokens=len(req.input_ids), completion_tokens=0, cached_tokens=0))

    def _control(self, msg: ControlRequest) -> ControlReply:
        try:
            handler = CONTROLS.get(msg.kind)
            if handler is None:
                raise ValueError(f"unknown control request {msg.kind!r}")
            return ControlReply(req_id=msg.req_id, kind=msg.kind, value=handler(self, msg.arg))
        except Exception as exc:  # noqa: BLE001 - reported to the asker
            return ControlReply(req_id=msg.req_id, kind=msg.kind, error=f"{type(exc).__name__}: {exc}")
