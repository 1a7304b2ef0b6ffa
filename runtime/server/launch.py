"""Start a server: spawn the engine, load the tokenizer, run uvicorn, drain on exit.

SIGINT/SIGTERM (handled by uvicorn) stop accepting connections and wait for in-flight
requests to finish (up to ``drain_timeout_s``); then the engine process is shut down.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass
from typing import Any, Iterator

import uvicorn

from ..config import EngineConfig
from ..engine_core import SchedulerFactory
from .engine_client import EngineClient, EngineUnavailable
from .metrics import ServerMetrics

logger = logging.getLogger("sglike.server")


@dataclass(frozen=True, kw_only=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 30000
    api_key: str | None = None
    served_model_name: str | None = None
    log_level: str = "info"
    drain_timeout_s: float = 120.0
    scheduler_factory: SchedulerFactory | None = None  # None: the real engine; tests pass a fake's class


async def build_state(config: EngineConfig, options: ServerOptions, builder_cls=None, assembler_cls=None):
    """Start the engine and make the app's state (raises ``EngineUnavailable``).
    ``builder_cls``/``assembler_cls`` replace api.RequestBuilder/OutputAssembler (tests use fakes)."""
    from ..model_loader.resolve import resolve_model
    from ..api.tokenizer import load_tokenizer
    from .app import ServerState
    from .tokenizer_manager import TokenizerManager

    source = resolve_model(config.model_path)
    engine = EngineClient(config, options.scheduler_factory)
    starting = asyncio.create_task(engine.start())
    tokenizer = await asyncio.to_thread(load_tokenizer, source, config.tokenizer_path)
    try:
        await starting
    except BaseException:
        await engine.shutdown(timeout_s=2)
        raise
    builder = builder_cls(tokenizer, config) if builder_cls is not None else None
    tm = TokenizerManager(config, engine, tokenizer, ServerMetrics(), builder, assembler_cls)
    return ServerState(tm=tm, model_name=options.served_model_name or source.name,
                       model_path=source.path, api_key=options.api_key)


async def serve(config: EngineConfig, options: ServerOptions) -> int:
    """Run until SIGINT/SIGTERM; returns a process exit code."""
    from .app import create_app

    try:
        state = await build_state(config, options)
    except (EngineUnavailable, FileNotFoundError, ValueError) as exc:
        print(f"sglike: could not start: {exc}", file=sys.stderr)
        return 1
    app = create_app(state)
    server = _Server(uvicorn.Config(
        app, host=options.host, port=options.port, log_level=options.log_level,
        timeout_graceful_shutdown=int(options.drain_timeout_s), access_log=False))
    _install_signal_handlers(server, state)
    announcer = asyncio.create_task(_announce(server, state.model_name, options))
    try:
        await server.serve()
    finally:
        announcer.cancel()
        state.tm.draining = True
        logger.info("draining done; stopping the engine")
        await state.tm.engine.shutdown()
    print("sglike: stopped", flush=True)
    return 0


class _Server(uvicorn.Server):
    """uvicorn re-raises a captured SIGTERM when it stops, which would kill the process
    before the engine is shut down; signals are handled by ``_install_signal_handlers``."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _install_signal_handlers(server: uvicorn.Server, state: Any) -> None:
    """First SIGINT/SIGTERM: stop accepting and drain; a second one: stop now."""
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if server.should_exit:
            logger.warning("second %s: exiting without waiting for requests", sig.name)
            server.force_exit = True
        else:
            logger.info("%s: draining in-flight requests (%d open)", sig.name, state.tm.engine.num_in_flight)
        state.tm.draining = True
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)


async def _announce(server, model_name: str, options: ServerOptions) -> None:
    while not server.started:
        await asyncio.sleep(0.05)
    host = f"[{options.host}]" if ":" in options.host else options.host
    print(f"sglike: serving {model_name} on http://{host}:{options.port} "
          f"(OpenAI API at /v1, native API at /generate)", flush=True)


def run(config: EngineConfig, options: ServerOptions) -> int:
    logging.basicConfig(level=options.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(serve(config, options))
