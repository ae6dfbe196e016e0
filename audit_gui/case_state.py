"""A read-through view of the open case for the widgets: feeds with their clock and derived data.

The case (:class:`media_core.case.store.Case`) is the model; this object only caches what is costly to
rebuild on every paint (decoded video index, waveform envelope, parsed mutes and shots) and turns
the case's psygnal events into Qt signals on the GUI thread. It holds no state the case does not.
"""
from __future__ import annotations


from contextlib import contextmanager
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from media_core.clock import Clock
from media_core.analysis.envelope import Envelope
from media_core.io.video import VideoIndex

from .jobs import ENVELOPE_ALGO, INDEX_ALGO

ANALYSIS_ALGO = "analysis"


@dataclass
class Mute:
    start_s: float  # media time
    end_s: float
    kind: str
    confidence: float
    evidence: dict = field(default_factory=dict)


@dataclass
class Shot:
    time_s: float  # media time
    confidence: float
    raw: dict = field(default_factory=dict)


def _mute(m) -> Mute | None:
    try:
        if isinstance(m, dict):
            return Mute(float(m["start_s"]), float(m["end_s"]), str(m.get("kind", "mute")),
                        float(m.get("confidence", 0.0) or 0.0), m.get("evidence") or {})
        return Mute(float(m[0]), float(m[1]), str(m[2]) if len(m) > 2 else "mute",
                    float(m[3]) if len(m) > 3 else 0.0, m[4] if len(m) > 4 else {})
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _shot(s) -> Shot | None:
    try:
        if isinstance(s, dict):
            t = s.get("time_s", s.get("start_s"))
            return Shot(float(t), float(s.get("confidence", 0.0) or 0.0), s)
        return Shot(float(s[0]), float(s[1]) if len(s) > 1 else 0.0, {})
    except (KeyError, IndexError, TypeError, ValueError):
        return None


@dataclass
class FeedInfo:
    id: int
    label: str
    kind: str
    path: str
    duration_s: float
    clock: Clock
    index: VideoIndex | None = None
    envelope: Envelope | None = None
    analysis: dict | None = None
    mutes: list[Mute] = field(default_factory=list)
    shots: list[Shot] = field(default_factory=list)
    prepared: bool = False  # index/envelope known (or known to be absent)

    @property
    def fps(self) -> float:
        return self.index.fps if self.index is not None and len(self.index) else 30.0

    def media_range(self) -> tuple[float, float]:
        if self.index is not None and len(self.index):
            return self.index.start_s, self.index.end_s
        return 0.0, self.duration_s

    def shared_range(self) -> tuple[float, float]:
        a, b = self.media_range()
        return self.clock.to_shared(a), self.clock.to_shared(b)

    def mute_at(self, media_s: float) -> Mute | None:
        for m in self.mutes:
            if m.start_s <= media_s < m.end_s:
                return m
        return None


