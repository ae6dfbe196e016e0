"""PCM for playing one feed's audio on the shared clock (Qt-free; the GUI's audio sink pulls from it).

:class:`SharedClockPcm` answers "which samples does the loudspeaker play from shared time *s*
on?": it maps every output sample's shared time to the feed's media time through the feed's
:class:`~media_core.clock.Clock` (offset and drift), decodes the feed's audio around that media
time with PyAV (seeking when the playhead jumps, decoding forward otherwise) and interpolates the
decoded samples to the device's rate and channel count. Shared times where the feed has no audio
(before it starts, after it ends, in packet gaps) are silence, as are mutes (the file itself is
silent there). Memory stays flat: only the samples around the play position are kept.

Examples
--------
>>> pcm = SharedClockPcm("bodycam_A.mp4", clock=Clock(4.5, 12.0), sr=48000, channels=2)  # doctest: +SKIP
>>> pcm.seek(50.0)                                    # doctest: +SKIP
>>> y = pcm.read(960)   # (2, 960) float32: shared 50.000-50.020 s, i.e. media 45.4995... s  # doctest: +SKIP
"""
from __future__ import annotations

import math
import os

import numpy as np

from media_core.clock import IDENTITY, Clock, seconds_to_ticks, ticks_to_seconds
from media_core.errors import DecodeError, ParameterError
from media_core.io.probe import container_start_s

__all__ = ["SharedClockPcm", "to_s16_bytes", "map_channels"]

_SCALE = {"s16": 1 / 32768.0, "s32": 1 / 2147483648.0, "u8": 1 / 128.0, "s64": 1 / 9223372036854775808.0}
_KEEP_BEFORE_S = 0.25   # decoded audio kept behind the read position (small backward nudges)
_RESEEK_AHEAD_S = 3.0   # a jump further ahead than this seeks instead of decoding through


def _frame_to_float(fr) -> np.ndarray:
    """A PyAV AudioFrame as float32 ``(channels, n)`` in [-1, 1]."""
    a = fr.to_ndarray()
    name = fr.format.name.rstrip("p")
    ch = len(fr.layout.channels)
    if not fr.format.is_planar:
        a = a.reshape(-1, ch).T
    if name in ("flt", "dbl"):
        return np.ascontiguousarray(a, dtype=np.float32)
    if name == "u8":
        return (a.astype(np.float32) - 128.0) * _SCALE["u8"]
    scale = _SCALE.get(name)
    if scale is None:
        raise ParameterError(f"unsupported audio sample format {fr.format.name}")
    return a.astype(np.float32) * np.float32(scale)


def map_channels(y: np.ndarray, channels: int) -> np.ndarray:
    """``y`` (c, n) as ``channels`` channels: mono is copied to every channel, more is averaged to mono,
    otherwise the first ``channels`` channels are kept (missing ones are silent).
    """
    c = y.shape[0]
    if c == channels:
        return y
    if c == 1:
        return np.repeat(y, channels, axis=0)
    if channels == 1:
        return y.mean(axis=0, keepdims=True, dtype=np.float32)
    out = np.zeros((channels, y.shape[1]), np.float32)
    out[: min(c, channels)] = y[: min(c, channels)]
    return out


def to_s16_bytes(y: np.ndarray) -> bytes:
    """float32 ``(channels, n)`` to interleaved signed 16-bit little-endian PCM."""
    return np.rint(np.clip(y.T, -1.0, 32767 / 32768) * 32768.0).astype("<i2").tobytes()


