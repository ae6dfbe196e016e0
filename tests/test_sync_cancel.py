"""Sync follows the one progress and cancel protocol (media_core.progress): ``progress(fraction,
message)`` runs 0..1 with plain-words messages, and ``should_stop()`` ends the work with
:class:`~media_core.errors.Cancelled` -- between feeds, pairs and windows, never with a partial result."""
from __future__ import annotations

import numpy as np
import pytest

from media_core.errors import Cancelled
from media_core.sync import estimate_offset_features, features_from_array, features_from_file, sync_features, sync_files

SR = 16000
OFFSETS = [0.0, 2.5, -1.75, 4.0]   # each camera's start on the incident clock (s)
DUR = 24.0


def _incident(rng: np.random.Generator, total_s: float) -> np.ndarray:
    """Sparse band-limited bursts (voices, doors) over a faint room: easy to match."""
    from sample_media.audio import lowpass, room_tone

    n = int(total_s * SR)
    y = room_tone(total_s, SR, level_dbfs=-60.0, rng=rng).astype(np.float64)
    for t in np.sort(rng.uniform(0, total_s - 0.3, int(total_s * 1.5))):
        m = int(rng.uniform(0.05, 0.25) * SR)
        burst = lowpass(rng.standard_normal(m), SR, rng.uniform(1500, 4000)) * np.exp(-np.arange(m) / (0.05 * SR))
        i = int(t * SR)
        y[i:i + m] += 0.3 * burst[: n - i]
    return y


@pytest.fixture(scope="module")
def cams(tmp_path_factory):
    from sample_media.encode import write_media

    d = tmp_path_factory.mktemp("cancel")
    rng = np.random.default_rng(21)
    lead = -min(OFFSETS)
    scene = _incident(rng, DUR + lead + max(OFFSETS) + 1.0)
    paths = []
    for k, off in enumerate(OFFSETS):
        i0 = int((off + lead) * SR)
        y = scene[i0:i0 + int(DUR * SR)] + rng.normal(0, 3e-4, int(DUR * SR))
        paths.append(str(write_media(d / f"cam{k}.mp4", audio=y.astype(np.float32), sr=SR, fps=5.0,
                                     size=(64, 48), seed=k)))
    return paths


@pytest.fixture(scope="module")
def prepared(cams):
    from media_core.io.probe import probe

    return [{"path": p, "probe": probe(p, scan_timing=False), "features": features_from_file(p)} for p in cams]


def _recorder():
    seen: list[tuple[float, str]] = []
    return seen, lambda fraction, message: seen.append((fraction, message))


def _assert_protocol(seen):
    assert seen, "progress was never called"
    fr = [f for f, _ in seen]
    assert all(0.0 <= f <= 1.0 for f in fr), fr
    assert fr == sorted(fr), fr
    assert all(isinstance(m, str) and m.strip() for _, m in seen), seen


def _count_calls(monkeypatch, target: str, *, first=None, until=None) -> list:
    """Count the calls of ``target``; calls other than ``first(args)`` wait (at most 10 s) for
    ``until()`` before running, so which work starts before the stop is not left to thread timing."""
    import importlib
    import time

    mod_name, name = target.rsplit(".", 1)
    mod = importlib.import_module(mod_name)
    real = getattr(mod, name)
    calls = []

    def counting(*a, **k):
        calls.append(a)
        if until is not None and not first(a):
            t_end = time.monotonic() + 10.0
            while not until() and time.monotonic() < t_end:
                time.sleep(0.005)
        return real(*a, **k)

    monkeypatch.setattr(target, counting)
    return calls


# ---------------------------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------------------------
def test_sync_files_progress_runs_0_to_1_with_messages_and_same_result(cams):
    seen, progress = _recorder()
    res = sync_files(cams, progress=progress, should_stop=lambda: False)
    _assert_protocol(seen)
    assert seen[-1] == (1.0, "sync finished")
    msgs = " | ".join(m for _, m in seen)
    for p in cams:   # every file is named while it is read and matched
        assert p.rsplit("/", 1)[-1] in msgs
    assert "read the audio of" in msgs and "matched" in msgs
    assert res == sync_files(cams)   # watching and polling change nothing
    ref = res["reference"]
    for f, off in zip(res["feeds"], OFFSETS):
        assert f["method"] in ("audio", "reference")
        true = off - OFFSETS[cams.index(ref)]
        assert f["offset_s"] == pytest.approx(true, abs=0.01)


