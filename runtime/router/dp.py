"""``sglike serve --dp-size N``: N local workers behind the router on the given port.

Each worker is a plain ``sglike serve`` (its own API and engine processes) on 127.0.0.1 and
a free port, in its own process group, with the same engine flags; ``OMP_NUM_THREADS`` is
the CPUs divided among the workers unless set. The router starts once every worker answers
``/health``; a worker whose process ends is started again (``MAX_RESTARTS`` times at most); on
SIGINT/SIGTERM the router stops, then every worker is asked to drain and stop.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import httpx

from .config import RouterConfig
from .launch import serve_router

MAX_RESTARTS = 3  # per worker, while the router serves


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def engine_flags(config: Any) -> list[str]:
    """The ``sglike serve`` flags that rebuild an engine config: every field off its default."""
    argv: list[str] = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if value == f.default or value is None:
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + flag[2:])
        else:
            argv += [flag, str(value)]
    return argv


class LocalWorkers:
    def __init__(self, n: int, flags: list[str], *, api_key: str | None, served_model_name: str | None,
                 log_level: str, drain_timeout_s: float) -> None:
        self.drain_timeout_s = drain_timeout_s
        self.env = dict(os.environ)
        self.env.setdefault("OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0)) // n)))
        self.argvs: list[list[str]] = []
        self.procs: list[subprocess.Popen] = []
        self.urls: list[str] = []
        self.restarts = [0] * n
        for i in range(n):
            port = free_port()
            argv = [sys.executable, "-m", "sglike.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                    "--log-level", log_level, "--drain-timeout", str(drain_timeout_s), *flags]
            if api_key:
                argv += ["--api-key", api_key]
            if served_model_name:
                argv += ["--served-model-name", served_model_name]
            self.argvs.append(argv)
            self.urls.append(f"http://127.0.0.1:{port}")
            self.procs.append(self._spawn(i))

    def _spawn(self, i: int) -> subprocess.Popen:
        proc = subprocess.Popen(self.argvs[i], env=self.env, start_new_session=True)
        print(f"sglike: worker {i} (pid {proc.pid}) starting on {self.urls[i]}", flush=True)
        return proc

    async def supervise(self, interval_s: float = 1.0) -> None:
        """While the router serves: start again, on its port, a worker whose process ended
        (at most ``MAX_RESTARTS`` times each); the router's health checks take it back."""
        while True:
            await asyncio.sleep(interval_s)
            for i, proc in enumerate(self.procs):
                if proc.poll() is None or self.restarts[i] >= MAX_RESTARTS:
                    continue
                _signal_group(proc, signal.SIGKILL)  # its engine process, if it outlived it
                self.restarts[i] += 1
                print(f"sglike: worker {i} exited with code {proc.returncode}; starting it again "
                      f"({self.restarts[i]}/{MAX_RESTARTS})", flush=True)
                self.procs[i] = self._spawn(i)

    def wait_ready(self, timeout_s: float) -> None:
        """Until every worker answers /health; RuntimeError when one exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        pending = set(range(len(self.procs)))
        while pending:
            for i in sorted(pending):
                if self.procs[i].poll() is not None:
                    raise RuntimeError(f"worker {i} exited with code {self.procs[i].returncode} while starting")
                try:
                    if httpx.get(f"{self.urls[i]}/health", timeout=2).status_code == 200:
                        pending.discard(i)
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"workers {sorted(pending)} not ready within {timeout_s:.0f}s")
            time.sleep(0.5)

    def stop(self) -> None:
        """SIGTERM (drain) every worker's process group; SIGKILL what outlives the drain."""
        for proc in self.procs:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.drain_timeout_s + 30
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        for proc in self.procs:  # an engine process left behind by a killed worker
            _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_dp(engine_config: Any, router: RouterConfig, *, dp_size: int, served_model_name: str | None,
           drain_timeout_s: float) -> int:
    """Start ``dp_size`` workers with ``engine_config``, then the router (``router`` has the
    host, port, API key and policy; its worker list is filled in here)."""
    logging.basicConfig(level=router.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per health check
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    workers = LocalWorkers(dp_size, engine_flags(engine_config), api_key=router.api_key,
                           served_model_name=served_model_name, log_level=router.log_level,
                           drain_timeout_s=drain_timeout_s)
    code = 1
    try:
        workers.wait_ready(router.worker_startup_timeout_secs)
        code = asyncio.run(serve_router(dataclasses.replace(router, worker_urls=tuple(workers.urls)),
                                        drain_timeout_s=drain_timeout_s, background=workers.supervise))
    except RuntimeError as exc:
        print(f"sglike: could not start: {exc}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        code = 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        workers.stop()
    print("sglike: stopped", flush=True)
    return code
