"""The case on the shared clock: feeds, mutes, shots, annotations and incident shots as typed records.

:func:`build_timeline` reads a :class:`~media_core.case.store.Case` (never writes it) and turns
every stored span and event into shared-clock time, and into wall-clock time where the case
knows one. The app, the CLI and every export read this one model; nobody else converts a feed's
media time for display.

Shared time is the reference feed's media time (:class:`~media_core.clock.Clock`). The wall
clock is anchored on one camera's own clock (its ``creation_time`` tag, taken as the wall time
of its media time 0), and says so: ``WallClock.source`` reads e.g. "UTC from Officer A body
cam's camera clock (creation_time tag)". A camera's clock can be wrong; the wall clock is only
as good as that camera's.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from media_core.clock import Clock

__all__ = ["Feed", "Mute", "Shot", "Annotation", "IncidentShot", "WallClock", "Timeline", "build_timeline"]


@dataclass(frozen=True)
class WallClock:
    """Shared time -> UTC wall time, anchored on one feed's camera clock."""

    origin_utc: _dt.datetime  # wall time at shared time 0
    source: str               # where it comes from, in words
    feed_id: int

    def at(self, shared_s: float) -> _dt.datetime:
        """The UTC wall time at ``shared_s`` on the shared clock."""
        return self.origin_utc + _dt.timedelta(seconds=float(shared_s))

    def iso(self, shared_s: float | None) -> str | None:
        """``at(shared_s)`` as ISO 8601 with milliseconds and a ``Z``, or None."""
        if shared_s is None:
            return None
        return self.at(shared_s).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Feed:
    """One feed as the timeline sees it."""

    id: int
    label: str
    kind: str
    path: str
    sha256: str
    has_audio: bool
    has_video: bool
    duration_s: float
    clock: Clock
    is_reference: bool
    sync_method: str | None = None       # None: never placed (identity clock)
    sync_confidence: float | None = None
    sync_evidence: dict = field(default_factory=dict, compare=False)
    nudge_s: float = 0.0
    creation_time: str | None = None
    analysed: bool = False               # an analysis (mutes, shots) is stored for it

    @property
    def placed(self) -> bool:
        """Whether the feed is on the shared clock (the reference, or synced by any method)."""
        return self.is_reference or self.sync_method is not None

    def to_shared(self, media_s: float) -> float:
        return self.clock.to_shared(media_s)

    def to_media(self, shared_s: float) -> float:
        return self.clock.to_media(shared_s)

    def shared_range(self) -> tuple[float, float]:
        """The feed's span on the shared clock (media 0 to its duration)."""
        return self.clock.to_shared(0.0), self.clock.to_shared(self.duration_s)


@dataclass(frozen=True)
class Mute:
    """A muted span of one feed, in its media time and on the shared clock."""

    feed_id: int
    feed_label: str
    kind: str
    media_start_s: float
    media_end_s: float
    start_s: float
    end_s: float
    confidence: float
    evidence: dict = field(default_factory=dict, compare=False)
    wall_start: str | None = None
    wall_end: str | None = None

    @property
    def duration_s(self) -> float:
        """Length in the feed's own seconds."""
        return self.media_end_s - self.media_start_s


@dataclass(frozen=True)
class Shot:
    """A shot one feed heard (confident or possible), in its media time and on the shared clock."""

    feed_id: int
    feed_label: str
    media_time_s: float
    time_s: float
    confidence: float
    confident: bool
    evidence: dict = field(default_factory=dict, compare=False)
    wall: str | None = None


@dataclass(frozen=True)
class Annotation:
    """An analyst's note; ``start_s``/``end_s`` on the shared clock, ``media_*`` on its feed (if any)."""

    id: str
    start_s: float
    end_s: float | None
    feed_id: int | None
    media_start_s: float | None
    media_end_s: float | None
    category: str
    text: str
    author: str
    created: str
    edited: str
    wall_start: str | None = None
    wall_end: str | None = None

    @property
    def is_range(self) -> bool:
        return self.end_s is not None


