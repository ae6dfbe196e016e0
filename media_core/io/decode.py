"""One streaming decode of a feed's audio, shared by every analysis ("one decode, many listeners").

:func:`run_listeners` opens the file read-only once, demuxes it front to back, decodes the audio
stream into float32 blocks of about ``block_s`` seconds and hands each block to every listener
(:class:`media_core.listeners.AudioListener`). It is *pts-true*: the blocks sit on the file's
presentation timeline (zero at the container's start, as a player shows it), a jump in the audio
timestamps becomes ``on_gap`` and is never silently closed, and packets that fail to decode become
``on_error`` spans while decoding goes on. Memory stays flat in the file's length.

Event order seen by a listener::

    on_start(info) (on_block | on_gap | on_error)* [on_truncated] finish(end_s)

``finish(end_s)`` receives the end of the *feed* (the later of the last video and the last audio
timestamp actually demuxed), so a listener can tell audio that ends before the video. A file with
no audio stream gets ``on_start`` with ``sr == 0`` and ``channels == 0``, then ``finish``.

Damaged files are reported, never silently shortened: when the data stops before the declared
duration (a file cut off after its front index, a stream whose packets end before its declared
length), listeners that have ``on_truncated(start_s, end_s, evidence)`` are told the missing span
and ``finish`` receives the declared end. (Listeners without it see nothing: the span holds no
data to pad.) FFmpeg's own log lines never reach the terminal; they are counted and a few quoted
in ``DecodeStats.messages``.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from media_core.clock import seconds_per_tick, ticks_to_seconds
from media_core.errors import DecodeError, MediaError, NotMediaError
from media_core.io.probe import (
    TRUNCATION_TOLERANCE_S,
    capture_ffmpeg_log,
    container_duration_s,
    container_start_s,
    ffmpeg_reason,
)
from media_core.listeners import AudioBlock, AudioListener, AudioStreamInfo
from media_core.progress import Progress, ShouldStop, check_cancel

DECODE_VERSION = "decode/2"  # 2: truncated spans; the feed ends at its declared end
#: Codecs whose per-frame timestamps wobble around the sample count (Vorbis block switching
#: moves a frame's pts by up to half a long block and back on the next frame). Jumps smaller
#: than this are not gaps for them.
_CODEC_JITTER_S = {"vorbis": 0.025}
DEFAULT_BLOCK_S = 2.0
#: A header may declare any duration; a truncated span is never reported longer than this.
MAX_MISSING_S = 86400.0

_SCALE = {"s16": 1 / 32768.0, "s16p": 1 / 32768.0, "s32": 1 / 2147483648.0, "s32p": 1 / 2147483648.0,
          "u8": 1 / 128.0, "u8p": 1 / 128.0, "s64": 1 / 9223372036854775808.0, "s64p": 1 / 9223372036854775808.0}


@dataclass
class DecodeStats:
    """What the decoder saw; returned by :func:`run_listeners` under ``"_decode"``."""

    audio_stream: int | None = None
    codec: str = ""
    sr: int = 0
    channels: int = 0
    audio_start_s: float | None = None
    audio_end_s: float | None = None
    video_start_s: float | None = None
    video_end_s: float | None = None
    end_s: float = 0.0
    samples: int = 0
    frames: int = 0
    gaps: int = 0
    errors: int = 0
    overlaps_trimmed_s: float = 0.0
    messages: list[str] = field(default_factory=list)
    truncated: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# ---------------------------------------------------------------------------------------------
# events: ("start", info) ("block", AudioBlock) ("gap", s, e, n) ("error", s, e, msg)
#         ("truncated", s, e, evidence) ("end", end_s)


def _truncation(path: str, *, declared_end: float, data_end: float, audio_declared_end: float | None,
                audio_end: float | None, fps: float | None, last_byte: int) -> tuple[float, float, dict] | None:
    """The span missing from the data (see :func:`media_core.io.probe.find_truncation`), or None."""
    tol = max(TRUNCATION_TOLERANCE_S, 2.0 / fps if fps and fps > 0 else 0.0)
    try:
        size = os.path.getsize(path)
    except OSError:
        size = None
    m: dict[str, Any] = {"declared_duration_s": round(declared_end, 6), "last_packet_end_s": round(data_end, 6),
                         "file_size": size, "last_packet_byte_end": last_byte or None}
    if declared_end > data_end + tol:
        start, end, method = data_end, declared_end, "packets end before the container's declared duration"
        if audio_end is not None and data_end - tol <= audio_end < data_end:
            start = audio_end  # the audio's last packet is where its missing part begins
            m["audio_end_s"] = round(audio_end, 6)
    elif audio_declared_end is not None and audio_end is not None and audio_declared_end > audio_end + tol:
        start, end, method = audio_end, audio_declared_end, "audio packets end before the stream's declared duration"
        m.update(audio_declared_end_s=round(audio_declared_end, 6), audio_end_s=round(audio_end, 6))
    else:
        return None
    if end - start > MAX_MISSING_S:
        end = start + MAX_MISSING_S
        m["span_capped_s"] = MAX_MISSING_S
    m["missing_s"] = round(end - start, 6)
    if size and last_byte:
        m["data_reaches_end_of_file"] = size - last_byte <= max(65536, size // 100)
    return start, end, {"method": method, "algorithm_version": DECODE_VERSION, "measurements": m}


_DTYPES = {"flt": np.float32, "fltp": np.float32, "dbl": np.float64, "dblp": np.float64,
           "s16": np.int16, "s16p": np.int16, "s32": np.int32, "s32p": np.int32,
           "u8": np.uint8, "u8p": np.uint8, "s64": np.int64, "s64p": np.int64}


def _to_float(raw: list[list[np.ndarray]], fmt: str, planar: bool, channels: int) -> np.ndarray:
    """Join per-plane frame arrays and convert them to float32 ``(channels, n)``."""
    if planar:
        a = np.stack([r[0] if len(r) == 1 else np.concatenate(r) for r in raw])
    else:
        r = raw[0]
        a = (r[0] if len(r) == 1 else np.concatenate(r)).reshape(-1, channels).T
    if a.dtype == np.float32:
        return np.ascontiguousarray(a)
    if a.dtype == np.float64:
        return a.astype(np.float32)
    if fmt.startswith("u8"):
        return ((a.astype(np.float32) - 128.0) * np.float32(_SCALE["u8"])).astype(np.float32)
    return np.ascontiguousarray(a.astype(np.float32) * np.float32(_SCALE.get(fmt, 1.0)))


def _events(container, path: str, *, block_s: float, stream_index: int | None, mono: bool,
            should_stop: ShouldStop | None, progress: Progress | None,
            stats: DecodeStats) -> Iterator[tuple]:
    import av

    message = f"decoding {os.path.basename(path)}"

    t0 = container_start_s(container)
    astreams = [s for s in container.streams.audio if s.codec_context is not None]
    if not astreams and container.streams.audio:
        raise DecodeError(path, "its audio stream cannot be decoded (FFmpeg has no decoder for it: "
                                "a damaged stream header or an unknown codec)")
    vstreams = [s for s in container.streams.video
                if not (s.disposition & getattr(av.stream.Disposition, "attached_pic", 0))] \
        if hasattr(av.stream, "Disposition") else list(container.streams.video)
    if stream_index is not None:
        astream = next((s for s in astreams if s.index == stream_index), None)
        if astream is None:
            raise MediaError(path, f"has no audio stream with index {stream_index}")
    else:
        astream = astreams[0] if astreams else None
        if len(astreams) > 1:  # prefer the default-flagged one, else the first
            for s in astreams:
                if s.disposition & getattr(getattr(av.stream, "Disposition", None), "default", 0):
                    astream = s
                    break
    vstream = vstreams[0] if vstreams else None

    def rel(pts, tb) -> float | None:
        return None if pts is None or tb is None else ticks_to_seconds(pts, tb) - t0

    dur_s = container_duration_s(container) or 0.0
    v_start = rel(vstream.start_time, vstream.time_base) if vstream is not None else None
    v_end = None
    declared_v_end = None
    if vstream is not None and vstream.duration is not None and v_start is not None:
        v_end = declared_v_end = v_start + ticks_to_seconds(vstream.duration, vstream.time_base)
    elif vstream is not None:
        v_end = dur_s or None
    fps = float(vstream.average_rate) if vstream is not None and vstream.average_rate else None
    last_byte = 0  # just past the furthest packet read (evidence for a truncated file)

    if astream is None:
        info = AudioStreamInfo(path=path, sr=0, channels=0, codec="", video_start_s=v_start,
                               video_end_s=v_end, audio_start_s=None, duration_s=dur_s)
        yield ("start", info)
        vmax = None
        if vstream is not None:
            try:
                for pkt in container.demux(vstream):
                    if pkt.pos is not None and pkt.pos >= 0:
                        last_byte = max(last_byte, pkt.pos + pkt.size)
                    if pkt.pts is not None:
                        e = rel(pkt.pts, pkt.time_base) + ticks_to_seconds(pkt.duration or 0, pkt.time_base)
                        vmax = e if vmax is None else max(vmax, e)
            except av.FFmpegError as exc:
                stats.messages.append(f"demux stopped: {exc}")
        stats.video_start_s, stats.video_end_s = v_start, vmax if vmax is not None else v_end
        stats.end_s = max(x for x in (vmax, v_end, dur_s, 0.0) if x is not None)
        if vstream is not None:
            cut = _truncation(path, declared_end=max(x for x in (v_end, dur_s, 0.0) if x is not None),
                              data_end=vmax if vmax is not None else 0.0, audio_declared_end=None,
                              audio_end=None, fps=fps, last_byte=last_byte)
            if cut is not None:
                stats.truncated.append({"start_s": cut[0], "end_s": cut[1], "evidence": cut[2]})
                stats.end_s = cut[1]
                yield ("truncated", *cut)
        yield ("end", stats.end_s)
        return

    ctx = astream.codec_context
    try:
        ctx.thread_type = "AUTO"
    except Exception:  # pragma: no cover - some builds refuse for audio
        pass
    sr = int(ctx.sample_rate or astream.sample_rate or 0)
    channels = int(ctx.layout.nb_channels) if ctx.layout is not None else int(getattr(astream, "channels", 1))
    if sr <= 0 or channels <= 0:
        raise NotMediaError(path, "audio stream declares no sample rate or channel count")
    a_start = rel(astream.start_time, astream.time_base)
    declared_a_end = None
    if astream.duration and a_start is not None:
        declared_a_end = a_start + ticks_to_seconds(astream.duration, astream.time_base)
    stats.audio_stream, stats.codec, stats.sr = astream.index, ctx.name, sr
    stats.channels = 1 if mono else channels
    info = AudioStreamInfo(path=path, sr=sr, channels=stats.channels, codec=ctx.name,
                           video_start_s=v_start, video_end_s=v_end, audio_start_s=a_start,
                           duration_s=dur_s)
    yield ("start", info)

    block_n = max(1024, int(block_s * sr))
    jitter = _CODEC_JITTER_S.get(ctx.name, 0.0025)
    tbf = seconds_per_tick(astream.time_base)  # decoded frames carry the stream's time base
    a_start0 = a_start if a_start is not None else 0.0
    raw: list[list[np.ndarray]] = []  # per plane: the frames' samples (views on their buffers)
    raw_n = 0
    raw_start = 0.0            # time of the first sample in raw
    dtype = None
    expected: float | None = None  # time of the next contiguous sample
    fmt_name: str | None = None
    planar = True
    per = 1  # values per sample in a plane (channels for packed formats)
    err: list | None = None    # pending error span [start, end, count, message]
    v_tb = seconds_per_tick(vstream.time_base) if vstream is not None else 0.0
    vmin_pts = vmax_end_pts = None
    a_index = astream.index
    total = dur_s if dur_s > 0 else None
    next_progress = 0.0
    n_pk = 0

    def flush() -> AudioBlock | None:
        nonlocal raw, raw_n
        if not raw_n:
            return None
        y = _to_float(raw, fmt_name, planar, channels)
        if mono and y.shape[0] > 1:
            y = y.mean(axis=0, keepdims=True, dtype=np.float32)
        raw, raw_n = [[] for _ in raw], 0
        return AudioBlock(start_s=raw_start, sr=sr, y=y)

    streams = [astream] + ([vstream] if vstream is not None else [])
    demux = container.demux(*streams)
    decode = ctx.decode
    while True:
        try:
            pkt = next(demux)
        except StopIteration:
            break
        except av.FFmpegError as exc:
            # a damaged container: everything after this point is unreadable
            stats.messages.append(f"demux failed: {exc}")
            if err is None:
                s0 = expected if expected is not None else a_start0
                err = [s0, s0, 0, f"container damaged ({getattr(exc, 'strerror', None) or exc})"]
            break
        pos = pkt.pos
        if pos is not None and pos >= 0 and pos + pkt.size > last_byte:
            last_byte = pos + pkt.size
        if pkt.stream_index != a_index:
            vp = pkt.pts
            if vp is not None:
                if vmin_pts is None or vp < vmin_pts:
                    vmin_pts = vp
                ve = vp + (pkt.duration or 0)
                if vmax_end_pts is None or ve > vmax_end_pts:
                    vmax_end_pts = ve
            continue
        if pkt.size == 0 and pkt.pts is None:
            continue  # the demuxer's flush packet; the decoder is flushed below
        try:
            frames = decode(pkt)
        except av.FFmpegError as exc:
            stats.errors += 1
            pp = pkt.pts
            pt = pp * tbf - t0 if pp is not None else None
            pd = (pkt.duration or 0) * tbf
            if pt is None or (expected is not None and pt < expected - 0.001):
                pt = expected if expected is not None else a_start0
            if err is None:
                if expected is None:
                    expected = pt
                    stats.audio_start_s = pt
                blk = flush()
                if blk is not None:
                    yield ("block", blk)
                if pt > expected + 0.0025:
                    stats.gaps += 1
                    yield ("gap", expected, pt, max(1, int(round((pt - expected) / max(pd, 1e-3)))))
                err = [pt, pt + pd, 1, str(getattr(exc, "strerror", None) or exc)]
            else:
                err[1] = max(err[1], pt + pd)
                err[2] += 1
            continue
        for fr in frames:
            n = fr.samples
            if n <= 0:
                continue
            p = fr.pts
            t = p * tbf - t0 if p is not None else (expected if expected is not None else a_start0)
            planes = fr.planes
            if expected is None or err is not None or abs(t - expected) > max(jitter, 0.45 * n / sr):
                # the slow path: first frame, end of an error run, a gap, or an overlap
                if fr.sample_rate != sr:
                    stats.messages.append(f"sample rate changed to {fr.sample_rate} Hz; frames skipped")
                    continue
                if fmt_name is None:
                    fmt_name, planar = fr.format.name, fr.format.is_planar
                    dtype = _DTYPES.get(fmt_name)
                    if dtype is None:
                        raise DecodeError(path, f"unsupported audio sample format {fmt_name}")
                    raw = [[] for _ in range(channels if planar else 1)]
                    per = 1 if planar else channels
                tol = max(jitter, 0.45 * n / sr)
                if err is not None:
                    blk = flush()
                    if blk is not None:
                        yield ("block", blk)
                    e_start, e_end, count, msg = err
                    e_end = max(e_end, e_start)
                    text = f"{count} packet(s) failed to decode: {msg}"
                    if t > e_end + tol:
                        yield ("error", e_start, e_end, text)
                        stats.gaps += 1
                        yield ("gap", e_end, t, max(1, int(round((t - e_end) * sr / n))))
                    else:
                        yield ("error", e_start, max(t, e_start), text)
                    err = None
                    expected = t
                if expected is None:
                    expected = t
                    stats.audio_start_s = t
                if t > expected + tol:
                    blk = flush()
                    if blk is not None:
                        yield ("block", blk)
                    stats.gaps += 1
                    yield ("gap", expected, t, max(1, int(round((t - expected) * sr / n))))
                    expected = t
                elif t < expected - tol:
                    # timestamps went backwards: keep only what comes after the samples we have
                    skip = int(round((expected - t) * sr))
                    stats.overlaps_trimmed_s += min(skip, n) / sr
                    if skip >= n:
                        continue
                    for c, pl in enumerate(planes):
                        raw[c].append(np.frombuffer(pl, dtype, n * per)[skip * per:])
                    n -= skip
                    if not raw_n:
                        raw_start = expected
                    raw_n += n
                    expected += n / sr
                    continue
            if not raw_n:
                raw_start = expected
            for c, pl in enumerate(planes):
                raw[c].append(np.frombuffer(pl, dtype, n * per))
            raw_n += n
            expected += n / sr
            stats.samples += n
            stats.frames += 1
            if raw_n >= block_n:
                blk = flush()
                if blk is not None:
                    yield ("block", blk)
                if progress is not None and total and expected >= next_progress:
                    next_progress = expected + 1.0
                    progress(min(1.0, max(0.0, expected / total)), message)
        n_pk += 1
        if not (n_pk & 31):
            check_cancel(should_stop, f"{path}: decoding")
    try:
        for fr in decode(None):
            if fr.samples > 0 and expected is not None and err is None and fr.sample_rate == sr:
                if not raw_n:
                    raw_start = expected
                for c, pl in enumerate(fr.planes):
                    raw[c].append(np.frombuffer(pl, dtype, fr.samples * per))
                raw_n += fr.samples
                expected += fr.samples / sr
                stats.samples += fr.samples
    except av.FFmpegError as exc:  # pragma: no cover - flushing rarely fails
        stats.messages.append(f"decoder flush failed: {exc}")
    blk = flush()
    if blk is not None:
        yield ("block", blk)
    v_first = vmin_pts * v_tb - t0 if vmin_pts is not None else v_start
    v_last = vmax_end_pts * v_tb - t0 if vmax_end_pts is not None else v_end
    a_end = expected
    if err is not None:
        e_start, e_end, count, msg = err
        end = max(e_end, e_start)
        if count == 0:  # the container broke: nothing after this point can be read
            end = max(x for x in (end, v_last, dur_s) if x is not None)
        yield ("error", e_start, end, f"{count} packet(s) failed to decode: {msg}" if count else msg)
        a_end = max(a_end or 0.0, end)
    stats.audio_end_s = a_end
    stats.video_start_s, stats.video_end_s = v_first, v_last
    ends = [x for x in (v_last, a_end) if x is not None]
    stats.end_s = max(ends) if ends else dur_s
    # where the data really stops (packets read), against what the headers declare
    seen = [x for x in (vmax_end_pts * v_tb - t0 if vmax_end_pts is not None else None, a_end)
            if x is not None]
    cut = _truncation(path, declared_end=max(x for x in (dur_s, declared_v_end, declared_a_end, 0.0)
                                             if x is not None),
                      data_end=max(seen) if seen else 0.0, audio_declared_end=declared_a_end,
                      audio_end=a_end if a_end is not None else a_start0, fps=fps, last_byte=last_byte)
    if cut is not None:
        stats.truncated.append({"start_s": cut[0], "end_s": cut[1], "evidence": cut[2]})
        stats.end_s = max(stats.end_s, cut[1])
        yield ("truncated", *cut)
    if progress is not None:
        progress(1.0, message)
    yield ("end", stats.end_s)


def _open(path):
    from media_core.io.probe import open_container

    return open_container(path)


def iter_audio_blocks(path: str | os.PathLike, *, block_s: float = DEFAULT_BLOCK_S,
                      stream_index: int | None = None, mono: bool = False) -> Iterator[AudioBlock]:
    """Yield the decoded audio of ``path`` as :class:`AudioBlock` s of about ``block_s`` seconds.

    Blocks are float32 ``(channels, n)`` (``(1, n)`` with ``mono=True``) on the file's
    presentation timeline. Where packets are missing or fail to decode, the next block simply
    starts later (compare ``block.start_s`` with the previous ``block.end_s``); use
    :func:`run_listeners` to be told why.

    Raises
    ------
    NotMediaError, MediaError
        The file cannot be opened as media.
    """
    import av

    path = os.fspath(path)
    container = _open(path)
    try:
        for ev in _events(container, path, block_s=block_s, stream_index=stream_index, mono=mono,
                          should_stop=None, progress=None, stats=DecodeStats()):
            if ev[0] == "block":
                yield ev[1]
    except av.FFmpegError as exc:
        raise DecodeError(path, f"audio decoding failed ({ffmpeg_reason(exc)})") from None
    finally:
        container.close()


def run_listeners(path: str | os.PathLike, listeners: Sequence[AudioListener] | Iterable[AudioListener], *,
                  block_s: float = DEFAULT_BLOCK_S, stream_index: int | None = None, mono: bool = False,
                  progress: Progress | None = None,
                  should_stop: ShouldStop | None = None) -> dict[str, Any]:
    """Decode the audio of ``path`` once and feed every listener.

    Parameters
    ----------
    path : path-like
        The media file (opened read-only).
    listeners : sequence of AudioListener
        Each gets ``on_start``, then blocks, gaps and errors in time order, then (if it has
        ``on_truncated``) the span missing from a damaged file, then ``finish``.
    block_s : float
        Target block length in seconds (blocks hold whole decoded frames).
    stream_index : int, optional
        Which audio stream (container index); default: the default-flagged or first one.
    mono : bool
        Average the channels before handing blocks out.
    progress : Progress, optional
        ``progress(fraction, message)`` about once per second of media (see :mod:`media_core.progress`).
    should_stop : callable() -> bool, optional
        Polled every 32 packets; returning True raises :class:`~media_core.errors.Cancelled`
        (the listeners do not finish; nothing partial is returned).

    Returns
    -------
    dict
        ``{listener.name: listener.finish(end_s), ..., "_decode": DecodeStats.as_dict()}``;
        ``_decode["truncated"]`` lists the truncated spans, ``_decode["messages"]`` ends with a
        summary of FFmpeg's own error messages when it logged any.

    Raises
    ------
    NotMediaError, MediaError
        The file is missing or is not media. Decoding problems inside the file never raise:
        they are reported to the listeners as ``on_error`` spans.
    """
    path = os.fspath(path)
    listeners = list(listeners)
    stats = DecodeStats()
    results: dict[str, Any] = {}
    container = _open(path)
    log = capture_ffmpeg_log()
    try:
        with log:
            _dispatch(container, path, listeners, stats, results, block_s=block_s,
                      stream_index=stream_index, mono=mono, progress=progress, should_stop=should_stop)
    finally:
        container.close()
    if log.count:
        stats.messages.append(log.summary())
    results["_decode"] = stats.as_dict()
    return results


def _dispatch(container, path: str, listeners: list, stats: DecodeStats, results: dict[str, Any], *,
              block_s: float, stream_index: int | None, mono: bool, progress: Progress | None,
              should_stop: ShouldStop | None) -> None:
    """Run the decode's events into every listener (``results`` gets each ``finish``)."""
    import av

    try:
        events = _events(container, path, block_s=block_s, stream_index=stream_index, mono=mono,
                         should_stop=should_stop, progress=progress, stats=stats)
        for ev in events:
            kind = ev[0]
            if kind == "block":
                for li in listeners:
                    li.on_block(ev[1])
            elif kind == "gap":
                for li in listeners:
                    li.on_gap(ev[1], ev[2], missing_packets=ev[3])
            elif kind == "error":
                for li in listeners:
                    li.on_error(ev[1], ev[2], ev[3])
            elif kind == "truncated":
                for li in listeners:
                    on_truncated = getattr(li, "on_truncated", None)
                    if on_truncated is not None:
                        on_truncated(ev[1], ev[2], ev[3])
            elif kind == "start":
                for li in listeners:
                    li.on_start(ev[1])
            elif kind == "end":
                for li in listeners:
                    results[li.name] = li.finish(ev[1])
    except av.FFmpegError as exc:  # anything the event loop did not contain
        raise DecodeError(path, f"audio decoding failed ({ffmpeg_reason(exc)})") from None
