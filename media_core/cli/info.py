"""``evidence-audit info FILE...``: what each file holds.

Damage is shown, never hidden: a file whose data stops before its declared duration gets a
``damage`` entry (``truncated 38.433-80.200``); tags that are not UTF-8 and FFmpeg's own error
messages are summarised on stderr, one line per file naming it.
"""
from __future__ import annotations

import argparse

from .common import error_line, print_json, table, warning_line


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe media files (container, streams, tags, audio vs video)",
                       description="Probe media files read-only. Exit 2 if any file cannot be read.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the full probe of every file as JSON on stdout")
    p.add_argument("--hash", action="store_true", help="also compute each file's SHA-256")
    p.set_defaults(func=run)


def damage_text(info: dict) -> str:
    """``truncated 38.433-80.200`` (one entry per damaged span), or ``-``."""
    parts = []
    for d in info.get("damage") or ():
        what = d["kind"] if d.get("stream") is None else f"{d['stream']} {d['kind']}"
        parts.append(f"{what} {d['start_s']:.3f}-{d['end_s']:.3f}")
    return ", ".join(parts) or "-"


def _warnings(info: dict) -> None:
    name = info["path"]
    for d in info.get("damage") or ():
        m = d["evidence"]["measurements"]
        what = "the file's data" if d.get("stream") is None else f"the {d['stream']} stream"
        warning_line(f"{name}: {d['kind']}: {what} ends at {d['start_s']:.3f} s of the declared "
                     f"{d['end_s']:.3f} s ({m['missing_s']:.3f} s missing; file size {m['file_size']} bytes)")
    for w in info.get("tag_warnings") or ():
        warning_line(f"{name}: {w}")
    log = info.get("ffmpeg_log") or {}
    if log.get("count"):
        shown = "; ".join(repr(m[:200]) for m in log.get("messages", []))
        warning_line(f"{name}: FFmpeg reported {log['count']} error(s) while reading it: {shown}")


def run(args) -> int:
    from media_core.errors import MediaError
    from media_core.io.hashing import sha256_file
    from media_core.io.probe import probe, summarize

    results, status = [], 0
    for path in args.files:
        try:
            info = probe(path)
            if args.hash:
                info["sha256"] = sha256_file(path)
            results.append(info)
        except MediaError as exc:
            error_line(exc)
            status = 2
            continue
        except BrokenPipeError:
            raise
        except (ArithmeticError, ValueError, TypeError, AttributeError, IndexError, KeyError,
                MemoryError, OSError) as exc:  # a file no check foresaw: the other files go on
            error_line(f"{path}: cannot be read ({type(exc).__name__}: {exc}); internal error, "
                       "please report this file")
            status = 2
            continue
        _warnings(info)
    if args.json:
        print_json({"schema": "evidence-audit.info/1", "files": results})
    elif results:
        rows = []
        for info in results:
            s = summarize(info)
            rows.append([s["name"], s["format"], f"{s['duration_s']:.3f}", s["video"], s["audio"],
                         s["audio_delay_s"], s["created"], damage_text(info)]
                        + ([info["sha256"][:16]] if args.hash else []))
        headers = ["file", "format", "duration_s", "video", "audio", "audio_delay_s", "created", "damage"]
        print(table(rows, headers + (["sha256"] if args.hash else [])))
    return status
