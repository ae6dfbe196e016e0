"""media_core.io.audio_out: the samples played at a shared time, through a clock with offset and drift."""
from __future__ import annotations

import numpy as np
import pytest

from media_core.clock import Clock
from media_core.errors import ParameterError
from media_core.io.audio_out import SharedClockPcm, map_channels, to_s16_bytes
from sample_media.encode import write_media

SR = 48000
DUR = 6.0


def _signal(t: np.ndarray, f0: float) -> np.ndarray:
    """A slow chirp: every instant has a distinct phase, so a time error shows as a sample error."""
    return (0.5 * np.sin(2 * np.pi * (f0 * t + 15.0 * t * t))).astype(np.float32)


@pytest.fixture(scope="module")
def feed(tmp_path_factory):
    rng = np.random.default_rng(7)
    f0 = float(rng.uniform(150, 250))
    t = np.arange(int(SR * DUR)) / SR
    # WAV: sample-exact timestamps (Matroska rounds them to 1 ms, which a sample test would see)
    p = tmp_path_factory.mktemp("audio_out") / "pcm.wav"
    write_media(p, audio=_signal(t, f0), sr=SR, video=False)
    return p, f0


@pytest.mark.parametrize("clock,out_sr", [(Clock(0.0, 0.0), SR), (Clock(2.25, 0.0), SR),
                                          (Clock(-1.5, 400.0), SR), (Clock(3.0, -250.0), 44100)])
def test_samples_at_a_shared_time_follow_the_clock(feed, clock, out_sr):
    path, f0 = feed
    with SharedClockPcm(path, clock=clock, sr=out_sr, channels=2) as pcm:
        for shared in (clock.to_shared(4.0), clock.to_shared(1.0), clock.to_shared(2.5)):  # backward seek too
            pcm.seek(shared)
            y = np.concatenate([pcm.read(960) for _ in range(10)], axis=1)   # 0.2 s in 20 ms reads
            media = clock.to_media(shared + np.arange(y.shape[1]) / out_sr)
            want = _signal(media, f0)
            assert y.shape == (2, 9600)
            assert np.array_equal(y[0], y[1])  # mono copied to both channels
            # linear interpolation of a <= 400 Hz tone at 48 kHz + 16-bit: well under 1e-2
            assert np.max(np.abs(y[0] - want)) < 1e-2
            assert pcm.position_s == pytest.approx(shared + 9600 / out_sr)


def test_a_wrong_offset_would_be_seen(feed):
    path, f0 = feed
    clock = Clock(1.0, 0.0)
    with SharedClockPcm(path, clock=Clock(1.002, 0.0), sr=SR, channels=1) as pcm:  # 2 ms off
        pcm.seek(3.0)
        y = pcm.read(4800)
    want = _signal(clock.to_media(3.0 + np.arange(4800) / SR), f0)
    assert np.max(np.abs(y[0] - want)) > 0.05


def test_silence_outside_the_feed_and_in_gaps(tmp_path):
    t = np.arange(int(SR * 4.0)) / SR
    p = tmp_path / "gap.mp4"
    write_media(p, audio=_signal(t, 200.0), sr=SR, audio_gaps=[(1.5, 2.5)], fps=10.0, size=(64, 48))
    clock = Clock(10.0, 0.0)
    with SharedClockPcm(p, clock=clock, sr=SR, channels=1) as pcm:
        pcm.seek(9.5)                    # half a second before the feed starts
        y = pcm.read(SR)
        assert not y[0, : SR // 2 - 2].any()
        assert np.abs(y[0, SR // 2 + 10:]).max() > 0.3
        pcm.seek(clock.to_shared(1.8))   # inside the gap (packets missing from the file)
        assert not pcm.read(4800).any()
        pcm.seek(clock.to_shared(3.0))
        assert np.abs(pcm.read(4800)).max() > 0.3
        pcm.seek(clock.to_shared(4.5))   # after the end
        assert not pcm.read(4800).any()


def test_file_without_audio_is_silent(tmp_path):
    p = tmp_path / "mute.mp4"
    write_media(p, audio=None, fps=10.0, size=(64, 48), duration_s=1.0)
    with SharedClockPcm(p, sr=SR, channels=2) as pcm:
        pcm.seek(0.2)
        y = pcm.read(480)
    assert y.shape == (2, 480) and not y.any()
    assert not pcm.has_audio


def test_channel_mapping_and_s16():
    y = np.array([[0.5, -1.0, 1.0], [0.1, 0.3, -0.5]], np.float32)
    assert np.allclose(map_channels(y, 1), [[0.3, -0.35, 0.25]])
    assert map_channels(y[:1], 2).shape == (2, 3)
    assert np.array_equal(map_channels(y, 3)[2], np.zeros(3))
    b = np.frombuffer(to_s16_bytes(y), "<i2")
    assert list(b) == [16384, 3277, -32768, 9830, 32767, -16384]


@pytest.mark.parametrize("sr,ch", [(0, 2), (48000, 0)])
def test_bad_parameters(sr, ch):
    with pytest.raises(ParameterError, match="sr and channels must be positive"):
        SharedClockPcm("x.mp4", sr=sr, channels=ch)
