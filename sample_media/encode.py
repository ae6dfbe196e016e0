"""Write test and demo media from numpy arrays with PyAV.

One function, :func:`write_media`, makes video+audio, video-only or audio-only files in any of
the usual containers, with the faults real body-cam files show: audio that starts late (a
pre-event buffer without sound), packets missing from the audio stream, packets that no longer
decode, and variable frame rate.

Example
-------
>>> import numpy as np
>>> from sample_media.audio import tone
>>> p = write_media("/tmp/x.mp4", audio=tone(440, 2.0), audio_gaps=[(0.5, 1.0)])  # doctest: +SKIP
"""
from __future__ import annotations

import datetime as _dt
import os
import pathlib
from fractions import Fraction
from typing import Callable, Iterable, Sequence

import numpy as np

from media_core.errors import ParameterError

# container by extension: (format name, default video codec, default audio codec)
_CONTAINERS = {
    ".mp4": ("mp4", "libx264", "aac"),
    ".mov": ("mov", "libx264", "aac"),
    ".m4a": ("mp4", None, "aac"),
    ".mkv": ("matroska", "libx264", "aac"),
    ".mka": ("matroska", None, "aac"),
    ".avi": ("avi", "mpeg4", "libmp3lame"),
    ".webm": ("webm", "libvpx", "libopus"),
    ".wav": ("wav", None, "pcm_s16le"),
    ".mp3": ("mp3", None, "libmp3lame"),
    ".ogg": ("ogg", None, "libopus"),
    ".opus": ("ogg", None, "libopus"),
}

VIDEO_TIME_BASE = Fraction(1, 90000)


def _as_channels(audio) -> np.ndarray:
    y = np.asarray(audio, dtype=np.float32)
    if y.ndim == 1:
        y = y[None, :]
    if y.ndim != 2 or y.shape[0] > 8:
        raise ParameterError(f"audio must be shaped (n,) or (channels, n); got {y.shape}")
    return np.clip(y, -1.0, 1.0)


