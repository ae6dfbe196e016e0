"""The review video: every chosen feed side by side on the shared clock, in one MP4 (H.264 + AAC).

How a frame is made (frame-exact by construction): output frame ``k`` is shared time
``T = start_s + k / fps``. Each tile shows the frame of its feed *on screen* at ``T``: the frame
``i`` with ``pts_i <= clock.to_media(T) < pts_i + duration_i`` (a frame starting less than 1 µs after is
taken as started: timestamps are rounded to their time base) (its :class:`~media_core.clock.Clock`
from the case: offset, drift, nudge; :class:`~media_core.io.video.VideoIndex` for the frame
times), or a slate ("NOT YET RECORDING", "ENDED", "NO VIDEO") where there is none. The tiles
are decoded with PyAV (sequentially, frames not shown are decoded but not converted), scaled,
composed with numpy into one RGB picture per output frame and piped to FFmpeg as raw video: no
FFmpeg filter chooses or drops frames, so what is on screen is exactly what the clocks say.

What is burned in, and by what:

* **our clocks** in a band above the tiles, outside every picture, amber on dark blue, labelled
  ``SHARED CLOCK`` and ``WALL CLOCK`` (the wall clock with its zone and its source in words, e.g.
  "UTC from Officer A body cam's camera clock (creation_time tag)"): never on a camera's own
  picture, so they cannot be mistaken for a camera's watermark (which stays untouched inside its
  tile); every tile's strip gives the feed's own media time and frame number of the frame shown;
* the numbers that change every frame (clocks, media times) are drawn with Pillow into the raw
  frames (:mod:`media_core.export.raster_text`: matplotlib's DejaVu Sans; ASCII digits only);
* everything else (labels, slates, the AUDIO MUTED badge with the mute's kind, shot markers and
  the running shot number, annotation captions) is one generated ASS file burned by FFmpeg's
  ``subtitles`` filter (libass: CJK, Arabic and right-to-left text shaped), each event starting
  and ending half a frame around the frames it belongs to (ASS times are centiseconds, so this is
  exact up to 60 fps). User text only ever enters that file, escaped (:func:`media_core.export.ass.ass_text`).

Audio: one feed, or a mix of several (each at gain ``1/n``, so the mix cannot clip), each read on
the shared clock with :class:`~media_core.io.audio_out.SharedClockPcm` (offset and drift applied per
sample); where a feed has no sound (before and after it, packet gaps, mutes) its part is silent,
never filled.

The work is split like the case steps (:mod:`media_core.pipeline`): :func:`plan_review` reads the
case (on the thread that owns it: checks the originals, collects clocks, mutes, shots,
annotations, the signed log head), :func:`render_review` makes the folder (safe in a worker: it never
touches the case), :func:`record_export` writes the audit-log row. :func:`export_review` is the three
in a row (the CLI).
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from media_core.clock import Clock
from media_core.errors import Cancelled, ParameterError
from media_core.export.ffmpeg import ExportError
from media_core.progress import Progress, ShouldStop, check_cancel, no_progress

__all__ = ["ReviewOptions", "ReviewPlan", "ExportResult", "plan_review", "render_review", "record_export",
           "export_review", "LAYOUTS", "layout_tiles"]

LAYOUTS = ("grid", "main")
MAX_FPS = 60.0
SLATES = {"before": "NOT YET RECORDING", "after": "ENDED", "novideo": "NO VIDEO"}
POINT_ANNOTATION_S = 3.0
SHOT_MARKER_S = 0.6
#: a frame (or span) that starts within this much after T counts as started at T: timestamps are
#: rounded to their time base (1/90000 s for MP4), so T = k / fps and pts * time_base can differ by 1e-16
TIME_EPS_S = 1e-6
AMBER = (255, 196, 0)
BAND = (14, 24, 48)


@dataclass
class ReviewOptions:
    """The analyst's choices. Times are on the shared clock (seconds)."""

    feeds: Sequence[int] | None = None        # default: every feed of the case
    start_s: float | None = None              # default: the earliest feed start
    end_s: float | None = None                # default: the latest feed end
    layout: str = "grid"                      # "grid", or "main": one large feed over a row of the others
    main_feed: int | None = None              # for "main" (default: the reference feed, else the first)
    size: tuple[int, int] = (1280, 720)
    fps: float | None = None                  # default: the fastest chosen feed's frame rate
    audio: Sequence[int] | None = None        # feeds heard (mixed if several); None: the reference's (or
    #                                           the first chosen feed with sound); () : no audio
    wall_zone: str = "UTC"                    # "UTC" or an IANA zone name for the wall clock
    allow_changed: bool = False               # export from an original whose SHA-256 changed (recorded)
    name: str | None = None                   # file name base (sanitised); default review_<shared range>
    crf: int = 20
    preset: str = "veryfast"


