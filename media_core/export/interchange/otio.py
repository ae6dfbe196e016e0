"""OpenTimelineIO ``.otio`` out, and its markers back in.

A Timeline whose Stack holds one video track per feed; each track is a leading Gap (the feed's
start on the shared clock, from the document's zero) and one Clip with an ExternalReference to
the original (``file://`` URL) whose available and source ranges are the whole file, at the feed's
frame rate. Markers: mutes, shots and the feed's annotations on its clip (marked ranges in the
feed's media time, which is how OTIO places an item's markers), shared-clock annotations on the
Stack. Our fields sit under ``metadata["evidence_audit"]``. An editor places frames, not
milliseconds, and ignores clock drift; the markers' own times are exact.
"""
from __future__ import annotations

import os
from pathlib import Path

from .rows import NAMESPACE, Entry, FeedRef, Row, document_origin_s

__all__ = ["write_otio", "read_otio"]

_COLOR = {"mute": "RED", "shot": "ORANGE", "annotation": "GREEN"}


def write_otio(tl, rows: list[Row], path: str | os.PathLike, *, case_name: str = "", fps: dict | None = None) -> dict:
    """Write the timeline; ``fps`` maps feed id -> frame rate (default 30)."""
    import opentimelineio as otio

    origin = document_origin_s(tl, rows)
    fps = fps or {}
    timeline = otio.schema.Timeline(name=case_name or "evidence-audit")
    timeline.metadata[NAMESPACE] = {"schema": "evidence-audit.otio/1", "case": case_name, "shared_origin_s": origin}
    for f in sorted(tl.feeds, key=lambda f: (f.shared_range()[0], f.id)):
        rate = float(fps.get(f.id) or 30.0)
        track = otio.schema.Track(name=f.label, kind=otio.schema.TrackKind.Video)
        lead = f.shared_range()[0] - origin
        if lead > 0:
            track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(lead * rate, rate))))
        rng = otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate),
                                      otio.opentime.RationalTime(f.duration_s * rate, rate))
        ref = otio.schema.ExternalReference(target_url=Path(f.path).resolve().as_uri(), available_range=rng)
        clip = otio.schema.Clip(name=os.path.basename(f.path), media_reference=ref, source_range=rng)
        clip.metadata[NAMESPACE] = {"feed_id": f.id, "sha256": f.sha256, "label": f.label,
                                    "offset_s": f.clock.offset_s, "drift_ppm": f.clock.drift_ppm}
        for r in rows:
            if r.feed_id == f.id and r.media_start_s is not None:
                clip.markers.append(_marker(otio, r, r.media_start_s, r.media_end_s, rate))
        track.append(clip)
        timeline.tracks.append(track)
    for r in rows:
        if r.feed_id is None:
            timeline.tracks.markers.append(_marker(otio, r, r.start_s - origin,
                                                   None if r.end_s is None else r.end_s - origin, 1000.0))
    otio.adapters.write_to_file(timeline, str(path))
    return {"path": str(path), "origin_s": origin, "tracks": len(tl.feeds), "markers": len(rows)}


def _marker(otio, r: Row, a: float, b: float | None, rate: float):
    dur = 0.0 if b is None else max(b - a, 0.0)
    m = otio.schema.Marker(name=f"{r.category}: {r.text}"[:200] if r.kind == "annotation" else r.text,
                           marked_range=otio.opentime.TimeRange(otio.opentime.RationalTime(a * rate, rate),
                                                                otio.opentime.RationalTime(dur * rate, rate)),
                           color=_COLOR[r.kind])
    m.metadata[NAMESPACE] = {"kind": r.kind, "category": r.category, "text": r.text, "author": r.author,
                             "created": r.created, "edited": r.edited, "feed_sha256": r.feed_sha256,
                             "point": b is None, "start_s": a, "end_s": b}
    return m


def read_otio(path: str | os.PathLike) -> tuple[list[Entry], list[str], dict]:
    """Markers of an ``.otio`` file as entries; clip markers are in that clip's media time."""
    import opentimelineio as otio

    from media_core.errors import ParameterError

    name = os.path.basename(os.fspath(path))
    try:
        obj = otio.adapters.read_from_file(os.fspath(path), adapter_name="otio_json")
    except Exception as exc:  # OTIO raises its own exception types for every kind of bad input
        raise ParameterError(f"{name}: not a readable OpenTimelineIO file ({type(exc).__name__}: "
                             f"{str(exc)[:160]})") from None
    if not isinstance(obj, otio.schema.Timeline):
        raise ParameterError(f"{name}: holds a {type(obj).__name__}, not a Timeline")
    ns = obj.metadata.get(NAMESPACE) or {}
    entries: list[Entry] = []
    notes: list[str] = []
    media: list[dict] = []

    def entry(m, clock, feed, where):
        meta = dict(m.metadata.get(NAMESPACE) or {})
        r = m.marked_range
        a = r.start_time.to_seconds()
        b = (r.start_time + r.duration).to_seconds()
        if meta:
            a = float(meta.get("start_s", a)) if abs(float(meta.get("start_s", a)) - a) < 0.002 else a
            end = None if meta.get("point") else (float(meta["end_s"]) if meta.get("end_s") is not None else b)
            f = FeedRef(sha256=meta["feed_sha256"]) if meta.get("feed_sha256") else feed
            return Entry(kind=str(meta.get("kind") or "annotation"), start_s=a, end_s=end, clock=clock, feed=f,
                         category=str(meta.get("category") or "marker"), text=str(meta.get("text") or ""),
                         where=where, author=meta.get("author"), created=meta.get("created"),
                         edited=meta.get("edited"))
        return Entry(kind="annotation", start_s=a, end_s=b if b > a else None, clock=clock, feed=feed,
                     category="marker", text=m.name or "", where=where)

    for ti, track in enumerate(obj.tracks):
        t_pos = 0.0
        for item in track:
            dur = item.duration().to_seconds()
            if isinstance(item, otio.schema.Clip):
                ref = item.media_reference
                url = getattr(ref, "target_url", None) or ""
                cm = item.metadata.get(NAMESPACE) or {}
                fr = FeedRef(cm.get("sha256"), os.path.basename(url.replace("\\", "/")) or None, cm.get("label"))
                src0 = item.source_range.start_time.to_seconds() if item.source_range else 0.0
                media.append({"feed": fr, "timeline_start_s": t_pos, "source_start_s": src0})
                for k, m in enumerate(item.markers):
                    entries.append(entry(m, "media", fr, f"track {ti + 1} clip {item.name!r} marker {k + 1}"))
            elif getattr(item, "markers", None):
                notes.append(f"track {ti + 1}: {len(item.markers)} marker(s) on a gap skipped (no media)")
            t_pos += dur
        for k, m in enumerate(track.markers):
            entries.append(entry(m, "document", None, f"track {ti + 1} marker {k + 1}"))
    for k, m in enumerate(obj.tracks.markers):
        entries.append(entry(m, "document", None, f"stack marker {k + 1}"))
    return entries, notes, {"shared_origin_s": ns.get("shared_origin_s"), "clips": media}
