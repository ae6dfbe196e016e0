"""The commission report: ``report.pdf`` (PDF/A-2b), ``mutes.csv``, ``shots.csv``, ``claims.csv``,
``report.json`` and a signed ``manifest.json``, written by :func:`export_report`.

``model.py`` builds the ``evidence-audit.report/1`` document from the case, ``chart.py`` draws
the timeline, ``pdf.py`` lays it out with Typst, ``tables.py`` writes the CSVs. The report cites
the case's signed log head as it was before the export was logged; two exports of a case at the
same head with the same ``date`` give byte-identical PDFs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from media_core.errors import ParameterError
from media_core.progress import Progress, ShouldStop, check_cancel, no_progress

__all__ = ["export_report", "REPORT_FILES"]

REPORT_FILES = ("report.pdf", "report.json", "mutes.csv", "shots.csv", "claims.csv")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def export_report(case, out_dir: str | os.PathLike, *, date: str | None = None,
                  pre_event_buffers: dict[str, float] | None = None, default_buffer_s: float = 30.0,
                  allow_changed: bool = False, record: bool = True, progress: Progress | None = None,
                  should_stop: ShouldStop | None = None) -> dict[str, Any]:
    """Write the report of ``case`` into ``out_dir`` (created if needed); return what was written.

    Every original is re-checked first (:meth:`Case.check_identity`): a changed or missing one
    stops the export with one line naming the feed, unless ``allow_changed`` (the manifest then
    records it). The export is recorded in the case's audit log (``record=False`` leaves that to
    the caller: the app records it on the thread that owns the case, with ``log``).

    Returns
    -------
    dict
        ``{"out": folder, "files": {name: sha256}, "warnings": [str], "report": document,
        "log": the audit-log details}``.
    """
    import hashlib

    from media_core.export.report.chart import timeline_svg
    from media_core.export.report.model import build_report
    from media_core.export.report.pdf import render_pdf
    from media_core.export.report.tables import claims_csv, mutes_csv, shots_csv

    report_progress = progress or no_progress
    if date is not None:
        import datetime as _dt

        try:
            _dt.date.fromisoformat(date)
        except ValueError:
            raise ParameterError(f"--date must be YYYY-MM-DD (got {date!r})") from None
    out = Path(out_dir)
    originals = {os.path.realpath(f.path) for f in case.feeds}
    if os.path.realpath(out) in originals:
        raise ParameterError(f"{out}: is an original; choose a folder for the report")
    from media_core.case.timeline import build_timeline
    from media_core.export.output import source_records

    timeline = build_timeline(case)
    # every original checked before anything is made (one line naming a changed or missing one)
    sources, notes = source_records(case, timeline, [f.id for f in timeline.feeds], allow_changed=allow_changed)
    changed = [{"feed_id": s["feed_id"], "label": s["label"], "problem": n}
               for s, n in zip([s for s in sources if s["status"] == "changed"], notes)]
    check_cancel(should_stop, "report")
    report_progress(0.1, "collecting the measurements")
    doc = build_report(case, date=date, pre_event_buffers=pre_event_buffers, default_buffer_s=default_buffer_s,
                       timeline=timeline)
    doc["header"]["changed_originals"] = changed
    check_cancel(should_stop, "report")
    report_progress(0.3, "drawing the timeline")
    svg = timeline_svg(doc)
    check_cancel(should_stop, "report")
    report_progress(0.5, "laying out the PDF")
    pdf, warnings = render_pdf(doc, svg)
    check_cancel(should_stop, "report")
    out.mkdir(parents=True, exist_ok=True)
    payloads = {
        "report.pdf": pdf,
        "report.json": (json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"),
        "mutes.csv": mutes_csv(doc).encode("utf-8"),
        "shots.csv": shots_csv(doc).encode("utf-8"),
        "claims.csv": claims_csv(doc).encode("utf-8"),
    }
    files = {}
    for name, data in payloads.items():
        _write_atomic(out / name, data)
        files[name] = hashlib.sha256(data).hexdigest()
    report_progress(0.9, "signing the manifest")
    manifest = _write_manifest(case, out, sources, notes, doc)
    log = {"out": str(out.resolve()), "files": files, "date": doc["header"]["date"],
           "cites_head": doc["header"]["signed_head"], "manifest_sha256": manifest}
    if record:
        case.record_event("export.report", log)
    report_progress(1.0, f"report written to {out}")
    return {"out": str(out), "files": files, "warnings": warnings, "report": doc, "log": log}


def _write_manifest(case, out: Path, sources: list[dict], notes: list[str], doc: dict) -> str:
    """Sign and write the folder's ``manifest.json`` (:mod:`media_core.export.manifest`); its SHA-256."""
    from media_core.export.manifest import build_manifest, output_record, write_manifest
    from media_core.export.output import case_record

    outputs = [output_record(out / name, role) for name, role in
               (("report.pdf", "report"), ("report.json", "report-data"), ("mutes.csv", "table"),
                ("shots.csv", "table"), ("claims.csv", "table"))]
    m = build_manifest(kind="report", options={"date": doc["header"]["date"],
                                               "pre_event_buffers_s": doc["header"]["pre_event_buffers_s"]},
                       case=case_record(case), sources=sources, outputs=outputs, notes=notes, made_by=case.user)
    _, digest = write_manifest(out, m)
    return digest