class CaseState(QObject):
    """Qt face of a :class:`~media_core.case.store.Case` for the views."""

    feeds_changed = Signal()          # feeds added/removed/relabelled, analysis or clocks changed
    clock_changed = Signal(int)
    annotations_changed = Signal()
    undo_state_changed = Signal()

    incident_changed = Signal()

    def __init__(self, case, parent=None):
        super().__init__(parent)
        self.case = case
        self.incident: dict | None = None  # incident-level shots (derived; computed off the GUI thread)
        self._feeds: dict[int, FeedInfo] = {}
        self._batch = 0                       # > 0: inside batch(), signals wait for its end
        self._held_feeds = False
        self._held_clocks: list[int] = []
        self._reload_all()
        ev = case.events
        ev.feeds_changed.connect(self._on_feeds)
        ev.analysis_changed.connect(self._on_analysis)
        ev.clock_changed.connect(self._on_clock)
        ev.annotations_changed.connect(self.annotations_changed.emit)
        ev.undo_state_changed.connect(self.undo_state_changed.emit)

    def disconnect_case(self) -> None:
        ev = self.case.events
        for sig, slot in ((ev.feeds_changed, self._on_feeds), (ev.analysis_changed, self._on_analysis),
                          (ev.clock_changed, self._on_clock),
                          (ev.annotations_changed, self.annotations_changed.emit),
                          (ev.undo_state_changed, self.undo_state_changed.emit)):
            try:
                sig.disconnect(slot)
            except Exception:
                pass

    # ------------------------------------------------------------------ loading
    def _load(self, f, old: FeedInfo | None) -> FeedInfo:
        c = self.case
        info = FeedInfo(id=f.id, label=f.label, kind=f.kind, path=f.path, duration_s=f.duration_s,
                        clock=c.clock(f.id))
        if old is not None and old.path == f.path and old.prepared:
            info.index, info.envelope, info.prepared = old.index, old.envelope, True
        else:
            ix = c.get_analysis(f.id, algorithm=INDEX_ALGO)
            env = c.get_analysis(f.id, algorithm=ENVELOPE_ALGO)
            if ix is not None:
                try:
                    info.index = VideoIndex.from_dict(ix) if ix.get("schema") else None
                except Exception:
                    info.index = None
                if env is not None:
                    try:
                        info.envelope = Envelope.from_dict(env) if env.get("schema") else None
                    except Exception:
                        info.envelope = None
                info.prepared = True
        self._load_analysis(info)
        return info

    def _load_analysis(self, info: FeedInfo) -> None:
        a = self.case.get_analysis(info.id, algorithm=ANALYSIS_ALGO)
        info.analysis = a
        info.mutes = [m for m in (_mute(x) for x in (a or {}).get("mutes", []) or []) if m is not None]
        info.shots = [s for s in (_shot(x) for x in (a or {}).get("shots", []) or []) if s is not None]

    def _reload_all(self) -> None:
        old = self._feeds
        self._feeds = {f.id: self._load(f, old.get(f.id)) for f in self.case.feeds}

    @contextmanager
    def batch(self):
        """Apply several case changes as one: views hear ``clock_changed`` (once per feed) and
        ``feeds_changed`` (once) when the block ends, not after every change (storing an analysis
        result or a sync document makes several changes; each repaint and table rebuild costs
        GUI-thread time)."""
        self._batch += 1
        try:
            yield self
        finally:
            self._batch -= 1
            if self._batch == 0:
                clocks, self._held_clocks = self._held_clocks, []
                feeds, self._held_feeds = self._held_feeds, False
                for fid in dict.fromkeys(clocks):
                    self.clock_changed.emit(fid)
                if feeds:
                    self.feeds_changed.emit()

    def _emit_feeds(self) -> None:
        if self._batch:
            self._held_feeds = True
        else:
            self.feeds_changed.emit()

    def _on_feeds(self) -> None:
        self._reload_all()
        self._emit_feeds()

    def _on_analysis(self, feed_id: int) -> None:
        if feed_id in self._feeds:
            f = self.case.feed(feed_id)
            # keep the parsed index/envelope once prepared (a new analysis must not restart decoders)
            self._feeds[feed_id] = self._load(f, self._feeds[feed_id])
        self._emit_feeds()

    def _on_clock(self, feed_id: int) -> None:
        for fid, info in self._feeds.items():
            info.clock = self.case.clock(fid)
        if self._batch:
            self._held_clocks.append(feed_id)
        else:
            self.clock_changed.emit(feed_id)
        self._emit_feeds()

    # ------------------------------------------------------------------ queries
    @property
    def feeds(self) -> list[FeedInfo]:
        return list(self._feeds.values())

    def feed(self, feed_id: int) -> FeedInfo | None:
        return self._feeds.get(feed_id)

    def shared_range(self) -> tuple[float, float]:
        spans = [f.shared_range() for f in self._feeds.values()]
        if not spans:
            return 0.0, 60.0
        return min(a for a, _ in spans), max(b for _, b in spans)

    def annotation_shared_span(self, a) -> tuple[float, float | None]:
        """An annotation's start/end on the shared clock (feed annotations are in media time)."""
        if a.feed_id is None or a.feed_id not in self._feeds:
            return a.start_s, a.end_s
        c = self._feeds[a.feed_id].clock
        return c.to_shared(a.start_s), (None if a.end_s is None else c.to_shared(a.end_s))

    def incident_inputs(self, *, min_confidence: float = 0.0) -> tuple[dict, dict]:
        """Per-feed shots and clocks of the synced feeds, as media_core.pipeline.incident_shots uses
        (possible shots too, with their ``confident`` flag: they can support a shot another feed heard)."""
        shots, clocks = {}, {}
        ref = self.case.reference_feed_id
        for f in self._feeds.values():
            if f.analysis is None or not f.shots:
                continue
            if self.case.sync_info(f.id) is None and f.id != ref:
                continue
            shots[f.label] = [{**s.raw, "time_s": s.time_s, "confidence": s.confidence} for s in f.shots
                              if s.confidence >= min_confidence]
            clocks[f.label] = f.clock
        return shots, clocks

    def set_incident(self, result: dict | None) -> None:
        self.incident = result
        self.incident_changed.emit()

    def events_shared(self, kind: str) -> list[float]:
        """Sorted shared-clock times of every shot, mute start or annotation start."""
        out: list[float] = []
        if kind == "shot":
            for f in self._feeds.values():
                out += [f.clock.to_shared(s.time_s) for s in f.shots]
        elif kind == "mute":
            for f in self._feeds.values():
                out += [f.clock.to_shared(m.start_s) for m in f.mutes]
        elif kind == "annotation":
            out = [self.annotation_shared_span(a)[0] for a in self.case.annotations]
        return sorted(out)
