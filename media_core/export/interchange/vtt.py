r"""WebVTT out (one file per feed in its media time, one on the shared clock) and in.

Cue text is escaped as the WebVTT spec requires (``&``, ``<`` and ``>`` as character
references; no blank line inside a cue, no ``-->`` in it). Each cue is preceded by a ``NOTE``
block carrying our fields as JSON (``>`` written as ``\u003e`` so the note can never hold
``-->``), so a file read back keeps category, author, times and text exactly; a VTT from
elsewhere is read from its cue text alone.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .rows import NAMESPACE, Entry, FeedRef, Row

__all__ = ["write_vtt", "read_vtt", "escape_cue_text", "vtt_time"]


def vtt_time(t: float) -> str:
    """``hh:mm:ss.ttt`` (WebVTT timestamps cannot be negative: callers keep ``t >= 0``)."""
    ms = int(round(max(t, 0.0) * 1000.0))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def escape_cue_text(text: str) -> str:
    """Cue payload text: ``&`` ``<`` ``>`` as references, CR/LF runs as single line breaks (a blank
    line would end the cue), and ``-->`` impossible (its ``>`` is escaped).
    """
    t = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    lines = [ln for ln in re.split(r"\r\n|\r|\n", t) if ln.strip()]
    return "\n".join(lines) if lines else "&nbsp;"


def _note(meta: dict) -> str:
    return "NOTE " + NAMESPACE + " " + json.dumps(meta, ensure_ascii=False).replace(">", "\\u003e")


def _payload(r: Row) -> str:
    if r.kind == "annotation":
        return escape_cue_text(f"[{r.category}] {r.text}" if r.text else f"[{r.category}]")
    return escape_cue_text(("MUTED: " if r.kind == "mute" else "") + r.text + (f" ({r.feed})" if r.feed else ""))


def _cue(r: Row, a: float, b: float | None) -> list[str]:
    end = b if b is not None and b > a else a + 0.001
    meta = {"kind": r.kind, "category": r.category, "text": r.text, "author": r.author, "created": r.created,
            "edited": r.edited, "feed_sha256": r.feed_sha256, "point": b is None, "start_s": a, "end_s": b}
    return [_note(meta), "", f"{vtt_time(a)} --> {vtt_time(end)}", _payload(r), ""]


def write_vtt(tl, rows: list[Row], out_dir: str | os.PathLike, *, stem: str) -> list[dict]:
    """``STEM.shared.vtt`` (every row on the shared clock, from the earliest item) and one
    ``STEM.FEED.vtt`` per feed (its own rows in its media time). Returns one dict per file.
    """
    from .rows import document_origin_s

    out = Path(out_dir)
    files = []
    origin = document_origin_s(tl, rows)
    head = ["WEBVTT", "", _note({"schema": "evidence-audit.vtt/1", "clock": "shared", "shared_origin_s": origin}), ""]
    body: list[str] = []
    for r in rows:
        body += _cue(r, r.start_s - origin, None if r.end_s is None else r.end_s - origin)
    p = out / f"{stem}.shared.vtt"
    p.write_text("\n".join(head + body), encoding="utf-8")
    files.append({"path": str(p), "clock": "shared", "cues": len(rows)})
    for f in tl.feeds:
        mine = [r for r in rows if r.feed_id == f.id and r.media_start_s is not None and r.media_start_s >= 0]
        head = ["WEBVTT", "", _note({"schema": "evidence-audit.vtt/1", "clock": "media", "feed_sha256": f.sha256,
                                     "feed_file": os.path.basename(f.path), "feed": f.label}), ""]
        body = []
        for r in mine:
            body += _cue(r, r.media_start_s, r.media_end_s)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(f.path).stem) or f"feed{f.id}"
        p = out / f"{stem}.{safe}.vtt"
        p.write_text("\n".join(head + body), encoding="utf-8")
        files.append({"path": str(p), "clock": "media", "feed_id": f.id, "cues": len(mine)})
    return files


_TS = r"(-?)(?:(\d+):)?(\d{2}):(\d{2})[.,](\d{3})"
_TIMING = re.compile(rf"^\s*{_TS}\s+-->\s+{_TS}(\s.*)?$")
_TAG = re.compile(r"</?[^>]*>")


def _secs(g) -> float:
    sign, h, m, s, ms = g
    v = int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000.0
    return -v if sign else v


def _unescape(text: str) -> str:
    import html

    return html.unescape(_TAG.sub("", text))


def read_vtt(text: str, *, name: str) -> tuple[list[Entry], list[str], dict]:
    """Entries of a WebVTT document: ``(entries, notes, info)``; ``info["clock"]`` is
    ``"shared"``, ``"media"`` (with ``info["feed"]``) or None (a VTT from elsewhere).
    """
    from media_core.errors import ParameterError

    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not lines or not lines[0].lstrip("\ufeff").startswith("WEBVTT"):
        raise ParameterError(f"{name}: not a WebVTT file (the first line is not 'WEBVTT')")
    blocks: list[list[tuple[int, str]]] = []
    cur: list[tuple[int, str]] = []
    for i, ln in enumerate(lines[1:], 2):
        if ln.strip() == "":
            if cur:
                blocks.append(cur)
                cur = []
        else:
            cur.append((i, ln))
    if cur:
        blocks.append(cur)
    info: dict = {"clock": None, "feed": None}
    entries: list[Entry] = []
    notes: list[str] = []
    pending: dict | None = None
    prev_end: tuple[float, int] | None = None
    for blk in blocks:
        first = blk[0][1]
        if first.startswith("NOTE"):
            body = " ".join(t for _, t in blk)[4:].strip()
            if body.startswith(NAMESPACE + " "):
                try:
                    meta = json.loads(body[len(NAMESPACE) + 1:])
                except ValueError:
                    meta = None
                if isinstance(meta, dict) and "schema" in meta:
                    info["clock"] = meta.get("clock")
                    info["shared_origin_s"] = meta.get("shared_origin_s")
                    if meta.get("feed_sha256") or meta.get("feed_file"):
                        info["feed"] = FeedRef(meta.get("feed_sha256"), meta.get("feed_file"), meta.get("feed"))
                elif isinstance(meta, dict):
                    pending = meta
            continue
        if first.startswith(("STYLE", "REGION")):
            continue
        k = 0 if "-->" in first else 1
        if k >= len(blk):
            notes.append(f"line {blk[0][0]}: a block without cue timings skipped")
            pending = None
            continue
        lineno, timing = blk[k]
        m = _TIMING.match(timing)
        if not m:
            notes.append(f"line {lineno}: cue skipped (timings {timing.strip()[:60]!r} are not WebVTT timestamps)")
            pending = None
            continue
        g = m.groups()
        a, b = _secs(g[0:5]), _secs(g[5:10])
        if a < 0 or b < 0:
            notes.append(f"line {lineno}: cue skipped (negative time {timing.strip()[:40]})")
            pending = None
            continue
        if b < a:
            notes.append(f"line {lineno}: cue skipped (it ends before it starts)")
            pending = None
            continue
        payload = "\n".join(t for _, t in blk[k + 1:])
        meta = pending or {}
        pending = None
        if not meta:  # our own files overlap by design (a mute spans notes); name overlaps of foreign cues
            if prev_end is not None and a < prev_end[0]:
                notes.append(f"line {lineno}: cue overlaps the cue at line {prev_end[1]} (both kept)")
            prev_end = (b, lineno) if prev_end is None or b > prev_end[0] else prev_end
        if meta:
            start = float(meta.get("start_s", a))
            end = None if meta.get("point") else (meta.get("end_s") if meta.get("end_s") is not None else b)
            if abs(start - a) > 0.001:  # the cue was moved by hand after export: trust the cue
                start, end = a, (None if meta.get("point") else b)
            feed = FeedRef(sha256=meta["feed_sha256"]) if meta.get("feed_sha256") else None
            entries.append(Entry(kind=str(meta.get("kind") or "annotation"), start_s=start, end_s=end, clock="file",
                                 feed=feed, category=str(meta.get("category") or "custom"),
                                 text=str(meta.get("text") or ""), where=f"line {lineno}",
                                 author=meta.get("author"), created=meta.get("created"), edited=meta.get("edited")))
        else:
            text = _unescape(payload).strip()
            cat = "custom"
            mm = re.match(r"^\[([^\]\n]{1,60})\]\s*(.*)$", text, re.S)
            if mm:
                cat, text = mm.group(1), mm.group(2)
            entries.append(Entry(kind="annotation", start_s=a, end_s=b, clock="file", feed=None, category=cat,
                                 text=text, where=f"line {lineno}"))
    return entries, notes, info
