"""Probe a media file: container, duration, tags, streams, and audio start/end versus video.

All times are seconds on the file's presentation timeline with zero at the container's start
(what a player shows): a stream's ``start_s`` is its first timestamp minus the container's.
"""
from __future__ import annotations

import datetime as _dt
import math
import os
import re
from collections.abc import Callable
from typing import Any

from media_core.clock import microseconds_to_seconds
from media_core.errors import MediaError, NotMediaError
from media_core.io.safeio import check_readable_file

PROBE_VERSION = "probe/2"  # 2: damage (truncation), tag_warnings, ffmpeg_log
#: Largest frame we accept (16K x 16K). Anything larger is a damaged or hostile header.
MAX_PIXELS = 16384 * 16384
MAX_SIDE = 32768
#: Data may end this much before the declared duration without being called truncated (a last
#: frame without a duration, muxer rounding); at least two frame intervals at low frame rates.
TRUNCATION_TOLERANCE_S = 0.5
#: The tail check demuxes from this long before the declared end.
TAIL_CHECK_S = 3.0
#: How many video packets are scanned to tell constant from variable frame rate.
VFR_SCAN_PACKETS = 600


def _f(x) -> float | None:
    return None if x is None else float(x)


def _rate(r) -> float | None:
    try:
        return float(r) if r else None
    except (ZeroDivisionError, TypeError):
        return None


def parse_creation_time(value: str | None) -> str | None:
    """Normalise a ``creation_time`` tag to ISO 8601 UTC, or None when it cannot be read."""
    if not value:
        return None
    v = value.strip().replace(" ", "T")
    if v.endswith("Z"):
        v = v[:-1] + "+00:00"
    try:
        t = _dt.datetime.fromisoformat(v)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    if t.year < 1971:  # an unset camera clock writes 1904/1970: not evidence of anything
        return None
    return t.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")



def container_start_s(container) -> float:
    """An open container's start time in seconds (0 when FFmpeg does not know it)."""
    st = container.start_time
    return microseconds_to_seconds(st) if st is not None else 0.0


def container_duration_s(container) -> float | None:
    """An open container's duration in seconds as its index states it (None when absent)."""
    d = container.duration
    return microseconds_to_seconds(d) if d else None

def quiet_ffmpeg_log() -> None:
    """Keep FFmpeg's own log lines off the terminal, for good.

    PyAV hands FFmpeg's messages to Python's ``logging`` under ``libav.*``; with no handler there,
    Python's last-resort handler would print them raw on stderr. A :class:`logging.NullHandler`
    and no propagation keep them out; :func:`capture_ffmpeg_log` collects this thread's error
    messages so that callers summarise them per file, naming the file.
    """
    global _LOG_QUIET
    if _LOG_QUIET:
        return
    import logging

    import av.logging

    lg = logging.getLogger("libav")
    lg.addHandler(logging.NullHandler())
    lg.propagate = False
    if av.logging.get_level() is None:  # None drops even errors, so a failure could not be explained
        av.logging.set_level(av.logging.ERROR)
    # PyAV holds a repeated message back and emits it with the *next* one, which may belong to
    # the next file: every message is taken as it comes (capture_ffmpeg_log keeps each once).
    av.logging.set_skip_repeated(False)
    _LOG_QUIET = True


_LOG_QUIET = False