def default_frame(i: int, t: float, size: tuple[int, int]) -> np.ndarray:
    """A moving gradient with the frame number as 16 black/white bars along the top edge.

    The bars make every frame distinct and let a test read the frame index back.
    """
    w, h = size
    x = (np.arange(w, dtype=np.int32)[None, :] + 4 * i) % 256
    yy = np.arange(h, dtype=np.int32)[:, None]
    img = np.empty((h, w, 3), np.uint8)
    img[..., 0] = x
    img[..., 1] = (yy * 255 // max(1, h - 1))
    img[..., 2] = (x + yy + 2 * i) % 256
    bar_w = max(1, w // 16)
    bar_h = max(2, h // 16)
    for b in range(16):
        img[:bar_h, b * bar_w:(b + 1) * bar_w, :] = 255 if (i >> (15 - b)) & 1 else 0
    return img


def read_frame_index(img: np.ndarray) -> int:
    """Decode the frame number drawn by :func:`default_frame` (RGB ``HxWx3``)."""
    h, w = img.shape[:2]
    bar_w = max(1, w // 16)
    bar_h = max(2, h // 16)
    v = 0
    for b in range(16):
        cell = img[: bar_h // 2 + 1, b * bar_w + bar_w // 4:(b + 1) * bar_w - bar_w // 4]
        v = (v << 1) | int(cell.mean() > 127)
    return v


def _audio_frame(av, chunk: np.ndarray, fmt: str, layout: str, sr: int):
    """Build an ``av.AudioFrame`` from float32 ``(ch, n)`` in the encoder's sample format."""
    ch = chunk.shape[0]
    if fmt == "fltp":
        arr = np.ascontiguousarray(chunk, dtype=np.float32)
    elif fmt == "flt":
        arr = np.ascontiguousarray(chunk.T.reshape(1, -1), dtype=np.float32)
    elif fmt == "s16":
        arr = np.ascontiguousarray((np.round(chunk.T * 32767)).astype(np.int16).reshape(1, -1))
    elif fmt == "s16p":
        arr = np.ascontiguousarray(np.round(chunk * 32767).astype(np.int16))
    elif fmt == "s32":
        arr = np.ascontiguousarray((np.round(chunk.T.astype(np.float64) * 2147483647)).astype(np.int32).reshape(1, -1))
    elif fmt == "s32p":
        arr = np.ascontiguousarray(np.round(chunk.astype(np.float64) * 2147483647).astype(np.int32))
    else:  # pragma: no cover - no encoder we use needs another
        raise ParameterError(f"unsupported encoder sample format {fmt}")
    frame = av.AudioFrame.from_ndarray(arr, format=fmt, layout=layout)
    frame.sample_rate = sr
    assert ch == frame.layout.nb_channels
    return frame


_FMT_PREF = ("fltp", "flt", "s16", "s16p", "s32p", "s32")


def _in_spans(t0: float, t1: float, spans: Sequence[tuple[float, float]]) -> bool:
    """Whether the packet [t0, t1) starts inside one of ``spans`` (start inclusive)."""
    for a, b in spans:
        if a <= t0 < b:
            return True
    return False


def _garbage(nbytes: int, rng: np.random.Generator, channels: int, codec: str) -> bytes:
    """Bytes that make the decoder fail.

    For raw AAC, lead with a syntax element that the channel configuration does not allocate (a
    CPE for mono, an LFE for stereo); for Opus an invalid table-of-contents byte.
    """
    b = bytearray(rng.integers(0, 256, max(nbytes, 8), dtype=np.uint8).tobytes())
    if codec == "aac":
        b[0] = (1 << 5) | (0x0F << 1) if channels == 1 else (3 << 5) | (0x0F << 1)
    elif codec in ("libopus", "opus"):
        b[0], b[1] = 0xFB, 0x00  # TOC code 3 with a frame count of 0: invalid
    elif codec in ("libmp3lame", "mp3"):
        b[0], b[1] = 0x00, 0x00  # no frame sync
    return bytes(b)


def write_media(path, *, audio=None, sr: int = 48000, audio_codec: str | None = None,
                audio_bitrate: int | None = None, audio_start_s: float = 0.0,
                audio_gaps: Iterable[tuple[float, float]] = (),
                audio_corrupt: Iterable[tuple[float, float]] = (),
                video: bool = True, fps: float = 30.0, size: tuple[int, int] = (320, 240),
                duration_s: float | None = None,
                frame_fn: Callable[[int, float], np.ndarray] | None = None,
                video_codec: str | None = None, vfr_jitter: float = 0.0,
                metadata: dict[str, str] | None = None,
                creation_time: _dt.datetime | None = None, seed: int = 0) -> pathlib.Path:
    """Encode numpy audio and generated video frames into a media file.

    Parameters
    ----------
    path : path-like
        Output file; the container follows the extension (.mp4 .mov .mkv .avi .webm .m4a .wav
        .mp3 .ogg).
    audio : array_like, shape (n,) or (channels, n), optional
        float32 samples in [-1, 1] at ``sr``; None writes no audio stream.
    sr : int
        Audio sample rate in Hz.
    audio_codec, video_codec : str, optional
        Encoder names (PyAV/FFmpeg). Defaults per container: mp4/mov/mkv h264+aac, avi
        mpeg4+mp3, webm vp8+opus, wav pcm_s16le.
    audio_bitrate : int, optional
        Bits per second for lossy audio codecs.
    audio_start_s : float
        Presentation time of the first audio sample (the video starts at 0).
    audio_gaps : list of (start_s, end_s)
        Audio packets starting in these spans are dropped from the file: a real jump in the
        stream's timestamps, the video going on. Times on the file's timeline.
    audio_corrupt : list of (start_s, end_s)
        Audio packets starting in these spans are replaced by garbage so decoding fails there.
    video : bool
        False writes an audio-only file.
    fps, size : float, (width, height)
        Nominal frame rate and frame size.
    duration_s : float, optional
        Video length; default: until the audio ends (or 5 s without audio).
    frame_fn : callable(i, t) -> uint8 array (H, W, 3), optional
        Draws frame ``i`` shown at time ``t``; default :func:`default_frame`.
    vfr_jitter : float
        0 for constant frame rate; e.g. 0.3 moves each frame's timestamp by up to +-0.3 of a
        frame interval (monotone), giving variable frame rate.
    metadata : dict, optional
        Container tags.
    creation_time : datetime, optional
        Written as the ``creation_time`` tag (UTC, ISO 8601).
    seed : int
        Seed for the jitter and the garbage bytes.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    import av

    path = pathlib.Path(path)
    ext = path.suffix.lower()
    if ext not in _CONTAINERS:
        raise ParameterError(f"{path}: unknown container extension {ext!r}; use one of {sorted(_CONTAINERS)}")
    fmt_name, vdef, adef = _CONTAINERS[ext]
    if video and vdef is None:
        video = False  # audio-only containers
    y = _as_channels(audio) if audio is not None else None
    if y is None and not video:
        raise ParameterError(f"{path}: nothing to write (no audio and video=False)")
    if audio_start_s < 0:
        raise ParameterError(f"audio_start_s must be >= 0 (got {audio_start_s})")
    gaps = [(float(a), float(b)) for a, b in audio_gaps]
    corrupt = [(float(a), float(b)) for a, b in audio_corrupt]
    for a, b in gaps + corrupt:
        if not b > a:
            raise ParameterError(f"span ({a}, {b}) must have end > start")
    audio_end = audio_start_s + (y.shape[1] / sr if y is not None else 0.0)
    if duration_s is None:
        duration_s = audio_end if y is not None else 5.0
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)

    opts = {}
    if fmt_name in ("mp4", "mov"):
        opts["movflags"] = "+faststart"
    container = av.open(os.fspath(path), "w", format=fmt_name, options=opts)
    try:
        tags = dict(metadata or {})
        if creation_time is not None:
            ct = creation_time
            if ct.tzinfo is not None:
                ct = ct.astimezone(_dt.timezone.utc).replace(tzinfo=None)
            tags["creation_time"] = ct.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
        for k, v in tags.items():
            container.metadata[k] = str(v)

        vstream = None
        if video:
            vname = video_codec or vdef
            vstream = container.add_stream(vname, rate=Fraction(fps).limit_denominator(1001))
            vstream.width, vstream.height = size
            vstream.pix_fmt = "yuv420p"
            # mpeg4 limits the time base denominator to 16 bits; avi is frame-indexed anyway
            vtb = VIDEO_TIME_BASE if vname not in ("mpeg4",) and fmt_name != "avi" else Fraction(1, int(round(fps)))
            vstream.time_base = vtb
            vstream.codec_context.time_base = vtb
            if vname in ("libx264",):
                vstream.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": "28"}
            elif vname in ("libvpx", "libvpx-vp9"):
                vstream.options = {"deadline": "realtime", "cpu-used": "16", "lag-in-frames": "0",
                                   "crf": "30", "b:v": "500k"}
            vstream.codec_context.gop_size = max(1, int(round(fps)))

        astream = None
        if y is not None:
            aname = audio_codec or adef
            astream = container.add_stream(aname, rate=sr)
            layout = "mono" if y.shape[0] == 1 else "stereo" if y.shape[0] == 2 else f"{y.shape[0]}.0"
            astream.codec_context.layout = layout
            supported = [f.name for f in (astream.codec_context.codec.audio_formats or [])]
            afmt = next((f for f in _FMT_PREF if f in supported), supported[0] if supported else "s16")
            astream.codec_context.format = afmt
            astream.time_base = Fraction(1, sr)
            if audio_bitrate:
                astream.codec_context.bit_rate = int(audio_bitrate)
            elif aname in ("aac", "libopus", "libmp3lame", "mp3"):
                astream.codec_context.bit_rate = 64000 * y.shape[0]

        def mux_audio(packets):
            for p in packets:
                if p.pts is None:
                    container.mux(p)
                    continue
                t0 = float(p.pts * p.time_base)
                t1 = t0 + float((p.duration or 0) * p.time_base)
                if gaps and _in_spans(t0, t1, gaps):
                    continue
                if corrupt and _in_spans(t0, t1, corrupt):
                    bad = av.Packet(_garbage(p.size, rng, y.shape[0], astream.codec_context.name))
                    bad.pts, bad.dts, bad.duration = p.pts, p.dts, p.duration
                    bad.time_base = p.time_base
                    bad.stream = astream
                    bad.is_keyframe = p.is_keyframe
                    p = bad
                container.mux(p)

        # interleave: encode whichever stream's next item is earlier
        a_pos = 0
        a_frame = 0
        if astream is not None:
            a_frame = astream.codec_context.frame_size or 1024
            a_off = int(round(audio_start_s * sr))
        n_frames = int(np.ceil(duration_s * fps - 1e-9)) if video else 0
        vtimes = np.arange(n_frames) / fps
        if vfr_jitter > 0 and n_frames > 1:
            vtimes = vtimes + rng.uniform(-vfr_jitter, vfr_jitter, n_frames) / fps
            vtimes[0] = 0.0
            vtimes = np.maximum.accumulate(vtimes)
        vtb = vstream.codec_context.time_base if vstream is not None else VIDEO_TIME_BASE
        vpts = np.round(vtimes / float(vtb)).astype(np.int64)
        for k in range(1, len(vpts)):  # strictly increasing
            if vpts[k] <= vpts[k - 1]:
                vpts[k] = vpts[k - 1] + 1
        draw = frame_fn or (lambda i, t: default_frame(i, t, size))
        vi = 0
        while True:
            next_v = vtimes[vi] if vi < n_frames else np.inf
            next_a = (audio_start_s + a_pos / sr) if (astream is not None and a_pos < y.shape[1]) else np.inf
            if next_v == np.inf and next_a == np.inf:
                break
            if next_a <= next_v:
                chunk = y[:, a_pos:a_pos + a_frame]
                if chunk.shape[1] < a_frame and astream.codec_context.frame_size:
                    pass  # the last frame may be short; encoders pad it
                fr = _audio_frame(av, chunk, afmt, layout, sr)
                fr.pts = a_off + a_pos
                fr.time_base = Fraction(1, sr)
                mux_audio(astream.encode(fr))
                a_pos += chunk.shape[1]
            else:
                img = draw(vi, float(vtimes[vi]))
                img = np.ascontiguousarray(img, dtype=np.uint8)
                if img.shape != (size[1], size[0], 3):
                    raise ParameterError(f"frame_fn returned shape {img.shape}, expected {(size[1], size[0], 3)}")
                vf = av.VideoFrame.from_ndarray(img, format="rgb24")
                vf.pts = int(vpts[vi])
                vf.time_base = vtb
                for p in vstream.encode(vf):
                    container.mux(p)
                vi += 1
        if astream is not None:
            mux_audio(astream.encode(None))
        if vstream is not None:
            for p in vstream.encode(None):
                container.mux(p)
    finally:
        container.close()
    return path
