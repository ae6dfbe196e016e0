"""Offset and drift from shared impulsive events: one lag measurement per event, one robust line.

Two cameras that stand apart share little continuous sound, but they share *events*: a door, a
knock, a shot, the first syllable of a sentence. Each such onset in one feed is looked for in a
short window of the other feed's audio (GCC-PHAT, around where the current clock line puts it)
and yields a lag with its own uncertainty (the correlation peak's width over its prominence).
Offset and drift are then fitted over all events by a Theil-Sen line, outliers (events the other
feed did not hear, repeated knocks matched to the wrong knock) rejected, and refined by weighted
least squares. The residual scatter is mostly *sound travel*: a source ``d`` m nearer one camera
arrives ``d / 343`` s earlier there; the spread of event lags bounds that bias.

Pure numpy/scipy on :class:`~media_core.sync.features.SyncFeatures`; no notion of files.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from media_core.clock import Clock, fraction_to_ppm

from .correlation import lag_curve, parabolic
from .features import FEATURE_RATE, TRANSIENT_LOCK, SyncFeatures

MIN_EVENT_SPAN_S = 60.0     # drift is fitted from events spanning at least this long
MIN_EVENTS = 6              # consistent events needed before the event line is used
EVENT_PRE_S = 0.05          # audio window around an onset: 50 ms before ...
EVENT_POST_S = 0.45         # ... to 450 ms after
MAX_EVENTS = 400
#: a source whose best event correlates this strongly (robust z) is a shared sound, not chance:
#: unrelated windows peak at z 7-10, shared events at 15-100
Z_STRONG = 15.0
PHAT_BETA = 0.8


@dataclass
class EventLag:
    """One shared event: at the other feed's media time ``u_s``, the reference hears it ``lag_s``
    later (``ref = u + lag``), with ``sigma_s`` from the peak's width and prominence.
    """

    u_s: float
    lag_s: float
    sigma_s: float
    z: float


@dataclass
class EventFit:
    """A line through event lags: ``ref = offset_s + u * (1 + drift_ppm * 1e-6)``.

    ``sigma_offset_s`` is the standard error of the line at ``u_mid_s`` and ``sigma_slope`` that of
    its slope (from the scatter of inlier residuals); ``acoustic_s`` half the 10-90 % spread of
    the residuals (the sound-travel bound); ``peak_sigma_s`` the typical single-event uncertainty.
    """

    offset_s: float
    drift_ppm: float
    sigma_offset_s: float
    sigma_slope: float
    u_mid_s: float
    acoustic_s: float
    peak_sigma_s: float
    n_events: int
    n_inliers: int
    n_sources: int
    n_strong: int
    span_s: float
    drift_fitted: bool
    events: list[EventLag] = field(default_factory=list)
    inliers: np.ndarray | None = None
    #: chance that a line with this support arises from unrelated sounds (first pass)
    p_false: float = 1.0

    @property
    def clock(self) -> Clock:
        return Clock(self.offset_s, self.drift_ppm)

    @property
    def drift_sigma_ppm(self) -> float:
        return fraction_to_ppm(self.sigma_slope)


def onset_times(f: SyncFeatures, *, min_gap_s: float = 0.25, z_min: float = 6.0,
                max_events: int = MAX_EVENTS, start_s: float | None = None,
                end_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Impulsive onsets of a feed from its onset envelope: (media times s, robust z-scores).

    Local maxima of the envelope (smoothed over 8 ms) at least ``min_gap_s`` apart and ``z_min``
    robust standard deviations above its live floor; at most ``max_events``, the strongest,
    spread over the feed (the strongest of each stretch first).
    """
    idx, zall = _peaks(f, min_gap_s)
    keep = zall >= z_min
    idx, z_ = idx[keep], zall[keep]
    t = f.start_s + idx / FEATURE_RATE
    if start_s is not None:
        keep = t >= start_s
        idx, t, z_ = idx[keep], t[keep], z_[keep]
    if end_s is not None:
        keep = t <= end_s
        idx, t, z_ = idx[keep], t[keep], z_[keep]
    zz = z_
    if idx.size > max_events:   # the strongest in each of max_events/4 stretches, then the rest
        nchunk = max(1, max_events // 4)
        edges = np.linspace(t.min(), t.max() + 1e-9, nchunk + 1)
        chunk = np.searchsorted(edges, t, side="right") - 1
        order = np.lexsort((-zz, chunk))
        first = order[np.r_[True, chunk[order][1:] != chunk[order][:-1]]]
        rest = np.setdiff1d(np.argsort(-zz), first, assume_unique=True)
        pick = np.concatenate([first, rest])[:max_events]
        pick.sort()
        t, zz = t[pick], zz[pick]
    # the onset itself lies a few ms before the smoothed envelope's peak
    return t - 0.004, zz


def _peaks(f: SyncFeatures, min_gap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima of the smoothed onset envelope (index, robust z >= 5), cached on the features."""
    cache = f.__dict__.setdefault("_peak_cache", {})
    if min_gap_s in cache:
        return cache[min_gap_s]
    if f.feat.size < 32:
        return np.zeros(0, np.int64), np.zeros(0)
    with TRANSIENT_LOCK:
        if min_gap_s not in cache:
            cache[min_gap_s] = _find_peaks(f, min_gap_s)
    return cache[min_gap_s]


def _find_peaks(f: SyncFeatures, min_gap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima of the envelope smoothed over 8 ms (index, robust z >= 5). One whole-feed
    float32 copy (the smoothed envelope); medians, maxima and masks a chunk at a time.
    """
    from .chunked import masked_median, max_filter_chunks, moving_mean

    s = moving_mean(f.feat, 8, mode="constant")      # float32, as ndimage's uniform_filter1d
    has_live = not bool(f.muted.all())
    live = _Not(f.muted) if has_live else None
    med = masked_median(s, live)
    m32 = np.float32(med)
    mad = masked_median(s, live, lambda v: np.abs(np.subtract(v, m32, out=v), out=v)) * 1.4826 + 1e-9
    g = max(1, int(min_gap_s * FEATURE_RATE))
    lim = med + 5.0 * mad
    out = []
    for c0, c1, mx in max_filter_chunks(s, 2 * g + 1):
        sc = s[c0:c1]
        peak = sc == mx
        peak &= ~f.muted[c0:c1]
        peak &= sc >= lim
        out.append(np.flatnonzero(peak) + c0)
    idx = np.concatenate(out) if out else np.zeros(0, np.int64)
    return idx, (s[idx] - med) / mad


class _Not:
    """``~mask`` a chunk at a time (for :func:`~media_core.sync.chunked.masked_median`)."""

    def __init__(self, mask: np.ndarray):
        self.mask = mask

    def __getitem__(self, key) -> np.ndarray:
        return ~self.mask[key]


def _audio_window(f: SyncFeatures, t0: float, n: int, sr: float) -> np.ndarray:
    """``n`` samples of the feed's audio at ``sr`` from media time ``t0``, zero where muted."""
    from .pairwise import _audio_grid, _muted_at

    x = _audio_grid(f, t0, n, sr)
    x[_muted_at(f, t0 + np.arange(n) / sr)] = 0.0
    return x


def measure_event(ref: SyncFeatures, other: SyncFeatures, u: float, line: Clock, search_s: float,
                  *, z_min: float = 7.0, ambiguity: float = 0.75) -> EventLag | None:
    """The lag of the event at ``u`` (other's media time) near ``line(u)``, or None.

    GCC-PHAT of ``EVENT_PRE_S + EVENT_POST_S`` of the other's audio against the reference's
    audio ``+-search_s`` around the line; the peak's width over its prominence is its sigma. An
    event whose runner-up peak (more than 3 ms away) reaches ``ambiguity`` of the best is dropped.
    """
    sr = min(ref.sr, other.sr)
    nwin = int(round((EVENT_PRE_S + EVENT_POST_S) * sr))
    M = int(math.ceil(search_s * sr))
    xo = _audio_window(other, u - EVENT_PRE_S, nwin, sr)
    if not np.any(xo):
        return None
    # (over half a second even 300 ppm stretch the window by 0.15 ms: no resampling needed)
    r0 = line.to_shared(u - EVENT_PRE_S) - M / sr
    xr = _audio_window(ref, r0, nwin + 2 * M, sr)
    if not np.any(xr):
        return None
    from .pairwise import _hanning

    curve = lag_curve(xr, xo * _hanning(nwin), 0, 2 * M, beta=PHAT_BETA, band=(150.0, 0.45 * sr), rate=sr)
    k = int(np.argmax(curve))
    pk = float(curve[k])
    med = float(np.median(curve))
    mad = float(np.median(np.abs(curve - med))) * 1.4826 + 1e-12
    z = (pk - med) / mad
    if z < z_min or k == 0 or k == curve.size - 1:
        return None
    excl = max(2, int(0.003 * sr))
    rest = curve.copy()
    rest[max(0, k - excl): k + excl + 1] = med
    if float(rest.max()) - med >= ambiguity * (pk - med):
        return None
    half = med + 0.5 * (pk - med)
    lo = k
    while lo > 0 and curve[lo - 1] > half:
        lo -= 1
    hi = k
    while hi < curve.size - 1 and curve[hi + 1] > half:
        hi += 1
    hwhm_s = max(0.5, 0.5 * (hi - lo + 1)) / sr
    sigma = hwhm_s / math.sqrt(max(z / z_min, 1.0)) + 0.05e-3
    lag = r0 + parabolic(curve, k) / sr - (u - EVENT_PRE_S)
    return EventLag(u_s=float(u), lag_s=float(lag), sigma_s=float(sigma), z=float(z))


def fit_event_line(ev: list[EventLag], *, max_slope: float, tol_s: float = 0.015,
                   min_span_s: float = MIN_EVENT_SPAN_S) -> EventFit | None:
    """Robust offset and drift through event lags (Theil-Sen, outliers out, weighted LS)."""
    from scipy.stats import theilslopes

    if len(ev) < 3:
        return None
    U = np.array([e.u_s for e in ev])
    L = np.array([e.lag_s for e in ev])
    S = np.array([e.sigma_s for e in ev])
    span = float(np.ptp(U))
    fit_drift = span >= min_span_s and U.size >= 4
    if fit_drift:
        slope = float(np.clip(theilslopes(L, U)[0], -max_slope, max_slope))
    else:
        slope = 0.0
    icpt = float(np.median(L - slope * U))
    inl = np.ones(U.size, bool)
    for _ in range(4):
        res = L - (icpt + slope * U)
        mad = 1.4826 * float(np.median(np.abs(res[inl] - np.median(res[inl])))) if inl.any() else tol_s
        lim = max(3.0 * mad, 4.0 * float(np.median(S)), 0.004)
        lim = min(lim, tol_s)
        inl = np.abs(res - np.median(res[inl] if inl.any() else res)) <= lim
        if inl.sum() < 3:
            return None
        Ui, Li = U[inl], L[inl]
        fit_drift = float(np.ptp(Ui)) >= min_span_s and Ui.size >= 4
        if fit_drift:
            w = 1.0 / (S[inl] ** 2 + max(mad, 1e-4) ** 2)
            A = np.stack([np.ones_like(Ui), Ui], axis=1) * np.sqrt(w)[:, None]
            (icpt, slope), *_ = np.linalg.lstsq(A, Li * np.sqrt(w), rcond=None)
            slope = float(np.clip(slope, -max_slope, max_slope))
        else:
            slope = 0.0
        icpt = float(np.median(Li - slope * Ui))
    Ui, Li, Si = U[inl], L[inl], S[inl]
    n = int(Ui.size)
    Zi = np.array([e.z for e in ev])[inl]
    strong = _clusters(Ui, Zi, Si)[0] if False else None
    o = np.argsort(Ui)
    cut = np.flatnonzero(np.diff(Ui[o]) > 1.5) + 1
    n_strong = int(sum(Zi[o][p_].max() >= Z_STRONG for p_ in np.split(np.arange(n), cut)))
    del strong
    # one source makes several onsets (a knock train, a sentence) with one sound-travel lag:
    # the scatter that matters is between *sources*, so fit and judge the line on them
    cu, cl, cs = _clusters(Ui, Li, Si)
    nc = int(cu.size)
    fit_drift = float(np.ptp(Ui)) >= min_span_s and nc >= 3

    def drift_of(uu, ll, cu_, cl_):
        sl = float(np.polyfit(cu_, cl_, 1)[0])
        for _ in range(3):      # sources that keep their place keep their lag: pairs of them
            sl = _same_place_slope(uu, ll, sl)
        return float(np.clip(sl, -max_slope, max_slope))

    sig_jack = float("nan")
    if fit_drift:
        slope = drift_of(Ui, Li, cu, cl)
        # block jackknife over time: sound-travel lags come in runs (one wearer talking), so the
        # scatter of single sources understates how far the slope can be off
        nb = min(8, nc)
        if nb >= 4:
            edges = np.quantile(cu, np.linspace(0, 1, nb + 1))
            bi = np.clip(np.searchsorted(edges, Ui, side="right") - 1, 0, nb - 1)
            bc = np.clip(np.searchsorted(edges, cu, side="right") - 1, 0, nb - 1)
            js = []
            for b in range(nb):
                k, kc = bi != b, bc != b
                if kc.sum() >= 3 and np.ptp(cu[kc]) > 0:
                    js.append(drift_of(Ui[k], Li[k], cu[kc], cl[kc]))
            if len(js) >= 3:
                js = np.asarray(js)
                sig_jack = float(np.sqrt((len(js) - 1) / len(js) * np.sum((js - js.mean()) ** 2)))
    else:
        slope = 0.0
    res = cl - slope * cu
    lo_q, hi_q = (10, 90) if nc >= 10 else (0, 100)
    p_lo, p_hi = np.percentile(res, [lo_q, hi_q])
    icpt = float(0.5 * (p_lo + p_hi))       # the centre of the sound-travel spread
    u_mid = float(np.mean(cu))
    r = res - icpt
    scat = float(np.sqrt(np.sum((r - r.mean()) ** 2) / max(nc - (2 if fit_drift else 1), 1)))
    scat = max(scat, float(np.median(Si)))
    sxx = float(np.sum((cu - u_mid) ** 2))
    sig_slope = scat / math.sqrt(sxx) if fit_drift and sxx > 0 else float("nan")
    if fit_drift and math.isfinite(sig_jack):
        sig_slope = max(sig_slope, sig_jack)
    sig_off = scat / math.sqrt(nc)
    return EventFit(offset_s=icpt, drift_ppm=fraction_to_ppm(slope), sigma_offset_s=sig_off,
                    sigma_slope=sig_slope, u_mid_s=u_mid, acoustic_s=float(0.5 * (p_hi - p_lo)),
                    peak_sigma_s=float(np.median(Si)), n_events=len(ev), n_inliers=n, n_sources=nc,
                    n_strong=n_strong,
                    span_s=float(np.ptp(Ui)), drift_fitted=bool(fit_drift), events=list(ev), inliers=inl)


def _same_place_slope(u: np.ndarray, lag: np.ndarray, slope0: float, *, same_s: float = 0.002,
                      min_du: float = 30.0, max_pairs: int = 20000) -> float:
    """Drift from pairs of events whose lags agree after ``slope0`` (one place, one lag), else ``slope0``."""
    if u.size < 6:
        return slope0
    r = lag - slope0 * u
    i, j = np.triu_indices(u.size, 1)
    if i.size > max_pairs:
        pick = np.random.default_rng(0).choice(i.size, max_pairs, replace=False)
        i, j = i[pick], j[pick]
    du = u[j] - u[i]
    ok = (np.abs(du) >= min_du) & (np.abs(r[j] - r[i]) <= same_s)
    if ok.sum() < 10:
        return slope0
    return float(np.median((lag[j] - lag[i])[ok] / du[ok]))


def _clusters(u: np.ndarray, lag: np.ndarray, sig: np.ndarray, *, gap_s: float = 1.5):
    """Events closer than ``gap_s`` in time (one source) merged: mean time, median lag, min sigma."""
    o = np.argsort(u)
    u, lag, sig = u[o], lag[o], sig[o]
    cut = np.flatnonzero(np.diff(u) > gap_s) + 1
    parts = np.split(np.arange(u.size), cut)
    return (np.array([u[p].mean() for p in parts]), np.array([np.median(lag[p]) for p in parts]),
            np.array([sig[p].min() for p in parts]))


def event_line(ref: SyncFeatures, other: SyncFeatures, line: Clock, *, u0: float, u1: float,
               search_s: float, max_slope: float, should_step=None) -> EventFit | None:
    """Offset and drift from every shared onset in the overlap ``[u0, u1]`` of ``other``.

    A first pass looks ``+-search_s`` around ``line`` (the coarse estimate) and fits a robust
    line; a second pass re-measures every onset within a few ms of that line and fits again.
    ``should_step()`` is called between passes (progress / cancel).
    """
    t_o, _ = onset_times(other, start_s=u0 + EVENT_PRE_S, end_s=u1 - EVENT_POST_S)
    # onsets the reference heard too (mapped back), so an event loud only at the reference counts
    t_r, _ = onset_times(ref)
    t_r = line.to_media(t_r)
    t_r = t_r[(t_r > u0 + EVENT_PRE_S) & (t_r < u1 - EVENT_POST_S)]
    if t_o.size:
        far = np.min(np.abs(t_r[:, None] - t_o[None, :]), axis=1) > 0.2 if t_r.size else np.zeros(0, bool)
        t_r = t_r[far]
    us = np.sort(np.concatenate([t_o, t_r]))[: 2 * MAX_EVENTS]
    if us.size < 3:
        return None
    ev = [e for e in (measure_event(ref, other, float(u), line, search_s) for u in us) if e is not None]
    if should_step is not None:
        should_step()
    tol = max(0.015, 0.1 * search_s)
    fit = fit_event_line(ev, max_slope=max_slope, tol_s=tol)
    if fit is None or fit.n_inliers < 3:
        return fit
    # how likely is this many events on one line by chance? (lags of unrelated windows fall
    # anywhere in the +-search_s range; an inlier lies within the fit's tolerance of the line)
    n_groups = _clusters(np.array([e.u_s for e in ev]), np.zeros(len(ev)), np.zeros(len(ev)))[0].size
    p_false = _chance_of_line(n_groups, fit.n_sources, tol / search_s, len(us))
    # second pass: narrow search around the fitted line (sound travel of up to ~15 m either way)
    narrow = 0.045 + 3 * fit.acoustic_s
    ev2 = [e for e in (measure_event(ref, other, float(u), fit.clock, narrow) for u in us) if e is not None]
    fit2 = fit_event_line(ev2, max_slope=max_slope)
    if fit2 is None or fit2.n_inliers < fit.n_inliers * 0.8:
        fit2 = fit
    fit2.p_false = p_false
    return fit2


def _chance_of_line(n: int, k: int, p0: float, n_tries: int) -> float:
    """P(at least ``k`` of ``n`` random lags within a band of relative width ``p0`` of some line),
    with the band's placement searched over ``n_tries`` positions (a Bonferroni bound).
    """
    from scipy.stats import binom

    if n <= 0 or k <= 0:
        return 1.0
    p0 = min(1.0, max(p0, 1e-6))
    return float(min(1.0, max(1, n_tries) * binom.sf(k - 1, n, p0)))


def pattern_offsets(ref: SyncFeatures, other: SyncFeatures, *, n_max: int = 1500, bin_s: float = 0.1,
                    lo_s: float | None = None, hi_s: float | None = None) -> list[tuple[float, float]]:
    """Offsets (ref minus other media time, s) proposed by the *pattern* of strong onsets.

    Every pair of a strong onset in each feed votes for its time difference; shared events
    (a door, a knock, a sentence) vote together, unrelated sounds scatter. Returns
    ``[(offset_s, votes)]``, most votes first. Drift smears a bin by ``drift * duration``; three
    neighbouring bins are pooled.
    """
    tr, _ = onset_times(ref, z_min=8.0, max_events=n_max, min_gap_s=0.3)
    to, _ = onset_times(other, z_min=8.0, max_events=n_max, min_gap_s=0.3)
    if tr.size < 3 or to.size < 3:
        return []
    # every difference, a block of reference onsets at a time (2 x 1500 onsets would make three
    # 18 MB arrays at once); the same values, votes and medians as the whole matrix
    rows = max(1, (1 << 16) // to.size)

    def blocks():
        for i0 in range(0, tr.size, rows):
            d = (tr[i0:i0 + rows, None] - to[None, :]).ravel()
            if lo_s is not None:
                d = d[d >= lo_s]
            if hi_s is not None:
                d = d[d <= hi_s]
            if d.size:
                yield d, np.floor(d / bin_s).astype(np.int64)

    ranges = [(int(b.min()), int(b.max())) for _, b in blocks()]
    if not ranges:
        return []
    b0 = min(r[0] for r in ranges)
    nbins = max(r[1] for r in ranges) - b0 + 1
    h = np.zeros(nbins, np.int64)
    for _, b in blocks():
        h += np.bincount(b - b0, minlength=nbins)
    h = h.astype(float)
    hp = h.copy()
    hp[1:] += h[:-1]
    hp[:-1] += h[1:]
    out = []
    for _ in range(4):
        k = int(np.argmax(hp))
        if hp[k] < 3:
            break
        near = [d[(b - b0 >= k - 1) & (b - b0 <= k + 1)] for d, b in blocks()]
        out.append((float(np.median(np.concatenate(near))), float(hp[k])))
        hp[max(0, k - 5):k + 6] = 0
    return out
