"""The files' own tags as a first guess and last fallback: timecode and creation time.

Both are assumed to mark the feed's media time 0. Camera clocks are set by hand and tags have
1 s resolution, so an offset from tags has confidence :data:`METADATA_CONFIDENCE`.
"""
from __future__ import annotations

from typing import Any, Mapping

from .estimate import ALGORITHM_VERSION, SyncEstimate, uncertain

METADATA_CONFIDENCE = 0.2


def timecode_seconds(tc: str | None, fps: float | None) -> float | None:
    """``HH:MM:SS:FF`` (or ``;`` drop-frame separator) to seconds of the day; None if unreadable."""
    if not tc:
        return None
    parts = tc.replace(";", ":").replace(".", ":").split(":")
    try:
        h, m, s = int(parts[0]), int(parts[1]), int(parts[2])
        ff = int(parts[3]) if len(parts) > 3 else 0
    except (ValueError, IndexError):
        return None
    rate = fps if fps and fps > 0 else 30.0
    return h * 3600 + m * 60 + s + ff / round(rate)


def _iso_seconds(iso: str | None) -> float | None:
    import datetime as _dt

    if not iso:
        return None
    try:
        return _dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def metadata_offset(probe_ref: Mapping[str, Any], probe_other: Mapping[str, Any]) -> SyncEstimate:
    """Offset from the files' own tags: timecode when both have one, else creation time.

    Both are assumed to mark the feed's media time 0. Method ``metadata``, confidence
    :data:`METADATA_CONFIDENCE`: camera clocks are set by hand and tags have 1 s resolution.
    """
    ev: dict[str, Any] = {"method": "metadata", "algorithm_version": ALGORITHM_VERSION, "measurements": {}}
    fr = (probe_ref.get("video") or {}).get("avg_fps")
    fo = (probe_other.get("video") or {}).get("avg_fps")
    tr, to = timecode_seconds(probe_ref.get("timecode"), fr), timecode_seconds(probe_other.get("timecode"), fo)
    if tr is not None and to is not None:
        off = to - tr
        if off < -43200:
            off += 86400
        elif off > 43200:
            off -= 86400
        ev["measurements"].update(source="timecode", ref=probe_ref.get("timecode"), other=probe_other.get("timecode"))
        return SyncEstimate(off, 0.0, METADATA_CONFIDENCE, ev, None)
    cr, co = _iso_seconds(probe_ref.get("creation_time")), _iso_seconds(probe_other.get("creation_time"))
    if cr is not None and co is not None:
        ev["measurements"].update(source="creation_time", ref=probe_ref.get("creation_time"),
                                  other=probe_other.get("creation_time"))
        return SyncEstimate(co - cr, 0.0, METADATA_CONFIDENCE, ev, None)
    return uncertain("no timecode or creation_time tag on both files", ev)

