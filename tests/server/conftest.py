"""One real server (``sglike serve`` on the default model) per test session."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx
import pytest

from .harness import free_port

API_KEY = "test-key"
_STARTUP_S = 600


@dataclass
class RealServer:
    url: str
    proc: subprocess.Popen
    log_path: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}"}

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=300, **kw)

    def info(self) -> dict:
        return httpx.get(f"{self.url}/get_server_info", headers=self.headers, timeout=60).json()

    def wait_idle(self, timeout: float = 60) -> dict:
        """Server info once no request is running or waiting."""
        deadline = time.time() + timeout
        while True:
            info = self.info()
            if info["num_running"] == 0 and info["num_waiting"] == 0 or time.time() > deadline:
                return info
            time.sleep(0.2)

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()


@pytest.fixture(scope="session")
def real_server(tmp_path_factory) -> RealServer:
    port = free_port()
    log_path = str(tmp_path_factory.mktemp("server") / "server.log")
    log = open(log_path, "w")
    cmd = [sys.executable, "-m", "sglike.cli", "serve", "--port", str(port), "--api-key", API_KEY,
           "--max-total-tokens", "32768", "--max-queued-requests", "256"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server = RealServer(url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path)
    deadline = time.time() + _STARTUP_S
    while "sglike: serving" not in server.log():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"server did not start:\n{server.log()[-3000:]}")
        time.sleep(0.5)
    yield server
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("server did not exit within 120s of SIGTERM")
    log.close()
    assert code == 0, server.log()[-3000:]
    assert "sglike: stopped" in server.log()
