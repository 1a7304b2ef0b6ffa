"""The router's command-line flags and the engine flags ``--dp-size`` hands its workers."""
from __future__ import annotations

import pytest

from sglike.cli import build_parser
from sglike.runtime.config import EngineConfig
from sglike.runtime.router.cli import router_config
from sglike.runtime.router.dp import engine_flags


def _engine_config(argv: list[str]) -> EngineConfig:
    parser, names = build_parser()
    args = parser.parse_args(["serve", *argv])
    return EngineConfig.from_kwargs(**{n: getattr(args, n) for n in names})


def test_engine_flags_rebuild_the_same_engine_config():
    config = _engine_config(["--max-total-tokens", "4096", "--schedule-policy", "fcfs", "--disable-radix-cache",
                             "--no-enable-jump-forward", "--kv-memory-gb", "0.5", "--dtype", "float32"])
    flags = engine_flags(config)
    assert "--no-enable-jump-forward" in flags and "--disable-radix-cache" in flags
    assert _engine_config(flags) == config
    assert engine_flags(EngineConfig()) == []


def test_serve_takes_router_flags_with_sglangs_prefix():
    parser, _ = build_parser()
    args = parser.parse_args(["serve", "--dp-size", "3", "--port", "31000", "--router-policy", "round_robin",
                              "--router-cache-threshold", "0.7", "--router-max-tree-size", "1000"])
    config = router_config(args, prefix="router-", host=args.host, port=args.port)
    assert args.dp_size == 3
    assert (config.policy, config.cache_threshold, config.max_tree_size, config.port) == ("round_robin", 0.7, 1000, 31000)
    assert config.balance_abs_threshold == 32 and config.balance_rel_threshold == 1.5


def test_router_command_flags():
    parser, _ = build_parser()
    args = parser.parse_args(["router", "--worker-urls", "http://a:1", "http://b:2/", "--policy", "shortest_queue",
                              "--balance-abs-threshold", "8"])
    config = router_config(args, worker_urls=tuple(u.rstrip("/") for u in args.worker_urls))
    assert config.worker_urls == ("http://a:1", "http://b:2") and config.policy == "shortest_queue"
    assert config.balance_abs_threshold == 8 and config.cache_threshold == 0.5
    with pytest.raises(SystemExit):
        parser.parse_args(["router", "--worker-urls", "http://a:1", "--policy", "fastest"])
