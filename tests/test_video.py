"""media_core.io.video: packet index, exact seeking, stepping, scaled frames, thread use."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from media_core.errors import MediaError, NotMediaError, ParameterError
from media_core.io.video import VideoIndex, VideoReader, build_index, fit_size
from sample_media.encode import read_frame_index, write_media

FPS = 30.0


@pytest.fixture(scope="module")
def cfr(tmp_path_factory):
    p = tmp_path_factory.mktemp("video") / "cfr.mp4"
    rng = np.random.default_rng(1)
    audio = (0.05 * rng.standard_normal(int(48000 * 4.0))).astype(np.float32)
    return write_media(p, audio=audio, fps=FPS, size=(320, 240), duration_s=4.0)


@pytest.fixture(scope="module")
def vfr(tmp_path_factory):
    p = tmp_path_factory.mktemp("video") / "vfr.mkv"
    return write_media(p, audio=None, fps=25.0, size=(256, 192), duration_s=3.0, vfr_jitter=0.3, seed=3)


def test_index_lists_every_frame_in_display_order(cfr):
    ix = build_index(cfr)
    assert len(ix) == int(4.0 * FPS)
    assert np.all(np.diff(ix.times_s) > 0)
    assert ix.keyframe[0]
    assert 1 < ix.keyframe.sum() < len(ix)  # the encoder wrote a keyframe every second
    assert ix.fps == pytest.approx(FPS, rel=1e-3)
    assert ix.start_s == pytest.approx(0.0, abs=1e-6)
    assert ix.end_s == pytest.approx(4.0, abs=1e-3)
    assert (ix.width, ix.height) == (320, 240)


def test_index_roundtrips_through_dict(cfr):
    ix = build_index(cfr)
    back = VideoIndex.from_dict(ix.to_dict())
    assert np.array_equal(back.pts, ix.pts)
    assert np.array_equal(back.keyframe, ix.keyframe)
    assert np.allclose(back.times_s, ix.times_s)
    assert back.fps == ix.fps


@pytest.mark.parametrize("order", ["forward", "backward", "random"])
def test_frame_at_is_exact_in_any_seek_order(cfr, order):
    ix = build_index(cfr)
    idx = list(range(0, len(ix), 7))
    if order == "backward":
        idx = idx[::-1]
    elif order == "random":
        idx = list(np.random.default_rng(5).permutation(idx))
    with VideoReader(cfr, index=ix, cache_frames=2) as r:
        for i in idx:
            t = ix.times_s[i] + 0.5 * ix.durations_s[i]  # middle of the frame's time on screen
            f = r.frame_at(t)
            assert f.index == i
            assert f.pts_s == pytest.approx(ix.times_s[i])
            assert read_frame_index(f.rgb) == i


def test_frame_covering_boundaries_and_no_footage(cfr):
    ix = build_index(cfr)
    with VideoReader(cfr, index=ix) as r:
        assert r.frame_at(ix.times_s[10]).index == 10             # exactly at pts: that frame
        assert r.frame_at(ix.times_s[11] - 1e-6).index == 10      # just before the next one
        assert r.frame_at(-0.01) is None
        assert r.frame_at(ix.end_s + 0.001) is None
        assert r.frame_at(ix.end_s - 0.001).index == len(ix) - 1


def test_step_forward_and_back(cfr):
    ix = build_index(cfr)
    with VideoReader(cfr, index=ix) as r:
        f = r.frame_at(2.0)
        start = f.index
        for k in range(1, 40):
            f = r.next_frame(f)
            assert f.index == start + k and read_frame_index(f.rgb) == start + k
        for k in range(1, 70):
            f = r.previous_frame(f)
            assert f.index == start + 39 - k and read_frame_index(f.rgb) == f.index
        assert r.previous_frame(0) is None
        assert r.next_frame(len(ix) - 1) is None


def test_scaled_output_and_fit_size(cfr):
    with VideoReader(cfr, size=(160, 120)) as r:
        f = r.frame(33)
        assert f.rgb.shape == (120, 160, 3) and f.rgb.dtype == np.uint8 and f.rgb.flags.c_contiguous
        assert read_frame_index(f.rgb) == 33
        r.set_output_size(None)
        assert r.frame(33).rgb.shape == (240, 320, 3)
    with VideoReader(cfr, size=(160, 120), pixel_format="bgra") as r:
        bgra = r.frame(33).rgb
        assert bgra.shape == (120, 160, 4)
        assert read_frame_index(np.ascontiguousarray(bgra[..., 2::-1])) == 33
    assert fit_size(1280, 720, 400, 400) == (400, 224)
    assert fit_size(320, 240, 1000, 150) == (200, 150)


def test_iter_from_plays_sequentially_without_seeking(cfr):
    with VideoReader(cfr) as r:
        got = []
        for f in r.iter_from(1.0):
            got.append(f.index)
            if len(got) == 45:
                break
        assert got == list(range(30, 75))
        assert r.seeks == 1
        r.frame(50)
        seeks = r.seeks
        assert [f.index for f, _ in zip(r.iter_from(r.index.times_s[50]), range(3))] == [50, 51, 52]
        assert r.seeks == seeks  # went on from the frame just decoded
        r.frame(10)  # now in the cache: playing from it must still be in order
        odd = [f.index for f, _ in zip(r.iter_from(r.index.times_s[10], skip=lambda i: i % 2 == 1), range(6))]
        assert odd == [10, 12, 14, 16, 18, 20]


def test_variable_frame_rate_exact(vfr):
    ix = build_index(vfr)
    gaps = np.diff(ix.times_s)
    assert gaps.std() > 0.002  # really variable
    with VideoReader(vfr, index=ix) as r:
        for i in (3, 40, 17, 60, 5):
            f = r.frame_at(ix.times_s[i] + 0.25 * ix.durations_s[i])
            assert f.index == i and read_frame_index(f.rgb) == i


def test_readers_in_threads_agree_with_sequential(cfr):
    ix = build_index(cfr)
    wanted = [5, 90, 33, 61, 118, 2]
    with VideoReader(cfr, index=ix) as r:
        expected = {i: r.frame(i).rgb for i in wanted}
    results: dict[tuple[int, int], np.ndarray] = {}
    errors = []

    def work(k):
        try:
            with VideoReader(cfr, index=ix) as rr:
                for i in wanted[k:] + wanted[:k]:
                    results[(k, i)] = rr.frame(i).rgb
        except Exception as exc:  # pragma: no cover - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for (_k, i), rgb in results.items():
        assert np.array_equal(rgb, expected[i])
    assert len(results) == 3 * len(wanted)


def test_bad_inputs(tmp_path, cfr):
    with pytest.raises(MediaError, match="no such file"):
        build_index(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video at all" * 10)
    with pytest.raises(NotMediaError, match="junk.mp4"):
        build_index(junk)
    wav = write_media(tmp_path / "a.wav", audio=np.zeros(4800, np.float32), video=False)
    with pytest.raises(MediaError, match="has no video stream"):
        build_index(wav)
    with VideoReader(cfr) as r:
        with pytest.raises(ParameterError, match="frame index"):
            r.frame(10_000)
        with pytest.raises(ParameterError, match="output size"):
            r.set_output_size((0, 10))
    with pytest.raises(ParameterError, match="pixel_format"):
        VideoReader(cfr, pixel_format="yuv420p")