class capture_ffmpeg_log:
    """``with capture_ffmpeg_log() as log:`` collects FFmpeg's error messages in this thread.

    ``log.messages`` keeps each distinct message once, in order (at most ``keep``);
    ``log.count`` counts them all; :meth:`summary` is one line for a user.
    """

    def __init__(self, keep: int = 5):
        self.keep = keep
        self.count = 0
        self.messages: list[str] = []
        self._cap = None
        self._logs: list = []

    def __enter__(self) -> "capture_ffmpeg_log":
        import av.logging

        quiet_ffmpeg_log()
        self._cap = av.logging.Capture()
        self._logs = self._cap.__enter__()
        return self

    def collect(self) -> None:
        """Move what FFmpeg logged so far into ``count`` and ``messages``."""
        logs, self._logs[:] = list(self._logs), []
        for _, _, m in logs:
            m = " ".join(str(m).split())
            if not m:
                continue
            self.count += 1
            if m not in self.messages and len(self.messages) < self.keep:
                self.messages.append(m)

    def last(self) -> str | None:
        """The latest message collected (FFmpeg's own reason for a failure)."""
        self.collect()
        return self.messages[-1] if self.messages else None

    def __exit__(self, *exc) -> None:
        self.collect()
        self._cap.__exit__(*exc)

    def summary(self) -> str | None:
        """``"FFmpeg reported 3 error(s): 'a'; 'b'"`` or None when it said nothing."""
        if not self.count:
            return None
        shown = "; ".join(repr(m[:200]) for m in self.messages)
        return f"FFmpeg reported {self.count} error(s): {shown}"


def ffmpeg_reason(exc: Exception, log: capture_ffmpeg_log | None = None) -> str:
    """FFmpeg's own words for a failure: its last logged error, else PyAV's message."""
    reason = log.last() if log is not None else None
    if not reason:
        entry = getattr(exc, "log", None)  # PyAV attaches (level, name, message) of the last error
        if isinstance(entry, tuple) and len(entry) == 3 and str(entry[2]).strip():
            reason = " ".join(str(entry[2]).split())
    return reason or str(getattr(exc, "strerror", None) or exc)


def open_container(path: str | os.PathLike, *, metadata_errors: str = "replace"):
    """Open ``path`` read-only with PyAV, translating failures into :class:`MediaError`.

    Tag text that is not UTF-8 is read with replacement characters (``metadata_errors``; the
    probe asks for ``"surrogateescape"`` to tell which tags they are), so a camera writing
    Latin-1 never stops an analysis.
    """
    import av

    path = os.fspath(path)
    size = check_readable_file(path)
    with capture_ffmpeg_log() as log:
        try:
            return av.open(path, mode="r", metadata_errors=metadata_errors)
        except av.error.FFmpegError as exc:
            _raise_open_error(path, size, exc, log.last())
        except (UnicodeError, ValueError, OverflowError, MemoryError) as exc:
            raise NotMediaError(path, f"FFmpeg cannot open it ({type(exc).__name__}: {exc})") from None


def _raise_open_error(path: str, size: int, exc: Exception, reason: str | None):
    """Raise the :class:`NotMediaError` that says in plain words why FFmpeg refused ``path``."""
    import av

    if isinstance(exc, av.error.InvalidDataError):
        problem = "not a media file FFmpeg can read (invalid data)"
        with open(path, "rb") as f:
            head = f.read(64)
        if b"ftyp" in head[:12]:
            problem = (
                "damaged or truncated MP4/MOV: no readable 'moov' index (the recording was "
                "probably cut off before it was finalised)"
            )
        elif size < 1024 and all(32 <= c < 127 or c in (9, 10, 13) for c in head):
            problem = "is a text file, not media"
        raise NotMediaError(path, problem) from None
    raise NotMediaError(path, f"FFmpeg cannot open it: {reason or getattr(exc, 'strerror', None) or exc}") from None


def _scan_duration(container, path: str) -> tuple[float | None, dict[int, tuple[float, float]]]:
    """Demux every packet (no decoding) to find each stream's first and last timestamps."""
    import av

    spans: dict[int, list[float]] = {}
    try:
        for pkt in container.demux():
            if pkt.pts is None or pkt.time_base is None:
                continue
            t0 = float(pkt.pts * pkt.time_base)
            t1 = t0 + float((pkt.duration or 0) * pkt.time_base)
            s = spans.setdefault(pkt.stream.index, [t0, t1])
            s[0] = min(s[0], t0)
            s[1] = max(s[1], t1)
    except av.error.FFmpegError:
        pass  # a damaged tail: keep what was read
    if not spans:
        return None, {}
    first = min(v[0] for v in spans.values())
    last = max(v[1] for v in spans.values())
    return last - first, {k: (v[0], v[1]) for k, v in spans.items()}


