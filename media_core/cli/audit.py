"""``evidence-audit audit run|report``: the department-wide mute audit over many files."""
from __future__ import annotations

import argparse
import sys

from .common import error_line, print_json, table
from .common import safe_text as safe


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="department-wide mute audit: audit many files into a store, report on it",
                       description="Audit every media file under SOURCES (SHA-256, camera identity, recording "
                                   "start, duration, mutes by kind, shots) into a Parquet store, then summarise "
                                   "it by camera serial, month or any tag.")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION")
    asub.required = True

    r = asub.add_parser("run", help="audit files into the store (idempotent by SHA-256)",
                        description="Runs on a local process pool (one worker per core) or, with --scheduler, on "
                                    "a Dask distributed cluster whose workers see the same files at the same "
                                    "paths. Files already in the store (same path, size and mtime) are skipped; "
                                    "a file is stored once per SHA-256. Exit 2 if any file failed.")
    r.add_argument("sources", nargs="+", metavar="SOURCE", help="folders (searched recursively) or files")
    r.add_argument("--store", required=True, metavar="DIR", help="the store folder (created if missing)")
    r.add_argument("--workers", type=int, default=None, metavar="N", help="local worker processes (default: cores)")
    r.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on this Dask scheduler (needs the 'cluster' extra: dask[distributed])")
    r.add_argument("--retries", type=int, default=2, metavar="N", help="Dask retries per file after an error")
    r.add_argument("--json", action="store_true", help="print the run's counts as JSON")
    r.set_defaults(func=run_run)

    rep = asub.add_parser("report", help="summaries of the store: tables, CSV and an HTML page with a chart",
                          description="Per group: files, recorded hours, files with a mute, muted minutes per "
                                      "recorded hour, median mute length, mutes starting within 10 minutes after "
                                      "a shot. Groupings: serial, month, make, model, camera, day, or any tag "
                                      "field (tag:unit). Mutes exclude no-audio-track unless --all-kinds.")
    rep.add_argument("--store", required=True, metavar="DIR")
    rep.add_argument("--by", action="append", metavar="GROUPING",
                     help="grouping (repeatable; default: serial and month)")
    rep.add_argument("--out", metavar="DIR", help="where the CSV files and report.html go (default: DIR/report)")
    rep.add_argument("--all-kinds", action="store_true", help="count no-audio-track spans as mutes too")
    rep.add_argument("--json", action="store_true", help="print the summaries as JSON")
    rep.set_defaults(func=run_report)


def run_run(args) -> int:
    from media_core.batch.audit import run_audit
    from media_core.errors import ParameterError

    if args.workers is not None and args.workers < 1:
        raise ParameterError("--workers must be 1 or more")
    if args.retries < 0:
        raise ParameterError("--retries must be 0 or more")
    tty = sys.stderr.isatty()

    def tick(fraction: float, message: str = "") -> None:
        if tty:
            sys.stderr.write("\r\x1b[2K" + safe(message))
            sys.stderr.flush()

    def failed(path: str, problem: str) -> None:
        if tty:
            sys.stderr.write("\r\x1b[2K")
        error_line(problem)

    run = run_audit(args.sources, args.store, workers=args.workers, scheduler=args.scheduler,
                    retries=args.retries, progress=tick, on_error=failed)
    if tty:
        sys.stderr.write("\n")
    doc = {"store": args.store, "files": run.files, "skipped": run.skipped, "audited": run.audited,
           "added": run.added, "duplicates": run.duplicates, "failed": len(run.errors), "where": run.where,
           "workers": run.workers, "elapsed_s": round(run.elapsed_s, 2), "audio_h": round(run.audio_s / 3600, 3)}
    if args.json:
        print_json(doc)
    else:
        print(f"audited {run.audited} of {run.files} file(s) ({doc['audio_h']} h) on {safe(run.where)} with "
              f"{run.workers} worker(s) in {run.elapsed_s:.1f} s: {run.added} added to {safe(args.store)}, "
              f"{run.skipped} already there, {run.duplicates} duplicate(s) by SHA-256, {len(run.errors)} failed")
    return 2 if run.errors else 0


def run_report(args) -> int:
    import os

    from media_core.batch.store import AuditStore
    from media_core.batch.summary import COLUMNS, DEFAULT_EXCLUDED, DEFAULT_GROUPINGS, write_report
    from media_core.errors import ParameterError

    st = AuditStore(args.store)
    if not st.parts():
        raise ParameterError(f"{args.store}: no audit store here (run `evidence-audit audit run ... --store DIR`)")
    out = args.out or os.path.join(args.store, "report")
    res = write_report(st, out, groupings=args.by or DEFAULT_GROUPINGS,
                       exclude_kinds=() if args.all_kinds else DEFAULT_EXCLUDED)
    if args.json:
        print_json({"sections": res["sections"], "files": res["files"]})
        return 0
    heads = ["group", "files", "rec h", "with mute", "mutes", "muted min", "min/rec h", "median s", "after shot",
             "no audio"]
    for by, rows in res["sections"].items():
        print(f"By {safe(by)}:")
        print(table([[r[c] for c in COLUMNS] for r in rows], heads))
        print()
    print("wrote " + ", ".join(safe(f) for f in res["files"]))
    return 0
