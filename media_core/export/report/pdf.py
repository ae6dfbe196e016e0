"""The report's PDF: the ``evidence-audit.report/1`` document laid out with Typst, PDF/A-2b.

Why Typst (the ``typst`` wheel): no system dependencies, PDF/A-2b output, fonts embedded, and a
fixed creation timestamp gives byte-identical PDFs for the same case, log head and date. Every
value reaches the layout as JSON data (``sys.inputs``) and is inserted as text, never parsed as
markup. The chart is vector graphics (SVG from matplotlib).

Fonts: DejaVu Sans for Latin, Noto Sans CJK and Noto Sans Arabic where installed (``scripts/
setup.sh`` installs them on Debian). A character no installed font covers cannot be embedded in
PDF/A; it is then shown as ``<U+XXXX>`` and the report says so in its footer, never dropped silently.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import tempfile
from pathlib import Path

from media_core.timefmt import format_time

FONTS = ["DejaVu Sans", "Noto Sans", "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans Arabic",
         "Noto Sans Hebrew", "Noto Sans Devanagari"]
TEMPLATE = Path(__file__).with_name("template.typ")
_MISSING = re.compile(r'the text `"(.+?)"` could not be displayed', re.S)
#: Invisible direction controls (embeddings, overrides, isolates, marks). In quoted or typed text
#: they reorder what the page shows (``"evil\u202egpj.exe"`` prints as ``evilexe.jpg``): the PDF
#: shows each as a visible ``<U+XXXX>``, so what a reader sees is what was stored. CSV and JSON
#: keep them verbatim.
BIDI_CONTROLS = frozenset("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _t(seconds) -> str:
    return format_time(seconds, decimals=3, missing="—")


def _s(x, digits: int = 2) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _wall(iso: str | None) -> str:
    """A wall time that can break between date and time in a narrow column."""
    return iso.replace("T", " ") if iso else "—"


def _wrap_hash(h: str | None, every: int = 16) -> str:
    if not h:
        return "—"
    return "\u200b".join(h[i:i + every] for i in range(0, len(h), every))


def display_data(report: dict) -> dict:
    """Everything the template shows, as strings and tables of strings."""
    h = report["header"]
    head = h.get("signed_head") or {}
    y, m, d = (int(x) for x in h["date"].split("-"))
    sm = report["summary"]
    header = [
        ["Case", f"{h['case']} (case id {h['case_id']})"],
        ["Date", h["date"]],
        ["Analyst", h["analyst"]],
        ["Tool", f"Evidence Audit {h['tool_version']}"],
        ["Analysis versions", "; ".join(f"{k}: {v}" for k, v in h["analysis_versions"].items())],
        ["Signed log head", (f"row {head['seq']}, hash {head['hash']}, signed by {head['fingerprint']} at {head['at']}"
                             if head else "not signed")],
        ["Shared clock", f"the media time of {h['reference_feed']} (the reference feed)"],
        ["Wall clock", h["wall_clock"] or "unknown (no camera clock tag)"],
        ["Pre-event buffers", ", ".join(f"{k}: {v:g} s" for k, v in h["pre_event_buffers_s"].items())],
    ]
    first = sm["first_mute_after_shooting"]
    summary = [
        ["Feeds", f"{sm['feeds']} ({sm['feeds_with_mutes']} with a counted mute)"],
        ["Muted per recorded hour", f"{_s(sm['muted_minutes_per_recorded_hour'])} min "
                                    f"(over {sm['recorded_hours']:.2f} h of recorded audio)"],
        ["Muted after the first shot", f"{_s(sm['muted_after_first_shot_total_s'], 1)} s in total"
         + ("; " + "; ".join(f"{k}: {v:.1f} s" for k, v in sm["muted_after_first_shot_s"].items())
            if sm["muted_after_first_shot_s"] else "")],
        ["First mute after the shooting", "; ".join(
            f"{k}: {v['kind']} at {_t(v['start_shared_s'])} shared ({_s(v['after_first_shot_s'], 1)} s after the "
            f"first shot, {_s(v['after_last_shot_s'], 1)} s after the last)" for k, v in first.items()) or "none"],
        ["Shots (incident)", report["shots"]["incident"]["text"] or "none detected"],
        ["Mutes with a spoken reason", (lambda r: f"{r['stated']} of {r['counted']} counted mutes "
                                        f"({r['reviewed']} reviewed by the analyst; speech leads are not counted)")(
            sm.get("mutes_with_stated_reason") or {"stated": 0, "counted": 0, "reviewed": 0})],
    ]
    feeds = {"header": ["Feed", "Kind", "Camera", "Duration", "Start (shared)", "Start (wall)", "Sync",
                        "± ms", "SHA-256 (first 16)"],
             "widths": [2, 0.9, 2, 0.9, 0.9, 1.5, 1.6, 0.5, 1.6],
             "rows": [[f["label"], f["kind"], " ".join(f["camera"].get(k, "") for k in ("make", "model", "serial")
                                                          ).strip() or "—",
                       _t(f["duration_s"]), _t(f["start_shared_s"]), _wall(f["start_wall"]),
                       f"{f['sync_method'] or 'not placed'} ({_s(f['sync_confidence'])})",
                       _s(f["sync_uncertainty_ms"], 0), f["sha256"][:16]] for f in report["feeds"]]}
    mutes = {"header": ["Feed", "Kind", "Start shared", "End shared", "Start media", "Start wall", "Duration",
                        "After 1st shot", "After last shot", "Evidence", "Spoken reason"],
             "widths": [1.7, 1.2, 0.9, 0.9, 0.9, 1.7, 0.8, 0.8, 0.8, 2.6, 1],
             "rows": []}
    other = {"header": ["Feed", "Listed as", "Kind", "Start shared", "End shared", "Duration", "Note"],
             "widths": [2, 1.4, 1.3, 1, 1, 1, 3], "rows": []}
    for mu in report["mutes"]:
        ev = ", ".join(f"{k} {_s(v)}" for k, v in list(mu["evidence"].items())[:6]) or "—"
        if mu["class"] == "counted":
            mutes["rows"].append([mu["feed"], mu["kind"], _t(mu["start_shared_s"]), _t(mu["end_shared_s"]),
                                  _t(mu["start_media_s"]), _wall(mu["start_wall"]), _t(mu["duration_s"]),
                                  _s(mu["after_first_shot_s"], 1), _s(mu["after_last_shot_s"], 1), ev,
                                  mu.get("spoken_reason") or "not reviewed"])
        else:
            label = {"pre-event buffer": "pre-event buffer", "no audio": "no audio recorded", "damage": "damage",
                     "late start beyond buffer": "late audio start"}.get(mu["class"], mu["class"])
            other["rows"].append([mu["feed"], label, mu["kind"], _t(mu["start_shared_s"]), _t(mu["end_shared_s"]),
                                  _t(mu["duration_s"]), mu["note"] or "—"])
    sh = report["shots"]
    shots_header = [["Incident count", sh["incident"]["text"] or "none"],
                    ["Volleys", "; ".join(f"{v['shots']} shot(s) {_t(v['start_shared_s'])}–{_t(v['end_shared_s'])}"
                                          for v in sh["volleys"]) or "none"]]
    if not sh["incident"]["current"]:
        shots_header.append(["Note", "the stored incident count predates the last change of shots or clocks"])
    feed_counts = {"header": ["Feed", "Shots (confident + possible)"],
                   "rows": [[k, v.get("text", "")] for k, v in sh["per_feed"].items()]}
    shots = {"header": ["#", "Shared time", "Wall time", "Status", "Confidence", "Heard by"],
             "widths": [0.4, 1, 1.8, 1.6, 0.8, 5],
             "rows": [[_s(s["number"]), _t(s["time_shared_s"]), _wall(s["wall"]), s["status"], _s(s["confidence"]),
                       ", ".join(s["feeds"])] for s in sh["shots"]]}
    claims = {"header": ["Source", "Quote", "Claim", "Stated", "Measured", "Status", "Why"],
              "widths": [1.3, 2.4, 1.3, 0.9, 1.2, 1.0, 3],
              "rows": []}
    for c in report["claims"]:
        stated = c["stated_range"]
        st = (f"{stated[0]:g}–{stated[1]:g}" if stated and stated[0] != stated[1] else
              (f"{stated[0]:g}" if stated else (c["stated"].get("stated") or _s(c["stated"].get("value")))))
        meas = c["measured"]
        if isinstance(meas, list):
            meas_s = f"{meas[0]}" if meas[0] == meas[1] else f"{meas[0]}–{meas[1]}"
        else:
            meas_s = _s(meas)
        if c["uncertainty"] is not None and meas is not None:
            meas_s += f" ± {c['uncertainty']:.2f}"
        if c["unit"] and meas is not None:
            meas_s += f" {c['unit']}"
        # a claim kind reads as words (``mute_after_last_shot_s`` -> "mute after last shot (s)"):
        # one long token would run over the next column
        kind = (c["kind"][:-2] + " (s)" if c["kind"].endswith("_s") else c["kind"]).replace("_", " ")
        claims["rows"].append([c["source"], c["quote"], kind + (f" ({c['feed']})" if c["feed"] else ""), st,
                               meas_s, c["status"].upper(), c["reason"]])
    anns = {"header": ["Shared time", "End", "Feed", "Category", "Text", "Author"],
            "widths": [1, 1, 1.6, 1, 5, 1.2],
            "rows": [[_t(a["start_shared_s"]), _t(a["end_shared_s"]), a["feed"] or "shared", a["category"], a["text"],
                      a["author"]] for a in report["annotations"]]}
    prints = {"header": ["Feed", "SHA-256 of the original", "Path"], "widths": [1.6, 4.2, 4.2],
              "rows": [[f["label"], _wrap_hash(f["sha256"]), f["path"]] for f in report["feeds"]]}
    return {
        "title": f"Evidence Audit report: {h['case']}", "analyst": h["analyst"], "date": [y, m, d],
        "fonts": FONTS,
        "footer": f"{h['case']} · {h['date']} · log head {head.get('seq', '—')}:{(head.get('hash') or '')[:12]}",
        "header": header, "summary": summary, "shots_header": shots_header,
        "chart_note": "Green: recording. Coloured: mutes by kind; hatched: a pre-event buffer (video without "
                      "sound before the camera was switched on, not a mute). Red lines: confident incident shots; "
                      "dotted: possible ones. Triangles: annotations.",
        "mute_note": "Counted kinds: digital-silence, near-silence, packet-gap, audio-ends-early. Times on the "
                     "shared clock, the feed's own media time and the wall clock; 'after' columns in seconds "
                     "from the first and the last confident incident shot (negative: before).",
        "no_claims": "No claim was recorded for this case (evidence-audit claim add).",
        "method": report["method_and_limits"],
        "tables": {"feeds": feeds, "mutes": mutes, "not_counted": other, "feed_counts": feed_counts,
                   "shots": shots, "claims": claims, "annotations": anns, "fingerprints": prints},
    }


def _replace_chars(obj, chars: set[str]):
    if isinstance(obj, str):
        return "".join(f"<U+{ord(c):04X}>" if c in chars else c for c in obj)
    if isinstance(obj, list):
        return [_replace_chars(x, chars) for x in obj]
    if isinstance(obj, dict):
        return {k: (v if k == "fonts" else _replace_chars(v, chars)) for k, v in obj.items()}
    return obj


def render_pdf(report: dict, chart_svg: bytes) -> tuple[bytes, list[str]]:
    """The PDF/A-2b bytes of a report document, and warnings (characters no font covers)."""
    import typst

    data = display_data(report)
    y, m, d = data["date"]
    stamp = _dt.datetime(y, m, d, tzinfo=_dt.timezone.utc)
    warnings: list[str] = []
    missing: set[str] = set()
    controls = {c for c in BIDI_CONTROLS if c in json.dumps(data, ensure_ascii=False)}
    with tempfile.TemporaryDirectory(prefix="evidence-audit-report-") as tmp:
        root = Path(tmp)
        (root / "main.typ").write_text(TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")
        (root / "chart.svg").write_bytes(chart_svg)
        for _ in range(64):
            shown = _replace_chars(data, missing | controls) if missing or controls else data
            try:
                pdf = typst.compile(str(root / "main.typ"), root=str(root), pdf_standards=["a-2b"], timestamp=stamp,
                                    sys_inputs={"data": json.dumps(shown, ensure_ascii=False)})
            except typst.TypstError as exc:
                found = _MISSING.findall(str(exc))
                if not found:
                    raise
                missing |= set("".join(found))
                continue
            break
        else:  # pragma: no cover - 64 rounds of missing glyphs
            raise RuntimeError("too many characters no installed font covers")
    if missing:
        warnings.append("no installed font covers " + ", ".join(f"U+{ord(c):04X}" for c in sorted(missing))
                        + "; shown as <U+XXXX> in the PDF (install fonts-noto-cjk / fonts-noto-core)")
    if controls:
        warnings.append("text holds direction controls " + ", ".join(f"U+{ord(c):04X}" for c in sorted(controls))
                        + "; shown as <U+XXXX> in the PDF so they cannot reorder it (verbatim in CSV and JSON)")
    return pdf, warnings
