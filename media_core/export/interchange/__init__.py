"""Annotation interchange: a case's annotations, mutes and shots out to ELAN, OpenTimelineIO,
WebVTT, CSV and JSON (and back in through :mod:`media_core.case.importing`).

One module per format (``eaf``, ``otio``, ``vtt``, ``table``), all fed by :mod:`.rows`, which reads
the case's :class:`~media_core.case.timeline.Timeline` (the only source of times).
"""
from __future__ import annotations

import os
from pathlib import Path

from media_core.progress import Progress, ShouldStop

__all__ = ["FORMATS", "export_annotations", "export_context", "write_files", "record_export"]

FORMATS = ("eaf", "otio", "vtt", "csv", "json")


def export_annotations(case, *, fmt: str, out_dir: str | os.PathLike, progress: Progress | None = None,
                       should_stop: ShouldStop | None = None) -> dict:
    """Write the case's annotations, mutes and shots as ``fmt`` into ``out_dir`` and log the
    export in the case (``export.annotations``, with each file's SHA-256): :func:`write_files`
    then :func:`record_export`.

    Returns ``{"format", "files": [{"path", "sha256", ...}], "rows", "annotations", "mutes", "shots"}``.
    """
    from media_core.case.timeline import build_timeline

    res = write_files(build_timeline(case), fmt=fmt, out_dir=out_dir, **export_context(case),
                      progress=progress, should_stop=should_stop)
    record_export(case, res)
    return res


def export_context(case) -> dict:
    """What the writers need from the case besides its timeline (read on the case's thread)."""
    return {"stem": case.name, "author": case.user, "fps": {f.id: f.fps for f in case.feeds},
            "head": case.signed_head()}


def write_files(tl, *, fmt: str, out_dir: str | os.PathLike, stem: str, author: str = "",
                fps: dict | None = None, head: dict | None = None, progress: Progress | None = None,
                should_stop: ShouldStop | None = None) -> dict:
    """The compute half: write ``fmt`` from a :class:`~media_core.case.timeline.Timeline` (never
    touches the case, so it can run off the GUI thread).
    """
    from media_core.errors import Cancelled, ParameterError
    from media_core.io.hashing import sha256_file

    from . import eaf, otio, table, vtt
    from .rows import timeline_rows

    if fmt not in FORMATS:
        raise ParameterError(f"unknown annotation format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = timeline_rows(tl)
    if should_stop and should_stop():
        raise Cancelled("annotation export")
    if progress:
        progress(0.1, f"writing {fmt}")
    if fmt == "eaf":
        files = [eaf.write_eaf(tl, rows, out / f"{stem}.eaf", case_name=stem, author=author)]
    elif fmt == "otio":
        files = [otio.write_otio(tl, rows, out / f"{stem}.otio", case_name=stem, fps=fps)]
    elif fmt == "vtt":
        files = vtt.write_vtt(tl, rows, out, stem=stem)
    elif fmt == "csv":
        files = [table.write_csv(rows, out / f"{stem}.annotations.csv")]
    else:
        files = [table.write_json(tl, rows, out / f"{stem}.annotations.json", case_name=stem, head=head)]
    for f in files:
        f["sha256"] = sha256_file(f["path"])
    counts = {k: sum(r.kind == k for r in rows) for k in ("annotation", "mute", "shot")}
    if progress:
        progress(1.0, f"{len(files)} file(s) written")
    return {"format": fmt, "files": files, "rows": len(rows), "annotations": counts["annotation"],
            "mutes": counts["mute"], "shots": counts["shot"]}


def record_export(case, res: dict) -> None:
    """The store half: log the export in the case's audit log (``export.annotations``)."""
    case.record_event("export.annotations", {
        "format": res["format"], "rows": res["rows"], "annotations": res["annotations"], "mutes": res["mutes"],
        "shots": res["shots"],
        "files": [{"name": os.path.basename(f["path"]), "sha256": f["sha256"]} for f in res["files"]]})
