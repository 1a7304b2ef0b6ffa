"""The ranks other than 0: the same model runner, fed by rank 0's broadcasts.

``worker_main`` is a rank process's entry point: join the group, build the runner (its
shard of the model, its own KV pool), then forward each batch rank 0 broadcasts until
``STOP`` (or until a collective fails because a peer died).
"""
from __future__ import annotations

import logging
import sys

from ..config import EngineConfig
from ..model_loader.resolve import ModelSource
from ..model_runner import ModelRunner
from .group import DistContext, init_rank

log = logging.getLogger(__name__)


def serve_batches(runner: ModelRunner) -> int:
    """Forward every broadcast batch until STOP; returns how many forwards ran."""
    steps = 0
    while (batch := runner.channel.recv(runner.req_table.table)) is not None:
        runner.run_model(batch)
        steps += 1
    return steps


def worker_main(config: EngineConfig, source: ModelSource, init_addr: str, local_rank: int, log_level: int = logging.INFO) -> None:
    logging.basicConfig(level=log_level, format=f"%(asctime)s %(levelname)s rank{local_rank} %(name)s: %(message)s")
    ctx: DistContext | None = None
    try:
        ctx = init_rank(config, init_addr, local_rank)
        steps = serve_batches(ModelRunner(config, source, ctx))
        log.info("rank %d stops after %d forwards", ctx.tp.rank, steps)
    except Exception:
        log.exception("tensor-parallel rank (local %d) failed", local_rank)
        sys.exit(1)
    finally:
        if ctx is not None:
            ctx.close()
