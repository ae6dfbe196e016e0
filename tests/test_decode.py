"""The streaming decoder is pts-true, reports gaps and errors, and never crashes on bad audio."""
from __future__ import annotations

import numpy as np
import pytest

from media_core.errors import Cancelled, MediaError, NotMediaError
from media_core.io.decode import iter_audio_blocks, run_listeners
from sample_media import tone, write_media

SR = 48000


class Recorder:
    name = "rec"

    def __init__(self):
        self.events = []
        self.info = None

    def on_start(self, info):
        self.info = info

    def on_block(self, block):
        self.events.append(("block", block.start_s, block.end_s, block.y))

    def on_gap(self, start_s, end_s, *, missing_packets):
        self.events.append(("gap", start_s, end_s, missing_packets))

    def on_error(self, start_s, end_s, message):
        self.events.append(("error", start_s, end_s, message))

    def finish(self, end_s):
        return end_s

    def kinds(self, kind):
        return [e for e in self.events if e[0] == kind]


def _onset_signal(sr, total_s, onsets):
    """Silence with 1 kHz bursts starting at ``onsets`` (each 0.3 s)."""
    y = np.zeros(int(total_s * sr), np.float32)
    for t in onsets:
        i = int(t * sr)
        y[i:i + int(0.3 * sr)] = tone(1000, 0.3, sr, level_dbfs=-10)[: len(y[i:i + int(0.3 * sr)])]
    return y


def _first_onset(rec, thr=0.05):
    for e in rec.kinds("block"):
        idx = np.flatnonzero(np.abs(e[3]).max(axis=0) > thr)
        if idx.size:
            return e[1] + idx[0] / SR
    return None


@pytest.mark.parametrize("ext", ["mp4", "mkv", "m4a", "webm", "wav"])
def test_blocks_sit_on_the_presentation_timeline(tmp_path, ext):
    y = _onset_signal(SR, 4.0, [1.25])
    start = 0.0 if ext in ("wav", "m4a") else 0.7
    p = write_media(tmp_path / f"x.{ext}", audio=y, audio_start_s=start, duration_s=5.0, fps=10)
    rec = Recorder()
    res = run_listeners(p, [rec], block_s=0.5)
    assert rec.info.sr == SR and rec.info.channels == 1
    onset = _first_onset(rec)
    assert onset == pytest.approx(start + 1.25, abs=0.002)
    blocks = rec.kinds("block")
    for a, b in zip(blocks, blocks[1:]):  # contiguous, sample exact
        assert b[1] == pytest.approx(a[2], abs=1e-9)
    assert all(e[3].shape[1] <= 0.5 * SR + 2048 for e in blocks)  # bounded blocks
    assert rec.kinds("gap") == [] and rec.kinds("error") == []
    assert res["rec"] == pytest.approx(5.0 if ext not in ("wav", "m4a") else 4.0, abs=0.05)


def test_gaps_become_events_never_closed(tmp_path):
    y = _onset_signal(SR, 8.0, [1.0, 6.0])
    p = write_media(tmp_path / "g.mp4", audio=y, audio_gaps=[(2.0, 3.0), (4.0, 4.1)], fps=10)
    rec = Recorder()
    run_listeners(p, [rec])
    gaps = rec.kinds("gap")
    assert len(gaps) == 2
    for (_, a, b, missing), (ea, eb) in zip(gaps, [(2.0, 3.0), (4.0, 4.1)]):
        assert abs(a - ea) < 0.025 and abs(b - eb) < 0.025
        assert missing == pytest.approx((b - a) * SR / 1024, abs=1)
    # the burst after the gaps is still where it was encoded
    onsets = [e[1] + i / SR for e in rec.kinds("block") for i in np.flatnonzero(np.abs(e[3][0]) > 0.05)]
    t = min(x for x in onsets if x > 5.0)
    assert t == pytest.approx(6.0, abs=0.002)