@dataclass(frozen=True)
class IncidentShot:
    """One shot of the incident, matched across feeds (``number`` only for confident shots)."""

    number: int | None
    time_s: float
    confident: bool
    possible: bool
    status: str
    feeds: tuple[str, ...]
    confidence: float
    evidence: dict = field(default_factory=dict, compare=False)
    wall: str | None = None


@dataclass(frozen=True)
class Timeline:
    """The case on the shared clock (see the module docstring). Built by :func:`build_timeline`."""

    feeds: tuple[Feed, ...]
    mutes: tuple[Mute, ...]
    shots: tuple[Shot, ...]
    annotations: tuple[Annotation, ...]
    incident_shots: tuple[IncidentShot, ...]
    incident: dict | None = field(default=None, compare=False)  # the stored document, counts included
    incident_current: bool = False   # False: shots or clocks changed since the stored count
    wall_clock: WallClock | None = None
    reference_feed_id: int | None = None

    def feed(self, feed_id: int) -> Feed | None:
        return next((f for f in self.feeds if f.id == feed_id), None)

    def mutes_of(self, feed_id: int) -> list[Mute]:
        return [m for m in self.mutes if m.feed_id == feed_id]

    def shots_of(self, feed_id: int, *, confident_only: bool = False) -> list[Shot]:
        return [s for s in self.shots if s.feed_id == feed_id and (s.confident or not confident_only)]

    def mute_at(self, feed_id: int, shared_s: float) -> Mute | None:
        """The mute of this feed covering ``shared_s``, if any."""
        return next((m for m in self.mutes if m.feed_id == feed_id and m.start_s <= shared_s < m.end_s), None)

    def shared_range(self, *, default: tuple[float, float] = (0.0, 60.0)) -> tuple[float, float]:
        """From the earliest feed start to the latest feed end on the shared clock."""
        spans = [f.shared_range() for f in self.feeds]
        if not spans:
            return default
        return min(a for a, _ in spans), max(b for _, b in spans)

    def events(self, kind: str) -> list[float]:
        """Sorted shared-clock times of every ``"shot"``, ``"mute"`` start, ``"annotation"`` start
        or ``"incident_shot"``.
        """
        if kind == "shot":
            out: Iterable[float] = (s.time_s for s in self.shots)
        elif kind == "mute":
            out = (m.start_s for m in self.mutes)
        elif kind == "annotation":
            out = (a.start_s for a in self.annotations)
        elif kind == "incident_shot":
            out = (s.time_s for s in self.incident_shots)
        else:
            raise ValueError(f"unknown event kind {kind!r}")
        return sorted(out)

    def wall(self, shared_s: float | None) -> str | None:
        """ISO wall time at ``shared_s``, or None when the case has no wall clock."""
        return self.wall_clock.iso(shared_s) if self.wall_clock is not None and shared_s is not None else None


def _parse_utc(iso: str | None) -> _dt.datetime | None:
    if not iso:
        return None
    try:
        t = _dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=_dt.timezone.utc)


def wall_clock_of(feeds: Iterable[Feed]) -> WallClock | None:
    """The wall clock of a set of timeline feeds: the reference's camera clock if it has one,
    else the first placed feed's that has one.
    """
    ordered = sorted(feeds, key=lambda f: (not f.is_reference, not f.placed, f.id))
    for f in ordered:
        t0 = _parse_utc(f.creation_time)
        if t0 is None or not f.placed:
            continue
        origin = t0 - _dt.timedelta(seconds=f.clock.to_shared(0.0))
        return WallClock(origin, f"UTC from {f.label}'s camera clock (creation_time tag)", f.id)
    return None


def _float(x: Any, default: float = 0.0) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return default


