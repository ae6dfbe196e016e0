"""The report's CSV tables: ``mutes.csv``, ``shots.csv``, ``claims.csv``.

Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) are prefixed with ``'`` (OWASP's advice for CSV injection); numbers
are written as numbers. Everything else is verbatim UTF-8 (with a BOM, so spreadsheets read it as
UTF-8), quoted where the CSV dialect needs it.
"""
from __future__ import annotations

import csv
import io

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def protect(value) -> object:
    """A cell safe for spreadsheets: text starting like a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def csv_text(header: list[str], rows: list[list]) -> str:
    """CSV text (with a UTF-8 BOM) of ``rows`` under ``header``; text cells protected."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    for r in rows:
        w.writerow([protect(v) for v in r])
    return "\ufeff" + buf.getvalue()


def mutes_csv(report: dict) -> str:
    header = ["feed", "kind", "listed_as", "start_shared_s", "end_shared_s", "start_media_s", "end_media_s",
              "start_wall", "end_wall", "duration_s", "after_first_shot_s", "after_last_shot_s", "confidence",
              "uncertainty_s", "spoken_reason", "note", "method"]
    rows = [[m["feed"], m["kind"], m["class"], m["start_shared_s"], m["end_shared_s"], m["start_media_s"],
             m["end_media_s"], m["start_wall"], m["end_wall"], m["duration_s"], m["after_first_shot_s"],
             m["after_last_shot_s"], m["confidence"], m["uncertainty_s"], m["spoken_reason"], m["note"], m["method"]]
            for m in report["mutes"]]
    return csv_text(header, rows)


def shots_csv(report: dict) -> str:
    header = ["number", "time_shared_s", "wall", "status", "confident", "confidence", "heard_by"]
    rows = [[s["number"], s["time_shared_s"], s["wall"], s["status"], s["confident"], s["confidence"],
             "; ".join(s["feeds"])] for s in report["shots"]["shots"]]
    return csv_text(header, rows)


def claims_csv(report: dict) -> str:
    header = ["source", "quote", "kind", "feed", "stated_low", "stated_high", "measured", "uncertainty", "unit",
              "status", "reason"]
    rows = []
    for c in report["claims"]:
        lo, hi = (c["stated_range"] or [None, None])
        meas = c["measured"]
        if isinstance(meas, list):
            meas = f"{meas[0]}" if meas[0] == meas[1] else f"{meas[0]} to {meas[1]}"
        rows.append([c["source"], c["quote"], c["kind"], c["feed"], lo, hi, meas, c["uncertainty"], c["unit"],
                     c["status"], c["reason"]])
    return csv_text(header, rows)