def test_corrupt_packets_are_error_spans_and_decoding_goes_on(tmp_path):
    y = tone(440, 6.0, SR)
    p = write_media(tmp_path / "c.mkv", audio=y, audio_corrupt=[(2.0, 2.6)], fps=10)
    rec = Recorder()
    res = run_listeners(p, [rec])
    errs = rec.kinds("error")
    assert len(errs) == 1
    _, a, b, msg = errs[0]
    assert abs(a - 2.0) < 0.025 and abs(b - 2.6) < 0.025
    assert "failed to decode" in msg
    assert rec.kinds("block")[-1][2] == pytest.approx(6.0, abs=0.03)
    assert res["_decode"]["errors"] == pytest.approx(0.6 * SR / 1024, abs=2)


def test_stream_broken_to_the_end(tmp_path):
    y = tone(440, 5.0, SR)
    p = write_media(tmp_path / "b.mp4", audio=y, audio_corrupt=[(3.0, 99.0)], fps=10)
    rec = Recorder()
    run_listeners(p, [rec])
    errs = rec.kinds("error")
    assert len(errs) == 1 and abs(errs[0][1] - 3.0) < 0.025 and errs[0][2] == pytest.approx(5.0, abs=0.03)


def test_no_audio_track(tmp_path):
    p = write_media(tmp_path / "v.mp4", audio=None, duration_s=2.0, fps=10)
    rec = Recorder()
    res = run_listeners(p, [rec])
    assert rec.info.sr == 0 and rec.info.channels == 0
    assert rec.events == []
    assert res["rec"] == pytest.approx(2.0, abs=0.01)


def test_stereo_wav_is_exact_and_mono_option(tmp_path):
    rng = np.random.default_rng(1)
    y = (rng.uniform(-0.5, 0.5, (2, SR)) * 32767).round() / 32767
    p = write_media(tmp_path / "s.wav", audio=y.astype(np.float32), video=False)
    got = np.concatenate([b.y for b in iter_audio_blocks(p, block_s=0.1)], axis=1)
    assert got.shape == y.shape and got.dtype == np.float32
    assert np.abs(got - y).max() < 2 / 32768
    mono = np.concatenate([b.y for b in iter_audio_blocks(p, mono=True)], axis=1)
    assert mono.shape == (1, SR) and np.allclose(mono[0], got.mean(axis=0), atol=1e-6)


def test_progress_and_stop(tmp_path):
    p = write_media(tmp_path / "l.m4a", audio=tone(300, 6.0, SR), video=False)
    seen = []
    run_listeners(p, [Recorder()], block_s=1.0, progress=lambda f, m: seen.append((f, m)))
    fracs = [f for f, _ in seen]
    assert fracs[-1] == 1.0 and fracs == sorted(fracs) and len(fracs) >= 3
    assert all(m == "decoding l.m4a" for _, m in seen)
    rec = Recorder()
    with pytest.raises(Cancelled, match="l.m4a: decoding: cancelled"):
        run_listeners(p, [rec], block_s=0.5, should_stop=lambda: True)
    assert sum(e[3].shape[1] for e in rec.events if e[0] == "block") < 3 * SR  # stopped early


@pytest.mark.parametrize("content, exc, match", [
    (b"", NotMediaError, "empty"),
    (b"hello, this is text\n", NotMediaError, "text"),
    (bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)), NotMediaError, "bad.mp4"),
])
def test_bad_files_raise_named_errors(tmp_path, content, exc, match):
    p = tmp_path / "bad.mp4"
    p.write_bytes(content)
    with pytest.raises(exc, match=match) as ei:
        run_listeners(p, [Recorder()])
    assert str(p) in str(ei.value)


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        list(iter_audio_blocks(tmp_path / "nope.mp4"))


def test_truncated_file_reports_error_not_crash(tmp_path):
    p = write_media(tmp_path / "t.mkv", audio=tone(300, 6.0, SR), fps=10)
    data = p.read_bytes()
    q = tmp_path / "cut.mkv"
    q.write_bytes(data[: len(data) // 2])
    rec = Recorder()
    res = run_listeners(q, [rec])
    blocks = rec.kinds("block")
    assert blocks and blocks[-1][2] < 6.0
    assert res["_decode"]["audio_end_s"] is not None
