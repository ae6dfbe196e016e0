"""A read-through view of the open case for the widgets: its timeline, plus the decoded things.

The case (:class:`media_core.case.store.Case`) is the model and :func:`media_core.case.timeline.build_timeline`
its shared-clock view; this object only

* keeps the :class:`~media_core.case.timeline.Timeline` of the case, rebuilt when the case
  changes (lazily: on the first read after a change), which the widgets read mutes, shots,
  shared spans, annotations, events and incident shots from;
* caches what is costly to rebuild on every paint: each feed's parsed video index and waveform
  envelope (:class:`FeedInfo`);
* turns the case's psygnal events into Qt signals on the GUI thread, several changes at once as
  one (:meth:`CaseState.batch`).

It holds no state the case does not.
"""
from __future__ import annotations

from contextlib import contextmanager

from PySide6.QtCore import QObject, Signal

from media_core import pipeline
from media_core.analysis.envelope import Envelope
from media_core.case.timeline import Feed, Timeline, build_timeline
from media_core.clock import Clock
from media_core.io.video import VideoIndex


class FeedInfo:
    """One feed for the widgets: its timeline record (:attr:`feed`) and its decoded caches."""

    def __init__(self, state: CaseState, feed_id: int, path: str):
        self._state = state
        self.id = feed_id
        self.path = path
        self.index: VideoIndex | None = None     # parsed once, kept while the feed's file is the same
        self.envelope: Envelope | None = None
        self.index_known = False                 # index stored (or stored as "no video")
        self.envelope_known = False              # envelope stored (or stored as "no audio")

    @property
    def feed(self) -> Feed:
        """The feed's record in the current timeline (label, kind, clock, duration, sync)."""
        return self._state.timeline_feed(self.id)

    @property
    def label(self) -> str:
        return self.feed.label

    @property
    def kind(self) -> str:
        return self.feed.kind

    @property
    def duration_s(self) -> float:
        return self.feed.duration_s

    @property
    def clock(self) -> Clock:
        return self.feed.clock

    @property
    def prepared(self) -> bool:
        """Whether the video index is known (built, or known to be absent): the tile can show frames."""
        return self.index_known

    @property
    def fps(self) -> float:
        return self.index.fps if self.index is not None and len(self.index) else 30.0

    def shared_range(self) -> tuple[float, float]:
        return self.feed.shared_range()

    def load_cached(self, case) -> bool:
        """Read the stored index and envelope not yet known; True when one became known."""
        changed = False
        if not self.index_known:
            ix = pipeline.stored_video_index(case, self.id)
            if ix is not None:
                self.index = _parse(VideoIndex, ix)
                self.index_known = changed = True
        if not self.envelope_known:
            env = pipeline.stored_envelope(case, self.id)
            if env is not None:
                self.envelope = _parse(Envelope, env)
                if self.envelope is not None and not len(self.envelope.mins):
                    self.envelope = None  # a feed without audio: the decode heard no samples
                self.envelope_known = changed = True
        return changed


def _parse(cls, d: dict):
    if not d.get("schema"):  # the "no video" / "no audio" record
        return None
    try:
        return cls.from_dict(d)
    except (KeyError, TypeError, ValueError):
        return None  # damaged: shown as absent (the analysis report still has the evidence)