@dataclass
class _FeedPlan:
    id: int
    label: str
    path: str
    clock: Clock
    has_video: bool
    has_audio: bool
    index: dict | None
    fps: float | None
    width: int
    height: int
    mutes: list[tuple[float, float, str]]


@dataclass
class ReviewPlan:
    """Everything :func:`render_review` needs, read from the case by :func:`plan_review` (picklable)."""

    folder: str
    name: str
    feeds: list[_FeedPlan]
    start_s: float
    end_s: float
    fps: Fraction
    size: tuple[int, int]
    layout: str
    main_feed: int | None
    audio: list[int]
    shots: list[tuple[float, int | None, bool]]
    shots_total: int
    shots_source: str
    annotations: list[tuple[float, float, str]]
    wall_origin: str | None
    wall_source: str | None
    wall_zone: str
    crf: int
    preset: str
    sources: list[dict]
    case: dict
    made_by: str
    notes: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return max(1, int(math.ceil((self.end_s - self.start_s) * float(self.fps) - 1e-9)))


@dataclass
class ExportResult:
    """What an export made: the folder, its outputs, the manifest and the audit-log details."""

    kind: str
    folder: str
    outputs: list[str]
    manifest: str
    manifest_sha256: str
    notes: list[str]
    details: dict
    stats: dict = field(default_factory=dict)


# ============================================================================ planning (reads the case)
def _wall_zone(name: str):
    import datetime as _dt

    if name.upper() in ("UTC", "Z", "GMT"):
        return _dt.timezone.utc, "UTC"
    try:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError, ImportError):
        raise ParameterError(f"unknown time zone {name!r} (use UTC or a name like Europe/Berlin)") from None


