"""Starting the ranks: rank processes with torch.multiprocessing (``spawn``), and rank 0's
own membership inside the engine process.

One node: the engine process is rank 0 and starts ranks 1..tp_size-1. Several nodes
(``nnodes``, ``node_rank``, ``dist_init_addr``): node 0's engine starts its node's other
ranks the same way; every other node runs ``run_node`` (``sglike serve ...
--node-rank N``), which hosts its node's ranks and no scheduler.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

import torch.multiprocessing as mp

from ..config import EngineConfig
from ..model_loader.resolve import ModelSource, resolve_model
from ..model_runner import load_model_config
from .group import DistContext, free_loopback_addr, init_rank, ranks_per_node
from .sharding import check_tp_size

log = logging.getLogger(__name__)
STOP_GRACE_S = 10.0  # how long a rank gets to leave its loop before it is terminated


def spawn_ranks(config: EngineConfig, source: ModelSource, init_addr: str, local_ranks: range) -> list[Any]:
    from .worker import worker_main  # the rank's entry point (picklable by name)

    ctx = mp.get_context("spawn")
    level = logging.getLogger("sglike").getEffectiveLevel()  # the ranks log like the engine
    procs = []
    for local_rank in local_ranks:
        proc = ctx.Process(target=worker_main, args=(config, source, init_addr, local_rank, level),
                           name=f"sglike-tp-rank{local_rank}", daemon=True)
        proc.start()
        procs.append(proc)
    return procs


def stop_processes(procs: list[Any], grace_s: float = STOP_GRACE_S) -> None:
    """Wait for the ranks to leave their loops; terminate (then kill) any that do not."""
    deadline = time.monotonic() + grace_s
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        if proc.is_alive():
            log.warning("rank process %s did not stop; terminating it", proc.name)
            proc.terminate()
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(1)


def join_while_watching(config: EngineConfig, init_addr: str, procs: list[Any]) -> DistContext:
    """``init_rank`` as node rank 0 while checking the started ranks: one that exits during
    start-up fails the start at once instead of after ``dist_timeout``."""
    box: dict[str, Any] = {}

    def join() -> None:
        try:
            box["ctx"] = init_rank(config, init_addr, 0)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            box["error"] = exc

    thread = threading.Thread(target=join, name="sglike-tp-join", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.2)
        dead = [p for p in procs if not p.is_alive()]
        if dead and thread.is_alive():
            raise RuntimeError(f"tensor-parallel rank process {dead[0].name} exited with code {dead[0].exitcode} during start-up")
    if "error" in box:
        raise box["error"]
    return box["ctx"]


def start_tensor_parallel(config: EngineConfig, source: ModelSource) -> DistContext | None:
    """Node 0's engine side: start this node's other ranks, join as rank 0. None for tp_size 1."""
    if config.tp_size == 1:
        return None
    if config.node_rank != 0:
        raise ValueError("an engine runs on node 0 only; nodes > 0 run `sglike serve --node-rank N` (launch.run_node)")
    check_tp_size(load_model_config(source), config.tp_size)  # before any process starts
    init_addr = config.dist_init_addr or free_loopback_addr()
    procs = spawn_ranks(config, source, init_addr, range(1, ranks_per_node(config)))
    try:
        ctx = join_while_watching(config, init_addr, procs)
    except BaseException:
        stop_processes(procs, grace_s=0.0)
        raise
    ctx.stop_local = lambda: stop_processes(procs)
    return ctx


def run_node(config: EngineConfig) -> int:
    """Node ``config.node_rank`` > 0: host ranks node_rank*k .. node_rank*k+k-1 (k = tp_size /
    nnodes) until node 0's engine stops them; its first local rank runs in this process."""
    from .worker import worker_main

    if config.node_rank == 0 or config.dist_init_addr is None:
        raise ValueError("run_node is for node_rank > 0 with dist_init_addr (node 0 runs the engine)")
    source = resolve_model(config.model_path)
    procs = spawn_ranks(config, source, config.dist_init_addr, range(1, ranks_per_node(config)))
    try:
        worker_main(config, source, config.dist_init_addr, 0, logging.INFO)
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        stop_processes(procs)
    return 0
