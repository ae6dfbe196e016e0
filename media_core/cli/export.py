"""``evidence-audit export WHAT CASE ...``: everything that leaves the workstation.

Each kind of export is its own module ``media_core/cli/export_<what>.py`` with a
``register(subparsers)``; they are found here by name, in sorted order.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil


def export_modules() -> list[str]:
    """The ``export_*`` subcommand modules of this package."""
    import media_core.cli as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("export_"))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a review video, clips, annotations or the report from a case",
                       description="Every export is written to a folder with a signed manifest.json "
                                   "(check it with `evidence-audit verify DIR`) and recorded in the case's "
                                   "audit log.")
    esub = p.add_subparsers(dest="export_command", metavar="WHAT")
    esub.required = True
    for name in export_modules():
        importlib.import_module(f"media_core.cli.{name}").register(esub)
