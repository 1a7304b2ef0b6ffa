"""``sglike`` command line. ``sglike serve [--model-path P] [--host H] [--port N] [--api-key K]``
plus one ``--flag`` per ``EngineConfig`` field (``--dp-size N``: N workers behind the router,
whose flags then take sglang's ``--router-`` prefix); ``sglike router --worker-urls URL...``. With
``--node-rank N`` (N > 0, multi-node tensor parallelism) ``serve`` runs only that node's ranks,
fed by node 0's engine. Imports of the runtime stay inside
functions, so ``import sglike`` never pulls in torch."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any, Sequence


def _field_type(annotation: str) -> type:
    for name, kind in (("bool", bool), ("int", int), ("float", float)):
        if name in annotation.replace("None", ""):
            return kind
    return str


def _add_engine_flags(parser: argparse.ArgumentParser) -> list[str]:
    """One flag per EngineConfig field (``--max-total-tokens``...); returns the field names."""
    from sglike.runtime.config import EngineConfig

    group = parser.add_argument_group("engine options")
    names = []
    for f in dataclasses.fields(EngineConfig):
        kind = _field_type(str(f.type))
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else None
        if kind is bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default)
        else:
            group.add_argument(flag, dest=f.name, type=kind, default=default,
                               help=f"(default: {default})")
        names.append(f.name)
    return names


def build_parser() -> tuple[argparse.ArgumentParser, list[str]]:
    parser = argparse.ArgumentParser(prog="sglike", description="sglike: structured generation runtime")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server (OpenAI + SGLang-native APIs)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=30000)
    serve.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY'")
    serve.add_argument("--served-model-name", default=None, help="model id shown by /v1/models")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--drain-timeout", type=float, default=120.0,
                       help="seconds to let in-flight requests finish on SIGINT/SIGTERM")
    serve.add_argument("--dp-size", type=int, default=1,
                       help="data parallelism: this many workers (own processes, free ports) behind the router")
    names = _add_engine_flags(serve)
    from sglike.runtime.router.cli import add_router_command, add_router_flags

    add_router_flags(serve, prefix="router-")
    add_router_command(sub)
    return parser, names


def main(argv: Sequence[str] | None = None) -> int:
    parser, engine_fields = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(parser, args, engine_fields)
    if args.command == "router":
        from sglike.runtime.router.cli import run_router_command

        try:
            return run_router_command(args)
        except ValueError as exc:
            parser.error(str(exc))
    parser.error(f"unknown command {args.command}")
    return 2


def _serve(parser: argparse.ArgumentParser, args: Any, engine_fields: list[str]) -> int:
    from sglike.runtime.config import EngineConfig
    from sglike.runtime.server.launch import ServerOptions, run

    try:
        config = EngineConfig.from_kwargs(**{name: getattr(args, name) for name in engine_fields})
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    if config.node_rank > 0:  # a node of a multi-node group other than 0: only its ranks, no server
        from sglike.runtime.distributed.launch import run_node

        return run_node(config)
    if args.dp_size != 1:
        return _serve_dp(parser, args, config)
    options = ServerOptions(host=args.host, port=args.port, api_key=args.api_key,
                            served_model_name=args.served_model_name, log_level=args.log_level,
                            drain_timeout_s=args.drain_timeout)
    return run(config, options)


def _serve_dp(parser: argparse.ArgumentParser, args: Any, config: Any) -> int:
    from sglike.runtime.router.cli import router_config
    from sglike.runtime.router.dp import run_dp

    if args.dp_size < 1:
        parser.error(f"--dp-size must be >= 1; got {args.dp_size}")
    try:
        router = router_config(args, prefix="router-", host=args.host, port=args.port, api_key=args.api_key,
                               log_level=args.log_level)
    except ValueError as exc:
        parser.error(str(exc))
    return run_dp(config, router, dp_size=args.dp_size, served_model_name=args.served_model_name,
                  drain_timeout_s=args.drain_timeout)


if __name__ == "__main__":
    sys.exit(main())
