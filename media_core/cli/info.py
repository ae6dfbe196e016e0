"""``evidence-audit info FILE...``: what each file holds."""
from __future__ import annotations

import argparse

from .common import error_line, print_json, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe media files (container, streams, tags, audio vs video)",
                       description="Probe media files read-only. Exit 2 if any file cannot be read.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the full probe of every file as JSON on stdout")
    p.add_argument("--hash", action="store_true", help="also compute each file's SHA-256")
    p.set_defaults(func=run)


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
    if args.json:
        print_json({"schema": "evidence-audit.info/1", "files": results})
    elif results:
        rows = []
        for info in results:
            s = summarize(info)
            rows.append([s["name"], s["format"], f"{s['duration_s']:.3f}", s["video"], s["audio"],
                         s["audio_delay_s"], s["created"]] + ([info["sha256"][:16]] if args.hash else []))
        headers = ["file", "format", "duration_s", "video", "audio", "audio_delay_s", "created"]
        print(table(rows, headers + (["sha256"] if args.hash else [])))
    return status