def plan_review(case, folder: str | os.PathLike, options: ReviewOptions | None = None, *,
                timeline=None) -> ReviewPlan:
    """Read what the review video needs from ``case`` and check the choices and the originals.

    Raises
    ------
    ParameterError
        A choice makes no sense (unknown feed, empty range, layout, size, fps).
    IntegrityError
        An original is missing, or changed and ``allow_changed`` is False (one line naming the feed).
    """
    from media_core import pipeline
    from media_core.case.timeline import build_timeline
    from media_core.export.output import case_record, range_tag, safe_name, source_records

    o = options or ReviewOptions()
    tl = timeline if timeline is not None else build_timeline(case)
    ids = list(o.feeds) if o.feeds is not None else [f.id for f in tl.feeds]
    if not ids:
        raise ParameterError(f"case {case.path} has no feeds to export")
    if len(set(ids)) != len(ids):
        raise ParameterError(f"a feed is chosen twice: {ids}")
    for fid in ids:
        if tl.feed(fid) is None:
            raise ParameterError(f"no feed {fid} in case {case.path}")
    if len(ids) > 9:
        raise ParameterError(f"at most 9 feeds fit in a review video ({len(ids)} chosen)")
    if o.layout not in LAYOUTS:
        raise ParameterError(f"layout must be one of {', '.join(LAYOUTS)} (got {o.layout!r})")
    w, h = int(o.size[0]), int(o.size[1])
    if not (160 <= w <= 7680 and 90 <= h <= 4320) or w % 2 or h % 2:
        raise ParameterError(f"size must be even, from 160x90 to 7680x4320 (got {w}x{h})")
    feeds: list[_FeedPlan] = []
    for fid in ids:
        f = tl.feed(fid)
        cf = case.feed(fid)
        idx = pipeline.stored_video_index(case, fid) if f.has_video else None
        if idx is not None and idx.get("schema") is None:
            idx = None
        v = cf.probe.get("video") or {}
        feeds.append(_FeedPlan(fid, f.label, f.path, f.clock, f.has_video, f.has_audio, idx,
                               (idx or {}).get("fps") or cf.fps, int(v.get("width") or 16), int(v.get("height") or 9),
                               [(m.start_s, m.end_s, m.kind) for m in tl.mutes_of(fid)]))
    spans = [tl.feed(i).shared_range() for i in ids]
    start = float(o.start_s) if o.start_s is not None else min(a for a, _ in spans)
    end = float(o.end_s) if o.end_s is not None else max(b for _, b in spans)
    if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
        raise ParameterError(f"the range must end after it starts (got {start:.3f} to {end:.3f} s)")
    if end - start > 6 * 3600:
        raise ParameterError("a review video is at most 6 hours long")
    rates = [f.fps for f in feeds if f.has_video and f.fps]
    fps = float(o.fps) if o.fps is not None else (max(rates) if rates else 30.0)
    if not (1.0 <= fps <= MAX_FPS):
        raise ParameterError(f"fps must be from 1 to {MAX_FPS:g} (got {fps:g})")
    fr = Fraction(fps).limit_denominator(1001)
    if o.audio is None:
        ref = [f.id for f in feeds if f.has_audio and f.id == tl.reference_feed_id]
        audio = ref or [f.id for f in feeds if f.has_audio][:1]
    else:
        audio = list(o.audio)
        for a in audio:
            if a not in ids:
                raise ParameterError(f"audio feed {a} is not one of the exported feeds {ids}")
            if not tl.feed(a).has_audio:
                raise ParameterError(f"feed {a} '{tl.feed(a).label}' has no audio track")
    main = o.main_feed if o.main_feed is not None else (tl.reference_feed_id if tl.reference_feed_id in ids else ids[0])
    if main not in ids:
        raise ParameterError(f"main feed {main} is not one of the exported feeds {ids}")
    _wall_zone(o.wall_zone)

    # shots: the incident count (numbered confident shots), else the shots of the feed that heard most
    shots: list[tuple[float, int | None, bool]] = [(s.time_s, s.number, s.confident) for s in tl.incident_shots]
    source = "incident count, all feeds"
    total = sum(1 for s in tl.incident_shots if s.confident)
    if not shots and tl.shots:
        best = max({s.feed_id for s in tl.shots}, key=lambda fid: len(tl.shots_of(fid, confident_only=True)))
        n = 0
        for s in tl.shots_of(best):
            n += 1 if s.confident else 0
            shots.append((s.time_s, n if s.confident else None, s.confident))
        total = n
        source = f"shots heard by {tl.feed(best).label}"
    anns = []
    for a in tl.annotations:
        end_a = a.end_s if a.end_s is not None else a.start_s + POINT_ANNOTATION_S
        who = f" ({tl.feed(a.feed_id).label})" if a.feed_id is not None and tl.feed(a.feed_id) else ""
        anns.append((a.start_s, end_a, f"[{a.category}] {a.text}{who}"))

    sources, notes = source_records(case, tl, ids, allow_changed=o.allow_changed)
    for f in feeds:
        tf = tl.feed(f.id)
        if not tf.placed:
            notes.append(f"feed {f.id} '{f.label}' is not placed on the shared clock (shown on the identity clock)")
    if not tl.incident_current and tl.incident_shots:
        notes.append("the incident shot count was made before the last change of shots or clocks")
    name = safe_name(o.name) if o.name else f"review_{range_tag(start, end)}"
    opts = asdict(o)
    opts.update({"feeds": ids, "start_s": start, "end_s": end, "fps": f"{fr.numerator}/{fr.denominator}",
                 "audio": audio, "audio_gain_each": (1.0 / len(audio)) if audio else None, "main_feed": main,
                 "size": [w, h], "frame_rule": "each tile shows the frame on screen at the output frame's shared "
                 "time T = start_s + k / fps: pts <= clock.to_media(T) + 1e-6 < pts + duration"})
    try:
        made_by = case.user
    except Exception:  # no key yet and none can be made: the manifest signing will say so
        made_by = case.account
    return ReviewPlan(
        folder=os.fspath(folder), name=name, feeds=feeds, start_s=start, end_s=end, fps=fr, size=(w, h),
        layout=o.layout, main_feed=main, audio=audio, shots=shots, shots_total=total, shots_source=source,
        annotations=anns, wall_origin=tl.wall_clock.origin_utc.isoformat() if tl.wall_clock else None,
        wall_source=tl.wall_clock.source if tl.wall_clock else None, wall_zone=o.wall_zone, crf=int(o.crf),
        preset=str(o.preset), sources=sources, case=case_record(case), made_by=made_by, notes=notes, options=opts)


# ============================================================================ layout
@dataclass(frozen=True)
class Tile:
    """Where one feed goes in the output picture (pixels)."""

    feed_id: int
    x: int
    y: int
    w: int
    h: int
    strip_h: int                     # the label strip on top and the status strip (mute badges) at the bottom
    pic: tuple[int, int, int, int]   # x, y, w, h of the picture (letterboxed in the tile)


