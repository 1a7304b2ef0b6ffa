"""An offline ``Engine`` in a process of its own, driven over a pipe.

Two engines compared side by side in one process each start an OpenMP team on their
forward thread; with more OpenMP threads than cores libgomp stops spinning between
parallel regions, so every op of both sides pays thread wake-ups (measured on a 2-core
machine at 2 threads: plain decode 104 tok/s with two engines in one process, ~250 alone).
In separate processes each side keeps its own team on the cores while the other one waits.
"""
from __future__ import annotations

import multiprocessing as mp
import time
from typing import Any, Callable


def _serve(conn, threads: int, engine_kwargs: dict, prompts_fn: Callable | None) -> None:
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    from sglike.runtime import Engine

    engine = Engine(**engine_kwargs)
    conn.send(prompts_fn(engine.tokenizer) if prompts_fn is not None else None)
    while True:
        msg = conn.recv()
        if msg is None:
            break
        prompts, params = msg
        engine.flush_cache()  # every run prefills its whole prompt
        start = time.perf_counter()
        outs = engine.generate(prompts, params)
        seconds = time.perf_counter() - start
        conn.send((seconds, [{"output_ids": o["output_ids"], "meta_info": o["meta_info"]} for o in outs]))
    engine.shutdown()
    conn.send("closed")


class EngineProcess:
    """``generate`` runs in the child's engine (cache flushed first) and returns (wall
    seconds measured there, outputs); ``prompts_fn(tokenizer)``, if given, is computed
    there once and kept as ``prompts``."""

    def __init__(self, threads: int, engine_kwargs: dict, prompts_fn: Callable | None = None) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, threads, engine_kwargs, prompts_fn), daemon=True)
        self._proc.start()
        self.prompts: Any = self._recv()

    def _recv(self) -> Any:
        while not self._conn.poll(1.0):
            if not self._proc.is_alive():
                raise RuntimeError(f"the engine process ended (exit code {self._proc.exitcode}); its error is above")
        return self._conn.recv()

    def generate(self, prompts: list[str], params: dict) -> tuple[float, list[dict]]:
        self._conn.send((prompts, params))
        return self._recv()

    def close(self) -> None:
        self._conn.send(None)
        self._recv()
        self._proc.join(timeout=30)
