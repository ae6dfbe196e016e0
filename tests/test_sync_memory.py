"""Sync's memory helpers: chunked statistics equal the whole-array ones bit for bit, and spilled
audio reads back exactly (media_core/sync/chunked.py, media_core/sync/spill.py)."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from media_core.sync import chunked, spill
from media_core.sync.features import features_from_array, load_features, save_features


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(chunked, "CHUNK", 1000)


def _signal(rng, n):
    """Wide dynamic range (energies span 1e-18 to 1e3), a third exact zeros."""
    return (np.exp(rng.standard_normal(n) * 8) * (rng.random(n) > 0.3)).astype(np.float32)


@pytest.mark.parametrize("mode", ["constant", "nearest", "reflect"])
@pytest.mark.parametrize("size", [1, 4, 6, 8, 10])
def test_moving_mean_is_uniform_filter1d_bit_for_bit(small_chunks, mode, size):
    rng = np.random.default_rng(size)
    for n in (1, 2, 5, 999, 1000, 1001, 1002, 4321):
        x = _signal(rng, n)
        want = uniform_filter1d(x, size=size, mode=mode)
        assert np.array_equal(chunked.moving_mean(x, size, mode=mode), want)
        y = x.copy()
        assert np.array_equal(chunked.moving_mean(y, size, mode=mode, out=y), want)   # in place
        h = np.minimum(x, 6e4).astype(np.float16)
        assert np.array_equal(chunked.moving_mean(h, size, mode=mode),
                              uniform_filter1d(h.astype(np.float32), size=size, mode=mode))


def test_max_filter_and_masked_median_are_the_whole_array_ones(small_chunks):
    rng = np.random.default_rng(1)
    for n in (1, 3, 1000, 2501):
        x = _signal(rng, n)
        m = (rng.random(n) > 0.9).view(np.uint8)
        for size in (3, 8, 61):
            assert np.array_equal(chunked.max_filter(x, size), maximum_filter1d(x, size, mode="constant"))
            assert np.array_equal(chunked.max_filter(m, size), maximum_filter1d(m, size, mode="constant"))
        live = rng.random(n) < 0.6
        live[0] = True
        med = chunked.masked_median(x, live)
        assert med == float(np.median(x[live])) and chunked.masked_median(x) == float(np.median(x))
        m32 = np.float32(med)
        assert chunked.masked_median(x, live, lambda v: np.abs(v - m32)) == float(np.median(np.abs(x[live] - m32)))
    assert np.isnan(chunked.masked_median(np.ones(4, np.float32), np.zeros(4, bool)))


def test_spilled_audio_reads_back_exactly(monkeypatch):
    rng = np.random.default_rng(2)
    w = spill.SpillWriter(np.int8, 100, spill_above=3000)
    ref: list[int] = []
    for k in range(40):
        if k % 7 == 6:
            w.pop(25)
            del ref[-25:]
        x = rng.integers(-128, 128, int(rng.integers(0, 400))).astype(np.int8)
        w.append(x)
        ref.extend(x.tolist())
    a, want = w.take(), np.array(ref, np.int8)
    assert isinstance(a, spill.SpilledArray) and a.size == want.size and a.dtype == np.int8
    assert np.array_equal(np.asarray(a), want) and np.array_equal(a[17:4000], want[17:4000])
    idx = rng.integers(0, a.size, 50)
    assert np.array_equal(a[idx], want[idx]) and a[-1] == want[-1] and a[5] == want[5]
    assert np.array_equal(pickle.loads(pickle.dumps(a)), want)      # a worker gets the data

    # a full disk: the writer goes back to memory with what it had
    real = spill.os.pwrite
    calls = [0]

    def pwrite(fd, data, off):
        calls[0] += 1
        if calls[0] > 2:
            raise OSError(28, "No space left on device")
        return real(fd, data, off)

    monkeypatch.setattr(spill.os, "pwrite", pwrite)
    w = spill.SpillWriter(np.int8, 0, spill_above=1024)
    parts = [rng.integers(-128, 128, 700).astype(np.int8) for _ in range(5)]
    for p in parts:
        w.append(p)
    b = w.take()
    assert isinstance(b, np.ndarray) and np.array_equal(b, np.concatenate(parts))


def test_long_features_spill_and_their_cache_round_trips(tmp_path):
    rng = np.random.default_rng(3)
    sr = 8000
    y = (rng.standard_normal(sr * 300) * 0.05 * (rng.random(sr * 300) > 0.5)).astype(np.float32)
    f = features_from_array(y, sr)
    assert isinstance(f.audio, spill.SpilledArray)          # 300 s at 8 kHz: 2.4 MB, above the limit
    save_features(tmp_path / "f.npz", f)
    with np.load(tmp_path / "f.npz") as z:                  # the same file as np.savez writes
        assert np.array_equal(z["audio"], np.asarray(f.audio)) and np.array_equal(z["feat"], f.feat)
    g = load_features(tmp_path / "f.npz")
    assert isinstance(g.audio, spill.SpilledArray)
    assert np.array_equal(np.asarray(g.audio), np.asarray(f.audio))
    assert np.array_equal(g.feat, f.feat) and np.array_equal(g.muted, f.muted) and g.sr == f.sr
