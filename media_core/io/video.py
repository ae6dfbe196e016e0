"""Frame-accurate video access for review: a packet index per feed and a seeking reader.

The index lists every video packet's presentation time and keyframe flag, read by demuxing
only (no decoding), so that "which frame covers media time *t*" and "where is the keyframe
before it" are array look-ups. :class:`VideoReader` uses the index to seek exactly: it jumps
to the keyframe at or before the wanted frame and decodes forward, or simply decodes forward
when the wanted frame is a few frames ahead of the last one decoded.

Times are seconds on the file's own presentation timeline, zero at the container's start
(what a player shows), the same convention as :mod:`media_core.listeners`.

Thread safety: one :class:`VideoReader` owns one open container and serialises its own calls
with a lock. Use one reader per thread (or per feed tile); readers may share one
:class:`VideoIndex`, which is immutable.

Examples
--------
>>> index = build_index("bodycam_A.mp4")                          # doctest: +SKIP
>>> with VideoReader("bodycam_A.mp4", index=index, size=(640, 360)) as r:  # doctest: +SKIP
...     f = r.frame_at(12.5)          # the frame on screen at 12.5 s, or None (no footage)
...     f.rgb.shape, f.pts_s, f.index
((360, 640, 3), 12.5, 375)
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from media_core.clock import seconds_per_tick
from media_core.errors import DecodeError, MediaError, ParameterError
from media_core.io.probe import container_start_s
from media_core.progress import Progress, ShouldStop, check_cancel

ALGORITHM_VERSION = "1"

__all__ = ["VideoIndex", "VideoFrame", "VideoReader", "build_index", "fit_size"]


def _open(path):
    from media_core.io.probe import open_container

    return open_container(path)  # MediaError / NotMediaError naming the file


def _video_stream(container, path):
    if not container.streams.video:
        container.close()
        raise MediaError(path, "has no video stream")
    return container.streams.video[0]


@dataclass(frozen=True)
class VideoIndex:
    """Presentation timestamps and keyframes of one video stream, in display order.

    Attributes
    ----------
    path : str
    pts : ndarray of int64, shape (n,)
        Raw presentation timestamps in ``time_base`` units, sorted ascending.
    times_s : ndarray of float64, shape (n,)
        ``pts`` in seconds from the container's start (media time).
    durations_s : ndarray of float64, shape (n,)
        How long each frame is on screen (gap to the next frame; the last one uses the
        packet duration or the median frame interval).
    keyframe : ndarray of bool, shape (n,)
    time_base : float
        Seconds per pts tick.
    start_offset_s : float
        Container start time in seconds (subtracted from stream times to give media time).
    fps : float
        Median frame rate.
    width, height : int
        Coded picture size.
    """

    path: str
    pts: np.ndarray
    times_s: np.ndarray
    durations_s: np.ndarray
    keyframe: np.ndarray
    time_base: float
    start_offset_s: float
    fps: float
    width: int
    height: int
    algorithm_version: str = ALGORITHM_VERSION
    _keyframe_idx: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_keyframe_idx", np.flatnonzero(self.keyframe))

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return int(self.pts.shape[0])

    @property
    def start_s(self) -> float:
        """Media time the first frame appears (``nan`` if the stream has no frames)."""
        return float(self.times_s[0]) if len(self) else float("nan")

    @property
    def end_s(self) -> float:
        """Media time the last frame leaves the screen."""
        return float(self.times_s[-1] + self.durations_s[-1]) if len(self) else float("nan")

    @property
    def frame_interval_s(self) -> float:
        return 1.0 / self.fps if self.fps > 0 else 1.0 / 30.0

    def index_at(self, media_s: float) -> int | None:
        """Index of the frame on screen at ``media_s`` or ``None`` outside the footage."""
        n = len(self)
        if n == 0 or not np.isfinite(media_s):
            return None
        i = int(np.searchsorted(self.times_s, media_s, side="right")) - 1
        if i < 0:
            return None
        if media_s >= self.times_s[i] + self.durations_s[i]:
            return None
        return i

    def nearest_index(self, media_s: float) -> int:
        """Index of the frame on screen at ``media_s``, clamped to the first/last frame."""
        i = int(np.searchsorted(self.times_s, media_s, side="right")) - 1
        return min(max(i, 0), len(self) - 1)

    def keyframe_at_or_before(self, i: int) -> int:
        k = int(np.searchsorted(self._keyframe_idx, i, side="right")) - 1
        return int(self._keyframe_idx[k]) if k >= 0 else 0

    def has_keyframe_between(self, a: int, b: int) -> bool:
        """True when a keyframe lies in the index range ``(a, b]``."""
        lo = np.searchsorted(self._keyframe_idx, a, side="right")
        hi = np.searchsorted(self._keyframe_idx, b, side="right")
        return hi > lo

    def coverage(self) -> tuple[float, float]:
        """``(start_s, end_s)`` of the footage in media time."""
        return self.start_s, self.end_s

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        """JSON-friendly form (for storing in the case so reopening does not re-index)."""
        return {
            "schema": "evidence-audit.video_index/1",
            "algorithm_version": self.algorithm_version,
            "path": self.path,
            "pts": self.pts.tolist(),
            "durations_s": self.durations_s.tolist(),
            "keyframe": np.flatnonzero(self.keyframe).tolist(),
            "time_base": self.time_base,
            "start_offset_s": self.start_offset_s,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "VideoIndex":
        if d.get("schema") != "evidence-audit.video_index/1":
            raise ParameterError(f"not a video index: schema {d.get('schema')!r}")
        pts = np.asarray(d["pts"], dtype=np.int64)
        key = np.zeros(pts.shape[0], dtype=bool)
        key[np.asarray(d["keyframe"], dtype=np.int64)] = True
        tb = float(d["time_base"])
        start = float(d["start_offset_s"])
        return cls(
            path=d["path"], pts=pts, times_s=pts * tb - start,
            durations_s=np.asarray(d["durations_s"], dtype=np.float64), keyframe=key,
            time_base=tb, start_offset_s=start, fps=float(d["fps"]),
            width=int(d["width"]), height=int(d["height"]),
            algorithm_version=d.get("algorithm_version", ALGORITHM_VERSION),
        )


def build_index(path, *, progress: Progress | None = None, should_stop: ShouldStop | None = None) -> VideoIndex:
    """Index a file's first video stream by demuxing its packets (no decoding).

    Parameters
    ----------
    path : str or PathLike
    progress : Progress, optional
        ``progress(fraction, message)`` every few hundred packets (fraction by bytes read).
    should_stop : callable, optional
        Polled every few hundred packets; when it returns True, :class:`~media_core.errors.Cancelled` is raised.

    Returns
    -------
    VideoIndex

    Raises
    ------
    MediaError
        Missing file or no video stream. ``NotMediaError`` when FFmpeg cannot read it.
    """
    import av

    path = os.fspath(path)
    name = os.path.basename(path)
    container = _open(path)
    size = os.path.getsize(path)
    try:
        vs = _video_stream(container, path)
        tb = seconds_per_tick(vs.time_base)
        start = container_start_s(container)
        pts_list: list[int] = []
        dur_list: list[int] = []
        key_list: list[bool] = []
        try:
            for n, pkt in enumerate(container.demux(vs)):
                if pkt.pts is None:  # flush packet or missing timestamp
                    continue
                pts_list.append(int(pkt.pts))
                dur_list.append(int(pkt.duration or 0))
                key_list.append(bool(pkt.is_keyframe))
                if n % 256 == 0:
                    check_cancel(should_stop, f"{path}: video indexing")
                    if progress is not None and size and pkt.pos is not None and pkt.pos >= 0:
                        progress(min(1.0, pkt.pos / size), f"indexing {name}")
        except av.FFmpegError as exc:
            raise DecodeError(path, f"demuxing failed after {len(pts_list)} video packets ({exc})") from exc
        width, height = int(vs.codec_context.width), int(vs.codec_context.height)
        rate = vs.average_rate or vs.guessed_rate
    finally:
        container.close()

    pts = np.asarray(pts_list, dtype=np.int64)
    order = np.argsort(pts, kind="stable")
    pts = pts[order]
    pkt_dur = np.asarray(dur_list, dtype=np.float64)[order] * tb
    key = np.asarray(key_list, dtype=bool)[order]
    if pts.size and not key[0]:
        key[0] = True  # decoding must start somewhere; FFmpeg recovers from the first packet
    times = pts * tb - start
    if pts.size >= 2:
        gaps = np.diff(times)
        median = float(np.median(gaps))
        durations = np.empty_like(times)
        durations[:-1] = gaps
        durations[-1] = pkt_dur[-1] if pkt_dur[-1] > 0 else median
        fps = 1.0 / median if median > 0 else float(rate or 30.0)
    elif pts.size == 1:
        fps = float(rate or 30.0)
        durations = np.asarray([pkt_dur[0] if pkt_dur[0] > 0 else 1.0 / fps])
    else:
        fps = float(rate or 30.0)
        durations = np.zeros(0)
    if progress is not None:
        progress(1.0, f"indexed {name}")
    return VideoIndex(
        path=path, pts=pts, times_s=times, durations_s=durations, keyframe=key, time_base=tb,
        start_offset_s=start, fps=fps, width=width, height=height,
    )


def fit_size(src_w: int, src_h: int, box_w: int, box_h: int) -> tuple[int, int]:
    """Largest even ``(w, h)`` with the source's aspect ratio that fits in the box."""
    if src_w <= 0 or src_h <= 0 or box_w <= 0 or box_h <= 0:
        return max(2, src_w), max(2, src_h)
    s = min(box_w / src_w, box_h / src_h)
    w = max(2, int(src_w * s) // 2 * 2)
    h = max(2, int(src_h * s) // 2 * 2)
    return w, h


@dataclass(frozen=True)
class VideoFrame:
    """One decoded picture.

    ``rgb`` is uint8, shape ``(h, w, 3)`` (``(h, w, 4)`` B,G,R,A with ``pixel_format="bgra"``),
    C-contiguous. ``pts_s`` is its media time,
    ``index`` its position in the :class:`VideoIndex`, ``duration_s`` how long it stays on screen.
    """

    rgb: np.ndarray
    pts_s: float
    index: int
    duration_s: float

    @property
    def end_s(self) -> float:
        return self.pts_s + self.duration_s


class VideoReader:
    """Exact seeking and stepping in one file's video, one open container per reader.

    Parameters
    ----------
    path : str or PathLike
    index : VideoIndex, optional
        Built with :func:`build_index` when not given.
    size : (int, int), optional
        Output ``(width, height)`` of the RGB frames (scaled by swscale after decoding).
        ``None`` keeps the coded size.
    threads : int
        Decoder threads (slice/frame threading). 1 keeps seeks shortest; more helps a lone
        feed play fast.
    cache_frames : int
        How many recently decoded frames to keep, so stepping backwards within a GOP does
        not decode the GOP again each time.
    forward_decode_limit : int
        Wanted frame at most this many frames ahead of the last decoded one (with no keyframe
        between) is reached by decoding forward instead of seeking.
    interpolation : str
        swscale filter for scaled output: ``"BILINEAR"`` (default) or ``"FAST_BILINEAR"``
        (about half the cost; what a player needs for small tiles), ``"AREA"``, ``"BICUBIC"``...
    pixel_format : {"rgb24", "bgra"}
        ``rgb24`` gives ``(h, w, 3)`` RGB (the default); ``bgra`` gives ``(h, w, 4)`` bytes
        B, G, R, A, which a GUI toolkit paints without converting (Qt's ``Format_RGB32``).
    """

    def __init__(self, path, *, index: VideoIndex | None = None, size: tuple[int, int] | None = None,
                 threads: int = 1, cache_frames: int = 48, forward_decode_limit: int = 90,
                 pixel_format: str = "rgb24", interpolation: str = "BILINEAR"):
        if pixel_format not in ("rgb24", "bgra"):
            raise ParameterError(f"pixel_format must be 'rgb24' or 'bgra', got {pixel_format!r}")
        self.pixel_format = pixel_format
        self.interpolation = interpolation
        self.path = os.fspath(path)
        self.index = index if index is not None else build_index(self.path)
        self._lock = threading.RLock()
        self._container = _open(self.path)
        self._stream = _video_stream(self._container, self.path)
        cc = self._stream.codec_context
        if threads > 1:
            cc.thread_type = "AUTO"
            cc.thread_count = int(threads)
        else:
            cc.thread_count = 1
        self._size = None
        self.set_output_size(size)
        self._decoder = None  # generator over decoded frames
        self._last_idx: int | None = None  # index of the last frame the decoder produced
        self._cache: OrderedDict[int, VideoFrame] = OrderedDict()
        self._cache_max = int(cache_frames)
        self._forward_limit = int(forward_decode_limit)
        self.frames_decoded = 0
        self.seeks = 0

    # ----------------------------------------------------------------- setup
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._container is not None:
                self._decoder = None
                self._container.close()
                self._container = None

    @property
    def output_size(self) -> tuple[int, int]:
        return self._size or (self.index.width, self.index.height)

    def set_output_size(self, size: tuple[int, int] | None) -> None:
        """Change the size of the frames returned from now on (clears the frame cache)."""
        with self._lock:
            if size is not None:
                w, h = int(size[0]), int(size[1])
                if w <= 0 or h <= 0:
                    raise ParameterError(f"{self.path}: output size must be positive, got {size}")
                size = (w, h)
                if size == (self.index.width, self.index.height):
                    size = None
            if size != self._size:
                self._size = size
                self._cache = OrderedDict()

    # ------------------------------------------------------------- decoding
    def _to_frame(self, avframe, i: int) -> VideoFrame:
        if self._size is None:
            rgb = avframe.to_ndarray(format=self.pixel_format)
        else:
            rgb = avframe.reformat(width=self._size[0], height=self._size[1], format=self.pixel_format,
                                   interpolation=self.interpolation).to_ndarray()
        rgb = np.ascontiguousarray(rgb)
        return VideoFrame(rgb=rgb, pts_s=float(self.index.times_s[i]), index=i,
                          duration_s=float(self.index.durations_s[i]))

    def _remember(self, f: VideoFrame) -> None:
        self._cache[f.index] = f
        self._cache.move_to_end(f.index)
        while len(self._cache) > self._cache_max:
            self._cache.popitem(last=False)

    def _seek_to(self, i: int) -> None:
        k = self.index.keyframe_at_or_before(i)
        import av

        try:
            self._container.seek(int(self.index.pts[k]), stream=self._stream, backward=True,
                                 any_frame=False)
        except av.FFmpegError as exc:
            raise DecodeError(self.path, f"seek to {self.index.times_s[k]:.3f} s failed ({exc})") from exc
        self._decoder = self._container.decode(self._stream)
        self._last_idx = None
        self.seeks += 1

    def _decode_next(self):
        """Decode the next frame: ``(index, av.VideoFrame)`` or ``None`` at the end."""
        import av

        if self._decoder is None:
            self._seek_to(0)
        while True:
            try:
                fr = next(self._decoder)
            except StopIteration:
                self._decoder = None
                return None
            except av.FFmpegError as exc:
                raise DecodeError(self.path, f"decoding failed near frame {self._last_idx} ({exc})") from exc
            self.frames_decoded += 1
            if fr.pts is None:
                continue
            i = int(np.searchsorted(self.index.pts, fr.pts, side="left"))
            if i >= len(self.index) or self.index.pts[i] != fr.pts:
                i = max(0, min(i, len(self.index) - 1))  # unknown pts: nearest indexed frame
            self._last_idx = i
            return i, fr

    def _frame_index(self, i: int, *, cache_between: bool = False) -> VideoFrame:
        if self._container is None:
            raise MediaError(self.path, "reader is closed")
        hit = self._cache.get(i)
        if hit is not None:
            self._cache.move_to_end(i)
            return hit
        last = self._last_idx
        forward_ok = (last is not None and self._decoder is not None and last < i
                      and (i - last <= self._forward_limit)
                      and not (self.index.has_keyframe_between(last, i) and i - last > 8))
        if not forward_ok:
            self._seek_to(i)
        best = None
        for _attempt in range(2):
            while True:
                got = self._decode_next()
                if got is None:
                    break
                j, fr = got
                if j >= i:
                    best = self._to_frame(fr, j)
                    break
                if cache_between and i - j <= self._cache_max:
                    self._remember(self._to_frame(fr, j))
            if best is not None:
                break
            # ran off the end (or the forward decoder was exhausted): seek once more
            self._seek_to(i)
        if best is None:
            raise DecodeError(self.path, f"frame {i} at {self.index.times_s[i]:.3f} s could not be decoded")
        self._remember(best)
        return best

    # ---------------------------------------------------------------- public
    def frame(self, i: int, *, cache_between: bool = False) -> VideoFrame:
        """The frame at index ``i`` of the index (exact).

        ``cache_between`` also converts and keeps the frames decoded on the way from the
        keyframe (worth it when the caller will step backwards next).
        """
        with self._lock:
            if not 0 <= i < len(self.index):
                raise ParameterError(f"{self.path}: frame index {i} outside 0..{len(self.index) - 1}")
            return self._frame_index(int(i), cache_between=cache_between)

    def frame_at(self, media_s: float) -> VideoFrame | None:
        """The frame on screen at ``media_s`` (its pts <= t < pts + duration), or ``None``."""
        i = self.index.index_at(media_s)
        if i is None:
            return None
        return self.frame(i)

    def next_frame(self, current: VideoFrame | int) -> VideoFrame | None:
        """The frame after ``current`` (a frame or an index), ``None`` at the end."""
        i = current.index if isinstance(current, VideoFrame) else int(current)
        return self.frame(i + 1) if i + 1 < len(self.index) else None

    def previous_frame(self, current: VideoFrame | int) -> VideoFrame | None:
        """The frame before ``current``, ``None`` at the start."""
        i = current.index if isinstance(current, VideoFrame) else int(current)
        return self.frame(i - 1, cache_between=True) if i - 1 >= 0 else None

    def iter_from(self, media_s: float, *, should_stop=None, skip=None):
        """Yield frames in order from the one on screen at ``media_s`` (sequential playback).

        Frames are decoded forward without re-seeking. ``should_stop()`` is polled before each
        frame. ``skip(index)`` returning True means "too late to show": that frame is decoded
        (the decoder needs it) but not converted to RGB nor yielded.
        """
        i = self.index.index_at(media_s)
        if i is None:
            if len(self.index) == 0 or media_s >= self.index.end_s:
                return
            i = 0
        with self._lock:
            hit = self._cache.get(i)
            if hit is not None and self._last_idx == i and self._decoder is not None:
                first = hit  # the decoder stands right after it: go on from there, no seek
            else:
                self._cache.pop(i, None)  # decode it, so the decoder stands right after it
                first = self._frame_index(i)
        yield first
        while True:
            if should_stop is not None and should_stop():
                return
            with self._lock:
                got = self._decode_next()
                if got is None:
                    return
                j, fr = got
                if skip is not None and skip(j):
                    continue
                f = self._to_frame(fr, j)
            yield f

    def decoded_index(self) -> int | None:
        """Index of the frame the decoder produced last (for tests and diagnostics)."""
        return self._last_idx
