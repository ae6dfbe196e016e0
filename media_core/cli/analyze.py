"""``evidence-audit analyze FILE... [--mutes-only] [--json] [--case CASE] [--min-mute S]``.

A table of muted spans per feed (and the shot count with its uncertainty, e.g. ``shots: 20
(18 confident, 2 possible)``), or with ``--json`` only the ``evidence-audit.analysis/1``
document on stdout. Progress goes to stderr. A file that cannot
be read gets one line naming it and the problem; the other files are still analysed and the
exit code is 2.
"""
from __future__ import annotations

import argparse
import sys

from .common import error_line, hms, print_json, progress_bar, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="find muted spans (and gunshots) in each feed's audio",
                       description="Decode each file's audio once and report muted spans (digital "
                                   "silence, dead floor, packet gaps, late start, early end, no "
                                   "audio, undecodable) and gunshots. Exit 2 if any file cannot be read.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--mutes-only", action="store_true", help="skip gunshot detection")
    p.add_argument("--json", action="store_true",
                   help="print only the evidence-audit.analysis/1 JSON document on stdout")
    p.add_argument("--case", metavar="CASE", help="store the results in this case (adds feeds as needed)")
    p.add_argument("--min-mute", type=float, default=0.5, metavar="S",
                   help="shortest mute reported, in seconds (default 0.5)")
    p.set_defaults(func=run)


def _print_feed(feed: dict, shots: bool) -> None:
    audio = "audio" if feed["has_audio"] else "NO AUDIO"
    print(f"{feed['path']}  ({hms(feed['duration_s'])}, {audio}, sha256 {feed['sha256'][:16]})")
    if feed["mutes"]:
        rows = [[hms(m["start_s"]), hms(m["end_s"]), hms(m["end_s"] - m["start_s"]), m["kind"],
                 f"{m['confidence']:.2f}"] for m in feed["mutes"]]
        print(table(rows, ["start", "end", "duration", "kind", "confidence"]))
    else:
        print("no muted spans")
    total = sum(m["end_s"] - m["start_s"] for m in feed["mutes"])
    notes = [f"muted {hms(total)} in {len(feed['mutes'])} span(s)"]
    nq = sum(1 for q in feed["quiet"] if q["kind"] == "quiet-live")
    if nq:
        notes.append(f"{nq} quiet live passage(s), not mutes")
    for q in feed["quiet"]:
        if q["kind"] == "channel-silence":
            ch = q["evidence"]["measurements"].get("channel_name", "?")
            notes.append(f"{ch} channel silent {hms(q['start_s'])}-{hms(q['end_s'])} (other channel live)")
    if shots:
        from media_core.analysis.shot_counts import feed_count

        notes.append(f"shots: {feed_count(feed['shots'])['text']}")
    print("; ".join(notes))
    print()


def run(args) -> int:
    from media_core.analysis.feed import analysis_document, analysis_version, analyze_feed
    from media_core.errors import MediaCoreError, ParameterError

    if not args.min_mute > 0:
        raise ParameterError(f"--min-mute must be > 0 seconds (got {args.min_mute})")
    shots = not args.mutes_only
    case = None
    if args.case:
        from media_core.case.store import Case

        case = Case.open(args.case)  # CaseError -> exit 2 through main()
    feeds, status = [], 0
    try:
        for path in args.files:
            bar = progress_bar(f"analyze {path}", total=1.0, unit="")
            last = [0.0]

            def progress(f, bar=bar, last=last):
                bar.update(max(0.0, f - last[0]))
                last[0] = f

            try:
                feed = analyze_feed(path, mutes=True, shots=shots, min_mute_s=args.min_mute,
                                    progress=progress)
            except MediaCoreError as exc:
                error_line(exc)
                status = 2
                continue
            finally:
                bar.close()
            if case is not None:
                try:
                    f = case.feed_by_sha256(feed["sha256"]) or case.add_feed(path)
                    case.store_analysis(f.id, algorithm="analysis",
                                        version=analysis_version(mutes=True, shots=shots),
                                        params={"min_mute_s": args.min_mute, "mutes": True, "shots": shots},
                                        result=feed)
                except MediaCoreError as exc:
                    error_line(exc)
                    status = 2
            feeds.append(feed)
            if not args.json:
                _print_feed(feed, shots)
    finally:
        if case is not None:
            case.close()
    if args.json:
        print_json(analysis_document(feeds))
    sys.stdout.flush()
    return status
