"""The `litwatch` command: parses arguments, builds clients and the store, hands them down."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.config import Environment, load_settings
from bot.errors import ConfigError, LitwatchError


def _cmd_check(args: argparse.Namespace, env: Environment) -> int:
    settings = load_settings(env.config_path)
    print(f"ok: {len(settings.queries)} queries")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="litwatch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("check", help="validate the config and exit (2 if invalid)").set_defaults(
        func=_cmd_check
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        env = Environment.from_env()
        return int(args.func(args, env))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except LitwatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
