"""Summaries of an audit store: by camera serial, by month, by any tag; as CSV and an HTML page.

One SQL query per grouping over the store's ``files`` view (:class:`~media_core.batch.store.AuditStore`).
Each row: ``group``, ``files``, ``recorded_h``, ``files_with_mute``, ``mutes``, ``muted_min``,
``muted_min_per_recorded_h``, ``median_mute_s``, ``mutes_after_shot`` (mutes starting within
:data:`~media_core.batch.audit.AFTER_SHOT_WINDOW_S` after a confident shot in the same file) and
``files_without_audio``; the last row, ``(all)``, is the whole store.

What counts as a mute: every kind of the analysis except ``no-audio-track`` by default (a camera
that records no sound at all, a helicopter's, is not a microphone that was muted; such files are
counted in ``files_without_audio``). ``exclude_kinds`` changes that.

Groupings (``by``): ``serial``, ``month`` (of the recording start, UTC), ``make``, ``model``,
``camera`` (make, model and serial), ``day``, and any other name is a tag field (``tag:unit`` or
``unit``): a container or stream tag, or a ``key=value`` pair in a free-text tag.
"""
from __future__ import annotations

import datetime as _dt
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from media_core.errors import ParameterError

__all__ = ["COLUMNS", "DEFAULT_GROUPINGS", "summarize", "summary_csv", "summary_html", "write_report"]

COLUMNS = ("group", "files", "recorded_h", "files_with_mute", "mutes", "muted_min", "muted_min_per_recorded_h",
           "median_mute_s", "mutes_after_shot", "files_without_audio")
DEFAULT_GROUPINGS = ("serial", "month")
DEFAULT_EXCLUDED = ("no-audio-track",)
_BUILTIN = {
    "serial": "coalesce(serial, '(no serial)')",
    "make": "coalesce(make, '(no make)')",
    "model": "coalesce(model, '(no model)')",
    "camera": "concat_ws(' ', coalesce(make, '?'), coalesce(model, '?'), coalesce(serial, '(no serial)'))",
    "month": "coalesce(strftime(recording_start, '%Y-%m'), '(no date)')",
    "day": "coalesce(strftime(recording_start, '%Y-%m-%d'), '(no date)')",
}


def _group_sql(by: str) -> tuple[str, list]:
    name = by.strip()
    if not name:
        raise ParameterError("a grouping needs a name (serial, month, or a tag field such as tag:unit)")
    if name.lower() in _BUILTIN:
        return _BUILTIN[name.lower()], []
    field = name[4:] if name.lower().startswith("tag:") else name
    field = field.strip().lower()
    if not field:
        raise ParameterError(f"{by!r}: name the tag field after 'tag:'")
    path = '$."' + field.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "coalesce(json_extract_string(tags_json, ?), ?)", [path, f"(no {field})"]


def summarize(store, by: str = "serial", *, exclude_kinds: Sequence[str] = DEFAULT_EXCLUDED,
              window_s: float | None = None) -> list[dict[str, Any]]:
    """One summary row per group (largest recorded hours first) and a last ``(all)`` row."""
    from media_core.batch.audit import AFTER_SHOT_WINDOW_S
    from media_core.batch.store import AuditStore

    st = store if isinstance(store, AuditStore) else AuditStore(store)
    key, key_params = _group_sql(by)
    window = float(AFTER_SHOT_WINDOW_S if window_s is None else window_s)
    excl = list(exclude_kinds) or ["\x00"]
    marks = ", ".join("?" * len(excl))
    sql = f"""
    WITH f AS (SELECT *, {key} AS grp FROM files),
    m AS (SELECT f.grp, f.sha256, u.duration_s AS d, u.after_shot_s AS after
          FROM f, UNNEST(f.mutes) AS t(u) WHERE u.kind NOT IN ({marks})),
    per_file AS (SELECT sha256, count(*) AS n, sum(d) AS muted FROM m GROUP BY sha256),
    fg AS (SELECT grp, count(*) AS files, sum(duration_s) AS rec_s, count(per_file.sha256) AS with_mute,
                  coalesce(sum(per_file.muted), 0) AS muted_s, count(*) FILTER (WHERE NOT has_audio) AS no_audio
           FROM f LEFT JOIN per_file USING (sha256) GROUP BY grp),
    mg AS (SELECT grp, count(*) AS mutes, median(d) AS med,
                  count(*) FILTER (WHERE after IS NOT NULL AND after >= 0 AND after <= ?) AS after_shot
           FROM m GROUP BY grp),
    rows AS (SELECT fg.grp, files, rec_s, with_mute, coalesce(mutes, 0) AS mutes, muted_s, med,
                    coalesce(after_shot, 0) AS after_shot, no_audio FROM fg LEFT JOIN mg USING (grp)),
    total AS (SELECT '(all)' AS grp, (SELECT count(*) FROM f), (SELECT coalesce(sum(duration_s), 0) FROM f),
                     (SELECT count(*) FROM per_file), (SELECT count(*) FROM m), (SELECT coalesce(sum(d), 0) FROM m),
                     (SELECT median(d) FROM m),
                     (SELECT count(*) FROM m WHERE after IS NOT NULL AND after >= 0 AND after <= ?),
                     (SELECT count(*) FROM f WHERE NOT has_audio))
    SELECT * FROM (SELECT *, 0 AS last FROM rows UNION ALL SELECT *, 1 FROM total)
    ORDER BY last, rec_s DESC, grp
    """
    con = st.connect()
    try:
        rows = con.execute(sql, key_params + excl + [window, window]).fetchall()
    finally:
        con.close()
    out = []
    for grp, files, rec_s, with_mute, mutes, muted_s, med, after, no_audio, _last in rows:
        rec_s, muted_s = float(rec_s or 0.0), float(muted_s or 0.0)
        out.append({"group": str(grp), "files": int(files), "recorded_h": round(rec_s / 3600.0, 4),
                    "files_with_mute": int(with_mute), "mutes": int(mutes), "muted_min": round(muted_s / 60.0, 3),
                    "muted_min_per_recorded_h": round((muted_s / 60.0) / (rec_s / 3600.0), 3) if rec_s > 0 else None,
                    "median_mute_s": round(float(med), 3) if med is not None else None,
                    "mutes_after_shot": int(after), "files_without_audio": int(no_audio)})
    return out


