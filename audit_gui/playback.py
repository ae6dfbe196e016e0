"""The master playback clock and the per-feed decode threads.

One :class:`MasterClock` (a ``QElapsedTimer`` plus an anchor) gives the shared-clock time while
playing; every tile maps it to its feed's media time through ``case.clock(feed_id).to_media`` and
shows the frame whose presentation interval covers that time. Each feed has a
:class:`FeedDecoder` thread with its own :class:`~media_core.io.video.VideoReader`; the GUI thread
sends it requests (seek, play from, stop, resize) and receives frames as ``QImage`` by signal or
from its small play-ahead buffer. Decoders never touch widgets or the case.
"""
from __future__ import annotations

import sys
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QElapsedTimer, QThread, Signal
from PySide6.QtGui import QImage

from media_core.io.video import VideoIndex, VideoReader

PLAY_AHEAD = 12  # frames buffered per feed while playing (400 ms at 30 fps: rides out short CPU starvation)


class MasterClock:
    """Shared-clock position that advances in real time at ``rate`` while playing.

    Reading :meth:`now` is safe from any thread (QElapsedTimer only reads the monotonic clock).
    """

    def __init__(self):
        self._timer = QElapsedTimer()
        self._timer.start()
        self._lock = threading.Lock()
        self._anchor_shared = 0.0
        self._anchor_ns = 0
        self.rate = 1.0
        self.playing = False

    def now(self) -> float:
        with self._lock:
            if not self.playing:
                return self._anchor_shared
            return self._anchor_shared + (self._timer.nsecsElapsed() - self._anchor_ns) * 1e-9 * self.rate

    def set(self, shared_s: float) -> None:
        with self._lock:
            self._anchor_shared = float(shared_s)
            self._anchor_ns = self._timer.nsecsElapsed()

    def play(self, rate: float | None = None) -> None:
        t = self.now()
        with self._lock:
            if rate is not None:
                self.rate = float(rate)
            self._anchor_shared = t
            self._anchor_ns = self._timer.nsecsElapsed()
            self.playing = True

    def pause(self) -> float:
        t = self.now()
        with self._lock:
            self.playing = False
            self._anchor_shared = t
        return t

    def set_rate(self, rate: float) -> None:
        t = self.now()
        with self._lock:
            self.rate = float(rate)
            self._anchor_shared = t
            self._anchor_ns = self._timer.nsecsElapsed()


@dataclass(frozen=True)
class ShownFrame:
    """A decoded frame ready to paint (built in the decode thread)."""

    image: QImage
    pts_s: float
    end_s: float
    index: int
    generation: int
    pixels: object = None  # the numpy array the image points into (kept alive with it)


def to_qimage(pix: np.ndarray) -> QImage:
    """Wrap decoded pixels ((h, w, 4) BGRA from the reader, or (h, w, 3) RGB) in a QImage.

    BGRA is Qt's native ``Format_RGB32`` on little-endian machines: painting it needs no
    conversion. The QImage shares the array's memory; :class:`ShownFrame` keeps the array alive.
    """
    h, w, c = pix.shape
    fmt = QImage.Format.Format_RGB32 if c == 4 else QImage.Format.Format_RGB888
    return QImage(pix.data, w, h, c * w, fmt)


