"""Helpers shared by the subcommands: tables, times, JSON, progress to stderr, safe terminal text."""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Sequence

#: What must never reach a terminal raw: C0 controls (newline forges a table row, ESC starts
#: ANSI/OSC sequences), DEL, C1 controls (8-bit CSI/OSC), bidirectional overrides, embeddings and
#: isolates (U+202A-202E, U+2066-2069, and the marks U+200E, U+200F, U+061C), line and paragraph
#: separators, and lone surrogates (bytes of a file name that are not UTF-8).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                     "\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match) -> str:
    c = m.group()
    if c in _NAMED:
        return _NAMED[c]
    o = ord(c)
    if 0xDC80 <= o <= 0xDCFF:  # surrogateescape: the file name's original byte
        return f"\\x{o - 0xDC00:02x}"
    return f"\\x{o:02x}" if o <= 0xFF else f"\\u{o:04x}"


def safe_text(text: object) -> str:
    r"""``text`` with every character that could control a terminal written as an escape.

    Newline, carriage return and tab become ``\n``, ``\r``, ``\t``; other C0/C1 controls and
    DEL become ``\xNN`` (ESC is ``\x1b``); bidirectional overrides and isolates become
    ``\uNNNN`` (``\u202e``); bytes of a file name that are not UTF-8 become ``\xNN``. Everything
    else, accented and non-Latin letters included, is unchanged. For terminal tables and
    messages only: JSON output is escaped by :mod:`json` and stays exact.

    >>> print(safe_text("cam\nA\x1b[31m\u202e.mp4"))
    cam\nA\x1b[31m\u202e.mp4
    """
    s = text if isinstance(text, str) else str(text)
    return _UNSAFE.sub(_escape, s)


def safe_lines(text: str) -> str:
    """A multi-line block (a summary) with each line through :func:`safe_text`: its own
    newlines stay, anything inside a line that could control the terminal is escaped.
    """
    return "\n".join(safe_text(line) for line in str(text).split("\n"))


def hms(seconds: float | None) -> str:
    """``hh:mm:ss.mmm`` for tables (:func:`media_core.timefmt.format_time` with hours)."""
    from media_core.timefmt import format_time

    return format_time(seconds, hours=True)


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """Columns aligned with two spaces; every cell through :func:`safe_text`, None as ``-``."""
    cells = [[safe_text(h) for h in headers]] + [["-" if c is None else safe_text(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_json(obj) -> None:
    r"""The document on stdout, exact. Text that cannot be encoded as it is (a file name whose bytes
    are not UTF-8) makes the whole document ASCII with ``\u`` escapes instead of failing.
    """
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=str)
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        text = json.dumps(obj, indent=2, ensure_ascii=True, default=str)
    sys.stdout.write(text + "\n")


def error_line(exc: BaseException | str) -> None:
    """One line on stderr naming the file and the problem (no traceback, nothing raw)."""
    print(f"evidence-audit: {safe_text(exc)}", file=sys.stderr)


def warning_line(text: str) -> None:
    """One ``evidence-audit: warning: ...`` line on stderr, control characters escaped."""
    print(f"evidence-audit: warning: {safe_text(text)}", file=sys.stderr)


def positive_float(text: str) -> float:
    """Argparse ``type=``: a finite number > 0 (``--min-mute 0.5``); refuses nan, inf, 0, -1."""
    v = finite_float(text)
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be > 0 (got {text!r})")
    return v


def non_negative_float(text: str) -> float:
    """Argparse ``type=``: a finite number >= 0."""
    v = finite_float(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (got {text!r})")
    return v


def finite_float(text: str) -> float:
    """Argparse ``type=``: any finite number (refuses nan and inf)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite number (got {text!r})")
    return v


def nonblank_text(text: str) -> str:
    """Argparse ``type=`` for labels and names: refuses empty and whitespace-only text."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty or only whitespace")
    return text


def progress_bar(desc: str, total: float | None = None, unit: str = "B"):
    """A tqdm bar on stderr that disappears when stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, desc=safe_text(desc), unit=unit, unit_scale=True, leave=False, file=sys.stderr,
                disable=not sys.stderr.isatty())