def summary_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as CSV (UTF-8 with BOM; cells that a spreadsheet would run as formulas are guarded)."""
    from media_core.export.report.tables import csv_text

    return csv_text(list(COLUMNS), [[r[c] for c in COLUMNS] for r in rows])


def _chart_svg(rows: Sequence[dict[str, Any]], title: str) -> str:
    """A horizontal bar chart of muted minutes per recorded hour (inline SVG, no scripts)."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    data = [r for r in rows if r["group"] != "(all)"][:30]
    labels = [(r["group"][:28] + ("…" if len(r["group"]) > 28 else "")).replace("$", r"\$") for r in data]
    values = [r["muted_min_per_recorded_h"] or 0.0 for r in data]
    fig = Figure(figsize=(7.0, 0.9 + 0.28 * max(1, len(data))), dpi=96)
    FigureCanvasSVG(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.barh(range(len(data)), values, color="#b03a2e")
    ax.set_yticks(range(len(data)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("muted minutes per recorded hour")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def summary_html(sections: Sequence[tuple[str, Sequence[dict[str, Any]]]], *, store: str = "",
                 excluded: Sequence[str] = DEFAULT_EXCLUDED) -> str:
    """A short self-contained HTML page: per grouping a chart and the table (all text escaped)."""
    from media_core.batch.audit import AFTER_SHOT_WINDOW_S

    esc = html.escape
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    total = next((r for s in sections for r in s[1] if r["group"] == "(all)"), None)
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
             "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">",
             "<title>Mute audit</title><style>body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ccc;padding:2px 6px;"
             "text-align:right}td:first-child,th:first-child{text-align:left}tr.all{font-weight:bold}</style>"
             "</head><body>", "<h1>Mute audit</h1>",
             f"<p>Store <code>{esc(store)}</code>, made {esc(now)}."]
    if total is not None:
        parts.append(f" {total['files']} files, {total['recorded_h']:.1f} recorded hours, "
                     f"{total['files_with_mute']} with a mute, {total['muted_min_per_recorded_h'] or 0:.2f} muted "
                     "minutes per recorded hour.")
    parts.append(f"</p><p>Mutes are every kind the analysis reports except {esc(', '.join(excluded) or 'none')}; "
                 f"“after a shot” means starting within {AFTER_SHOT_WINDOW_S / 60:.0f} minutes after a confident "
                 "shot heard in the same file. Times are measured by Evidence Audit from the files' own audio.</p>")
    heads = ["group", "files", "recorded h", "files with a mute", "mutes", "muted min", "muted min / recorded h",
             "median mute s", "mutes after a shot", "files without audio"]
    for by, rows in sections:
        parts.append(f"<h2>By {esc(by)}</h2>")
        parts.append(_chart_svg(rows, f"Muted minutes per recorded hour, by {by}"))
        parts.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in heads) + "</tr>")
        for r in rows:
            cls = " class='all'" if r["group"] == "(all)" else ""
            cells = "".join(f"<td>{esc('-' if r[c] is None else str(r[c]))}</td>" for c in COLUMNS)
            parts.append(f"<tr{cls}>{cells}</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _slug(by: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in by.lower()).strip("_") or "group"


def write_report(store, out_dir: str | Path, *, groupings: Sequence[str] = DEFAULT_GROUPINGS,
                 exclude_kinds: Sequence[str] = DEFAULT_EXCLUDED) -> dict[str, Any]:
    """Write ``by_<grouping>.csv`` per grouping and ``report.html`` into ``out_dir``; return
    ``{"sections": {grouping: rows}, "files": [paths]}``.
    """
    from media_core.batch.store import AuditStore

    st = store if isinstance(store, AuditStore) else AuditStore(store)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sections = [(by, summarize(st, by, exclude_kinds=exclude_kinds)) for by in groupings]
    written = []
    for by, rows in sections:
        p = out / f"by_{_slug(by)}.csv"
        p.write_text(summary_csv(rows), encoding="utf-8", newline="")
        written.append(str(p))
    p = out / "report.html"
    p.write_text(summary_html(sections, store=str(st.path), excluded=exclude_kinds), encoding="utf-8")
    written.append(str(p))
    return {"sections": dict(sections), "files": written}
