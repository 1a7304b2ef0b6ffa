"""Process-group setup for a rank: the default group for the model's collectives (gloo on
CPU, NCCL on CUDA; ``dist_timeout``), and a gloo group for the batch broadcast, on which
idle ranks wait between requests (a long timeout: a rank that dies closes its sockets, so
the others fail at once rather than wait it out).
"""
from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable

import torch
import torch.distributed as dist

from ..config import EngineConfig
from .comm import TPInfo

log = logging.getLogger(__name__)
IDLE_TIMEOUT = timedelta(days=7)  # the batch group: ranks wait here while the engine is idle


def free_loopback_addr() -> str:
    """HOST:PORT of a free port on 127.0.0.1 (one-node groups without dist_init_addr)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def ranks_per_node(config: EngineConfig) -> int:
    return config.tp_size // config.nnodes


def rank_info(config: EngineConfig, local_rank: int) -> TPInfo:
    return TPInfo(rank=config.node_rank * ranks_per_node(config) + local_rank, size=config.tp_size, local_rank=local_rank)


def rank_threads(config: EngineConfig) -> int:
    """CPU threads per rank: the node's cores shared between its ranks."""
    return max(1, len(os.sched_getaffinity(0)) // ranks_per_node(config))


def rank_device(config: EngineConfig, tp: TPInfo) -> torch.device:
    """CUDA: one device per rank of the node (``cuda:local_rank``); else the CPU."""
    from ..device import resolve_device

    device = resolve_device(config.device)
    if device.type == "cuda":
        return torch.device("cuda", tp.local_rank)
    return device


# the options every rank must share (they fix the shapes of the weights, the KV pool, the table)
SHARED_OPTIONS = ("model_path", "dtype", "quantization", "max_total_tokens", "kv_memory_gb", "max_running_requests",
                  "context_length", "attention_backend", "tp_size", "nnodes")


def check_same_config(config: EngineConfig, group: Any) -> None:
    """Every rank (on every node) started with the same shape-fixing options, or all raise."""
    mine = {name: getattr(config, name) for name in SHARED_OPTIONS}
    every: list[Any] = [None] * config.tp_size
    dist.all_gather_object(every, mine, group=group)
    for rank, theirs in enumerate(every):
        diff = {k: (mine[k], theirs[k]) for k in SHARED_OPTIONS if theirs[k] != mine[k]}
        if diff:
            raise ValueError(f"tensor-parallel rank {rank} was started with other options (mine, theirs): {diff}; "
                             "start every node with the same engine flags")


@dataclass
class DistContext:
    """One rank's membership: its place, the batch group, and (on a node's first rank) a
    way to stop the rank processes it started."""

    tp: TPInfo
    device: torch.device
    batch_group: Any
    threads: int  # CPU threads for this rank's forward (set by the thread that runs it)
    stop_local: Callable[[], None] | None = None
    closed: bool = field(default=False)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            dist.destroy_process_group()
        except Exception as exc:  # noqa: BLE001 - a dead peer must not stop the shutdown
            log.warning("destroying the process group: %s", exc)
        if self.stop_local is not None:
            self.stop_local()


def init_rank(config: EngineConfig, init_addr: str, local_rank: int) -> DistContext:
    """Join the group as this node's ``local_rank``; returns when every rank has joined."""
    tp = rank_info(config, local_rank)
    device = rank_device(config, tp)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, init_method=f"tcp://{init_addr}", world_size=tp.size, rank=tp.rank,
                            timeout=timedelta(seconds=config.dist_timeout))
    batch_group = dist.new_group(backend="gloo", timeout=IDLE_TIMEOUT)
    check_same_config(config, batch_group)
    log.info("tensor-parallel rank %d/%d joined (%s, %s)", tp.rank, tp.size, backend, device)
    return DistContext(tp, device, batch_group, rank_threads(config))
