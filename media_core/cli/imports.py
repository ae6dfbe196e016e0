"""``evidence-audit import annotations CASE FILE [--dry-run] [--include-measured] [--feed FEED]``."""
from __future__ import annotations

import argparse

from .common import print_json, safe_lines


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="bring annotations into a case (ELAN, CSV, JSON, WebVTT, OTIO markers)",
                       description="Everything that comes into a case from other tools.")
    isub = p.add_subparsers(dest="import_command", metavar="WHAT")
    isub.required = True
    a = isub.add_parser("annotations", help="import annotations from .eaf, .csv, .json, .vtt or .otio",
                        description="Times are mapped through each feed's clock. Tiers or categories the case "
                                    "does not know become categories. Mutes and shots of our own exports are "
                                    "recognised and not imported unless --include-measured. All or nothing, in "
                                    "one transaction; every imported annotation is audit-logged with the "
                                    "file's SHA-256. --dry-run shows what would be imported and skipped.")
    a.add_argument("case", metavar="CASE")
    a.add_argument("file", metavar="FILE")
    a.add_argument("--dry-run", action="store_true", help="show the preview, change nothing")
    a.add_argument("--include-measured", action="store_true", help="import mutes and shots as annotations too")
    a.add_argument("--feed", metavar="FEED", help="for a file that names no clock (a WebVTT from elsewhere): the "
                                                  "feed (label, file name or id) whose media time it is in")
    a.add_argument("--json", action="store_true", help="print the preview as JSON")
    a.set_defaults(func=run)


def run(args) -> int:
    from media_core.case.importing import apply_import, preview_import, read_annotation_file
    from media_core.case.store import Case
    from media_core.case.timeline import build_timeline

    parsed = read_annotation_file(args.file)   # bad input -> one line, exit 2, before the case is opened
    opener = Case.open_readonly if args.dry_run else Case.open
    with opener(args.case) as case:
        pv = preview_import(build_timeline(case), parsed, include_measured=args.include_measured, feed=args.feed,
                            case_name=case.name)
        added = [] if args.dry_run else apply_import(case, pv)
    if args.json:
        print_json({**pv.summary(), "dry_run": args.dry_run, "imported": len(added)})
        return 0
    print(safe_lines("\n".join(pv.lines())))
    print("dry run: nothing imported" if args.dry_run else f"imported {len(added)} annotation(s) in one transaction")
    return 0
