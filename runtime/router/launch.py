"""Run the router: uvicorn over ``create_app``, stopping cleanly on SIGINT/SIGTERM."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Awaitable, Callable, Iterator

import uvicorn

from .app import create_app
from .config import RouterConfig
from .proxy import Router

logger = logging.getLogger("sglike.router")


class _Server(uvicorn.Server):
    """Signals are handled by ``serve_router`` (uvicorn would re-raise a captured SIGTERM
    when it stops, before the caller has stopped its workers)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_router(config: RouterConfig, *, drain_timeout_s: float = 30.0,
                       background: Callable[[], Awaitable[None]] | None = None) -> int:
    """Serve until SIGINT/SIGTERM (a second one: stop now); returns an exit code.
    ``background`` runs beside the server until it stops (``--dp-size``: worker supervision)."""
    router = Router(config)
    server = _Server(uvicorn.Config(create_app(router), host=config.host, port=config.port,
                                    log_level=config.log_level, access_log=False,
                                    timeout_graceful_shutdown=int(drain_timeout_s)))
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if server.should_exit:
            server.force_exit = True
        logger.info("%s: router stopping", sig.name)
        server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    tasks = [asyncio.create_task(_announce(server, router))]
    if background is not None:
        tasks.append(asyncio.create_task(background()))
    try:
        await server.serve()
    finally:
        for task in tasks:
            task.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


async def _announce(server: uvicorn.Server, router: Router) -> None:
    while not server.started:
        await asyncio.sleep(0.05)
    config = router.config
    host = f"[{config.host}]" if ":" in config.host else config.host
    alive = len(router.pool.healthy())
    print(f"sglike: router serving on http://{host}:{config.port} ({config.policy} over {alive}/"
          f"{len(router.pool.workers)} healthy workers: {' '.join(w.url for w in router.pool.workers)})", flush=True)


def run_router(config: RouterConfig) -> int:
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per health check
    code = asyncio.run(serve_router(config))
    print("sglike: router stopped", flush=True)
    return code