class SharedClockPcm:
    """One feed's audio as PCM on the shared clock.

    Parameters
    ----------
    path : path-like
        The feed's media file.
    clock : Clock
        The feed's clock (media time -> shared time).
    sr : int
        Output sample rate (the audio device's).
    channels : int
        Output channel count.
    stream_index : int, optional
        Which audio stream (container index); default: the first.

    Notes
    -----
    Output sample ``k`` after :meth:`seek` ``(s)`` is at shared time ``s + k / sr`` (1x playout);
    its value is the feed's audio at media time ``clock.to_media(s + k / sr)``, linearly
    interpolated between decoded samples. Not thread-safe: use it from one thread.

    After a seek, samples are placed by the first decoded frame's timestamp, so containers with
    coarse timestamps (Matroska/WebM: 1 ms) are placed to within half a tick; contiguous frames
    after it follow sample-exactly.
    """

    def __init__(self, path, *, clock: Clock = IDENTITY, sr: int = 48000, channels: int = 2,
                 stream_index: int | None = None):
        if sr <= 0 or channels <= 0:
            raise ParameterError(f"sr and channels must be positive, got sr={sr}, channels={channels}")
        self.path = os.fspath(path)
        self.clock = clock
        self.sr = int(sr)
        self.channels = int(channels)
        self._stream_index = stream_index
        self._container = None
        self._astream = None
        self._opened = False
        self.has_audio = True
        self._frames = None          # decode iterator from the last container seek
        self._eof = False
        self._valid_from = 0.0       # decoded audio (or its absence) is known from this media time on
        self._segs: list[list] = []  # [t0_media, (c, n) float32], time-ordered, contiguous runs merged
        self._src_sr = 0
        self._start_off = 0.0
        self.position_s = 0.0        # shared time of the next output sample

    # ------------------------------------------------------------------ public
    def set_clock(self, clock: Clock) -> None:
        """Follow a new sync (the next :meth:`read` uses it; the shared position stays)."""
        self.clock = clock

    def seek(self, shared_s: float) -> None:
        """The next :meth:`read` starts at shared time ``shared_s``."""
        self.position_s = float(shared_s)

    def read(self, n: int) -> np.ndarray:
        """The next ``n`` output samples, float32 ``(channels, n)``; advances the position by ``n / sr``."""
        n = int(n)
        s = self.position_s + np.arange(n, dtype=np.float64) / self.sr
        self.position_s += n / self.sr
        out = np.zeros((self.channels, n), np.float32)
        if n == 0:
            return out
        self._open()
        if not self.has_audio:
            return out
        m = self.clock.to_media(s)
        self._ensure(float(m[0]), float(m[-1]))
        src_c = self._segs[0][1].shape[0] if self._segs else 1
        acc = np.zeros((src_c, n), np.float32)
        for t0, a in self._segs:
            ln = a.shape[1]
            x = (m - t0) * self._src_sr
            ok = (x >= 0) & (x <= ln - 1)
            if not ok.any():
                continue
            xi = x[ok]
            i = np.floor(xi).astype(np.int64)
            f = (xi - i).astype(np.float32)
            j = np.minimum(i + 1, ln - 1)
            acc[:, ok] = a[:, i] * (1.0 - f) + a[:, j] * f
        return map_channels(acc, self.channels)

    def read_s16(self, n: int) -> bytes:
        """:meth:`read` as interleaved 16-bit PCM bytes."""
        return to_s16_bytes(self.read(n))

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
        self._frames = None
        self._segs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ decoding
    def _open(self) -> None:
        if self._opened:
            return
        self._opened = True
        from media_core.io.probe import open_container

        c = open_container(self.path)
        streams = list(c.streams.audio)
        if self._stream_index is not None:
            streams = [s for s in streams if s.index == self._stream_index]
        if not streams:
            c.close()
            self.has_audio = False
            return
        self._container, self._astream = c, streams[0]
        self._astream.thread_type = "AUTO"
        self._src_sr = int(self._astream.codec_context.sample_rate or self._astream.rate or 0)
        self._start_off = container_start_s(c)
        if self._src_sr <= 0:
            self.close()
            self.has_audio = False

    def _reset(self, media_s: float) -> None:
        """Seek the container to just before ``media_s`` and restart decoding."""
        import av

        a = self._astream
        target = max(0.0, media_s - 0.1) + self._start_off
        try:
            self._container.seek(seconds_to_ticks(target, a.time_base), stream=a, backward=True, any_frame=False)
        except av.FFmpegError:
            self._container.seek(0, stream=a)
        self._frames = self._container.decode(a)
        self._eof = False
        self._segs = []
        self._valid_from = media_s

    def _end(self) -> float:
        return self._segs[-1][0] + self._segs[-1][1].shape[1] / self._src_sr if self._segs else -math.inf

    def _ensure(self, lo: float, hi: float) -> None:
        """Have decoded audio covering media ``[lo, hi]`` (as far as the file has any)."""
        import av

        if (self._frames is None or lo < self._valid_from - 1e-3
                or lo > max(self._end(), self._valid_from) + _RESEEK_AHEAD_S):
            self._reset(lo)
        tol = 0.5 / self._src_sr + 2e-4
        while not self._eof and self._end() < hi + 2.0 / self._src_sr:
            try:
                fr = next(self._frames)
            except StopIteration:
                self._eof = True
                break
            except av.FFmpegError as exc:
                if isinstance(exc, av.error.EOFError):
                    self._eof = True
                    break
                continue  # a damaged packet: its span stays silent
            if fr.samples <= 0 or fr.pts is None:
                continue
            if fr.sample_rate != self._src_sr:
                raise DecodeError(self.path, f"sample rate changed from {self._src_sr} to {fr.sample_rate} Hz")
            t0 = ticks_to_seconds(fr.pts, fr.time_base) - self._start_off
            y = _frame_to_float(fr)
            if self._segs and abs(t0 - self._end()) <= max(tol, 0.45 * fr.samples / self._src_sr):
                last = self._segs[-1]
                if y.shape[0] == last[1].shape[0]:
                    last[1] = np.concatenate([last[1], y], axis=1)
                    continue
            self._segs.append([t0, y])
        # forget what is well behind the read position
        keep_from = lo - _KEEP_BEFORE_S
        while self._segs:
            t0, a = self._segs[0]
            end = t0 + a.shape[1] / self._src_sr
            if end < keep_from:
                self._segs.pop(0)
                continue
            cut = int((keep_from - t0) * self._src_sr)
            if cut > self._src_sr:  # trim in whole seconds, rarely
                self._segs[0] = [t0 + cut / self._src_sr, a[:, cut:]]
            break
        self._valid_from = max(self._valid_from, keep_from)
