"""CSV and JSON: one row per annotation, mute and shot, with shared, media and wall-clock times.

Columns (:data:`~.rows.COLUMNS`): ``kind`` (annotation, mute, shot), ``id``, ``feed`` (label),
``feed_file``, ``feed_sha256``, ``category``, ``text``, ``author``, ``created``, ``edited``,
``start_s``/``end_s`` (shared clock, seconds, 6 decimals), ``media_start_s``/``media_end_s`` (the
feed's own timeline), ``wall_start``/``wall_end`` (UTC, ISO 8601, from the case's wall clock),
``confidence`` (mutes, shots). CSV is UTF-8 with a header line, comma-separated, RFC 4180 quoting.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from .rows import COLUMNS, SCHEMA, Entry, FeedRef, Row

__all__ = ["write_csv", "write_json", "read_csv", "read_json", "REQUIRED"]

#: What a CSV to import must have at least (``start_s`` may be ``media_start_s`` with a feed column).
REQUIRED = ("category",)


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6f}"
    return str(v)


def write_csv(rows: list[Row], path: str | os.PathLike) -> dict:
    p = Path(path)
    with p.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([_fmt(r.as_dict()[k]) for k in COLUMNS])
    return {"path": str(p), "rows": len(rows)}


def write_json(tl, rows: list[Row], path: str | os.PathLike, *, case_name: str = "", head: dict | None = None) -> dict:
    p = Path(path)
    doc = {"schema": SCHEMA, "case": case_name,
           "wall_clock": tl.wall_clock.source if tl.wall_clock is not None else None,
           "signed_head": head,
           "feeds": [{"id": f.id, "label": f.label, "file": os.path.basename(f.path), "sha256": f.sha256,
                      "offset_s": f.clock.offset_s, "drift_ppm": f.clock.drift_ppm, "reference": f.is_reference}
                     for f in tl.feeds],
           "rows": [r.as_dict() for r in rows]}
    p.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return {"path": str(p), "rows": len(rows)}


def decode_text(data: bytes, *, name: str) -> tuple[str, str | None]:
    """Bytes as text: UTF-8 (a BOM is dropped), else Latin-1 (which never fails), with a note."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "UTF-8 with a byte-order mark"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return data.decode("latin-1"), "not UTF-8: read as Latin-1"


def _float(v, *, col: str, where: str, notes: list[str]) -> float | None:
    if v is None or str(v).strip() == "":
        return None
    try:
        x = float(str(v).strip().replace(",", ".") if str(v).count(",") == 1 and "." not in str(v) else v)
    except ValueError:
        raise ValueError(f"{where}: {col} {str(v)[:30]!r} is not a number") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError(f"{where}: {col} is not finite")
    return x


def _entries(records, *, notes: list[str], label: str) -> list[Entry]:
    out: list[Entry] = []
    for where, rec in records:
        try:
            s = _float(rec.get("start_s"), col="start_s", where=where, notes=notes)
            e = _float(rec.get("end_s"), col="end_s", where=where, notes=notes)
            ms = _float(rec.get("media_start_s"), col="media_start_s", where=where, notes=notes)
            me = _float(rec.get("media_end_s"), col="media_end_s", where=where, notes=notes)
        except ValueError as exc:
            notes.append(f"{exc} (row skipped)")
            continue
        feed = None
        if any(rec.get(k) for k in ("feed_sha256", "feed_file", "feed")):
            feed = FeedRef(rec.get("feed_sha256") or None, rec.get("feed_file") or None, rec.get("feed") or None)
        kind = (rec.get("kind") or "annotation").strip() or "annotation"
        cat = (rec.get("category") or "").strip()
        if not cat:
            notes.append(f"{where}: no category (row skipped)")
            continue
        common = dict(kind=kind, feed=feed, category=cat, text=str(rec.get("text") or ""), where=where,
                      author=rec.get("author") or None, created=rec.get("created") or None,
                      edited=rec.get("edited") or None)
        if feed is not None and ms is not None:
            out.append(Entry(start_s=ms, end_s=me, clock="media", **common))
        elif s is not None:
            out.append(Entry(start_s=s, end_s=e, clock="shared", **common))
        else:
            notes.append(f"{where}: no start time (row skipped)")
    return out


def read_csv(text: str, *, name: str) -> tuple[list[Entry], list[str], dict]:
    """Entries of a CSV table (comma, semicolon, tab or ``|`` separated, found from the header)."""
    from media_core.errors import ParameterError

    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    delim = max(counts, key=counts.get)
    if counts[delim] == 0:
        raise ParameterError(f"{name}: not a table: its first line has no comma, semicolon, tab or '|' "
                             f"separating column names")
    csv.field_size_limit(1 << 20)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delim)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        missing = [c for c in REQUIRED if c not in header]
        if "start_s" not in header and "media_start_s" not in header:
            missing.append("start_s")
        if missing:
            raise ParameterError(f"{name}: the CSV lacks the column(s) {', '.join(missing)} "
                                 f"(found: {', '.join(h for h in header if h)[:200] or 'none'})")
        records = [(f"row {i}", rec) for i, rec in enumerate(reader, 2)]
    except csv.Error as exc:
        raise ParameterError(f"{name}: not readable as CSV ({exc})") from None
    notes: list[str] = []
    if delim != ",":
        notes.append(f"columns separated by {delim!r}")
    return _entries(records, notes=notes, label=name), notes, {}


def read_json(text: str, *, name: str) -> tuple[list[Entry], list[str], dict]:
    from media_core.errors import ParameterError

    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ParameterError(f"{name}: not valid JSON ({exc})") from None
    rows = doc.get("rows") if isinstance(doc, dict) else doc
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ParameterError(f"{name}: not an annotation table (expected {SCHEMA} with a list of rows)")
    notes: list[str] = []
    recs = [(f"row {i}", {k: (None if v is None else str(v)) for k, v in r.items()}) for i, r in enumerate(rows, 1)]
    return _entries(recs, notes=notes, label=name), notes, {}
