"""``evidence-audit case ingest CASE FOLDER...``: a whole release into a case, analysed and synced."""
from __future__ import annotations

import argparse
import sys
import time

from .common import error_line, hms, print_json, safe_lines, table
from .common import safe_text as safe


def register(csub: argparse._SubParsersAction) -> None:
    g = csub.add_parser(
        "ingest", help="add every media file under folders (recursively), analyse and sync them, in parallel",
        description="Every media file under the folders is probed, hashed (SHA-256) and added; each feed is "
                    "indexed and analysed (mutes, gunshots, sync features) in worker processes, one per core by "
                    "default; then the whole case is synced. Resumable: run it again after a kill and it skips "
                    "what is stored (keyed by SHA-256 and algorithm version). A file that cannot be read is "
                    "reported and skipped. Ends with a summary: files, hours, mutes on the shared clock, shots, "
                    "feeds placed only by metadata. Exit 2 if any file failed.")
    g.add_argument("case", metavar="CASE", help="the case (created if it does not exist)")
    g.add_argument("folders", nargs="+", metavar="FOLDER", help="folders (searched recursively) or files")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes (default: one per core; 0: no child processes)")
    g.add_argument("--no-sync", action="store_true", help="add and prepare only; sync later with `case prepare`")
    g.add_argument("--json", action="store_true", help="print the summary as JSON")
    g.set_defaults(func=run_ingest)


class _Display:
    """One progress display on stderr: a bar on a terminal, a line per file (at most one a second
    and every failure) in a log.
    """

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def status(self, st) -> None:
        now = time.monotonic()
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + safe(st.line()))
            if st.phase == "done":
                sys.stderr.write("\n")
            sys.stderr.flush()
        elif now - self.last >= 1.0 or st.phase != "files" or st.files_done == st.files_total:
            self.last = now
            print(f"ingest: {safe(st.line())}", file=sys.stderr)

    def failure(self, path: str, problem: str) -> None:
        if self.tty:
            sys.stderr.write("\r\x1b[2K")
        error_line(problem if problem.startswith(path) else f"{path}: {problem}")


def format_ingest_summary(s: dict) -> str:
    """The end-of-ingest text: counts, mutes on the shared clock, shots, metadata-only feeds."""
    out = [f"Ingested {s['files']} file(s) into {s['case']}: {s['feeds']} feed(s), {s['hours']:.2f} h recorded"]
    c = s.get("counts")
    if c:
        out.append(f"  new {c['added']}, same bytes at another path {c['aliases']}, analysed now {c['prepared']}, "
                   f"already analysed {c['already_prepared']}, failed {len(s['failures'])}")
    t = s.get("timing")
    if t:
        rate = f", hashed {t['hash_rate_mb_s']} MB/s" if t.get("hash_rate_mb_s") else ""
        out.append(f"  {t['elapsed_s']:.1f} s with {t['workers']} worker(s): files {t['files_s']:.1f} s, "
                   f"sync {t['sync_s']:.1f} s{rate}")
    out.append(f"Reference: {s['reference'] or '-'};  wall clock: {s['wall_clock'] or 'none'}")
    out.append("Placement: " + ", ".join(f"{k} {v}" for k, v in s["placement"].items()))
    out += ["", f"Feeds with mutes: {len(s['feeds_with_mutes'])} of {s['feeds']}"]
    if s["mutes"]:
        out.append(table([[m["feed"], m["kind"], hms(m["start_s"]), hms(m["end_s"]), hms(m["duration_s"]),
                           m["wall_start"] or "-", "" if m["placed"] else "not placed"] for m in s["mutes"]],
                         ["feed", "kind", "shared start", "shared end", "duration", "wall start", ""]))
    out += ["", f"Incident shots: {s['shot_text'] or len(s['shots'])}"]
    if s["shots"]:
        out.append(table([[x["number"], hms(x["time_s"]), x["wall"] or "-", len(x["feeds"])] for x in s["shots"]],
                         ["shot", "shared time", "wall", "heard by"]))
    out += ["", f"Placed only by metadata (camera clock, seconds off): {len(s['metadata_only'])}"]
    out += [f"  {f['id']}: {f['label']}" for f in s["metadata_only"]]
    if s["unplaced"]:
        out += [f"Not placed at all: {len(s['unplaced'])}"] + [f"  {f['id']}: {f['label']}" for f in s["unplaced"]]
    if s["failures"]:
        out += ["", f"Failed: {len(s['failures'])}"] + [f"  {f['problem']}" for f in s["failures"]]
    return safe_lines("\n".join(out))


def run_ingest(args) -> int:
    from media_core.batch.ingest import ingest, ingest_summary
    from media_core.case.store import Case
    from media_core.errors import ParameterError

    if args.workers is not None and args.workers < 0:
        raise ParameterError("--workers must be 0 or more")
    shown = _Display()
    with Case.create(args.case, exist_ok=True) as case:
        rep = ingest(case, args.folders, workers=args.workers, sync=not args.no_sync, on_status=shown.status,
                     on_failure=shown.failure)
        summary = ingest_summary(case, rep)
    if args.json:
        print_json(summary)
    else:
        print(format_ingest_summary(summary))
    return 2 if rep.failures else 0