def bands(size: tuple[int, int]) -> tuple[int, int]:
    """Heights of the clock band (top) and the caption band (bottom)."""
    _, h = size
    return max(34, int(round(h * 0.085)) // 2 * 2), max(26, int(round(h * 0.09)) // 2 * 2)


def layout_tiles(feeds: Sequence[_FeedPlan], size: tuple[int, int], layout: str = "grid",
                 main_feed: int | None = None) -> list[Tile]:
    """The tiles of a review video: a grid, or one large ``main_feed`` over a row of the others."""
    from media_core.io.video import fit_size

    w, h = size
    top, bottom = bands(size)
    ay, ah = top, h - top - bottom
    n = len(feeds)
    rects: list[tuple[int, int, int, int, int]] = []  # feed index, x, y, w, h
    order = list(range(n))
    if layout == "main" and n > 1:
        mi = next(i for i, f in enumerate(feeds) if f.id == main_feed)
        order = [mi] + [i for i in range(n) if i != mi]
        mh = int(ah * 0.66)
        rects.append((order[0], 0, ay, w, mh))
        k = n - 1
        for j, i in enumerate(order[1:]):
            x0, x1 = (j * w) // k, ((j + 1) * w) // k
            rects.append((i, x0, ay + mh, x1 - x0, ah - mh))
    else:
        cols = int(math.ceil(math.sqrt(n)))
        rows = int(math.ceil(n / cols))
        for j, i in enumerate(order):
            r, c = divmod(j, cols)
            x0, x1 = (c * w) // cols, ((c + 1) * w) // cols
            y0, y1 = ay + (r * ah) // rows, ay + ((r + 1) * ah) // rows
            rects.append((i, x0, y0, x1 - x0, y1 - y0))
    tiles = []
    for i, x, y, tw, th in rects:
        f = feeds[i]
        strip = max(14, int(round(min(h * 0.032, th * 0.14))))
        bw, bh = tw - 4, th - 2 * strip - 2
        pw, ph = fit_size(f.width, f.height, bw, bh)
        px, py = x + 2 + (bw - pw) // 2, y + strip + (bh - ph) // 2
        tiles.append(Tile(f.id, x, y, tw, th, strip, (px, py, pw, ph)))
    return tiles


# ============================================================================ per-frame states
def _runs(values: Sequence) -> list[tuple[object, int, int]]:
    """``(value, first, last)`` for each run of equal values."""
    out = []
    start = 0
    for k in range(1, len(values) + 1):
        if k == len(values) or values[k] != values[start]:
            out.append((values[start], start, k - 1))
            start = k
    return out


def _frames_in(times: np.ndarray, a: float, b: float) -> tuple[int, int]:
    """First and last output frame whose shared time lies in ``[a, b)`` (first > last when none)."""
    return (int(np.searchsorted(times, a - TIME_EPS_S, side="left")),
            int(np.searchsorted(times, b - TIME_EPS_S, side="left")) - 1)


class _Cursor:
    """Sequential, frame-exact access to one feed's frames (decoding forward; a jump back seeks)."""

    def __init__(self, path: str, index, size: tuple[int, int]):
        from media_core.io.video import VideoReader

        self.reader = VideoReader(path, index=index, size=size, threads=1, interpolation="BILINEAR",
                                  cache_frames=4)
        self.index = index
        self.it = None
        self.cur = None
        self.want = -1
        self.wrong = 0

    def get(self, i: int):
        cur = self.cur
        if cur is not None and cur.index == i:
            return cur
        self.want = i
        if self.it is None or cur is None or i < cur.index or i - cur.index > 300:
            self.it = self.reader.iter_from(float(self.index.times_s[i]), skip=lambda j: j < self.want)
        for f in self.it:
            if f.index >= i:
                self.cur = f
                if f.index != i:
                    self.wrong += 1
                return f
        self.it = None
        self.cur = self.reader.frame(i)
        return self.cur

    def close(self) -> None:
        self.reader.close()


def _fmt_wall(dt, tz) -> str:
    t = dt.astimezone(tz)
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d} " + (t.tzname() or "")


