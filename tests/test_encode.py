"""The media writer writes what it is asked: durations, timestamps, gaps, damage, tags."""
from __future__ import annotations

import datetime as dt

import av
import numpy as np
import pytest

from media_core.errors import ParameterError
from sample_media import read_frame_index, tone, write_media

SR = 48000


def _audio_frames(path):
    """(pts_s, n_samples) of every decoded audio frame, and the count of packets that failed."""
    out, errors = [], 0
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        for pk in c.demux(a):
            if pk.size == 0:
                continue
            try:
                frames = a.codec_context.decode(pk)
            except av.FFmpegError:
                errors += 1
                continue
            out += [(float(f.pts * f.time_base), f.samples) for f in frames]
    return out, errors


def _jumps(frames, sr):
    j = []
    for (t0, n0), (t1, _) in zip(frames, frames[1:]):
        if t1 - (t0 + n0 / sr) > 0.002:
            j.append((t0 + n0 / sr, t1))
    return j


@pytest.mark.parametrize("ext", ["mp4", "mkv", "mov", "webm"])
def test_video_and_audio_durations_and_late_start(tmp_path, ext):
    y = tone(440, 3.0, SR)
    p = write_media(tmp_path / f"a.{ext}", audio=y, audio_start_s=1.0, duration_s=4.5, fps=25)
    with av.open(str(p)) as c:
        v = c.streams.video[0]
        ts = [float(pk.pts * pk.time_base) for pk in c.demux(v) if pk.pts is not None]
    n = int(np.ceil(4.5 * 25))  # frames cover the whole duration
    assert len(ts) == n
    assert min(ts) == pytest.approx(0.0, abs=1e-3) and max(ts) == pytest.approx((n - 1) / 25, abs=2e-3)
    frames, errors = _audio_frames(p)
    assert errors == 0
    first = frames[0][0]
    # AAC in MP4 presents the encoder's 1024 priming samples just before the first real sample
    assert 1.0 - 1100 / SR <= first <= 1.0 + 0.002
    end = frames[-1][0] + frames[-1][1] / SR
    assert end == pytest.approx(4.0, abs=0.03)
    assert _jumps(frames, SR) == []


def test_audio_gaps_are_timestamp_jumps(tmp_path):
    y = tone(440, 6.0, SR)
    p = write_media(tmp_path / "g.mp4", audio=y, audio_gaps=[(2.0, 2.5), (4.0, 4.2)], fps=10)
    frames, errors = _audio_frames(p)
    j = _jumps(frames, SR)
    assert errors == 0 and len(j) == 2
    for (a, b), (ea, eb) in zip(j, [(2.0, 2.5), (4.0, 4.2)]):
        assert abs(a - ea) < 0.025 and abs(b - eb) < 0.025
    with av.open(str(p)) as c:  # the video goes on through the gaps
        assert c.streams.video[0].frames == 60


@pytest.mark.parametrize("channels", [1, 2])
def test_audio_corrupt_fails_to_decode(tmp_path, channels):
    y = np.tile(tone(440, 4.0, SR), (channels, 1))
    p = write_media(tmp_path / "c.m4a", audio=y, audio_corrupt=[(1.0, 1.5)])
    frames, errors = _audio_frames(p)
    assert errors == pytest.approx(0.5 * SR / 1024, abs=2)
    assert frames[-1][0] > 3.9  # decoding goes on after the damage


def test_no_audio_and_audio_only(tmp_path):
    p = write_media(tmp_path / "v.mp4", audio=None, duration_s=1.0)
    with av.open(str(p)) as c:
        assert len(c.streams.audio) == 0 and len(c.streams.video) == 1
    for ext in ("m4a", "wav", "mp3"):
        p = write_media(tmp_path / f"a.{ext}", audio=tone(300, 1.0, SR), video=False)
        with av.open(str(p)) as c:
            assert len(c.streams.video) == 0 and len(c.streams.audio) == 1
            assert c.duration / 1e6 == pytest.approx(1.0, abs=0.06)


def test_frames_carry_their_index_and_vfr(tmp_path):
    p = write_media(tmp_path / "f.mkv", audio=None, duration_s=2.0, fps=30, vfr_jitter=0.4)
    with av.open(str(p)) as c:
        frames = list(c.decode(video=0))
    idx = [read_frame_index(f.to_ndarray(format="rgb24")) for f in frames]
    assert idx == list(range(60))
    dts = np.diff([float(f.pts * f.time_base) for f in frames])
    assert dts.min() > 0 and dts.std() > 0.002  # variable, monotone


def test_tags_and_creation_time(tmp_path):
    ct = dt.datetime(2024, 5, 1, 12, 30, 15, tzinfo=dt.timezone.utc)
    p = write_media(tmp_path / "t.mp4", audio=tone(440, 1.0, SR), metadata={"title": "unit 12"},
                    creation_time=ct)
    with av.open(str(p)) as c:
        assert c.metadata["title"] == "unit 12"
        assert c.metadata["creation_time"].startswith("2024-05-01T12:30:15")


def test_avi_default_codecs(tmp_path):
    p = write_media(tmp_path / "x.avi", audio=tone(440, 1.0, SR), fps=15)
    with av.open(str(p)) as c:
        assert c.streams.video[0].codec_context.name == "mpeg4"
        assert c.streams.audio[0].codec_context.name.startswith("mp3")


@pytest.mark.parametrize("kwargs, match", [
    (dict(audio=None, video=False), "nothing to write"),
    (dict(audio=np.zeros(10), audio_gaps=[(2.0, 1.0)]), "end > start"),
    (dict(audio=np.zeros((3, 4, 5))), "audio must be shaped"),
    (dict(audio=np.zeros(10), audio_start_s=-1), "audio_start_s"),
])
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        write_media(tmp_path / "bad.mp4", **kwargs)


def test_unknown_extension(tmp_path):
    with pytest.raises(ParameterError, match="unknown container"):
        write_media(tmp_path / "bad.xyz", audio=np.zeros(10))
