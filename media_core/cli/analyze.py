"""``evidence-audit analyze FILE... [--mutes-only] [--json] [--case CASE] [--min-mute S]``.

A table of muted spans per feed (and the shot count with its uncertainty, e.g. ``shots: 20
(18 confident, 2 possible)``), or with ``--json`` only the ``evidence-audit.analysis/1``
document on stdout. Progress goes to stderr. A file that cannot
be read gets one line naming it and the problem; the other files are still analysed and the
exit code is 2.
"""
from __future__ import annotations

import argparse
import math
import sys

from .common import error_line, hms, positive_float, print_json, progress_bar, safe_text, table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="find muted spans (and gunshots) in each feed's audio",
                       description="Decode each file's audio once and report muted spans (digital "
                                   "silence, dead floor, packet gaps, late start, early end, no "
                                   "audio, undecodable, truncated) and gunshots. Exit 2 if any file "
                                   "cannot be read.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--mutes-only", action="store_true", help="skip gunshot detection")
    p.add_argument("--json", action="store_true",
                   help="print only the evidence-audit.analysis/1 JSON document on stdout")
    p.add_argument("--case", metavar="CASE", help="store the results in this case (adds feeds as needed)")
    p.add_argument("--min-mute", type=positive_float, default=0.5, metavar="S",
                   help="shortest mute reported, in seconds (default 0.5)")
    p.set_defaults(func=run)


def _print_feed(feed: dict, shots: bool) -> None:
    audio = "audio" if feed["has_audio"] else "NO AUDIO"
    print(f"{safe_text(feed['path'])}  ({hms(feed['duration_s'])}, {audio}, sha256 {feed['sha256'][:16]})")
    if feed["mutes"]:
        rows = [[hms(m["start_s"]), hms(m["end_s"]), hms(m["end_s"] - m["start_s"]), m["kind"],
                 f"{m['confidence']:.2f}"] for m in feed["mutes"]]
        print(table(rows, ["start", "end", "duration", "kind", "confidence"]))
    else:
        print("no muted spans")
    total = sum(m["end_s"] - m["start_s"] for m in feed["mutes"])
    notes = [f"muted {hms(total)} in {len(feed['mutes'])} span(s)"]
    for m in feed["mutes"]:
        if m["kind"] == "truncated":
            meas = m["evidence"]["measurements"]
            notes.append(f"DAMAGED: data ends at {hms(m['start_s'])} of the declared {hms(m['end_s'])} "
                         f"(file size {meas.get('file_size')} bytes)")
    nq = sum(1 for q in feed["quiet"] if q["kind"] == "quiet-live")
    if nq:
        notes.append(f"{nq} quiet live passage(s), not mutes")
    for q in feed["quiet"]:
        if q["kind"] == "channel-silence":
            ch = q["evidence"]["measurements"].get("channel_name", "?")
            notes.append(f"{safe_text(ch)} channel silent {hms(q['start_s'])}-{hms(q['end_s'])} (other channel live)")
    if shots:
        from media_core.analysis.shot_counts import feed_count

        notes.append(f"shots: {feed_count(feed['shots'])['text']}")
    print(safe_text("; ".join(notes)))
    print()


def _progress(bar):
    def tick(fraction: float, message: str = "") -> None:
        bar.update(max(0.0, fraction - bar.n))

    return tick


def _analyse_in_case(args, shots: bool) -> tuple[list[dict], int]:
    """``--case``: add the files as feeds and analyse them through the case pipeline, so that the
    app and ``case prepare`` find exactly this analysis stored and decode nothing again.
    """
    from media_core import pipeline
    from media_core.case.store import Case
    from media_core.errors import MediaCoreError

    feeds, status = [], 0
    with Case.open(args.case) as case:  # CaseError -> exit 2 through main()
        for path in args.files:
            try:
                f = case.add_feed(path)
            except MediaCoreError as exc:
                error_line(exc)
                status = 2
                continue
            with progress_bar(f"analyze {path}", total=1.0, unit="") as bar:
                results, errors = pipeline.analyze_feeds(case, feed_ids=[f.id], min_mute_s=args.min_mute,
                                                         shots=shots, progress=_progress(bar))
            for e in errors:
                error_line(e)
                status = 2
            if f.id in results:
                feed = {**results[f.id], "path": path}
                feeds.append(feed)
                if not args.json:
                    _print_feed(feed, shots)
    return feeds, status


def run(args) -> int:
    from media_core.analysis.feed import analysis_document, analyze_feed
    from media_core.errors import MediaCoreError, ParameterError

    if not (args.min_mute > 0 and math.isfinite(args.min_mute)):
        raise ParameterError(f"--min-mute must be a finite number of seconds > 0 (got {args.min_mute})")
    shots = not args.mutes_only
    if args.case:
        feeds, status = _analyse_in_case(args, shots)
    else:
        feeds, status = [], 0
        for path in args.files:
            with progress_bar(f"analyze {path}", total=1.0, unit="") as bar:
                try:
                    feed = analyze_feed(path, mutes=True, shots=shots, min_mute_s=args.min_mute,
                                        progress=_progress(bar))
                except MediaCoreError as exc:
                    error_line(exc)
                    status = 2
                    continue
                except BrokenPipeError:
                    raise
                except (ArithmeticError, ValueError, TypeError, AttributeError, IndexError, KeyError,
                        MemoryError, OSError) as exc:  # a file no check foresaw: the batch goes on
                    error_line(f"{path}: cannot be analysed ({type(exc).__name__}: {exc}); "
                               "internal error, please report this file")
                    status = 2
                    continue
            feeds.append(feed)
            if not args.json:
                _print_feed(feed, shots)
    if args.json:
        print_json(analysis_document(feeds))
    sys.stdout.flush()
    return status
