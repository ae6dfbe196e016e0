"""Helpers shared by the subcommands: tables, times, JSON, progress to stderr."""
from __future__ import annotations

import json
import sys
from collections.abc import Sequence


def hms(seconds: float | None) -> str:
    """``hh:mm:ss.mmm`` for tables (:func:`media_core.timefmt.format_time` with hours)."""
    from media_core.timefmt import format_time

    return format_time(seconds, hours=True)


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def error_line(exc: BaseException) -> None:
    """One line on stderr naming the file and the problem (no traceback)."""
    print(f"evidence-audit: {exc}", file=sys.stderr)


def progress_bar(desc: str, total: float | None = None, unit: str = "B"):
    """A tqdm bar on stderr that disappears when stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False, file=sys.stderr,
                disable=not sys.stderr.isatty())
