"""media_core.analysis.envelope: min/max overview as a listener and from a file."""
from __future__ import annotations

import numpy as np
import pytest

from media_core.analysis.envelope import Envelope, EnvelopeListener, compute_envelope
from media_core.errors import ParameterError
from media_core.listeners import AudioBlock, AudioStreamInfo
from sample_media.encode import write_media


def _info(d):
    return AudioStreamInfo(path="x", sr=1000, channels=1, codec="pcm", video_start_s=None, video_end_s=None,
                           audio_start_s=0.0, duration_s=d)


def test_listener_bins_min_max_across_blocks_and_gaps():
    rng = np.random.default_rng(0)
    y = rng.uniform(-0.5, 0.5, 3000).astype(np.float32)
    y[1234] = 0.9
    y[2001] = -0.8
    lis = EnvelopeListener(step_s=0.1)
    lis.on_start(_info(4.0))
    # blocks of odd sizes so bins straddle block edges; a 0.5 s gap after the first 1.5 s
    lis.on_block(AudioBlock(0.0, 1000, y[None, :777]))
    lis.on_block(AudioBlock(0.777, 1000, y[None, 777:1500]))
    lis.on_gap(1.5, 2.0, missing_packets=3)
    lis.on_block(AudioBlock(2.0, 1000, y[None, 2000:3000]))
    env = lis.finish(3.0)
    assert len(env) == 30 and env.step_s == 0.1
    for b in range(15):
        seg = y[b * 100:(b + 1) * 100]
        assert env.mins[b] == pytest.approx(seg.min()) and env.maxs[b] == pytest.approx(seg.max())
    assert np.isnan(env.mins[15:20]).all()
    assert env.maxs[12] == pytest.approx(0.9) and env.mins[20] == pytest.approx(-0.8)


def test_slice_keeps_peaks_and_roundtrip():
    mins = np.full(1000, -0.1, np.float32)
    maxs = np.full(1000, 0.1, np.float32)
    maxs[517] = 0.95
    mins[100:200] = np.nan
    maxs[100:200] = np.nan
    env = Envelope(0.0, 0.01, mins, maxs)
    lo, hi = env.slice(0.0, 10.0, 37)
    assert np.nanmax(hi) == pytest.approx(0.95)
    lo, hi = env.slice(1.2, 1.8, 4)  # inside the hole
    assert np.isnan(hi).all()
    lo, hi = env.slice(-5.0, 0.0, 4)  # before the audio
    assert np.isnan(lo).all()
    back = Envelope.from_dict(env.to_dict())
    assert np.allclose(back.maxs, env.maxs, atol=1 / 127, equal_nan=True)
    with pytest.raises(ParameterError, match="not a waveform envelope"):
        Envelope.from_dict({"schema": "x"})
    with pytest.raises(ParameterError, match="step_s"):
        EnvelopeListener(step_s=0)


def test_compute_from_file_finds_the_loud_part(tmp_path):
    sr = 48000
    rng = np.random.default_rng(2)
    y = (0.01 * rng.standard_normal(3 * sr)).astype(np.float32)
    y[sr:sr + sr // 2] += 0.6 * np.sin(2 * np.pi * 300 * np.arange(sr // 2) / sr).astype(np.float32)
    p = write_media(tmp_path / "a.mp4", audio=y, sr=sr, size=(64, 48), duration_s=3.0)
    env = compute_envelope(p, step_s=0.02)
    assert env.end_s == pytest.approx(3.0, abs=0.1)
    peak = np.nanmax(env.maxs)
    loud = np.flatnonzero(env.maxs > 0.3 * peak) * env.step_s
    assert loud.min() == pytest.approx(1.0, abs=0.06) and loud.max() == pytest.approx(1.5, abs=0.06)
    silent = write_media(tmp_path / "v.mp4", audio=None, size=(64, 48), duration_s=1.0)
    assert compute_envelope(silent) is None