def _frame_timing(stream, container) -> dict[str, Any]:
    """Scan up to VFR_SCAN_PACKETS video packets: real rate and whether the rate varies."""
    import av
    import numpy as np

    pts = []
    try:
        for pkt in container.demux(stream):
            if pkt.pts is not None:
                pts.append(pkt.pts)
            if len(pts) >= VFR_SCAN_PACKETS:
                break
    except av.error.FFmpegError:
        pass
    if len(pts) < 3:
        return {"measured_fps": None, "vfr": False, "frame_interval_jitter": None}
    d = np.diff(np.sort(np.asarray(pts, dtype=np.float64))) * float(stream.time_base)
    d = d[d > 0]
    if d.size < 2:
        return {"measured_fps": None, "vfr": False, "frame_interval_jitter": None}
    med = float(np.median(d))
    rel = float((d.max() - d.min()) / med) if med > 0 else 0.0
    # Constant frame rate files still have +-1 tick rounding; 10% spread means truly variable.
    return {
        "measured_fps": round(1.0 / med, 4) if med > 0 else None,
        "vfr": rel > 0.10,
        "frame_interval_jitter": round(rel, 4),
    }


def probe(
    path: str | os.PathLike,
    *,
    scan_timing: bool = True,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Describe a media file.

    Parameters
    ----------
    path : path-like
        Any file PyAV can open (MP4, MOV, MKV, AVI, WebM, audio files). Opened read-only.
    scan_timing : bool
        Demux video packets to measure the real frame rate and flag variable frame rate.

    Returns
    -------
    dict
        ``{"path", "size", "format", "format_long", "duration_s", "duration_source",
        "start_s", "bit_rate", "tags", "creation_time", "timecode", "make", "model", "serial",
        "streams": [...], "video": {...} | None, "audio": {...} | None,
        "audio_vs_video": {"start_delay_s", "end_delta_s"} | None, "damage": [...],
        "tag_warnings": [str], "ffmpeg_log": {"count", "messages"}, "probe_version"}``.
        ``damage`` lists ``truncated`` spans (:func:`find_truncation`): the declared duration
        stays in ``duration_s``, the span says where the data really stops. ``tag_warnings``
        names each tag that was not UTF-8 (its text is shown with replacement characters).
        ``ffmpeg_log`` counts FFmpeg's own error messages while probing, a few quoted.

    Raises
    ------
    NotMediaError
        Empty, text, random bytes, truncated MP4, or no audio/video stream.
    MediaError
        Missing, unreadable, a directory, or absurd declared dimensions.
    """
    import av

    path = os.fspath(path)
    size = check_readable_file(path)
    container = open_container(path, metadata_errors="surrogateescape")
    try:
        with capture_ffmpeg_log() as log:
            try:
                info = _probe_open(container, path, size, scan_timing)
            except av.error.FFmpegError as exc:
                raise NotMediaError(path, f"FFmpeg failed while reading it ({ffmpeg_reason(exc, log)})") from None
    finally:
        container.close()
    info["ffmpeg_log"] = {"count": log.count, "messages": log.messages}
    return info


#: Surrogates that ``surrogateescape`` makes of bytes that are not UTF-8.
_ESCAPED = re.compile("[\udc80-\udcff]")


def clean_tags(raw, where: str, warnings: list[str]) -> dict[str, str]:
    """Tags read with ``surrogateescape`` as text with replacement characters.

    Appends one line to ``warnings`` for each key or value that was not UTF-8.
    """
    out: dict[str, str] = {}
    for k, v in (raw or {}).items():
        k, v = str(k), str(v)
        bad_k, bad_v = bool(_ESCAPED.search(k)), bool(_ESCAPED.search(v))
        if bad_k or bad_v:
            k = k.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            v = v.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            part = "name" if bad_k and not bad_v else "text"
            warnings.append(f"{where}tag {k!r} {part} is not UTF-8; shown with replacement characters")
        out[k] = v
    return out


def _probe_open(container, path: str, size: int, scan_timing: bool) -> dict[str, Any]:
    import av

    tag_warnings: list[str] = []
    tags = clean_tags(container.metadata, "", tag_warnings)
    c_start = container_start_s(container)
    streams = []
    for s in container.streams:
        cc = s.codec_context
        d: dict[str, Any] = {
            "index": s.index,
            "type": s.type,
            "codec": cc.name if cc is not None else None,
            "profile": s.profile,
            "time_base": str(s.time_base) if s.time_base else None,
            "start_s": (float(s.start_time * s.time_base) - c_start)
            if s.start_time is not None and s.time_base
            else None,
            "duration_s": _f(s.duration * s.time_base) if s.duration and s.time_base else None,
            "frames": s.frames or None,
            "tags": clean_tags(s.metadata, f"stream {s.index} ", tag_warnings),
            "language": s.language,
        }
        if s.type in ("video", "audio") and cc is None:
            d["unusable"] = "FFmpeg has no decoder for it (damaged header or unknown codec)"
        elif s.type == "video":
            w, h = cc.width, cc.height
            if w <= 0 or h <= 0 or w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
                raise MediaError(path, f"declares an absurd video size {w}x{h}; refusing to decode it")
            d.update(
                width=w,
                height=h,
                pix_fmt=cc.pix_fmt,
                avg_fps=_rate(s.average_rate),
                real_fps=_rate(s.base_rate),
                guessed_fps=_rate(s.guessed_rate),
                rotation=_rotation(s),
            )
        elif s.type == "audio":
            d.update(
                sample_rate=cc.sample_rate,
                channels=cc.channels,
                layout=cc.layout.name if cc.layout is not None else None,
                sample_fmt=cc.format.name if cc.format is not None else None,
            )
        streams.append(d)

    av_streams = [d for d in streams if d["type"] in ("video", "audio") and "unusable" not in d]
    if not av_streams:
        if any("unusable" in d for d in streams):
            raise NotMediaError(path, "has no audio or video stream FFmpeg can decode (damaged "
                                      "stream header or unknown codec)")
        raise NotMediaError(path, "has no audio or video stream")

    duration = container.duration / av.time_base if container.duration else None
    duration_source = "container"
    stream_spans: dict[int, tuple[float, float]] = {}
    if duration is None or any(d["start_s"] is None or d["duration_s"] is None for d in av_streams):
        scanned, stream_spans = _scan_duration(container, path)
        if duration is None:
            duration, duration_source = scanned, "scanned"
        container.seek(0)
    if duration is None:
        raise NotMediaError(path, "holds no audio or video packets")

    for d in streams:
        if d["index"] in stream_spans:
            t0, t1 = stream_spans[d["index"]]
            if d["start_s"] is None:
                d["start_s"] = t0 - c_start
            if d["duration_s"] is None:
                d["duration_s"] = t1 - t0

    video = next((d for d in av_streams if d["type"] == "video" and not _is_cover_art(d)), None)
    audio = next((d for d in av_streams if d["type"] == "audio"), None)

    if video is not None and scan_timing:
        vs = container.streams[video["index"]]
        video.update(_frame_timing(vs, container))

    damage = []
    if duration_source == "container":
        damage = find_truncation(container, path, size, duration, av_streams,
                                 fps=(video or {}).get("avg_fps"))

    _check_decodable(container, path, video, audio)

    rel = None
    if video is not None and audio is not None:
        v0 = video["start_s"] or 0.0
        a0 = audio["start_s"] or 0.0
        v1 = v0 + (video["duration_s"] or duration)
        a1 = a0 + (audio["duration_s"] or duration)
        rel = {"start_delay_s": round(a0 - v0, 6), "end_delta_s": round(a1 - v1, 6)}

    lower = {k.lower(): v for k, v in tags.items()}
    for d in streams:
        for k, v in d["tags"].items():
            lower.setdefault(k.lower(), v)
    # Cameras whose muxer drops custom tags often write "make=...; model=...; serial=..." into a
    # free-text tag (MP4 keeps only title/comment/description unless told otherwise).
    for free in ("comment", "description", "title"):
        for part in str(lower.get(free, "")).split(";"):
            key, sep, value = part.partition("=")
            if sep and key.strip().lower() in ("make", "model", "serial", "serial_number") and value.strip():
                lower.setdefault(key.strip().lower(), value.strip())
    return {
        "probe_version": PROBE_VERSION,
        "path": path,
        "name": os.path.basename(path),
        "size": size,
        "format": container.format.name,
        "format_long": container.format.long_name,
        "duration_s": round(float(duration), 6),
        "duration_source": duration_source,
        "start_s": round(float(c_start), 6),
        "bit_rate": container.bit_rate or None,
        "tags": tags,
        "creation_time": parse_creation_time(lower.get("creation_time")),
        "timecode": lower.get("timecode"),
        "make": lower.get("make") or lower.get("com.apple.quicktime.make"),
        "model": lower.get("model") or lower.get("com.apple.quicktime.model"),
        "serial": lower.get("serial") or lower.get("serial_number") or lower.get("device_serial"),
        "streams": streams,
        "video": video,
        "audio": audio,
        "audio_vs_video": rel,
        "damage": damage,
        "tag_warnings": tag_warnings,
    }


def _packet_ends(container, start_s: float | None) -> tuple[dict[int, float], int] | None:
    """Demux (no decoding) from ``start_s`` (None: the start; ``"here"``: no seek) to the end.

    Returns each stream's last packet end (seconds, container timeline) and the byte just past
    the furthest packet read, or None when the container refuses to seek (a broken index).
    """
    import av

    ends: dict[int, float] = {}
    last_byte = 0
    try:
        if start_s == "here":
            pass
        elif start_s is not None:
            container.seek(max(0, int(start_s * av.time_base)), backward=True, any_frame=False)
        else:
            container.seek(0)
    except av.error.FFmpegError:
        return None
    try:
        for pkt in container.demux():
            if pkt.pos is not None and pkt.pos >= 0:
                last_byte = max(last_byte, pkt.pos + pkt.size)
            if pkt.pts is None or pkt.time_base is None:
                continue
            e = float((pkt.pts + (pkt.duration or 0)) * pkt.time_base)
            if e > ends.get(pkt.stream.index, -math.inf):
                ends[pkt.stream.index] = e
    except av.error.FFmpegError:
        pass  # a damaged tail: what was read is what there is
    return ends, last_byte


def find_truncation(container, path: str, size: int, duration_s: float, streams: list[dict], *,
                    fps: float | None = None) -> list[dict[str, Any]]:
    """Compare the declared duration with where the packets really end.

    A cheap tail check first (demux the last few seconds); only when it finds the data short
    is the whole file demuxed (no decoding) to find where the data stops.

    Returns
    -------
    list of dict
        ``{"kind": "truncated", "stream": None | "video" | "audio", "start_s", "end_s",
        "evidence": {...}}``: the whole file (``stream`` None) when all data ends before the
        declared end, else each stream whose packets end before its own declared duration.
        Times on the file's timeline (zero at the container's start).
    """
    c_start = container_start_s(container)
    tol = max(TRUNCATION_TOLERANCE_S, 2.0 / fps if fps and fps > 0 else 0.0)
    declared = {d["index"]: (d["start_s"] or 0.0) + d["duration_s"] for d in streams
                if d.get("duration_s") is not None}
    declared_end = float(duration_s)

    def short(ends: dict[int, float]) -> bool:
        data_end = max(ends.values(), default=-math.inf) - c_start
        return data_end < declared_end - tol or any(
            ends.get(i, -math.inf) - c_start < e - tol for i, e in declared.items())

    got = _packet_ends(container, c_start + max(0.0, declared_end - TAIL_CHECK_S))
    if got is None or short(got[0]):
        got = _packet_ends(container, None)
    if got is None:  # the index refuses seeking: read a fresh copy from the start
        fresh = open_container(path)
        try:
            got = _packet_ends(fresh, "here")
        finally:
            fresh.close()
    ends, last_byte = got
    try:
        container.seek(0)
    except Exception:  # noqa: BLE001 - a broken container; later reads report it
        pass
    if not short(ends):
        return []
    data_end = max(ends.values(), default=c_start) - c_start
    out = []

    def span(stream, start, end, method, **m):
        m.update(declared_duration_s=round(declared_end, 6), last_packet_end_s=round(start, 6),
                 missing_s=round(end - start, 6), file_size=size, last_packet_byte_end=last_byte or None,
                 data_reaches_end_of_file=bool(last_byte) and size - last_byte <= max(65536, size // 100))
        out.append({"kind": "truncated", "stream": stream, "start_s": round(max(0.0, start), 6),
                    "end_s": round(end, 6),
                    "evidence": {"method": method, "algorithm_version": PROBE_VERSION, "measurements": m}})

    if data_end < declared_end - tol:
        span(None, data_end, declared_end, "packets end before the container's declared duration")
    else:
        for d in streams:
            e = declared.get(d["index"])
            got = ends.get(d["index"], -math.inf) - c_start
            if e is not None and got < e - tol:
                got = max(got, d["start_s"] or 0.0)
                span(d["type"], got, e, f"{d['type']} packets end before the stream's declared duration",
                     stream_index=d["index"], stream_declared_end_s=round(e, 6))
    return out


def _is_cover_art(d: dict) -> bool:
    return d.get("codec") in ("mjpeg", "png") and (d.get("frames") or 0) <= 1


def _rotation(stream) -> int:
    rot = stream.metadata.get("rotate") if stream.metadata else None
    if rot:
        try:
            return int(float(rot)) % 360
        except (ValueError, OverflowError):
            pass
    return 0


def _check_decodable(container, path: str, video: dict | None, audio: dict | None) -> None:
    """Decode the first frame of the main stream: catches headers that parse but hold garbage.

    Also reads the display rotation of the first video frame.
    """
    import av

    target = video or audio
    s = container.streams[target["index"]]
    try:
        container.seek(0)
        for frame in container.decode(s):
            if video is not None and target is video:
                rot = getattr(frame, "rotation", 0) or 0
                if rot:
                    video["rotation"] = int(rot) % 360
            return
    except av.error.FFmpegError as exc:
        if audio is not None and target is video:
            return  # broken video with usable audio is still worth analysing
        raise NotMediaError(path, f"its {target['type']} cannot be decoded ({exc.strerror or exc})") from None
    finally:
        try:
            container.seek(0)
        except av.error.FFmpegError:
            pass
    raise NotMediaError(path, f"its {target['type']} stream holds no decodable frame")


def summarize(info: dict[str, Any]) -> dict[str, Any]:
    """The few fields a table shows, from a :func:`probe` result."""
    v, a = info.get("video"), info.get("audio")
    return {
        "name": info["name"],
        "format": info["format"].split(",")[0],
        "duration_s": info["duration_s"],
        "video": f"{v['codec']} {v['width']}x{v['height']} {v.get('measured_fps') or v.get('avg_fps') or 0:.2f}fps"
        + (" VFR" if v.get("vfr") else "")
        + (f" rot{v['rotation']}" if v.get("rotation") else "")
        if v
        else "-",
        "audio": f"{a['codec']} {a['sample_rate']}Hz {a['channels']}ch" if a else "none",
        "audio_delay_s": info["audio_vs_video"]["start_delay_s"] if info.get("audio_vs_video") else None,
        "created": info.get("creation_time") or "-",
    }
