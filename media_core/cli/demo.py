"""``evidence-audit demo``: the bundled incident end to end (what ``./run`` does before the app)."""
from __future__ import annotations

import argparse
import sys

from .common import error_line, hms, print_json, safe_lines, safe_text, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="generate, analyse and sync the bundled demo incident",
                       description="Builds out/demo.evcase from sample_media/generated (generated on first "
                                   "use), analyses every feed, syncs them, and compares with the ground truth.")
    p.add_argument("--out", default="out", help="folder for the case and the summary (default: out)")
    p.add_argument("--json", action="store_true", help="print the comparison with the truth as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from media_core.case.store import Case
    from media_core.cli.case import format_summary
    from sample_media.demo import run_demo

    tty, last = sys.stderr.isatty(), [None]

    def progress(frac: float, msg: str) -> None:
        if tty:
            print(f"\r[{frac * 100:5.1f}%] {safe_text(msg):60.60s}", end="", file=sys.stderr, flush=True)
        elif msg != last[0]:  # a log file gets one line per phase, not a bar
            last[0] = msg
            print(f"[{frac * 100:5.1f}%] {safe_text(msg)}", file=sys.stderr, flush=True)

    res = run_demo(args.out, progress=progress)
    if tty:
        print(file=sys.stderr)
    for e in res["errors"]:
        error_line(e)
    if args.json:
        print_json(res)
        return 0
    with Case.open(res["case"]) as case:
        print(safe_lines(format_summary(case.summary())))
    cmp = res["comparison"]
    print("\nMeasured against the demo's ground truth:")
    rows = [[r["feed"], len(r["mutes_found"]), len(r["mutes_true"]), r["shots_found"], r["shots_true"],
             r["sync_method"], r["sync_error_ms"]] for r in cmp["feeds"]]
    print(table(rows, ["feed", "mutes found", "mutes true", "shots found", "shots true", "sync method",
                       "sync error ms"]))
    inc = res["incident"]
    print(f"\nIncident shots (matched across feeds): {inc['count']} found, {cmp['incident_shots_true']} fired")
    for s in inc["shots"][:40]:
        print(f"  {hms(s['time_s'])}  heard by {len(s['feeds'])} feed(s): {safe_text(', '.join(map(str, s['feeds'])))}")
    print(f"\nCase: {safe_text(res['case'])}\nSummary JSON: {safe_text(res['summary'])}")
    return 0