# ============================================================================ rendering (no case access)
def render_review(plan: ReviewPlan, *, progress: Progress | None = None,
                  should_stop: ShouldStop | None = None) -> ExportResult:
    """Make the review video, its FFmpeg log and the signed ``manifest.json`` in ``plan.folder``.

    Progress messages carry the frame count, the speed and an ETA. A cancel (``should_stop()``)
    stops FFmpeg, removes everything this export wrote and raises :class:`Cancelled`.
    """
    from media_core.export.ass import AssDocument, find_fonts
    from media_core.export.ffmpeg import Graph, finish_ffmpeg, kill, start_ffmpeg
    from media_core.export.manifest import build_manifest, output_record, write_manifest
    from media_core.export.output import ExportFolder
    from media_core.export.raster_text import draw_text, text_width
    from media_core.io.video import VideoIndex, build_index
    from media_core.timefmt import format_time

    report = progress or no_progress
    t_start = time.monotonic()
    out = ExportFolder(plan.folder, originals=[f.path for f in plan.feeds])
    video_name, log_name = f"{plan.name}.mp4", f"{plan.name}.ffmpeg.log"
    out.final(video_name)
    out.final(log_name)
    notes = list(plan.notes)
    proc = None
    cursors: list[_Cursor] = []
    pool = None
    log_path = out.temp("ffmpeg.log")
    try:
        fonts = find_fonts()
        if fonts.warning:
            notes.append(fonts.warning)
        fonts.link_into(out.work)
        W, H = plan.size
        fps = float(plan.fps)
        n = plan.n_frames
        T = plan.start_s + np.arange(n, dtype=np.float64) / fps
        tiles = layout_tiles(plan.feeds, plan.size, plan.layout, plan.main_feed)
        by_id = {f.id: f for f in plan.feeds}

        # --- which frame (or slate) every tile shows at every output frame
        indexes: dict[int, VideoIndex] = {}
        states: dict[int, np.ndarray] = {}     # frame index >= 0, or -1 before, -2 after, -3 no video
        for j, f in enumerate(plan.feeds):
            check_cancel(should_stop, f"export of {video_name}")
            if f.has_video:
                idx = VideoIndex.from_dict(f.index) if f.index else build_index(f.path, should_stop=should_stop)
                indexes[f.id] = idx
                m = f.clock.to_media(T) + TIME_EPS_S
                i = np.searchsorted(idx.times_s, m, side="right") - 1
                ok = (i >= 0) & (i < len(idx))
                ic = np.clip(i, 0, max(0, len(idx) - 1))
                ok &= m < idx.times_s[ic] + idx.durations_s[ic]
                st = np.where(ok, ic, np.where(m < (idx.start_s if len(idx) else 0.0), -1, -2)).astype(np.int64)
            else:
                st = np.full(n, -3, np.int64)
            states[f.id] = st
            report(0.02 * (j + 1) / len(plan.feeds), "planning frames")

        # --- the ASS file: everything but the per-frame numbers
        top, bottom = bands(plan.size)
        ass = AssDocument(W, H)
        fs_small = max(10, int(round(H * 0.022)))
        fs_label = max(10, int(round(min(H * 0.024, min(t.strip_h for t in tiles) * 0.78))))
        ass.style("label", size=fs_label, colour=(235, 235, 235), box=False, outline=0, align=7)
        ass.style("source", size=fs_small, colour=(200, 210, 230), box=False, outline=0, align=4)
        ass.style("slate", size=max(12, int(round(H * 0.03))), colour=(230, 230, 230), back=(40, 40, 40),
                  back_alpha=0x00, align=5, outline=6)
        ass.style("muted", size=fs_label, colour=(255, 255, 255), back=(200, 0, 0),
                  back_alpha=0x00, bold=True, align=7, outline=2)
        ass.style("shot", size=max(12, int(round(top * 0.36))), colour=(255, 255, 255), back=(210, 0, 0),
                  back_alpha=0x00, bold=True, align=9, outline=3)
        ass.style("possible", size=max(12, int(round(top * 0.36))), colour=(20, 20, 20), back=(255, 170, 0),
                  back_alpha=0x00, bold=True, align=9, outline=3)
        ass.style("count", size=fs_small, colour=AMBER, box=False, outline=0, align=9)
        ass.style("caption", size=max(11, int(round(H * 0.028))), colour=(255, 255, 255), back=(0, 0, 0),
                  back_alpha=0x30, align=2, outline=4, margin_v=max(2, (bottom - int(H * 0.028)) // 2 - 2))

        half = 0.5 / fps

        def span(k0: int, k1: int) -> tuple[float, float]:
            return max(0.0, k0 / fps - half), (k1 / fps) + half

        end_all = n / fps + 1.0
        for t in tiles:
            f = by_id[t.feed_id]
            right_w = text_width("media -00:00:00.000  #000000", _cap(t.strip_h * 0.55))
            ass.add(0.0, end_all, "label", f.label, pos=(t.x + 6, t.y + max(1, (t.strip_h - fs_label) // 2 - 1)),
                    clip=(t.x, t.y, max(t.x + 20, t.x + t.w - right_w - 14), t.y + t.strip_h))
            px, py, pw, ph = t.pic
            st = states[f.id]
            kinds = np.where(st >= 0, 0, st)
            idx = indexes.get(f.id)
            for v, k0, k1 in _runs(kinds.tolist()):
                if v == 0:
                    continue
                a, b = span(k0, k1)
                if v == -1:
                    sub = f"starts at shared {format_time(f.clock.to_shared(idx.start_s), hours=True)}" if idx else ""
                elif v == -2:
                    sub = f"ended at shared {format_time(f.clock.to_shared(idx.end_s), hours=True)}" if idx else ""
                else:
                    sub = "audio only" if f.has_audio else ""
                word = SLATES[{-1: "before", -2: "after", -3: "novideo"}[v]]
                ass.add(a, b, "slate", word + ("\n" + sub if sub else ""), pos=(px + pw // 2, py + ph // 2))
            for ms, me, kind in f.mutes:
                k0, k1 = _frames_in(T, ms, me)
                if k1 < k0:
                    continue
                a, b = span(k0, k1)
                text = "NO AUDIO TRACK" if kind == "no-audio-track" else f"AUDIO MUTED ({kind})"
                ass.add(a, b, "muted", text, pos=(t.x + 6, t.y + t.h - t.strip_h - 1))

        # shots: a marker from the frame the shot falls in, and the running number
        marks = sorted(plan.shots)
        ks = [int(np.searchsorted(T, s[0] + TIME_EPS_S, side="right")) - 1 if s[0] < plan.start_s + n / fps else n
              for s in marks]
        dur = max(1, int(round(SHOT_MARKER_S * fps)))
        for j, ((ts, number, confident), k) in enumerate(zip(marks, ks)):
            if k < 0 or k >= n:
                continue
            k_next = next((kk for kk in ks[j + 1:] if kk > k), n)
            a, b = span(k, min(k + dur - 1, k_next - 1, n - 1))
            label = f"SHOT {number}" if confident and number is not None else "POSSIBLE SHOT"
            ass.add(a, b, "shot" if confident else "possible", label, pos=(W - 8, 4))
        if marks:
            conf_ks = np.sort(np.asarray([k for k, s in zip(ks, marks) if s[2]], np.int64))
            counts = np.searchsorted(conf_ks, np.arange(n), side="right")
            for v, k0, k1 in _runs(counts.tolist()):
                a, b = span(k0, k1)
                ass.add(a, b, "count", f"shots so far: {v} of {plan.shots_total} ({plan.shots_source})",
                        pos=(W - 8 - int(top * 2.2), 6))
        for sa, sb, text in plan.annotations:
            k0, k1 = _frames_in(T, sa, sb)
            if k1 < k0:
                continue
            a, b = span(k0, k1)
            ass.add(a, b, "caption", text)
        import datetime as _dt

        tz, zone_label = _wall_zone(plan.wall_zone)
        wall0 = _dt.datetime.fromisoformat(plan.wall_origin) if plan.wall_origin else None
        cap_top, cap_wall = _cap(top * 0.30), _cap(top * 0.22)
        wall_w = text_width("WALL CLOCK  0000-00-00 00:00:00.000 XXXXX", cap_wall, bold=True)
        src_text = (f"zone {zone_label}; {plan.wall_source}" if wall0 is not None
                    else "no wall clock: no feed of the case carries a camera clock")
        ass.add(0.0, end_all, "source", src_text, pos=(12 + wall_w + 14, int(top * 0.80)),
                clip=(0, 0, W - 6, top))
        ass.write(out.work / "overlay.ass")

        # --- audio: one feed or a mix, on the shared clock, drift-corrected, written first
        audio_ok = bool(plan.audio)
        if audio_ok:
            _write_audio(plan, out.work / "audio.wav", n / fps, should_stop=should_stop,
                         progress=lambda fr, m="": report(0.02 + 0.06 * fr, "mixing audio"))

        # --- the static picture: bands, strips, letterbox
        base = np.zeros((H, W, 3), np.uint8)
        base[:top] = BAND
        base[H - bottom:] = (10, 10, 10)
        base[top - 2:top] = AMBER
        for t in tiles:
            base[t.y:t.y + t.strip_h, t.x:t.x + t.w] = (36, 36, 36)
            base[t.y + t.h - t.strip_h - 1:t.y + t.h, t.x:t.x + t.w] = (28, 28, 28)
            base[t.y + t.h - 1:t.y + t.h, t.x:t.x + t.w] = (60, 60, 60)
            base[t.y:t.y + t.h, t.x + t.w - 1:t.x + t.w] = (60, 60, 60)
        slate_img = {}
        for t in tiles:
            px, py, pw, ph = t.pic
            yy, xx = np.mgrid[0:ph, 0:pw]
            hatch = ((xx + yy) // 12) % 2 == 0
            img = np.empty((ph, pw, 3), np.uint8)
            img[:] = (48, 48, 52)
            img[hatch] = (58, 58, 62)
            slate_img[t.feed_id] = img

        # --- FFmpeg: raw frames in, subtitles burned, H.264 + AAC out
        g = Graph()
        g.chain(["0:v"], [("format", {"pix_fmts": "yuv420p"}),
                          ("subtitles", {"filename": "overlay.ass", "fontsdir": "fonts"})], ["v"])
        g.write(out.work / "graph.txt")
        rate = f"{plan.fps.numerator}/{plan.fps.denominator}"
        args = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-framerate", rate, "-i", "pipe:0"]
        if audio_ok:
            args += ["-i", "file:audio.wav"]
        args += ["-/filter_complex", "graph.txt", "-map", "[v]"]
        if audio_ok:
            args += ["-map", "1:a", "-c:a", "aac", "-b:a", "160k"]
        args += ["-c:v", "libx264", "-preset", plan.preset, "-crf", str(plan.crf), "-pix_fmt", "yuv420p",
                 "-g", str(max(1, int(round(fps * 2)))), "-movflags", "+faststart",
                 "-metadata", "comment=Evidence Audit review export; see manifest.json",
                 "-fps_mode", "passthrough", "-f", "mp4", "file:review.mp4"]
        for a in (plan.preset,):
            if not a.replace("-", "").isalnum():
                raise ParameterError(f"bad preset {a!r}")
        proc = start_ffmpeg(args, cwd=out.work, log_path=log_path, stdin_pipe=True)

        from concurrent.futures import ThreadPoolExecutor

        for t in tiles:
            f = by_id[t.feed_id]
            if f.has_video:
                cursors.append(_Cursor(f.path, indexes[f.id], (t.pic[2], t.pic[3])))
            else:
                cursors.append(None)
        pool = ThreadPoolExecutor(max_workers=max(1, sum(c is not None for c in cursors)))
        last_report = 0.0
        canvas = np.empty_like(base)
        for k in range(n):
            if should_stop is not None and should_stop():
                raise Cancelled(f"export of {video_name}")
            futs = []
            for t, c in zip(tiles, cursors):
                i = int(states[t.feed_id][k])
                futs.append(pool.submit(c.get, i) if (c is not None and i >= 0) else None)
            np.copyto(canvas, base)
            Tk = float(T[k])
            draw_text(canvas, f"SHARED CLOCK  {format_time(Tk, hours=True)}", (12, int(top * 0.44)),
                      cap_px=cap_top, colour=AMBER, bold=True)
            wall_txt = f"WALL CLOCK  {_fmt_wall(wall0 + _dt.timedelta(seconds=Tk), tz)}" if wall0 is not None \
                else "WALL CLOCK  unknown"
            draw_text(canvas, wall_txt, (12, int(top * 0.86)), cap_px=cap_wall, colour=(150, 220, 255), bold=True)
            for t, fut in zip(tiles, futs):
                f = by_id[t.feed_id]
                px, py, pw, ph = t.pic
                i = int(states[t.feed_id][k])
                if fut is not None:
                    fr = fut.result()
                    canvas[py:py + ph, px:px + pw] = fr.rgb
                    media = f"media {format_time(float(indexes[f.id].times_s[i]), hours=True)}  #{i}"
                else:
                    canvas[py:py + ph, px:px + pw] = slate_img[t.feed_id]
                    media = "media -"
                cap = _cap(t.strip_h * 0.55)
                draw_text(canvas, media, (t.x + t.w - text_width(media, cap) - 8, t.y + int(t.strip_h * 0.75)),
                          cap_px=cap, colour=(190, 230, 190))
            try:
                proc.stdin.write(canvas.data)
            except (BrokenPipeError, OSError):
                finish_ffmpeg(proc, output_name=str(out.path / video_name), log_path=log_path)
                raise ExportError(f"{out.path / video_name}: FFmpeg stopped reading frames; full log in {log_path}")
            now = time.monotonic()
            if now - last_report > 0.5 or k == n - 1:
                last_report = now
                el = now - t_start
                speed = (k + 1) / max(1e-6, el)
                eta = (n - k - 1) / max(1e-6, speed)
                report(0.08 + 0.9 * (k + 1) / n,
                       f"frame {k + 1}/{n}, {speed:.1f} fps ({speed / fps:.2f}x real time), ETA {eta:.0f} s")
        pool.shutdown()
        pool = None
        finish_ffmpeg(proc, output_name=str(out.path / video_name), log_path=log_path)
        proc = None
        wrong = sum(c.wrong for c in cursors if c is not None)
        if wrong:
            notes.append(f"{wrong} tile frame(s) could not be decoded; the next decodable frame was shown")
        video = out.commit(out.work / "review.mp4", video_name)
        log = out.commit(log_path, log_name)
        outputs = [output_record(video, "video", frames=n, fps=f"{plan.fps.numerator}/{plan.fps.denominator}",
                                 shared_range=[plan.start_s, plan.end_s],
                                 tiles=[asdict(t) for t in tiles]),
                   output_record(log, "log")]
        doc = build_manifest(kind="review", options=plan.options, case=plan.case, sources=plan.sources,
                             outputs=outputs, notes=notes, made_by=plan.made_by, fonts=fonts.names())
        mpath, msha = write_manifest(out.path, doc)
        out.cleanup()
        elapsed = time.monotonic() - t_start
        report(1.0, f"wrote {video.name}")
        details = {"folder": str(out.path), "manifest_sha256": msha,
                   "outputs": [{"file": o["file"], "sha256": o["sha256"]} for o in outputs],
                   "feeds": [f.id for f in plan.feeds], "shared_range": [plan.start_s, plan.end_s],
                   "changed_originals": [s["feed_id"] for s in plan.sources if s["status"] == "changed"]}
        stats = {"frames": n, "seconds": n / fps, "elapsed_s": elapsed, "tiles": [asdict(t) for t in tiles]}
        return ExportResult("review", str(out.path), [str(video), str(log)], str(mpath), msha, notes, details, stats)
    except BaseException as exc:
        if proc is not None:
            kill(proc)
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if log_path.is_file() and not isinstance(exc, (Cancelled, KeyboardInterrupt)):
            # a failure keeps FFmpeg's log beside the export (never under the final name)
            try:
                os.replace(log_path, out.path / f"{plan.name}.failed.ffmpeg.log")
            except OSError:
                pass
        out.cleanup(failed=True)
        raise
    finally:
        for c in cursors:
            if c is not None:
                c.close()


def _cap(px: float) -> float:
    """Cap height in pixels for text about ``px`` pixels tall (never below a legible 7 px)."""
    return max(7.0, float(px))


def _write_audio(plan: ReviewPlan, path: Path, duration_s: float, *, should_stop=None, progress=None) -> None:
    """The chosen feeds' audio on the shared clock, mixed at gain 1/n each, as 48 kHz 16-bit WAV."""
    import wave

    from media_core.io.audio_out import SharedClockPcm, to_s16_bytes

    sr = 48000
    feeds = [f for f in plan.feeds if f.id in plan.audio]
    chans = 2
    readers = [SharedClockPcm(f.path, clock=f.clock, sr=sr, channels=chans) for f in feeds]
    gain = np.float32(1.0 / len(readers))
    total = int(round(duration_s * sr))
    try:
        for r in readers:
            r.seek(plan.start_s)
        with wave.open(os.fspath(path), "wb") as w:
            w.setnchannels(chans)
            w.setsampwidth(2)
            w.setframerate(sr)
            done = 0
            while done < total:
                check_cancel(should_stop, "audio of the review video")
                m = min(sr, total - done)
                y = np.zeros((chans, m), np.float32)
                for r in readers:
                    y += r.read(m) * gain
                w.writeframes(to_s16_bytes(y))
                done += m
                if progress is not None:
                    progress(done / total, "")
    finally:
        for r in readers:
            r.close()


# ============================================================================ the audit log and the whole call
def record_export(case, result: ExportResult) -> None:
    """Write the export into the case's audit log (``export.review`` / ``export.clips``)."""
    case.record_event(f"export.{result.kind}", result.details)


def export_review(case, folder: str | os.PathLike, options: ReviewOptions | None = None, *,
                  progress: Progress | None = None, should_stop: ShouldStop | None = None) -> ExportResult:
    """Plan, render and record a review video (what ``evidence-audit export review`` does)."""
    plan = plan_review(case, folder, options)
    result = render_review(plan, progress=progress, should_stop=should_stop)
    record_export(case, result)
    return result
