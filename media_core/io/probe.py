"""Probe a media file: container, duration, tags, streams, and audio start/end versus video.

All times are seconds on the file's presentation timeline with zero at the container's start
(what a player shows): a stream's ``start_s`` is its first timestamp minus the container's.
"""
from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable
from typing import Any

from media_core.errors import MediaError, NotMediaError
from media_core.io.safeio import check_readable_file

PROBE_VERSION = "probe/1"
#: Largest frame we accept (16K x 16K). Anything larger is a damaged or hostile header.
MAX_PIXELS = 16384 * 16384
MAX_SIDE = 32768
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


def open_container(path: str | os.PathLike):
    """Open ``path`` read-only with PyAV, translating failures into :class:`MediaError`."""
    import av

    import av.logging

    path = os.fspath(path)
    size = check_readable_file(path)
    old_level = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)  # so FFmpeg's own reason can be quoted to the user
    try:
        with av.logging.Capture() as logs:
            try:
                return av.open(path, mode="r")
            except av.error.FFmpegError as exc:
                reason = next((m.strip() for _, _, m in reversed(logs) if m.strip()), None)
                _raise_open_error(path, size, exc, reason)
    finally:
        av.logging.set_level(old_level)


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
        "audio_vs_video": {"start_delay_s", "end_delta_s"} | None, "probe_version"}``.

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
    container = open_container(path)
    try:
        return _probe_open(container, path, size, scan_timing)
    except av.error.FFmpegError as exc:
        raise NotMediaError(path, f"FFmpeg failed while reading it ({exc.strerror or exc})") from None
    finally:
        container.close()


def _probe_open(container, path: str, size: int, scan_timing: bool) -> dict[str, Any]:
    import av

    tags = {str(k): str(v) for k, v in (container.metadata or {}).items()}
    c_start = container.start_time / av.time_base if container.start_time is not None else 0.0
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
            "tags": {str(k): str(v) for k, v in (s.metadata or {}).items()},
            "language": s.language,
        }
        if s.type == "video":
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

    av_streams = [d for d in streams if d["type"] in ("video", "audio")]
    if not av_streams:
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

    video = next((d for d in streams if d["type"] == "video" and not _is_cover_art(d)), None)
    audio = next((d for d in streams if d["type"] == "audio"), None)

    if video is not None and scan_timing:
        vs = container.streams[video["index"]]
        video.update(_frame_timing(vs, container))

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
    }


def _is_cover_art(d: dict) -> bool:
    return d.get("codec") in ("mjpeg", "png") and (d.get("frames") or 0) <= 1


def _rotation(stream) -> int:
    rot = stream.metadata.get("rotate") if stream.metadata else None
    if rot:
        try:
            return int(float(rot)) % 360
        except ValueError:
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
