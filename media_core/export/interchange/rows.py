"""A case's timeline as interchange rows: one per annotation, mute and shot, on every clock.

Every export format reads these rows (built from :func:`media_core.case.timeline.build_timeline`,
the one model that knows shared, media and wall-clock times); no exporter converts times itself.
Imports come back as :class:`Entry` records, which :mod:`media_core.case.importing` maps onto
the case's feeds through their clocks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Row", "Entry", "FeedRef", "timeline_rows", "document_origin_s", "NAMESPACE", "SCHEMA", "COLUMNS"]

#: The key under which our own fields travel inside other formats (OTIO metadata, EAF properties).
NAMESPACE = "evidence_audit"
SCHEMA = "evidence-audit.annotations/1"

#: The CSV columns, in order (JSON rows carry the same keys).
COLUMNS = ("kind", "id", "feed", "feed_file", "feed_sha256", "category", "text", "author", "created", "edited",
           "start_s", "end_s", "media_start_s", "media_end_s", "wall_start", "wall_end", "confidence")


@dataclass(frozen=True)
class Row:
    """One annotation, mute or shot. ``start_s``/``end_s`` on the shared clock, ``media_*`` on the
    feed's own timeline (None for a shared-clock annotation); ``end_s`` None for a point.
    """

    kind: str                 # "annotation", "mute" or "shot"
    id: str
    feed_id: int | None
    feed: str | None          # label
    feed_file: str | None     # the original's file name
    feed_sha256: str | None
    category: str             # annotation category, mute kind, "shot" / "possible shot"
    text: str
    author: str
    created: str
    edited: str
    start_s: float
    end_s: float | None
    media_start_s: float | None
    media_end_s: float | None
    wall_start: str | None
    wall_end: str | None
    confidence: float | None = None

    @property
    def measured(self) -> bool:
        """Mutes and shots are measurements, not an analyst's notes."""
        return self.kind != "annotation"

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in COLUMNS}


@dataclass(frozen=True)
class FeedRef:
    """How a file names a feed: by SHA-256, file name or label (any may be None)."""

    sha256: str | None = None
    file: str | None = None
    label: str | None = None

    def __str__(self) -> str:
        return self.file or self.label or (self.sha256 or "")[:12] or "?"


@dataclass(frozen=True)
class Entry:
    """One item read from an interchange file, before it is mapped onto the case.

    ``clock`` says which time the numbers are on: ``"shared"`` (the case's shared clock) or
    ``"media"`` (``feed``'s own timeline). ``where`` says where it was in the file, for messages.
    """

    kind: str
    start_s: float
    end_s: float | None
    clock: str
    feed: FeedRef | None
    category: str
    text: str
    where: str
    author: str | None = None
    created: str | None = None
    edited: str | None = None
    extra: dict = field(default_factory=dict, compare=False)


def _wall(tl, t):
    return tl.wall(t) if t is not None else None


def timeline_rows(tl) -> list[Row]:
    """Every annotation, mute and shot of a :class:`~media_core.case.timeline.Timeline` as rows,
    sorted by shared start time (then kind, then feed).
    """
    import os

    feeds = {f.id: f for f in tl.feeds}

    def fmeta(fid):
        f = feeds.get(fid) if fid is not None else None
        return (f.label, os.path.basename(f.path), f.sha256) if f is not None else (None, None, None)

    rows: list[Row] = []
    for a in tl.annotations:
        lab, fn, sha = fmeta(a.feed_id)
        rows.append(Row("annotation", a.id, a.feed_id, lab, fn, sha, a.category, a.text, a.author, a.created,
                        a.edited, a.start_s, a.end_s, a.media_start_s, a.media_end_s, a.wall_start, a.wall_end))
    for i, m in enumerate(tl.mutes):
        lab, fn, sha = fmeta(m.feed_id)
        rows.append(Row("mute", f"mute-{m.feed_id}-{i}", m.feed_id, lab, fn, sha, m.kind,
                        f"{m.kind}, {m.duration_s:.3f} s", "evidence-audit", "", "", m.start_s, m.end_s,
                        m.media_start_s, m.media_end_s, m.wall_start, m.wall_end, m.confidence))
    for i, s in enumerate(tl.shots):
        lab, fn, sha = fmeta(s.feed_id)
        cat = "shot" if s.confident else "possible shot"
        rows.append(Row("shot", f"shot-{s.feed_id}-{i}", s.feed_id, lab, fn, sha, cat,
                        f"{cat}, confidence {s.confidence:.2f}", "evidence-audit", "", "", s.time_s, None,
                        s.media_time_s, None, s.wall, None, s.confidence))
    order = {"annotation": 0, "mute": 1, "shot": 2}
    rows.sort(key=lambda r: (r.start_s, order[r.kind], r.feed_id if r.feed_id is not None else -1, r.id))
    return rows


def document_origin_s(tl, rows: list[Row]) -> float:
    """Shared time of a document's zero (ELAN's time 0, the OTIO timeline's start, the shared
    WebVTT's 00:00:00.000): the earliest feed start or row, so every time in the document is >= 0
    and the earliest feed's origin is exactly 0.
    """
    starts = [f.shared_range()[0] for f in tl.feeds] + [r.start_s for r in rows]
    finite = [t for t in starts if math.isfinite(t)]
    return float(min(finite)) if finite else 0.0