class CaseState(QObject):
    """Qt face of a :class:`~media_core.case.store.Case` for the views."""

    feeds_changed = Signal()          # feeds added/removed/relabelled; clocks, mutes, shots, index or envelope changed
    clock_changed = Signal(int)
    annotations_changed = Signal()
    undo_state_changed = Signal()
    incident_changed = Signal()       # the incident-level shots (only) changed

    def __init__(self, case, parent=None):
        super().__init__(parent)
        self.case = case
        self._feeds: dict[int, FeedInfo] = {}
        self._timeline: Timeline | None = None
        self._tl_feeds: dict[int, Feed] = {}
        self._tl_annotations: dict = {}
        self._analysed: frozenset[int] = frozenset()
        self._shown_key = None                # what the views were last told about
        self._batch = 0                       # > 0: inside batch(), signals wait for its end
        self._held = {"feeds": False, "check": False, "annotations": False, "clocks": []}
        self._reload_feeds()
        self._shown_key = self._view_key()
        ev = case.events
        ev.feeds_changed.connect(self._on_feeds)
        ev.analysis_changed.connect(self._on_analysis)
        ev.clock_changed.connect(self._on_clock)
        ev.annotations_changed.connect(self._on_annotations)
        ev.undo_state_changed.connect(self.undo_state_changed.emit)

    def disconnect_case(self) -> None:
        ev = self.case.events
        for sig, slot in ((ev.feeds_changed, self._on_feeds), (ev.analysis_changed, self._on_analysis),
                          (ev.clock_changed, self._on_clock), (ev.annotations_changed, self._on_annotations),
                          (ev.undo_state_changed, self.undo_state_changed.emit)):
            try:
                sig.disconnect(slot)
            except (TypeError, ValueError, RuntimeError):  # psygnal: not connected
                pass

    # ------------------------------------------------------------------ the timeline
    @property
    def timeline(self) -> Timeline:
        """The case on the shared clock, current with the case."""
        if self._timeline is None:
            tl = build_timeline(self.case)
            self._timeline = tl
            self._tl_feeds = {f.id: f for f in tl.feeds}
            self._tl_annotations = {a.id: a for a in tl.annotations}
            self._analysed = frozenset(f.id for f in tl.feeds if f.analysed)
        return self._timeline

    def timeline_feed(self, feed_id: int) -> Feed:
        self.timeline
        return self._tl_feeds[feed_id]

    def analysed(self, feed_id: int) -> bool:
        """Whether the feed has a stored mute/shot analysis (so "0 shots" means none were heard)."""
        self.timeline
        return feed_id in self._analysed

    def _view_key(self):
        tl = self.timeline
        cached = tuple((i.id, i.index_known, i.envelope_known) for i in self._feeds.values())
        return ((tl.feeds, tl.mutes, tl.shots, self._analysed, cached),
                (tl.incident_shots, tl.incident_current))

    # ------------------------------------------------------------------ change events
    def _reload_feeds(self) -> None:
        old = self._feeds
        self._feeds = {}
        for f in self.case.feeds:
            info = old.get(f.id)
            if info is None or info.path != f.path:
                info = FeedInfo(self, f.id, f.path)
            info.load_cached(self.case)
            self._feeds[f.id] = info
        self._timeline = None

    @contextmanager
    def batch(self):
        """Apply several case changes as one: views hear ``clock_changed`` (once per feed) and
        ``feeds_changed`` (once) when the block ends, not after every change (storing an analysis
        result or a sync document makes several changes; each repaint and table rebuild costs
        GUI-thread time).
        """
        self._batch += 1
        try:
            yield self
        finally:
            self._batch -= 1
            if self._batch == 0:
                self._flush()

    def _flush(self) -> None:
        if self._batch:
            return
        held, self._held = self._held, {"feeds": False, "check": False, "annotations": False, "clocks": []}
        feeds, incident = held["feeds"], False
        if held["check"] or feeds:
            key = self._view_key()
            feeds = feeds or key[0] != self._shown_key[0]
            incident = key[1] != self._shown_key[1]
            self._shown_key = key
        for fid in dict.fromkeys(held["clocks"]):
            self.clock_changed.emit(fid)
        if held["annotations"]:
            self.annotations_changed.emit()
        if feeds:
            self.feeds_changed.emit()
        if incident:
            self.incident_changed.emit()

    def _on_feeds(self) -> None:
        self._reload_feeds()
        self._held["feeds"] = True
        self._flush()

    def _on_analysis(self, feed_id: int) -> None:
        info = self._feeds.get(feed_id)
        if info is not None:
            info.load_cached(self.case)  # a known index is kept: a new analysis must not restart decoders
        self._timeline = None
        self._held["check"] = True
        self._flush()

    def _on_clock(self, feed_id: int) -> None:
        self._timeline = None
        self._held["clocks"].append(feed_id)
        self._held["feeds"] = True
        self._flush()

    def _on_annotations(self) -> None:
        self._timeline = None
        self._held["annotations"] = True
        self._flush()

    # ------------------------------------------------------------------ queries
    @property
    def feeds(self) -> list[FeedInfo]:
        return list(self._feeds.values())

    def feed(self, feed_id: int | None) -> FeedInfo | None:
        return self._feeds.get(feed_id)

    def shared_range(self) -> tuple[float, float]:
        return self.timeline.shared_range()

    def annotation_shared_span(self, a) -> tuple[float, float | None]:
        """An annotation's start/end on the shared clock (feed annotations are kept in media time)."""
        t = self.timeline
        ta = self._tl_annotations.get(a.id)
        if ta is None:  # not (yet) in the case: convert it as the timeline would
            f = t.feed(a.feed_id) if a.feed_id is not None else None
            if f is None:
                return a.start_s, a.end_s
            return f.to_shared(a.start_s), (None if a.end_s is None else f.to_shared(a.end_s))
        return ta.start_s, ta.end_s

    def events_shared(self, kind: str) -> list[float]:
        """Sorted shared-clock times of every ``"shot"``, ``"mute"`` start, ``"annotation"`` start or
        ``"incident_shot"`` (:meth:`Timeline.events`).
        """
        return self.timeline.events(kind)
