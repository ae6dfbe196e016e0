"""``evidence-audit export report CASE --out DIR [--date YYYY-MM-DD]``: the commission report."""
from __future__ import annotations

import argparse
import sys

from .common import error_line, safe_text, warning_line


def _buffer(text: str) -> tuple[str, float]:
    model, sep, secs = text.rpartition("=")
    try:
        value = float(secs)
    except ValueError:
        value = -1.0
    if not sep or not model.strip() or not (0 <= value < 3600):
        raise argparse.ArgumentTypeError(f"expected MODEL=SECONDS, e.g. 'Axon Body 3=30' (got {text!r})")
    return model.strip(), value


def register(esub: argparse._SubParsersAction) -> None:
    p = esub.add_parser("report", help="the commission report: PDF/A, CSV and JSON, with claims checked",
                        description="Writes report.pdf (PDF/A-2b), mutes.csv, shots.csv, claims.csv, report.json "
                                    "and a signed manifest.json into DIR, and records the export in the case's "
                                    "audit log. With the same --date, two exports at the same log head give "
                                    "byte-identical PDFs.")
    p.add_argument("case", metavar="CASE")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the report (created if needed)")
    p.add_argument("--date", metavar="YYYY-MM-DD", help="the report's date (default: today, UTC)")
    p.add_argument("--pre-event-buffer", action="append", type=_buffer, default=[], metavar="MODEL=SECONDS",
                   help="a camera model's pre-event buffer (default 30 s for every model); repeatable")
    p.add_argument("--default-buffer", type=float, default=30.0, metavar="SECONDS",
                   help="pre-event buffer of cameras not named with --pre-event-buffer (default 30)")
    p.add_argument("--allow-changed", action="store_true",
                   help="report even when an original changed since it was added (the manifest records it)")
    p.set_defaults(func=run)


def run(args) -> int:
    from media_core.case.store import Case
    from media_core.errors import ParameterError
    from media_core.export.report import export_report

    from .common import progress_bar

    if not (0 <= args.default_buffer < 3600):
        raise ParameterError(f"--default-buffer must be 0..3600 seconds (got {args.default_buffer})")
    with Case.open(args.case) as case, progress_bar("report", total=1.0, unit="") as bar:
        def tick(fraction: float, message: str = "") -> None:
            bar.update(max(0.0, fraction - bar.n))

        res = export_report(case, args.out, date=args.date, pre_event_buffers=dict(args.pre_event_buffer),
                            default_buffer_s=args.default_buffer, allow_changed=args.allow_changed, progress=tick)
    for w in res["warnings"]:
        warning_line(w)
    for ch in res["report"]["header"].get("changed_originals", []):
        error_line(f"warning: {ch['problem']}")
    doc = res["report"]
    checks = doc["claims"]
    print(f"report written to {safe_text(res['out'])}: " + ", ".join(sorted(res["files"])) + ", manifest.json")
    print(f"incident shots: {doc['shots']['incident']['text']}; feeds with a counted mute: "
          f"{doc['summary']['feeds_with_mutes']} of {doc['summary']['feeds']}; claims: "
          + (", ".join(f"{sum(c['status'] == s for c in checks)} {s}"
                       for s in ("consistent", "inconsistent", "not measurable")) if checks else "none recorded"))
    sys.stdout.flush()
    return 0
