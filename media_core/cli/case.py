"""``evidence-audit case new|add|list|show`` and ``evidence-audit verify CASE``."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .common import error_line, hms, print_json, progress_bar, safe_lines, table
from .common import safe_text as safe


def register(sub: argparse._SubParsersAction) -> None:
    from media_core.case.store import KINDS

    p = sub.add_parser("case", help="create a case, add feeds, list and show cases",
                       description="A case is a folder NAME.evcase/ with a SQLite store and an audit log.")
    csub = p.add_subparsers(dest="case_command", metavar="ACTION")
    csub.required = True

    n = csub.add_parser("new", help="create an empty case folder NAME.evcase/")
    n.add_argument("case", metavar="CASE")
    n.set_defaults(func=run_new)

    a = csub.add_parser("add", help="probe, fingerprint (SHA-256) and add feeds to a case",
                        description="Bad files are reported one line each and leave the case unchanged; "
                                    "the good files in the same call are added. Exit 2 if any file failed.")
    a.add_argument("case", metavar="CASE")
    a.add_argument("files", nargs="+", metavar="FILE")
    a.add_argument("--kind", choices=KINDS, default="other", help="kind of every feed added")
    a.add_argument("--label", help="label (only with a single FILE), e.g. 'Officer A body cam'")
    a.add_argument("--json", action="store_true", help="print the added feeds as JSON")
    a.set_defaults(func=run_add)

    pr = csub.add_parser("prepare", help="index, analyse and sync every feed of a case (what the app needs)",
                         description="Index each feed's video, decode its audio once (mutes, gunshots, sync "
                                     "features, waveform), place every feed on the shared clock and count "
                                     "incident shots; everything is stored in the case. Work already stored "
                                     "is not redone. Exit 2 if any feed could not be prepared.")
    pr.add_argument("case", metavar="CASE")
    pr.add_argument("--force", action="store_true", help="redo everything, even what is stored")
    pr.add_argument("--no-sync", action="store_true", help="prepare the feeds only")
    pr.set_defaults(func=run_prepare)

    lst = csub.add_parser("list", help="list the cases in a folder")
    lst.add_argument("folder", nargs="?", default=".", metavar="FOLDER")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=run_list)

    s = csub.add_parser("show", help="show a case: feeds, sync, mutes, shots, annotations")
    s.add_argument("case", metavar="CASE")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=run_show)

    v = sub.add_parser("verify", help="check a case (originals, audit log) or an export folder (its signed manifest)",
                       description="A case: re-hash every original and check the audit log chain. An export folder "
                                   "(recognised by its manifest.json): check the manifest's signature, every "
                                   "output's SHA-256 and the case's signed log head it embeds; with --originals "
                                   "DIR also the source originals. Exit 0 if everything is as recorded; exit 1 "
                                   "naming each change otherwise; 2 if it cannot be read.")
    v.add_argument("case", metavar="CASE|EXPORT_DIR")
    v.add_argument("--json", action="store_true")
    v.add_argument("--trust", action="append", metavar="FINGERPRINT",
                   help="a signing key fingerprint (SHA256:...) that must have signed the last head (a case) or "
                        "the manifest (an export); repeatable")
    v.add_argument("--originals", metavar="DIR",
                   help="for an export folder: a folder holding the source originals, checked by name and SHA-256")
    v.set_defaults(func=run_verify)

    from media_core.cli import ingest

    ingest.register(csub)  # case ingest


def run_new(args) -> int:
    from media_core.case.store import Case

    with Case.create(args.case) as case:
        print(f"created case {safe(case.path)}")
    return 0


def run_add(args) -> int:
    from media_core.case.store import Case
    from media_core.errors import ParameterError

    if args.label and len(args.files) > 1:
        raise ParameterError("--label names one feed; give a single FILE with it")
    status, added = 0, []
    with Case.open(args.case) as case:
        for path in args.files:
            try:
                with progress_bar(f"hashing {os.path.basename(path)}", total=1.0, unit="") as bar:
                    def tick(fraction: float, message: str = "", bar=bar) -> None:
                        bar.update(max(0.0, fraction - bar.n))

                    case.last_alias = None
                    n_before = len(case.feeds)
                    f = case.add_feed(path, kind=args.kind, label=args.label, progress=tick)
                added.append(f)
                if not args.json:
                    if case.last_alias is not None:
                        print(f"{safe(path)}: same bytes as feed {f.id} '{safe(f.label)}' ({safe(f.path)}): "
                              "recorded as an alias, not added again", file=sys.stderr)
                    elif len(case.feeds) == n_before:
                        print(f"{safe(path)}: already in the case as feed {f.id} '{safe(f.label)}'", file=sys.stderr)
                    else:
                        print(f"added feed {f.id}: {safe(f.label)}  sha256={f.sha256[:16]}…  {f.duration_s:.3f}s",
                              file=sys.stderr)
            except Exception as exc:  # MediaError and anything PyAV raises: report, keep going
                from media_core.errors import MediaError

                if not isinstance(exc, MediaError):
                    exc = MediaError(path, f"cannot be added ({type(exc).__name__}: {exc})")
                error_line(exc)
                status = 2
    if args.json:
        print_json([{"id": f.id, "path": f.path, "sha256": f.sha256, "label": f.label, "kind": f.kind}
                    for f in added])
    return status


def run_prepare(args) -> int:
    from media_core import pipeline
    from media_core.case.store import Case

    status = 0
    with Case.open(args.case) as case, progress_bar("prepare", total=1.0, unit="") as bar:
        def tick(fraction: float, message: str = "") -> None:
            bar.set_description_str(message[:40] or "prepare", refresh=False)
            bar.update(max(0.0, fraction - bar.n))

        split = 1.0 if args.no_sync or len(case.feeds) < 2 else 0.8
        errors = pipeline.prepare_case(case, force=args.force, progress=pipeline.sub_progress(tick, 0.0, split))
        for e in errors:
            error_line(e)
            status = 2
        if split < 1.0:
            pipeline.sync_case(case, progress=pipeline.sub_progress(tick, split, 1.0))
        inc = pipeline.incident_shots(case)
        n = len(case.feeds)
    print(f"prepared {n - len(errors)} of {n} feed(s) in {safe(args.case)}"
          + ("" if args.no_sync else f"; incident shots: {inc.get('text', inc.get('count'))}"))
    return status


def run_list(args) -> int:
    from media_core.case.store import CASE_SUFFIX, DB_NAME, Case
    from media_core.errors import CaseError

    rows = []
    for p in sorted(Path(args.folder).glob(f"*{CASE_SUFFIX}")):
        if not (p / DB_NAME).is_file():
            continue
        try:
            with Case.open(p) as c:
                rows.append({"case": str(p), "feeds": len(c.feeds), "annotations": len(c.annotations)})
        except CaseError as exc:
            rows.append({"case": str(p), "error": str(exc)})
    if args.json:
        print_json(rows)
    else:
        print(table([[r["case"], r.get("feeds"), r.get("annotations"), r.get("error", "")] for r in rows],
                    ["case", "feeds", "annotations", "problem"]) if rows else f"no cases in {args.folder}")
    return 0


def format_summary(summary: dict, timeline=None) -> str:
    """The readable ``case show`` text; with a :class:`~media_core.case.timeline.Timeline`, mutes
    are also shown on the shared clock and the wall clock, and the incident count is given.
    """
    out = [f"Case {summary['name']}  ({summary['case']})", ""]
    rows = []
    for f in summary["feeds"]:
        s = f["sync"]
        sync = "-"
        if s:
            sync = (f"{s['offset_s'] + s['nudge_s']:+.4f}s {s['drift_ppm']:+.1f}ppm {s['method']} "
                    f"({s['confidence']:.2f})")
        mutes = "-" if f["mutes"] is None else str(len(f["mutes"]))
        rows.append([f["id"], f["label"], f["kind"], hms(f["duration_s"]), "yes" if f["has_audio"] else "no",
                     mutes, "-" if f["shot_count"] is None else f["shot_count"], sync, f["sha256"][:12]])
    out.append(table(rows, ["id", "label", "kind", "duration", "audio", "mutes", "shots", "sync", "sha256"]))
    for f in summary["feeds"]:
        if not f["mutes"]:
            continue
        if timeline is not None:
            out += ["", f"Muted spans, {f['label']} (feed media time; shared clock; wall clock):"]
            out.append(table([[hms(m.media_start_s), hms(m.media_end_s), hms(m.duration_s), hms(m.start_s),
                               m.wall_start or "-", m.kind, f"{m.confidence:.2f}"]
                              for m in timeline.mutes_of(f["id"])],
                             ["start", "end", "duration", "shared start", "wall start", "kind", "confidence"]))
        else:
            out += ["", f"Muted spans, {f['label']} (feed media time):"]
            out.append(table([[hms(m["start_s"]), hms(m["end_s"]), hms(m["end_s"] - m["start_s"]), m["kind"],
                               f"{m['confidence']:.2f}"] for m in f["mutes"]],
                             ["start", "end", "duration", "kind", "confidence"]))
    if timeline is not None:
        if timeline.wall_clock is not None:
            out += ["", f"Wall clock: {timeline.wall_clock.source}"]
        if timeline.incident is not None:
            stale = "" if timeline.incident_current else " (made before the last change; run `case prepare`)"
            out += ["", f"Incident shots: {timeline.incident.get('text', timeline.incident.get('count'))}{stale}"]
    if summary["annotations"]:
        out += ["", f"Annotations: {len(summary['annotations'])}"]
    out += ["", f"Audit log: {summary['audit_rows']} rows"]
    return safe_lines("\n".join(out))


def run_show(args) -> int:
    from media_core.case.store import Case
    from media_core.case.timeline import build_timeline

    with Case.open(args.case) as case:
        summary = case.summary()
        timeline = build_timeline(case)
    if args.json:
        print_json(summary)
    else:
        print(format_summary(summary, timeline))
    return 0


def run_verify(args) -> int:
    """Exit 0 intact, 1 a change or tampering found, 2 the case cannot be read (through main())."""
    from media_core.case.store import Case
    from media_core.export.manifest import is_export_folder

    if is_export_folder(args.case):
        return _verify_export(args)
    if getattr(args, "originals", None):
        from media_core.errors import ParameterError

        raise ParameterError("--originals is for an export folder (one with a manifest.json), not a case")

    with Case.open_readonly(args.case) as case:
        rep = case.verify(trusted=args.trust or ())
    if args.json:
        print_json({"ok": rep.ok, "problems": rep.problems, "notes": rep.notes, "checked_feeds": rep.checked_feeds,
                    "checked_log_rows": rep.checked_log_rows, "checked_rows": rep.checked_rows,
                    "head": rep.head, "signed_by": rep.signed_by, "signed_at": rep.signed_at})
        return 0 if rep.ok else 1
    head = (f"head: row {rep.head.split(':')[0]} {rep.head.split(':')[1][:16]}... signed by {rep.signed_by} "
            f"at {rep.signed_at}" if rep.head else "head: not signed")
    if rep.ok:
        print(f"OK: {rep.checked_feeds} original(s) match their SHA-256; audit log intact "
              f"({rep.checked_log_rows} rows); {rep.checked_rows} table rows match the log")
        print(safe(head))
    else:
        print(f"VERIFICATION FAILED for {safe(os.fspath(args.case))}:", file=sys.stderr)
        for p in rep.problems:
            print(f"  - {safe(p)}", file=sys.stderr)
        print(safe(head), file=sys.stderr)
    for n in rep.notes:
        print(f"note: {safe(n)}")
    print("History is proven only up to the last signed head, and only against someone who does not hold "
          "the signing key.")
    return 0 if rep.ok else 1


def _verify_export(args) -> int:
    """``verify DIR`` for an export folder: the signed manifest, every output, optionally the originals."""
    from media_core.export.manifest import verify_export

    rep = verify_export(args.case, args.originals, trusted=args.trust or ())
    if args.json:
        print_json(rep.to_dict())
        return 0 if rep.ok else 1
    signer = f"manifest signed by {rep.signed_by}" if rep.signed_by else "manifest signature not valid"
    if rep.ok:
        src = f"; {rep.checked_sources} original(s) match" if args.originals else ""
        print(f"OK: export ({rep.kind}) {safe(os.fspath(args.case))}: {rep.checked_outputs} output(s) match "
              f"manifest.json{src}; {safe(signer)}")
    else:
        print(f"VERIFICATION FAILED for export {safe(os.fspath(args.case))}:", file=sys.stderr)
        for p in rep.problems:
            print(f"  - {safe(p)}", file=sys.stderr)
        print(safe(signer), file=sys.stderr)
    if rep.head:
        print(f"case log head embedded: row {safe(rep.head.split(':')[0])} {safe(rep.head.split(':')[-1][:16])}...")
    for n in rep.notes:
        print(f"note: {safe(n)}")
    if not args.originals:
        print("The originals were not checked (give --originals DIR to check them).")
    return 0 if rep.ok else 1