def test_sync_features_progress_runs_0_to_1_with_messages(prepared):
    seen, progress = _recorder()
    res = sync_features(prepared, progress=progress)
    _assert_protocol(seen)
    assert seen[-1] == (1.0, "sync finished")
    assert sum("matched" in m for _, m in seen) == 6   # 4 feeds: 6 pairs, each reported once
    assert res == sync_features(prepared)


def test_features_from_file_and_pairwise_progress(cams):
    seen, progress = _recorder()
    f = features_from_file(cams[0], progress=progress)
    _assert_protocol(seen)
    assert seen[-1][0] == 1.0 and "cam0.mp4" in seen[-1][1]
    assert f is not None and f.duration_s == pytest.approx(DUR, abs=0.1)
    seen, progress = _recorder()
    e = estimate_offset_features(f, features_from_file(cams[1]), progress=progress)
    _assert_protocol(seen)
    assert seen[-1][0] == 1.0 and len(seen) > 3
    assert e.offset_s == pytest.approx(OFFSETS[1] - OFFSETS[0], abs=0.01)


# ---------------------------------------------------------------------------------------------
# Cancel
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [1, 2])
def test_sync_files_stops_after_the_first_feed(cams, monkeypatch, workers):
    seen, progress = _recorder()

    def first_feed_read():
        return any(m.startswith("read the audio of") for _, m in seen)

    decodes = _count_calls(monkeypatch, "media_core.io.decode.run_listeners",
                           first=lambda a: a[0] == cams[0], until=first_feed_read)

    with pytest.raises(Cancelled, match="cancelled"):
        sync_files(cams, progress=progress, should_stop=first_feed_read, workers=workers)
    # the feed being decoded when the flag flipped stops; the ones not started never start
    assert 1 <= len(decodes) <= workers + 1 < len(cams), len(decodes)
    assert not any("matched" in m for _, m in seen)
    _assert_protocol(seen)


def test_sync_files_stops_before_anything_when_asked(cams, monkeypatch):
    decodes = _count_calls(monkeypatch, "media_core.io.decode.run_listeners")
    with pytest.raises(Cancelled):
        sync_files(cams, should_stop=lambda: True)
    assert decodes == []


@pytest.mark.parametrize("workers", [1, 2])
def test_sync_features_stops_after_the_first_pair(prepared, monkeypatch, workers):
    seen, progress = _recorder()

    def first_pair_matched():
        return any("matched" in m for _, m in seen)

    f0, f1 = prepared[0]["features"], prepared[1]["features"]
    matches = _count_calls(monkeypatch, "media_core.sync.placement.estimate_offset_features",
                           first=lambda a: a[0] is f0 and a[1] is f1, until=first_pair_matched)
    with pytest.raises(Cancelled):
        sync_features(prepared, progress=progress, workers=workers, should_stop=first_pair_matched)
    assert sum("matched" in m for _, m in seen) == 1
    assert 1 <= len(matches) <= workers + 1 < 6, len(matches)
    assert seen[-1][0] < 1.0
    with pytest.raises(Cancelled):
        sync_features(prepared, should_stop=lambda: True)


def test_features_from_file_stops_mid_decode(cams):
    polls = []

    def stop_after_a_few():
        polls.append(1)
        return len(polls) > 3

    with pytest.raises(Cancelled, match="cam2.mp4"):
        features_from_file(cams[2], should_stop=stop_after_a_few)
    with pytest.raises(Cancelled):
        features_from_file(cams[2], should_stop=lambda: True)


def test_pairwise_estimate_stops_between_windows():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(SR * 60) * (rng.random(SR * 60) > 0.995)).astype(np.float32)
    a, b = features_from_array(x, SR), features_from_array(x[SR * 3:], SR)
    polls = []

    def stop_in_the_windows():
        polls.append(1)
        return len(polls) > 2

    with pytest.raises(Cancelled):
        estimate_offset_features(a, b, should_stop=stop_in_the_windows)
    assert len(polls) == 3
    assert estimate_offset_features(a, b, should_stop=lambda: False).offset_s == pytest.approx(3.0, abs=0.01)


def test_detect_flashes_stops_with_cancelled(tmp_path):
    from media_core.analysis.flashes import detect_flashes
    from sample_media.encode import write_media

    p = write_media(tmp_path / "v.mp4", audio=None, fps=10.0, size=(64, 48), duration_s=3.0)
    assert detect_flashes(p, should_stop=lambda: False) == []
    with pytest.raises(Cancelled, match="flashes"):
        detect_flashes(p, should_stop=lambda: True)
