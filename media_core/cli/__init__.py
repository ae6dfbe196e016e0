"""``evidence-audit`` command line. Each subcommand lives in its own module with ``register()``.

Progress goes to stderr; with ``--json`` only the JSON document goes to stdout.
Exit codes: 0 success, 1 verification failed, 2 bad input (a line names the file and the problem).
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: Subcommand modules under media_core.cli, in the order --help lists them.
COMMAND_MODULES = ("info", "case", "analyze", "sync", "demo")


def build_parser() -> argparse.ArgumentParser:
    from media_core import __version__

    parser = argparse.ArgumentParser(
        prog="evidence-audit",
        description="Measure muted audio, gunshots and cross-camera sync in police video.",
    )
    parser.add_argument("--version", action="version", version=f"evidence-audit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"media_core.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from media_core.errors import Cancelled, MediaCoreError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Cancelled as exc:
        print(f"evidence-audit: {exc}", file=sys.stderr)
        return 130
    except MediaCoreError as exc:
        print(f"evidence-audit: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("evidence-audit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
