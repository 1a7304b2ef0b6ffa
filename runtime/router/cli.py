"""Command-line flags of the router, one per ``RouterConfig`` field (sglang-router's names).

``sglike router`` takes them as they are (``--policy``, ``--cache-threshold``...);
``sglike serve --dp-size N`` takes them with sglang's ``--router-`` prefix
(``--router-policy``...), beside the engine's own flags.
"""
from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from .config import POLICY_NAMES, RouterConfig

_OWN = ("worker_urls", "host", "port", "api_key", "log_level")  # set by the command itself
_HELP = {
    "policy": "how a request picks its worker",
    "cache_threshold": "cache_aware: prefix match ratio above which the request follows the cache",
    "balance_abs_threshold": "cache_aware: shortest queue when max_load - min_load > this ...",
    "balance_rel_threshold": "... and max_load > min_load * this",
    "max_tree_size": "cache_aware: characters each worker's approximate tree keeps (LRU leaves beyond)",
    "health_check_interval_secs": "seconds between GET /health of every worker",
    "health_failure_threshold": "failed checks in a row before a worker is dropped",
    "health_success_threshold": "good checks in a row before a dropped worker is back",
    "retry_max_retries": "more tries on other workers for a retryable request",
}


def add_router_flags(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    group = parser.add_argument_group("router options")
    for f in dataclasses.fields(RouterConfig):
        if f.name in _OWN:
            continue
        default = f.default
        kind = type(default) if default is not None else str
        extra: dict[str, Any] = {"choices": POLICY_NAMES} if f.name == "policy" else {}
        group.add_argument("--" + prefix + f.name.replace("_", "-"), dest=prefix.replace("-", "_") + f.name,
                           type=kind, default=default, help=f"{_HELP.get(f.name, '')} (default: {default})", **extra)


def router_config(args: Any, prefix: str = "", **own: Any) -> RouterConfig:
    """The config from parsed flags plus the command's own fields (``worker_urls``, ``port``...)."""
    values = {f.name: getattr(args, prefix.replace("-", "_") + f.name)
              for f in dataclasses.fields(RouterConfig) if f.name not in _OWN}
    return RouterConfig(**values, **own)


def add_router_command(sub: Any) -> None:
    """``sglike router --worker-urls URL... [--policy P] [--port N] ...``"""
    p = sub.add_parser("router", help="route requests over several running `sglike serve` workers")
    p.add_argument("--worker-urls", nargs="+", required=True, help="the workers, e.g. http://127.0.0.1:30001")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=30000)
    p.add_argument("--api-key", default=None, help="required from clients, and sent to the workers")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    add_router_flags(p)


def run_router_command(args: Any) -> int:
    from .launch import run_router

    config = router_config(args, worker_urls=tuple(u.rstrip("/") for u in args.worker_urls), host=args.host,
                           port=args.port, api_key=args.api_key, log_level=args.log_level)
    return run_router(config)
