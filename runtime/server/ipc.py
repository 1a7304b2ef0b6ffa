"""Messages and ZMQ plumbing between the API process and the engine process.

Everything on the wire is a pickled Python object. The API process PUSHes requests
(``TokenizedRequest``, ``AbortRequest``, ``ControlRequest``: ``io_struct``) to the engine's
PULL socket; the engine PUSHes back ``EngineReady``/``EngineFailed`` (below), then lists of
``TokenOutput`` and ``ControlReply``s.
"""
from __future__ import annotations

import os
import pickle
import tempfile
import uuid
from dataclasses import dataclass
from typing import Any

import zmq


@dataclass
class EngineReady:
    """First message of a healthy engine: what the API process shows in /get_model_info."""

    info: dict


@dataclass
class EngineFailed:
    """Sent instead of ``EngineReady`` (or later, if the loop dies) with the reason."""

    error: str


@dataclass(frozen=True)
class IpcAddresses:
    """``to_engine``: the engine's PULL socket; ``from_engine``: the API process's PULL socket."""

    to_engine: str
    from_engine: str

    @classmethod
    def fresh(cls) -> "IpcAddresses":
        base = os.path.join(tempfile.gettempdir(), f"sglike-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        return cls(to_engine=f"ipc://{base}-in", from_engine=f"ipc://{base}-out")

    def cleanup(self) -> None:
        for addr in (self.to_engine, self.from_engine):
            path = addr.removeprefix("ipc://")
            if os.path.exists(path):
                os.unlink(path)


def send(sock: zmq.Socket, obj: Any, flags: int = 0) -> None:
    sock.send(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), flags=flags)


def recv(sock: zmq.Socket, flags: int = 0) -> Any:
    return pickle.loads(sock.recv(flags=flags))


async def arecv(sock: Any) -> Any:
    """``recv`` for a ``zmq.asyncio`` socket."""
    return pickle.loads(await sock.recv())


def drain(sock: zmq.Socket) -> list[Any]:
    """Every message already waiting on ``sock``, without blocking."""
    out = []
    while True:
        try:
            out.append(recv(sock, zmq.NOBLOCK))
        except zmq.Again:
            return out
