"""``evidence-audit`` command line. Each subcommand lives in its own module with ``register()``.

Progress goes to stderr; with ``--json`` only the JSON document goes to stdout.
Exit codes: 0 success, 1 verification failed, 2 bad input (a line names the file and the problem).
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: Subcommand modules under media_core.cli, in the order --help lists them.
COMMAND_MODULES = ("info", "case", "analyze", "sync", "claims", "mutes", "export", "imports", "audit", "demo", "key")


class _Parser(argparse.ArgumentParser):
    """Usage mistakes end in one line (``evidence-audit: analyze: argument --min-mute: ...``), exit 2."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        from .common import safe_text

        sys.stderr.write(f"evidence-audit: {safe_text(self.prog.removeprefix('evidence-audit').strip() or 'usage')}: "
                         f"{safe_text(message)} (see {safe_text(self.prog)} --help)\n")
        self.exit(2)


def build_parser() -> argparse.ArgumentParser:
    from media_core import __version__

    parser = _Parser(
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
    """Run one command; return its exit code (argparse's own exits included, so tests can call it).

    No traceback reaches the user: errors are one line naming the file and the problem
    (``EVIDENCE_AUDIT_DEBUG=1`` re-raises unexpected ones). A closed stdout (``| head``) ends
    quietly with 141, as a process stopped by SIGPIPE would.
    """
    from media_core.errors import Cancelled, MediaCoreError

    from .common import error_line

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, a usage error (one line, see _Parser)
        return exc.code if isinstance(exc.code, int) else 2
    if getattr(args, "label", None) is not None and not str(args.label).strip():
        error_line("--label must not be empty or only whitespace")
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except Cancelled as exc:
        error_line(exc)
        return 130
    except MediaCoreError as exc:
        error_line(exc)
        return 2
    except KeyboardInterrupt:
        error_line("interrupted")
        return 130
    except Exception as exc:  # a bug or a file we did not foresee: still one line, never a traceback
        import os

        if os.environ.get("EVIDENCE_AUDIT_DEBUG"):
            raise
        error_line(f"internal error in {args.command}: {type(exc).__name__}: {exc} "
                   "(please report it; EVIDENCE_AUDIT_DEBUG=1 shows the traceback)")
        return 2


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush cannot fail loudly."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
