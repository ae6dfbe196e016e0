"""Stage 2 of gunshot detection: a fixed vector of measurements around each candidate onset.

The vector is what the fitted model (:mod:`media_core.analysis.shot_model`) decides on, and what a
shot's evidence quotes. It has four parts, all computed in one batch for the candidates of an
analysis window:

* **Onset shape** (first 10-30 ms): peak level, flat-top and full-scale fractions (overload),
  crest factor, asymmetry, rise time, zero-crossing rate, how long the event stays within 6 dB
  of its own peak, the jump over the 2-12 ms before (full-band and differenced), and the level
  over the quiet part of the 0.3 s before.
* **A log-band patch**: the power in 16 mel-spaced bands (100 Hz - 16 kHz, band edges on
  Slaney's mel scale, as ``librosa.mel_frequencies``) of a 6-ms window at the onset, as a shape (dB below the
  strongest band) and as a rise over the 24 ms before the onset; and the decay of 4 broad
  bands over 5-15, 15-35, 35-75 and 75-150 ms. Bands above 0.45 times the sample rate are
  missing (NaN), so 8-kHz and 48-kHz audio share one vector.
* **Ring-down**: energy of later windows relative to the onset and to the background, and
  whether the 10-50 ms after the onset are noise-like (a blast's reverberation) or resonant (a
  knock, a door, a clipped bump): spectral flatness and peak-over-median at 20-Hz resolution.
* **Context**: time and level difference to the previous, the previous stronger and the next
  candidate (an echo is a weaker copy 3-120 ms later), how many candidates lie within 0.25 s
  and 1 s (a crackle), the regularity of their spacing (a taser's click train), and the crack
  over the loudest and over the median 50-ms block of the up to 2.5 s before it. Context that
  does not exist (a clip that starts 20 ms before the shot) is NaN, never a guess: the model
  was fitted with it missing too.

Every feature is a pure function of the audio and candidates in ``[onset - 2.6 s, onset + 2 s]``; the window
and candidate order do not change it (:class:`~media_core.analysis.shots.ShotListener` relies on this).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["FEATURE_VERSION", "FEATURE_NAMES", "BAND_FEATURES", "SCREEN_FEATURES", "BAND_EDGES_HZ",
           "candidate_features", "add_band_features"]

FEATURE_VERSION = "shot-features-4"
N_BANDS = 16
DECAY_WINDOWS_MS = ((5.0, 15.0), (15.0, 35.0), (35.0, 75.0), (75.0, 150.0), (150.0, 300.0), (300.0, 600.0))
N_COARSE = N_BANDS // 2
HISTORY_S = 2.5


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (linear below 1 kHz, logarithmic above), as librosa's default."""
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep,
                    f / f_sp)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@lru_cache(maxsize=1)
def _band_edges() -> np.ndarray:
    """17 band edges evenly spaced on the mel scale from 100 Hz to 16 kHz (bit-identical to
    ``librosa.mel_frequencies(n_mels=17, fmin=100, fmax=16000)``, which the model was fitted with).
    """
    lo, hi = _hz_to_mel(np.array([100.0, 16000.0]))
    return _mel_to_hz(np.linspace(lo, hi, N_BANDS + 1))


BAND_EDGES_HZ = tuple(round(float(x), 1) for x in _band_edges())

_SCALARS = [
    "peak_dbfs", "fullscale_frac", "flat_top_frac", "crest_db", "asymmetry", "rise_ms", "zcr_5ms",
    "hot_rel_ms", "jump_db", "jump_hf_db", "snr_db", "hf_snr_db", "blast_ms",
    "drop_10_db", "drop_40_db", "drop_100_db", "tail_40_over_bg_db", "tail_100_over_bg_db",
    "flatness", "flatness_lo", "centroid_khz", "hf_share", "lf_share", "nyquist_khz",
]
_CONTEXT = [
    "dt_prev_ms", "prev_rel_db", "dt_prev_stronger_ms", "prev_stronger_rel_db", "dt_next_ms", "next_rel_db",
    "n_250ms", "n_1s", "spacing_cv", "over_recent_db", "over_median_db", "history_s",
]
FEATURE_NAMES: tuple[str, ...] = tuple(
    _SCALARS
    + [f"band_shape_{i}" for i in range(N_BANDS)]
    + [f"band_rise_{i}" for i in range(N_BANDS)]
    + [f"band_bg_{i}" for i in range(N_BANDS)]
    + [f"decay_{b}_{w}" for w in range(len(DECAY_WINDOWS_MS)) for b in range(N_COARSE)]
    + ["ring_flatness_db", "ring_peak_db"]
    + _CONTEXT
)
_IDX = {n: i for i, n in enumerate(FEATURE_NAMES)}
#: the band patch's rise, background and decay columns: most of the features' cost, computed
#: only for the candidates the model's screen passes (:func:`add_band_features`)
BAND_FEATURES: tuple[str, ...] = tuple(n for n in FEATURE_NAMES
                                       if n.startswith(("band_rise_", "band_bg_", "decay_", "ring_")))
