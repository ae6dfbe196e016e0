"""``evidence-audit sync FILE... [--reference FILE] [--json] [--case CASE]``: one shared clock."""
from __future__ import annotations

import argparse

from .common import error_line, print_json, safe_text, table, warning_line


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sync", help="place every file on one shared clock (audio, visual flashes, metadata)",
        description="Audio cross-correlation with drift for every pair, a global least-squares "
                    "solution, visual flashes for silent feeds and metadata as the fallback. A file "
                    "that cannot be read is reported on one line; the others are still synced. "
                    "Exit 2 if any file could not be read or placed.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--reference", metavar="FILE", help="the feed whose clock is the shared clock "
                   "(default: the longest feed with audio)")
    p.add_argument("--json", action="store_true", help="print the evidence-audit.sync/1 document on stdout")
    p.add_argument("--case", metavar="CASE", help="store each placement in this case (feeds are added "
                   "if missing; every change goes to the audit log)")
    p.set_defaults(func=run)


def run(args) -> int:
    from media_core.sync import sync_files

    from .common import progress_bar

    with progress_bar("sync", total=1.0, unit="") as bar:
        last = [0.0]

        def prog(f: float, message: str = "") -> None:
            bar.update(max(0.0, f - last[0]))
            last[0] = max(last[0], f)

        result = sync_files(args.files, reference=args.reference, progress=prog)
    status = 0
    warned = set()
    for f in result["feeds"]:
        if f["offset_s"] is None:
            error_line(f"{f['path']}: {f.get('reason', 'could not be placed')}")
            status = 2
        for w in f.get("evidence", {}).get("warnings", []):
            if w not in warned:
                warned.add(w)
                warning_line(w)
    if args.case:
        _store(args.case, result)
    if args.json:
        print_json(result)
    else:
        rows = []
        for f in result["feeds"]:
            rows.append([f["path"], "-" if f["offset_s"] is None else f"{f['offset_s']:+.4f}",
                         "-" if f["drift_ppm"] is None else f"{f['drift_ppm']:+.1f}",
                         f["method"] or "-", f"{f['confidence']:.2f}", f.get("reason", "")])
        print(f"reference: {safe_text(result['reference'])}")
        print(table(rows, ["file", "offset_s", "drift_ppm", "method", "confidence", "note"]))
    return status


def _store(case_path: str, result: dict) -> None:
    """Add the files as feeds (if missing) and apply the document, as the app does."""
    from media_core import pipeline
    from media_core.case.store import Case

    with Case.open(case_path) as case:
        for f in result["feeds"]:
            if f["offset_s"] is None and f["path"] != result["reference"]:
                continue
            if case.feed_by_path(f["path"]) is None:
                case.add_feed(f["path"])
        pipeline.apply_sync_document(case, result)
        pipeline.incident_shots(case)