class FeedDecoder(QThread):
    """Decode thread for one feed.

    Signals
    -------
    frame_ready(object)
        A :class:`ShownFrame`, or ``None`` for "no footage at the sought time" (with the
        generation in ``last_none_generation``), answering :meth:`request_seek`.
    failed(str)
        A decode error message (the tile shows it).
    """

    frame_ready = Signal(object, int)   # ShownFrame | None, generation
    failed = Signal(str)

    def __init__(self, feed_id: int, path: str, index: VideoIndex, size: tuple[int, int] | None = None,
                 threads: int = 1, parent=None):
        super().__init__(parent)
        self.feed_id = feed_id
        self.path = path
        self.index = index
        self._threads = threads
        self._cond = threading.Condition()
        self._size = size
        self._size_dirty = size is not None
        self._seek: tuple[float, int] | None = None
        self._play: tuple[float, int] | None = None  # (media start, generation) to (re)start from
        self._playing = False
        self._media_now = None  # callable -> current media time (for skipping late frames)
        self._buf: deque[ShownFrame] = deque()
        self.skipped = 0  # frames decoded too late to convert (counted as drops by the caller)
        self._gen = 0

    # ------------------------------------------------------------------ GUI thread API
    @property
    def size(self) -> tuple[int, int] | None:
        """The size frames are scaled to (None: coded size)."""
        return self._size

    def set_output_size(self, size: tuple[int, int] | None) -> None:
        with self._cond:
            if size != self._size:
                self._size = size
                self._size_dirty = True
                self._cond.notify_all()

    def request_seek(self, media_s: float, generation: int) -> None:
        """Decode the frame covering ``media_s``; the answer carries ``generation``."""
        with self._cond:
            self._seek = (float(media_s), int(generation))
            self._playing = False
            self._play = None
            self._buf.clear()
            self._cond.notify_all()

    def start_playing(self, media_s: float, generation: int, media_now) -> None:
        """Decode ahead from ``media_s``; ``media_now()`` tells how late the decoder is."""
        with self._cond:
            self._seek = None
            self._play = (float(media_s), int(generation))
            self._playing = True
            self._media_now = media_now
            self._buf.clear()
            self._cond.notify_all()

    def stop_playing(self) -> None:
        with self._cond:
            self._playing = False
            self._play = None
            self._buf.clear()
            self._cond.notify_all()

    def take_due(self, media_now: float) -> ShownFrame | None:
        """The newest buffered frame that has started by ``media_now`` (None: nothing yet).

        Frames overtaken by a later one are discarded; the caller counts drops as the frames
        of the played interval it never got to show.
        """
        with self._cond:
            buf = self._buf
            while len(buf) >= 2 and buf[1].pts_s <= media_now:
                buf.popleft()
            show = buf[0] if buf and buf[0].pts_s <= media_now else None
            self._cond.notify_all()
        return show

    def stop(self) -> None:
        self.requestInterruption()
        with self._cond:
            self._cond.notify_all()
        self.wait(5000)

    # ------------------------------------------------------------------ thread
    def run(self) -> None:  # noqa: C901 - one loop, several request kinds
        try:
            reader = VideoReader(self.path, index=self.index, size=self._size, threads=self._threads,
                                 pixel_format="bgra" if sys.byteorder == "little" else "rgb24",
                                 interpolation="FAST_BILINEAR")
        except Exception as exc:
            self.failed.emit(str(exc))
            return
        play_iter = None
        play_gen = 0
        try:
            while not self.isInterruptionRequested():
                with self._cond:
                    while (not self.isInterruptionRequested() and self._seek is None and self._play is None
                           and not self._size_dirty
                           and not (self._playing and play_iter is not None and len(self._buf) < PLAY_AHEAD)):
                        self._cond.wait(0.05)
                    if self.isInterruptionRequested():
                        break
                    if self._size_dirty:
                        reader.set_output_size(self._size)
                        self._size_dirty = False
                    seek, self._seek = self._seek, None
                    play, self._play = self._play, None
                    playing = self._playing
                    media_now = self._media_now
                if seek is not None:
                    play_iter = None
                    t, gen = seek
                    f = reader.frame_at(t)
                    if f is None:
                        self.frame_ready.emit(None, gen)
                    else:
                        self.frame_ready.emit(ShownFrame(to_qimage(f.rgb), f.pts_s, f.end_s, f.index, gen, f.rgb), gen)
                    continue
                if play is not None:
                    t, play_gen = play
                    ix = self.index

                    def late(j, ix=ix, media_now=media_now):
                        return ix.times_s[j] + ix.durations_s[j] < media_now()

                    play_iter = reader.iter_from(max(t, ix.start_s if len(ix) else t), skip=late,
                                                 should_stop=self.isInterruptionRequested)
                    self.skipped = 0
                if not playing or play_iter is None:
                    play_iter = None if not playing else play_iter
                    continue
                # far behind (fast shuttle on a slow machine)? jump ahead instead of decoding every frame
                last = reader.decoded_index()
                if media_now is not None and last is not None and len(self.index):
                    now = media_now()
                    if now - self.index.times_s[last] > 1.0 and now < self.index.end_s:
                        play_iter = reader.iter_from(now + 0.25, skip=late, should_stop=self.isInterruptionRequested)
                try:
                    f = next(play_iter)
                except StopIteration:
                    play_iter = None
                    continue
                sf = ShownFrame(to_qimage(f.rgb), f.pts_s, f.end_s, f.index, play_gen, f.rgb)
                with self._cond:
                    if self._playing and self._play is None and self._seek is None:
                        self._buf.append(sf)
        except Exception as exc:  # decode failure: tell the tile, end the thread
            self.failed.emit(f"{self.path}: {exc}")
        finally:
            reader.close()
