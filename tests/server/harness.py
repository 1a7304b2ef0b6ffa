"""Run a server in a background thread of the test process (engine still its own process)."""
from __future__ import annotations

import asyncio
import socket
import threading

import uvicorn

from sglike.runtime.config import EngineConfig
from sglike.runtime.server.app import create_app
from sglike.runtime.server.launch import ServerOptions, build_state


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    def __init__(self, config: EngineConfig, options: ServerOptions, **state_kwargs) -> None:
        self.config, self.options, self.state_kwargs = config, options, state_kwargs
        self.url = f"http://{options.host}:{options.port}"
        self.state = None
        self.error: BaseException | None = None
        self._server: uvicorn.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        try:
            self.state = await build_state(self.config, self.options, **self.state_kwargs)
            self._server = uvicorn.Server(uvicorn.Config(
                create_app(self.state), host=self.options.host, port=self.options.port,
                log_level="warning", timeout_graceful_shutdown=10))
            serving = asyncio.create_task(self._server.serve())
            while not self._server.started and not serving.done():
                await asyncio.sleep(0.02)
            self._ready.set()
            await serving
        except BaseException as exc:  # surfaced by start()
            self.error = exc
            self._ready.set()
        finally:
            if self.state is not None:
                await self.state.tm.engine.shutdown()

    def start(self, timeout: float = 300) -> "ServerThread":
        self._thread.start()
        self._ready.wait(timeout)
        if self.error is not None:
            raise RuntimeError(f"server failed to start: {self.error!r}") from self.error
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(30)