def build_timeline(case, *, incident: dict | None = None) -> Timeline:
    """Read ``case`` (a :class:`~media_core.case.store.Case`) into a :class:`Timeline`.

    ``incident`` overrides the stored incident count (e.g. one just computed off the GUI thread);
    by default the stored count is used, and ``incident_current`` says whether it was made from
    the case's present shots and clocks (:func:`media_core.pipeline.incident_shots` refreshes it).
    """
    from media_core import pipeline
    from media_core.analysis.shot_counts import is_confident

    ref = case.reference_feed_id
    feeds: list[Feed] = []
    results: dict[int, dict] = {}
    for f in case.feeds:
        info = case.sync_info(f.id)
        feeds.append(Feed(
            id=f.id, label=f.label, kind=f.kind, path=f.path, sha256=f.sha256, has_audio=f.has_audio,
            has_video=f.has_video, duration_s=f.duration_s, clock=case.clock(f.id), is_reference=f.id == ref,
            sync_method=info["method"] if info else None, sync_confidence=info["confidence"] if info else None,
            sync_evidence=(info or {}).get("evidence") or {}, nudge_s=float((info or {}).get("nudge_s") or 0.0),
            creation_time=f.probe.get("creation_time"),
            analysed=case.get_analysis(f.id, algorithm=pipeline.ANALYSIS_ALGORITHM) is not None))
        res = case.get_analysis(f.id, algorithm=pipeline.ANALYSIS_ALGORITHM)
        if res is not None:
            results[f.id] = res
    wall = wall_clock_of(feeds)

    def w(t: float | None) -> str | None:
        return wall.iso(t) if wall is not None and t is not None else None

    mutes: list[Mute] = []
    shots: list[Shot] = []
    for f in feeds:
        res = results.get(f.id) or {}
        for m in res.get("mutes", []) or []:
            a, b = _float(m.get("start_s")), _float(m.get("end_s"))
            sa, sb = f.to_shared(a), f.to_shared(b)
            mutes.append(Mute(f.id, f.label, str(m.get("kind", "mute")), a, b, sa, sb,
                              _float(m.get("confidence")), m.get("evidence") or {}, w(sa), w(sb)))
        for s in res.get("shots", []) or []:
            t = _float(s.get("time_s", s.get("start_s")))
            st = f.to_shared(t)
            conf = _float(s.get("confidence"))
            shots.append(Shot(f.id, f.label, t, st, conf, is_confident(s), s, w(st)))
    mutes.sort(key=lambda m: (m.start_s, m.feed_id))
    shots.sort(key=lambda s: (s.time_s, s.feed_id))

    by_id = {f.id: f for f in feeds}
    anns: list[Annotation] = []
    for a in case.annotations:
        f = by_id.get(a.feed_id) if a.feed_id is not None else None
        if f is None:
            s, e, ms, me = a.start_s, a.end_s, None, None
        else:
            s, ms, me = f.to_shared(a.start_s), a.start_s, a.end_s
            e = None if a.end_s is None else f.to_shared(a.end_s)
        anns.append(Annotation(a.id, s, e, a.feed_id if f is not None else None, ms, me, a.category, a.text,
                               a.author, a.created, a.edited, w(s), w(e)))
    anns.sort(key=lambda a: (a.start_s, a.id))

    current = incident is not None
    if incident is None:
        incident = pipeline.stored_incident_shots(case)
        current = incident is not None
        if incident is None:  # stale: show the last count made, flagged as not current
            owner = pipeline._incident_owner(case)
            incident = case.get_analysis(owner, algorithm=pipeline.INCIDENT_ALGORITHM) if owner else None
    inc: list[IncidentShot] = []
    n = 0
    for s in (incident or {}).get("shots", []):
        confident = bool(s.get("confident"))
        if confident:
            n += 1
        t = _float(s.get("time_s"))
        inc.append(IncidentShot(n if confident else None, t, confident, bool(s.get("possible")),
                                str(s.get("status", "")), tuple(s.get("feeds", [])), _float(s.get("confidence")),
                                s.get("evidence") or {}, w(t)))
    return Timeline(tuple(feeds), tuple(mutes), tuple(shots), tuple(anns), tuple(inc), incident, current, wall, ref)
