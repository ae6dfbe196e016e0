"""``evidence-audit export annotations CASE --format eaf|otio|vtt|csv|json --out DIR``."""
from __future__ import annotations

import argparse

from .common import print_json
from .common import safe_text as safe


def register(esub: argparse._SubParsersAction) -> None:
    from media_core.export.interchange import FORMATS

    p = esub.add_parser("annotations", help="annotations, mutes and shots for ELAN, editors (OTIO), WebVTT, CSV, JSON",
                        description="Write every annotation, mute and shot of the case: ELAN .eaf (EAF 3.0, one "
                                    "media descriptor per feed, aligned by TIME_ORIGIN), OpenTimelineIO .otio "
                                    "(one track per feed, markers), WebVTT (one file per feed in its media time "
                                    "and one on the shared clock), CSV or JSON (shared, media and wall-clock "
                                    "times). The export is recorded in the case's audit log with each file's "
                                    "SHA-256.")
    p.add_argument("case", metavar="CASE")
    p.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into (created if missing)")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from media_core.case.store import Case
    from media_core.export.interchange import export_annotations

    with Case.open(args.case) as case:
        res = export_annotations(case, fmt=args.fmt, out_dir=args.out)
    if args.json:
        print_json(res)
        return 0
    print(f"{res['annotations']} annotation(s), {res['mutes']} mute(s), {res['shots']} shot(s) as {res['format']}:")
    for f in res["files"]:
        print(f"  {safe(f['path'])}  sha256 {f['sha256'][:16]}...")
    return 0
