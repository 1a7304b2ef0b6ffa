"""One real ``sglike serve --dp-size 2`` (router + 2 workers on the default model) per session."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx
import pytest

from sglike.runtime.router.dp import free_port

API_KEY = "router-key"
_STARTUP_S = 600
_WORKER_LINE = re.compile(r"sglike: worker \d+ \(pid (\d+)\) starting on (\S+)")


@dataclass
class DPServer:
    url: str
    proc: subprocess.Popen
    log_path: str
    workers: dict[str, int] = field(default_factory=dict)  # worker URL -> pid (its process group)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}"}

    def client(self, url: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=url or self.url, headers=self.headers, timeout=300)

    def pids(self) -> dict[str, int]:
        """Each worker URL's current process (group) id: the last the launcher started there."""
        return {url: int(pid) for pid, url in _WORKER_LINE.findall(self.log())}

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()


def start_logged(cmd: list[str], log_path: str, ready: str) -> subprocess.Popen:
    """Start ``cmd`` with its output in ``log_path``; wait for ``ready`` in the log."""
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + _STARTUP_S
    while ready not in open(log_path, errors="replace").read():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"{cmd[3:5]} did not start:\n{open(log_path, errors='replace').read()[-3000:]}")
        time.sleep(0.5)
    return proc


def stop(proc: subprocess.Popen, timeout: float = 150) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("did not exit within its drain time of SIGTERM")


@pytest.fixture(scope="session")
def dp_server(tmp_path_factory) -> DPServer:
    port = free_port()
    log_path = str(tmp_path_factory.mktemp("dp") / "dp.log")
    cmd = [sys.executable, "-m", "sglike.cli", "serve", "--dp-size", "2", "--port", str(port), "--api-key", API_KEY,
           "--max-total-tokens", "16384", "--drain-timeout", "20", "--router-health-check-interval-secs", "1"]
    proc = start_logged(cmd, log_path, "sglike: router serving")
    server = DPServer(url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path)
    server.workers.update(server.pids())
    assert len(server.workers) == 2
    yield server
    code = stop(proc)
    assert code == 0, server.log()[-3000:]
    assert server.log().rstrip().endswith("sglike: stopped")
    for pid, _ in _WORKER_LINE.findall(server.log()):  # every worker's process group is gone, restarts too
        assert not live_group_members(int(pid))


def live_group_members(pgid: int) -> list[int]:
    """Processes (not zombies) in a process group, read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry))
    return found