#: every other column: what the screen decides on
SCREEN_FEATURES: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if n not in BAND_FEATURES)


def _db(x):
    return 10.0 * np.log10(np.maximum(x, 1e-20))


def _gather(y: np.ndarray, s0: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``y[s0 + a : s0 + b]`` (zero outside ``y``) and a mask of samples that exist."""
    L = b - a
    if s0.size and L > 0 and int(s0.min()) + a >= 0 and int(s0.max()) + b <= y.size:
        # every row inside y: copy rows of a strided view (no index arrays)
        rows = np.lib.stride_tricks.sliding_window_view(y, L)[s0 + a].astype(np.float64)
        return rows, np.ones(rows.shape, dtype=bool)
    idx = s0[:, None] + np.arange(a, b)[None, :]
    ok = (idx >= 0) & (idx < y.size)
    out = np.where(ok, y[np.clip(idx, 0, max(y.size - 1, 0))], 0.0).astype(np.float64)
    return out, ok


@lru_cache(maxsize=64)
def _spec_setup(sr: int, n: int) -> tuple[np.ndarray, int, tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Hann window, FFT size, the bands as runs of bins (first bin, one past the last) and band
    validity for ``n``. A band too narrow to hold a bin takes the bin nearest its centre.
    """
    nfft = 1 << int(np.ceil(np.log2(max(n, 64))))  # no zero padding: the bands are wide
    w = np.hanning(n)
    fr = np.fft.rfftfreq(nfft, 1.0 / sr)
    edges = _band_edges()
    first = np.zeros(N_BANDS, dtype=np.int64)
    stop = np.zeros(N_BANDS, dtype=np.int64)
    for i in range(N_BANDS):
        inside = np.flatnonzero((fr >= edges[i]) & (fr < edges[i + 1]))
        if inside.size:
            first[i], stop[i] = inside[0], inside[-1] + 1
        else:
            first[i] = int(np.argmin(np.abs(fr - 0.5 * (edges[i] + edges[i + 1]))))
            stop[i] = first[i] + 1
    valid = edges[1:] <= 0.45 * sr
    return w, nfft, (first, stop), valid


def _bands(P: np.ndarray, runs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Band means of each row of ``P`` over each run of bins, as exact sums. Not a matrix
    product: OpenBLAS's threads cost far more than these small products (15x slower in a
    listener thread next to the decoder, on 2 cores).
    """
    first, stop = runs
    if P.shape[0] == 0:
        return np.zeros((0, first.size))
    Pz = np.concatenate([P, np.zeros((P.shape[0], 1))], axis=1)
    sums = np.add.reduceat(Pz, np.stack([first, stop], axis=1).ravel(), axis=1)[:, 0::2]
    return sums / (stop - first)[None, :]


def _psd(rows: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Power spectral density of each row (Hann), normalised by the window energy; and freqs."""
    n = rows.shape[1]
    w, nfft, *_ = _spec_setup(sr, n)
    X = np.fft.rfft(rows * w[None, :], nfft, axis=1)
    P = (X.real ** 2 + X.imag ** 2) / float(np.sum(w * w))
    return P, np.fft.rfftfreq(nfft, 1.0 / sr)


def _band_db(y: np.ndarray, s0: np.ndarray, sr: int, a_ms: float, b_ms: float, n_sub: int) -> np.ndarray:
    """Band levels (dB, PSD means) over ``[a_ms, b_ms)`` after each onset: the mean of ``n_sub``
    Hann frames of at most 6 ms spread evenly over the window (a cheap Welch estimate). NaN
    where less than half the window exists.
    """
    ms = sr / 1000.0
    L = max(int(min(6.0, b_ms - a_ms) * ms), 8)
    span = max(int((b_ms - a_ms) * ms) - L, 0)
    starts = [int(a_ms * ms) + (span * k // max(n_sub - 1, 1) if n_sub > 1 else span // 2) for k in range(n_sub)]
    _, _, runs, _ = _spec_setup(sr, L)
    acc = np.zeros((s0.size, N_BANDS))
    have = np.zeros(s0.size)
    for st in starts:
        r, ok = _gather(y, s0, st, st + L)
        P, _ = _psd(r, sr)
        good = ok.mean(axis=1) >= 0.5
        acc[good] += _bands(P, runs)[good]
        have += good
    out = _db(acc / np.maximum(have, 1)[:, None])
    out[have < 0.5 * n_sub] = np.nan
    return out


def _coarse(bdb: np.ndarray) -> np.ndarray:
    """Pairs of mel bands merged (power mean), in dB: 16 -> 8 bands."""
    p = 10 ** (bdb / 10)
    c = 0.5 * (p[:, 0::2] + p[:, 1::2])
    return 10 * np.log10(np.maximum(c, 1e-20))


def candidate_features(y: np.ndarray, sr: int, e: np.ndarray, ed: np.ndarray, h: int,
                       cands: list[tuple[int, int]], onsets: np.ndarray, *, bands: bool = True) -> np.ndarray:
    """The feature matrix (candidates x :data:`FEATURE_NAMES`) of ``cands`` in ``y``.

    With ``bands=False`` the :data:`BAND_FEATURES` columns (most of the cost) are left NaN, for
    the model's screen to pick the candidates that need them (:func:`add_band_features`).

    Parameters
    ----------
    y : np.ndarray
        Mono float audio of the analysis window.
    sr : int
        Sample rate.
    e, ed : np.ndarray
        Full-band and differenced energies of 1-ms frames (:func:`~media_core.analysis.shot_candidates.frame_energies`).
    h : int
        Samples per frame.
    cands : list of (onset_frame, peak_frame)
    onsets : np.ndarray
        Refined onset sample of each candidate.
    bands : bool
        Compute the :data:`BAND_FEATURES` too.
    """
    n = len(cands)
    F = np.full((n, len(FEATURE_NAMES)), np.nan, dtype=np.float64)
    if n == 0:
        return F
    ms = sr / 1000.0
    s0 = np.asarray(onsets, dtype=np.int64)
    of = np.array([c[0] for c in cands], dtype=np.int64)
    pf = np.array([c[1] for c in cands], dtype=np.int64)
    nf = e.size

    def col(name, v):
        F[:, _IDX[name]] = v

    # ---- onset shape, first 10 ms
    w10, ok10 = _gather(y, s0, 0, max(int(10 * ms), 4))
    a10 = np.abs(w10)
    pk = a10.max(axis=1)
    pk_safe = np.maximum(pk, 1e-10)
    col("peak_dbfs", 20 * np.log10(pk_safe))
    nvalid = np.maximum(ok10.sum(axis=1), 1)
    col("fullscale_frac", (a10 >= 0.97).sum(axis=1) / nvalid)
    col("flat_top_frac", (a10 >= 0.995 * pk_safe[:, None]).sum(axis=1) / nvalid)
    rms = np.sqrt(np.maximum((w10 ** 2).sum(axis=1) / nvalid, 1e-20))
    col("crest_db", 20 * np.log10(pk_safe / rms))
    col("asymmetry", (w10.max(axis=1) + w10.min(axis=1)) / (pk_safe * 2))
    col("rise_ms", np.argmax(a10 >= 0.8 * pk_safe[:, None], axis=1) / ms)
    w5, _ = _gather(y, s0, 0, max(int(5 * ms), 4))
    col("zcr_5ms", np.mean(np.signbit(w5[:, 1:]) != np.signbit(w5[:, :-1]), axis=1) * ms)  # crossings per ms
    w30, _ = _gather(y, s0, 0, max(int(30 * ms), 4))
    col("hot_rel_ms", (np.abs(w30) >= 0.5 * pk_safe[:, None]).sum(axis=1) / ms)

    # ---- frame-level jumps and background
    c = np.concatenate([[0.0], np.cumsum(e)])
    cd = np.concatenate([[0.0], np.cumsum(ed)])
    pk_e = _span_max(e, pf, pf + 3)
    pk_d = _span_max(ed, of, np.maximum(pf, of) + 3)
    lo_ = np.clip(of - 12, 0, nf)
    hi_ = np.clip(of - 2, 0, nf)
    cnt = np.maximum(hi_ - lo_, 1)
    pre_e = np.where(hi_ > lo_, (c[hi_] - c[lo_]) / cnt, np.nan)
    pre_d = np.where(hi_ > lo_, (cd[hi_] - cd[lo_]) / cnt, np.nan)
    col("jump_db", _db(pk_e) - _db(pre_e))
    col("jump_hf_db", _db(pk_d) - _db(pre_d))
    # background: the 25th percentile of the 1-ms frames 300-10 ms before (NaN with < 30 of them)
    bg = np.full(n, np.nan)
    bgd = np.full(n, np.nan)
    full = of >= 300
    if full.any():
        fe = np.lib.stride_tricks.sliding_window_view(e, 290)
        fd = np.lib.stride_tricks.sliding_window_view(ed, 290)
        bg[full] = np.percentile(fe[of[full] - 300], 25, axis=1)
        bgd[full] = np.percentile(fd[of[full] - 300], 25, axis=1)
    for i in np.flatnonzero(~full):
        a, b = 0, int(of[i]) - 10
        if b - a >= 30:
            bg[i] = np.percentile(e[a:b], 25)
            bgd[i] = np.percentile(ed[a:b], 25)
    col("snr_db", _db(pk_e) - _db(bg))
    col("hf_snr_db", _db(pk_d) - _db(bgd))
    # blast: frames from the onset until the differenced energy first falls below a tenth of its
    # peak (within 200 frames of the peak)
    k = np.maximum(pf, of)
    idx = k[:, None] + 1 + np.arange(200)[None, :]
    inside = idx <= np.minimum(nf - 1, k + 200)[:, None]
    below = (ed[np.minimum(idx, nf - 1)] < 0.1 * pk_d[:, None]) & inside
    col("blast_ms", k + np.where(below.any(axis=1), np.argmax(below, axis=1), inside.sum(axis=1)) - of + 1)

    # ---- ring-down: mean power of sample windows after the onset (NaN where none exists)
    y2 = np.empty(y.size + 1)
    np.multiply(y, y, out=y2[:-1], dtype=np.float64)
    y2[-1] = 0.0

    def pw(a_ms, b_ms):
        a_, b_ = int(a_ms * ms), max(int(b_ms * ms), int(a_ms * ms) + 1)
        lo = np.clip(s0 + a_, 0, y.size)
        hi = np.clip(s0 + b_, 0, y.size)
        sums = np.add.reduceat(y2, np.stack([lo, hi], axis=1).ravel())[0::2]
        cnt_ = hi - lo
        return np.where(cnt_ > 0, sums / np.maximum(cnt_, 1), np.nan)

    p_on = pw(0, 3)
    p10, p40, p100 = pw(8, 18), pw(35, 55), pw(90, 130)
    col("drop_10_db", _db(p_on) - _db(p10))
    col("drop_40_db", _db(p_on) - _db(p40))
    col("drop_100_db", _db(p_on) - _db(p100))
    bgs = bg / h
    col("tail_40_over_bg_db", _db(p40) - _db(bgs))
    col("tail_100_over_bg_db", _db(p100) - _db(bgs))
    col("nyquist_khz", np.full(n, sr / 2000.0))

    # ---- spectra: the onset window's log-band shape (the band patch's rise, background and decay
    # windows are :func:`add_band_features`, computed only where they are needed)
    won, _ = _gather(y, s0, int(-1 * ms), max(int(5 * ms), int(-1 * ms) + 8))
    _, _, runs, valid = _spec_setup(sr, won.shape[1])
    Pon, fr = _psd(won, sr)
    Bdb_on = _db(_bands(Pon, runs))
    vmask = np.where(valid, 1.0, np.nan)[None, :]
    top = np.nanmax(np.where(valid[None, :], Bdb_on, -np.inf), axis=1, keepdims=True)
    F[:, [_IDX[f"band_shape_{i}"] for i in range(N_BANDS)]] = (Bdb_on - top) * vmask
    if bands:
        add_band_features(F, y, sr, s0, np.arange(n))
    tot = Pon[:, fr >= 100].sum(axis=1) + 1e-20
    col("hf_share", Pon[:, fr >= 2000].sum(axis=1) / tot)
    col("centroid_khz", (Pon[:, fr >= 100] * fr[fr >= 100][None, :]).sum(axis=1) / tot / 1000.0)
    band = (fr >= 1000) & (fr <= min(12000.0, 0.45 * sr))
    Xb = Pon[:, band] + 1e-20
    col("flatness", np.exp(np.mean(np.log(Xb), axis=1)) / np.mean(Xb, axis=1))
    band_lo = (fr >= 300) & (fr <= min(4000.0, 0.45 * sr))
    Xl = Pon[:, band_lo] + 1e-20
    col("flatness_lo", np.exp(np.mean(np.log(Xl), axis=1)) / np.mean(Xl, axis=1))
    w20, _ = _gather(y, s0, 0, int(20 * ms))
    P20, fr20 = _psd(w20, sr)
    col("lf_share", P20[:, fr20 < 250].sum(axis=1) / (P20.sum(axis=1) + 1e-20))

    # ---- context among candidates (times in ms, levels in dB of the peak-frame energy)
    t = s0 / ms
    lev = _db(pk_e)
    _context(F, t, lev)
    lo250 = np.searchsorted(t, t - 250.0)
    hi250 = np.searchsorted(t, t + 250.0, side="right")
    col("n_250ms", hi250 - lo250 - 1)
    lo1 = np.searchsorted(t, t - 1000.0)
    hi1 = np.searchsorted(t, t + 1000.0, side="right")
    col("n_1s", hi1 - lo1 - 1)
    col("spacing_cv", _spacing_cv(t))
    _history(F, ed, of, pk_d)
    return F


def _span_max(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``x[lo:hi].max()`` per pair (``hi`` clipped to the array; 1e-20 where ``lo`` is past it)."""
    nf = x.size
    out = np.full(lo.size, 1e-20)
    if lo.size == 0 or nf == 0:
        return out
    span = int(max(np.max(hi - lo), 1))
    idx = lo[:, None] + np.arange(span)[None, :]
    ok = (idx < np.minimum(hi, nf)[:, None])
    v = np.where(ok, x[np.minimum(idx, nf - 1)], -np.inf).max(axis=1)
    has = lo < nf
    out[has] = v[has]
    return out


def _context(F: np.ndarray, t: np.ndarray, lev: np.ndarray) -> None:
    """Previous, previous stronger (within 500 ms) and next candidate: time (ms) and level (dB)."""
    n = t.size
    if n > 1:
        dt = np.diff(t)
        near = dt <= 2000.0
        i = np.flatnonzero(near) + 1                      # rows with a previous candidate near
        F[i, _IDX["dt_prev_ms"]] = dt[i - 1]
        F[i, _IDX["prev_rel_db"]] = lev[i] - lev[i - 1]
        j = np.flatnonzero(near)                          # rows with a next candidate near
        F[j, _IDX["dt_next_ms"]] = dt[j]
        F[j, _IDX["next_rel_db"]] = lev[j] - lev[j + 1]
    lo = np.searchsorted(t, t - 500.0)
    found = np.zeros(n, dtype=bool)
    rows = np.arange(n)
    for k in range(1, int(np.max(rows - lo, initial=0)) + 1):
        j = rows - k
        hit = ~found & (j >= lo) & (lev[np.maximum(j, 0)] > lev)
        if hit.any():
            r = rows[hit]
            F[r, _IDX["dt_prev_stronger_ms"]] = t[r] - t[r - k]
            F[r, _IDX["prev_stronger_rel_db"]] = lev[r] - lev[r - k]
            found |= hit


def _spacing_cv(t: np.ndarray) -> np.ndarray:
    """Coefficient of variation of the spacing of the candidates within +-300 ms (>= 5 of them)."""
    n = t.size
    out = np.full(n, np.nan)
    a = np.searchsorted(t, t - 300.0)
    b = np.searchsorted(t, t + 300.0, side="right")
    rows = np.flatnonzero(b - a >= 5)
    if rows.size == 0:
        return out
    d = np.diff(t)
    m = b[rows] - a[rows] - 1                             # spacings in each window
    idx = a[rows][:, None] + np.arange(int(m.max()))[None, :]
    ok = idx < (a[rows] + m)[:, None]
    D = np.where(ok, d[np.minimum(idx, d.size - 1)], 0.0)
    mean = D.sum(axis=1) / m
    std = np.sqrt((np.where(ok, D - mean[:, None], 0.0) ** 2).sum(axis=1) / m)
    out[rows] = std / np.maximum(mean, 1e-6)
    return out


def _history(F: np.ndarray, ed: np.ndarray, of: np.ndarray, pk_d: np.ndarray, blk: int = 50) -> None:
    """The crack over the loudest and the median ``blk``-frame block of the differenced energy
    in the up to :data:`HISTORY_S` before each candidate (ending 20 ms before its onset).
    """
    from scipy.ndimage import maximum_filter1d

    end = of - 20
    nblk = np.minimum(int(HISTORY_S * 1000 / blk), np.maximum(end, 0) // blk)
    F[:, _IDX["history_s"]] = nblk * blk / 1000.0
    rows = np.flatnonzero(nblk >= 6)
    if rows.size == 0:
        return
    # bmax[s] = ed[s : s + blk].max()
    bmax = maximum_filter1d(ed, size=blk, origin=-(blk // 2), mode="nearest")
    for nb in np.unique(nblk[rows]):
        r = rows[nblk[rows] == nb]
        starts = (end[r] - nb * blk)[:, None] + blk * np.arange(nb)[None, :]
        peaks = bmax[starts]
        F[r, _IDX["over_recent_db"]] = _db(pk_d[r]) - _db(peaks.max(axis=1))
        F[r, _IDX["over_median_db"]] = _db(pk_d[r]) - _db(np.median(peaks, axis=1))


def add_band_features(F: np.ndarray, y: np.ndarray, sr: int, onsets: np.ndarray, rows: np.ndarray) -> None:
    """Fill the :data:`BAND_FEATURES` columns of ``F[rows]`` in place: the band patch's rise over
    the 24 ms and over the 50-250 ms before the onset, and its decay over the six windows after.

    Each is a pure function of the audio around that candidate's onset, so computing it for a
    subset of rows gives the same values as for all of them.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return
    ms = sr / 1000.0
    s0 = np.asarray(onsets, dtype=np.int64)[rows]
    won, _ = _gather(y, s0, int(-1 * ms), max(int(5 * ms), int(-1 * ms) + 8))
    _, _, runs, valid = _spec_setup(sr, won.shape[1])
    Pon, _ = _psd(won, sr)
    Bdb_on = _db(_bands(Pon, runs))
    vmask = np.where(valid, 1.0, np.nan)[None, :]
    F[np.ix_(rows, [_IDX[f"band_rise_{i}"] for i in range(N_BANDS)])] = (
        (Bdb_on - _band_db(y, s0, sr, -31.0, -7.0, 3)) * vmask)
    F[np.ix_(rows, [_IDX[f"band_bg_{i}"] for i in range(N_BANDS)])] = (
        (Bdb_on - _band_db(y, s0, sr, -250.0, -50.0, 4)) * vmask)
    on_c = _coarse(Bdb_on + 0 * vmask)
    for wi, (a_ms, b_ms) in enumerate(DECAY_WINDOWS_MS):
        d = _coarse(_band_db(y, s0, sr, a_ms, b_ms, 3 if b_ms - a_ms > 12 else 1) + 0 * vmask) - on_c
        F[np.ix_(rows, [_IDX[f"decay_{bi}_{wi}"] for bi in range(N_COARSE)])] = d
    flat, peak = _ring_tonality(y, s0, sr)
    F[rows, _IDX["ring_flatness_db"]] = flat
    F[rows, _IDX["ring_peak_db"]] = peak


def _ring_tonality(y: np.ndarray, s0: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Is the ring-down noise-like or resonant? Over 10-50 ms after each onset, at about 20-Hz
    resolution and 300 Hz - 4 kHz: the spectral flatness (dB; a reverberant blast tail is
    near 0, a knock's, a door's or a clipped bump's resonances far below) and the strongest bin
    over the median one (dB). NaN where the window does not exist in full.
    """
    ms = sr / 1000.0
    a, L = int(10 * ms), max(int(40 * ms), 16)
    r, ok = _gather(y, s0, a, a + L)
    P, fr = _psd(r, sr)
    band = (fr >= 300.0) & (fr <= min(4000.0, 0.45 * sr))
    X = P[:, band] + 1e-20
    flat = 10 * np.log10(np.exp(np.mean(np.log(X), axis=1)) / np.mean(X, axis=1))
    peak = 10 * np.log10(X.max(axis=1) / np.median(X, axis=1))
    full = ok.all(axis=1)
    return np.where(full, flat, np.nan), np.where(full, peak, np.nan)
