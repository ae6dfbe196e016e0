"""``evidence-audit mute list|leads|finding CASE ...``: spoken reasons before mutes.

``mute leads`` searches the live audio around every mute for keywords (speech leads, stored in the
case); ``mute list`` shows every mute with its leads and the analyst's finding; ``mute finding``
records the finding (audit-logged with its author, undoable). Leads are pointers for listening,
never findings.
"""
from __future__ import annotations

import argparse

from .common import hms, non_negative_float, print_json, safe_text, table


def register(sub: argparse._SubParsersAction) -> None:
    from media_core.case.store import FINDINGS

    p = sub.add_parser("mute", help="spoken reasons before mutes: speech leads and the analyst's findings",
                       description="Speech leads point to keywords spoken around each mute (\"mute\", \"turning "
                                   "off\", \"privacy\"...); the analyst listens and records a finding per mute.")
    msub = p.add_subparsers(dest="mute_command", metavar="ACTION")
    msub.required = True
    lst = msub.add_parser("list", help="every mute with its leads and finding")
    lst.add_argument("case", metavar="CASE")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=run_list)
    ld = msub.add_parser("leads", help="search the audio around every mute for keywords (stored in the case)")
    ld.add_argument("case", metavar="CASE")
    ld.add_argument("--keywords", metavar="FILE",
                    help="keyword file: one phrase per line, optionally /1e-25/ (its threshold); # comments")
    ld.add_argument("--before", type=non_negative_float, default=30.0, metavar="S",
                    help="seconds of live audio searched before each mute (default 30)")
    ld.add_argument("--after", type=non_negative_float, default=10.0, metavar="S",
                    help="seconds searched after each mute ends (default 10)")
    ld.add_argument("--feed", type=int, action="append", metavar="FEED_ID", help="only this feed (repeatable)")
    ld.add_argument("--no-context", action="store_true", help="skip the short transcript around each lead")
    ld.add_argument("--json", action="store_true")
    ld.set_defaults(func=run_leads)
    fd = msub.add_parser("finding", help="record the analyst's finding on one mute (audit-logged)")
    fd.add_argument("case", metavar="CASE")
    fd.add_argument("mute", metavar="MUTE", help="the mute's number in `mute list`, or FEED_ID/kind@ms")
    fd.add_argument("--set", dest="finding", required=True, choices=FINDINGS)
    fd.add_argument("--text", default="", help="the reason as heard (required for reason-stated)")
    fd.set_defaults(func=run_finding)


def _lead_line(ld: dict) -> str:
    where = (f"{ld['before_mute_s']:.1f} s before" if ld.get("side") == "before"
             else f"{ld['after_mute_s']:.1f} s after")
    ctx = (ld.get("context") or {}).get("text")
    return (f"\"{ld['keyword']}\" at {hms(ld['start_s'])} feed / {hms(ld['shared_start_s'])} shared "
            f"({where}; score {ld['score']:.1f})" + (f": \"{ctx}\"" if ctx else ""))


def run_list(args) -> int:
    from media_core.analysis.speech import mute_overview
    from media_core.case.store import Case

    with Case.open_readonly(args.case) as case:
        ov = mute_overview(case)
    if args.json:
        print_json({"schema": "evidence-audit.mutes/1", "mutes": ov})
        return 0
    if not ov:
        print("no mutes in this case (analyse the feeds first: case prepare or analyze --case)")
        return 0
    rows = [[m["number"], m["feed"], m["kind"], hms(m["shared_start_s"]), hms(m["duration_s"]),
             len(m["leads"]) if m["leads_computed"] else "-", m["finding"]["finding"],
             m["finding"]["text"] or ""] for m in ov]
    print(table(rows, ["#", "feed", "kind", "start (shared)", "duration", "leads", "finding", "as heard"]))
    for m in ov:
        if not m["leads"] and not (m["windows"] and any(m["windows"][s]["note"] for s in ("before", "after"))):
            continue
        print(f"\n#{m['number']} {safe_text(m['feed'])} {m['kind']} ({m['ref']})")
        for side in ("before", "after"):
            note = (m["windows"] or {}).get(side, {}).get("note")
            if note:
                print(f"  {side}: {safe_text(note)}")
        for ld in m["leads"]:
            print("  lead: " + safe_text(_lead_line(ld)))
        if m["finding"]["author"]:
            print(f"  finding by {safe_text(m['finding']['author'])} at {m['finding']['at']}")
    if not any(m["leads_computed"] for m in ov):
        print("\n(speech leads not computed yet: evidence-audit mute leads CASE)")
    return 0


def run_leads(args) -> int:
    import sys

    from media_core.analysis import speech
    from media_core.case.store import Case

    kws = speech.load_keywords(args.keywords) if args.keywords else None
    with Case.open(args.case) as case:
        ids = args.feed or [f.id for f in case.feeds]
        for fid in ids:
            case.feed(fid)

        def progress(f: float, msg: str = "") -> None:
            sys.stderr.write(f"\r[{f:4.0%}] {msg[:70]:<70}")
            sys.stderr.flush()

        docs = speech.speech_leads(case, feed_ids=ids, keywords=kws, before_s=args.before, after_s=args.after,
                                   transcribe=not args.no_context,
                                   progress=progress if sys.stderr.isatty() else None)
        labels = {f.id: f.label for f in case.feeds}
    if args.json:
        print_json({"schema": speech.SCHEMA, "feeds": {str(k): v for k, v in docs.items()}})
        return 0
    for fid, doc in docs.items():
        n = len(doc["mutes"])
        print(f"{safe_text(labels[fid])}: {doc['lead_count']} lead(s) around {n} mute(s)"
              + (f" -- {safe_text(doc['note'])}" if doc.get("note") else ""))
        for m in doc["mutes"]:
            for side in ("before", "after"):
                if m[side]["note"]:
                    print(f"  {m['kind']} at {hms(m['start_s'])}: {side}: {safe_text(m[side]['note'])}")
            for ld in m["leads"]:
                print("  " + safe_text(_lead_line(ld)))
    print("leads point to what to listen to; they are not findings (record one with `mute finding`)")
    return 0


def run_finding(args) -> int:
    from media_core.analysis.speech import find_mute, mute_overview
    from media_core.case.store import Case

    with Case.open(args.case) as case:
        m = find_mute(mute_overview(case), args.mute)
        row = case.set_mute_finding(m["feed_id"], kind=m["kind"], start_s=m["start_s"], end_s=m["end_s"],
                                    finding=args.finding, text=args.text)
    print(f"#{m['number']} {safe_text(m['feed'])} {m['kind']} at {hms(m['shared_start_s'])} shared: "
          f"{row['finding']}" + (f" \"{safe_text(row['text'])}\"" if row["text"] else "")
          + f" (by {safe_text(row['author'])})")
    return 0
