"""Offset and drift between two feeds from their :class:`~media_core.sync.features.SyncFeatures`.

1. **Coarse** -- the onset envelopes are correlated over the whole of both feeds with
   phase-transform weighting (GCC-PHAT), pooled to 250 Hz.
2. **Windows** -- the overlap is cut into 30 s windows. Each window finds its local lag on the
   envelope, then refines it with GCC-PHAT on the audio itself (kept at about 8 kHz, int8 log-companded), with
   the other feed resampled onto the reference's grid along the current clock line, and a
   parabolic fit between samples. A robust line (Theil-Sen, then the drift of sources that keep
   their place, and the centre of the spread of source lags) through the window offsets gives
   offset and drift.

Confidence comes from how far the correlation peak stands out (against the second-best peak and
against the noise floor) and from how many windows agree with the line. Below
:data:`~media_core.sync.estimate.UNCERTAIN_BELOW` the estimate carries ``uncertain_reason``.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Iterable

import numpy as np

from media_core.clock import Clock, fraction_to_ppm, ppm_to_fraction
from media_core.progress import Progress, ShouldStop, check_cancel

from .chunked import moving_mean
from .correlation import curve_peaks, lag_curve, parabolic, peak_stats
from .estimate import ALGORITHM_VERSION, UNCERTAIN_BELOW, SyncEstimate, uncertain
from .events import MIN_EVENTS, event_line, pattern_offsets
from .features import FEATURE_RATE, TRANSIENT_LOCK, SyncFeatures, expand, features_from_array

WINDOW_S = 30.0
HOP_S = 15.0
MAX_DRIFT_PPM = 300.0
FINE_MARGIN_S = 0.1            # fine search around the clock line: sound travel up to ~34 m
MIN_OVERLAP_S = 4.0
MIN_DRIFT_SPAN_S = 300.0      # shorter overlaps: drift is not measurable against sound travel
FINE_WINDOW_S = 10.0
PHAT_BETA = 0.8
MAX_FINE_WINDOWS = 40
MAX_ALTERNATIVES = 3          # other lags tried by their events when the whole-feed peak is weak
COARSE_POOL = 4               # coarse correlation at FEATURE_RATE / 4


_CHUNK = 1 << 18               # frames converted at a time: float32 copies of a whole feed never exist


def _live_mean(f: SyncFeatures) -> np.float32 | None:
    """The onset envelope's mean over live frames (None when all muted), kept on the features."""
    cache = f.__dict__
    if "_live_mean" not in cache:
        tot, cnt = 0.0, 0
        for c0 in range(0, f.feat.size, _CHUNK):
            live = ~f.muted[c0:c0 + _CHUNK]
            tot += float(f.feat[c0:c0 + _CHUNK][live].astype(np.float32).sum(dtype=np.float64))
            cnt += int(live.sum())
        cache["_live_mean"] = np.float32(tot / cnt) if cnt else None
    return cache["_live_mean"]


def _centered(f: SyncFeatures, i0: int = 0, i1: int | None = None) -> np.ndarray:
    """Frames ``i0:i1`` of the onset envelope less its live mean, zero where muted (float32)."""
    x = f.feat[i0:i1].astype(np.float32)
    mean = _live_mean(f)
    if mean is not None:
        x -= mean
    x[f.muted[i0:i1]] = 0.0
    return x


def _pooled(f: SyncFeatures, pool: int, *, keep: bool = True) -> np.ndarray:
    """The centred envelope summed over ``pool`` frames (float32), made a chunk at a time; kept on
    the features (a feed is matched with several others) unless ``keep`` is False.
    """
    key = f"_pooled_{pool}"
    if key in f.__dict__:
        return f.__dict__[key]
    n = f.feat.size // pool
    out = np.empty(n, np.float32)
    step = _CHUNK // pool * pool
    for c0 in range(0, n * pool, step):
        c1 = min(n * pool, c0 + step)
        out[c0 // pool: c1 // pool] = _centered(f, c0, c1).reshape(-1, pool).sum(axis=1)
    if keep:
        f.__dict__[key] = out
    return out


def _audio_at(f: SyncFeatures, t: np.ndarray) -> np.ndarray:
    """The kept audio at media times ``t`` (linear interpolation; zero outside)."""
    pos = (t - f.start_s) * f.sr
    i0 = np.floor(pos).astype(np.int64)
    fr = (pos - i0).astype(np.float32)
    n = f.audio.size
    ok = (i0 >= 0) & (i0 + 1 < n)
    out = np.zeros(t.size, np.float32)
    ii = i0[ok]
    if ii.size:
        lo = int(ii.min())
        seg = f.audio[lo: int(ii.max()) + 2]      # one read of what the times cover
        a = expand(seg[ii - lo])
        b = expand(seg[ii + (1 - lo)])
        out[ok] = a + (b - a) * fr[ok]
    return out


def _audio_grid(f: SyncFeatures, t0: float, n: int, sr: float) -> np.ndarray:
    """The kept audio at media times ``t0 + k / sr``, ``k < n`` (as :func:`_audio_at`; at the
    feed's own rate the fraction between samples is the same for every ``k``, so two slices).
    """
    if sr != f.sr:
        return _audio_at(f, t0 + np.arange(n) / sr)
    pos = (t0 - f.start_s) * f.sr
    i0 = math.floor(pos)
    fr = np.float32(pos - i0)
    m = f.audio.size
    out = np.zeros(n, np.float32)
    k0, k1 = max(0, -i0), min(n, m - 1 - i0)       # both neighbours inside the feed
    if k1 > k0:
        seg = expand(f.audio[i0 + k0: i0 + k1 + 1])     # one read: both neighbours
        a, b = seg[:-1], seg[1:]
        out[k0:k1] = a + (b - a) * fr
    return out


def _muted_at(f: SyncFeatures, t: np.ndarray) -> np.ndarray:
    """Whether media times ``t`` fall in muted frames (outside the feed counts as muted)."""
    i = np.round((t - f.start_s) * FEATURE_RATE).astype(np.int64)
    ok = (i >= 0) & (i < f.muted.size)
    out = np.ones(t.size, bool)
    out[ok] = f.muted[i[ok]]
    return out


@functools.lru_cache(maxsize=16)
def _hanning(n: int) -> np.ndarray:
    """A Hann taper of ``n`` samples (float32, read-only: shared between calls)."""
    w = np.hanning(n).astype(np.float32)
    w.flags.writeable = False
    return w


def estimate_offset_features(ref: SyncFeatures, other: SyncFeatures, *,
                             max_drift_ppm: float = MAX_DRIFT_PPM,
                             min_overlap_s: float = MIN_OVERLAP_S,
                             window_s: float = WINDOW_S, hop_s: float = HOP_S,
                             max_offset_s: float | None = None,
                             progress: Progress | None = None,
                             should_stop: ShouldStop | None = None) -> SyncEstimate:
    """Offset and drift mapping ``other``'s media time onto ``ref``'s (see module docstring).

    ``progress(fraction, message)`` is called after the coarse search and after every window;
    ``should_stop()`` is polled between windows (:class:`~media_core.errors.Cancelled`).
    """
    what = "matching two feeds"

    def step(fraction: float, message: str) -> None:
        check_cancel(should_stop, what)
        if progress is not None:
            progress(fraction, message)

    ev: dict[str, Any] = {"method": "audio", "algorithm_version": ALGORITHM_VERSION, "measurements": {}}
    meas = ev["measurements"]
    meas.update(ref_active_s=round(float((~ref.muted).sum()) / FEATURE_RATE, 3),
                other_active_s=round(float((~other.muted).sum()) / FEATURE_RATE, 3))
    if ref.feat.size < 16 or other.feat.size < 16:
        return uncertain("a feed has almost no audio", ev)
    if (~ref.muted).sum() < min_overlap_s * FEATURE_RATE or (~other.muted).sum() < min_overlap_s * FEATURE_RATE:
        return uncertain("a feed's audio is muted (digital silence) nearly throughout", ev)

    # ---- coarse: whole-feed GCC-PHAT on the onset envelopes -----------------------------------
    na, nb = ref.feat.size, other.feat.size
    min_ov = int(min(min_overlap_s, 0.5 * min(na, nb) / FEATURE_RATE) * FEATURE_RATE)
    lo, hi = -(nb - min_ov), na - min_ov
    if max_offset_s is not None:
        base = int(round((other.start_s - ref.start_s) * FEATURE_RATE))
        lo = max(lo, -int(max_offset_s * FEATURE_RATE) - base)
        hi = min(hi, int(max_offset_s * FEATURE_RATE) - base)
    if hi <= lo:
        return uncertain("the feeds cannot overlap", ev)
    # pooled to 250 Hz: a drifting clock smears the peak over drift*duration anyway, and the
    # windows below refine the lag at 1 kHz
    P = COARSE_POOL
    lo_c, hi_c = lo // P, -(-hi // P)
    with TRANSIENT_LOCK:
        ap, bp = _pooled(ref, P), _pooled(other, P)
        cc = lag_curve(ap, bp, lo_c, hi_c, beta=1.0)
        # uniform_filter1d in place, a chunk at a time (ndimage would buffer the curve as float64 twice)
        sm = moving_mean(cc, max(1, int(round(0.016 * FEATURE_RATE / P))), mode="constant", out=cc)
        del cc
        ipk = int(np.argmax(sm))
        ratio, z, _ = peak_stats(sm, ipk, excl=int(0.25 * FEATURE_RATE / P))
        lag0 = (lo_c + parabolic(sm, ipk)) * P / FEATURE_RATE
        # the curve's next peaks, for when the whole-feed peak is weak; the curve is let go here
        next_peaks = _next_peaks(sm, ipk, lo_c, FEATURE_RATE / P) if ratio < 2.0 else []
        del sm
    # lag in feature samples: ref index = other index + lag  ->  ref_t - ref.start = other_t - other.start + lag
    coarse_offset = lag0 + ref.start_s - other.start_s
    meas.update(coarse_offset_s=round(coarse_offset, 4), coarse_peak_ratio=round(ratio, 3),
                coarse_peak_z=round(z, 2))
    c_peak = float(np.clip((ratio - 1.15) / 0.85, 0, 1) * np.clip((z - 6.0) / 14.0, 0, 1))
    step(0.2, "whole-feed correlation done")

    # overlap on the other's time line
    u0 = max(other.start_s, ref.start_s - coarse_offset)
    u1 = min(other.end_s, ref.end_s - coarse_offset)
    overlap = u1 - u0
    meas["overlap_s"] = round(overlap, 3)
    meas["overlap_mid_other_s"] = round(0.5 * (u0 + u1), 3)
    if overlap < min(min_overlap_s, 0.5 * min(ref.duration_s, other.duration_s)):
        return uncertain(f"the feeds overlap by only {overlap:.1f} s", ev, conf=0.0)

    # ---- windows on the envelope: local lags ------------------------------------------------
    win = min(window_s, overlap)
    hop = min(hop_s, win)
    nwin = max(1, int(math.floor((overlap - win) / hop + 1e-9)) + 1)
    starts = u0 + np.arange(nwin) * hop
    if nwin > 1:
        starts[-1] = u1 - win                     # last window ends at the overlap's end
        starts = np.unique(np.round(starts, 6))
    if starts.size > MAX_FINE_WINDOWS:
        starts = starts[np.unique(np.round(np.linspace(0, starts.size - 1, MAX_FINE_WINDOWS)).astype(int))]
    max_slope = ppm_to_fraction(max_drift_ppm)      # offset gained per second at the largest drift
    R = 0.15 + max_slope * overlap
    Rn = int(math.ceil(R * FEATURE_RATE))
    pts_u, pts_off, pts_w = [], [], []
    for n_done, s in enumerate(starts):
        step(0.2 + 0.3 * n_done / starts.size, "envelope windows")
        i0 = int(round((s - other.start_s) * FEATURE_RATE))
        i1 = i0 + int(round(win * FEATURE_RATE))
        bw = _centered(other, i0, i1)
        if bw.size < 16 or other.muted[i0:i1].mean() > 0.6 or not np.any(bw):
            continue
        j0 = i0 + int(round(lag0 * FEATURE_RATE)) - Rn        # ref index where lag -Rn starts
        j1 = j0 + bw.size + 2 * Rn
        jj0, jj1 = max(0, j0), min(na, j1)
        aw = _centered(ref, jj0, jj1)
        if aw.size < bw.size // 2 or ref.muted[jj0:jj1].mean() > 0.6:
            continue
        # lag L (feature samples) such that a[i0 + lagc + L'] ~ b[i0]; in curve coordinates
        base = jj0 - i0
        lags_lo = j0 - i0 - base
        curve = lag_curve(aw, bw, lags_lo, lags_lo + 2 * Rn, beta=1.0)
        k = int(np.argmax(curve))
        r_, z_, _ = peak_stats(curve, k, excl=int(0.15 * FEATURE_RATE))
        if r_ < 1.1 or z_ < 5:
            continue
        lag_w = (j0 - i0 + parabolic(curve, k)) / FEATURE_RATE
        uc = s + win / 2
        pts_u.append(uc)
        pts_off.append(lag_w + ref.start_s - other.start_s)
        pts_w.append(min(r_, 5.0))
    meas["windows"] = int(starts.size)
    meas["windows_with_peak"] = len(pts_u)
    if not pts_u:
        if c_peak < UNCERTAIN_BELOW:
            return uncertain(f"no distinct correlation peak (best is {ratio:.2f}x the runner-up)",
                              ev, conf=c_peak)
        pts_u, pts_off, pts_w = [0.5 * (u0 + u1)], [coarse_offset], [1.0]
    U = np.asarray(pts_u)
    O = np.asarray(pts_off)
    fit_drift = U.size >= 4 and (U.max() - U.min()) >= MIN_DRIFT_SPAN_S
    if fit_drift:
        slope = _theil_sen_slope(U, O)
        slope = float(np.clip(slope, -max_slope, max_slope))
        icpt = float(np.median(O - slope * U))
    else:
        slope, icpt = 0.0, float(np.median(O))

    # ---- fine: GCC-PHAT on the audio, other resampled along the line ------------------------
    # A window's curve holds one peak per coherent source: a source near the reference camera
    # reaches it first (lag + d/c), one near the other camera the other way round (lag - d/c).
    # The clock offset is the centre of that spread, not the strongest source's lag.
    sr = min(ref.sr, other.sr)
    M = int(math.ceil(FINE_MARGIN_S * sr))
    fwin = min(FINE_WINDOW_S, overlap)
    nf = max(1, int(math.floor(overlap / fwin + 1e-9)))
    fstarts = u0 + (overlap - nf * fwin) / 2 + np.arange(nf) * fwin
    if nf > MAX_FINE_WINDOWS:     # long overlaps: evenly spread subset keeps the cost bounded
        fstarts = fstarts[np.unique(np.round(np.linspace(0, nf - 1, MAX_FINE_WINDOWS)).astype(int))]
    nwin_s = int(round(fwin * sr))
    taper = _hanning(nwin_s)
    f_u, f_mid, f_w = [], [], []
    all_u, all_off, all_z = [], [], []
    n_tried = 0
    for n_done, s0 in enumerate(fstarts):
        step(0.5 + 0.5 * n_done / fstarts.size, "audio windows")
        uc = s0 + fwin / 2
        local = icpt + slope * uc                           # line's offset at the window centre
        r0 = uc + local - fwin / 2                         # ref media time window
        r0 = ref.start_s + round((r0 - ref.start_s) * sr) / sr   # on the ref's sample grid
        tr = r0 + np.arange(-M, nwin_s + M) / sr
        mr = _muted_at(ref, tr)
        tin = tr[M: M + nwin_s]
        uu = (tin - local) - slope * (tin - local - uc)    # the other's time along the line
        mo = _muted_at(other, uu)
        if mr.mean() > 0.6 or mo.mean() > 0.6:
            continue
        xr = _audio_grid(ref, float(tr[0]), tr.size, sr)
        xr[mr] = 0.0
        xo = _audio_at(other, uu)
        xo[mo] = 0.0
        if not np.any(xo) or not np.any(xr):
            continue
        n_tried += 1
        curve = lag_curve(xr, xo * taper, 0, 2 * M, beta=PHAT_BETA, band=(150.0, 0.45 * sr), rate=sr)
        peaks = curve_peaks(curve, min_sep=int(0.002 * sr))
        if not peaks:
            continue
        lags = [local + (parabolic(curve, k) - M) / sr for k, _ in peaks]   # ref later by lag
        all_u.extend([uc] * len(lags))
        all_off.extend(lags)
        all_z.extend([z_ for _, z_ in peaks])
        f_u.append(uc)
        f_mid.append(0.5 * (min(lags) + max(lags)))
        f_w.append(float(min(peaks[0][1], 60.0)))
    meas["fine_windows"] = int(fstarts.size)
    meas["fine_windows_with_peak"] = len(f_u)
    if f_u:
        U, O = np.asarray(f_u), np.asarray(f_mid)
        PU, PO = np.asarray(all_u), np.asarray(all_off)
    else:                                   # the audio never correlated: envelope windows only
        PU, PO = U, O
    fit = U.size >= 4 and (U.max() - U.min()) >= MIN_DRIFT_SPAN_S
    short_drift = None
    if fit:
        slope = _theil_sen_slope(U, O)
        for _ in range(3):
            slope = _cluster_slope(PU, PO, slope)
        slope = float(np.clip(slope, -max_slope, max_slope))
    else:
        # a short overlap: drift from peaks that keep their place, weighed against the prior of
        # camera clocks (media_core.sync.drift); none measurable: zero, bounded by the prior
        from .drift import short_span_drift
        from .uncertainty import DRIFT_BOUND_PPM, Z90

        short_drift = short_span_drift(PU, PO, max_slope, ppm_to_fraction(DRIFT_BOUND_PPM) / Z90) if f_u else None
        slope = short_drift.slope if short_drift is not None else 0.0
        if short_drift is not None:
            meas["short_span_drift"] = short_drift.as_dict()
    # intercept: centre of the spread of all source lags around the line (robust percentiles)
    from .spread import bootstrap_centre_sd, spread_centre

    res_all, groups = PO - slope * PU, PU
    if f_u:
        keep = _supported_mask(res_all, PU, np.asarray(all_z))
        res_all, groups = res_all[keep], PU[keep]
    icpt, p_lo, p_hi = spread_centre(res_all)
    # how far that centre can be off: resampling the windows (nan with fewer than 4)
    centre_sd = bootstrap_centre_sd(res_all, groups) if f_u else float("nan")
    resid = O - (icpt + slope * U)
    tol = max(FINE_MARGIN_S / 2, 3.0 * 1.4826 * float(np.median(np.abs(resid))))
    inl = np.abs(resid) <= tol
    meas.update(source_lag_spread_ms=[round(float(p_lo - icpt) * 1e3, 2), round(float(p_hi - icpt) * 1e3, 2)],
                source_peaks=int(res_all.size),
                centre_bootstrap_sd_ms=round(centre_sd * 1e3, 3) if math.isfinite(centre_sd) else None)
    drift_ppm = fraction_to_ppm(slope)
    frac = float(inl.mean()) if inl.size else 0.0
    rms = float(np.sqrt(np.mean(resid[inl] ** 2))) if inl.any() else float("nan")
    meas.update(inliers=int(inl.sum()), inlier_fraction=round(frac, 3),
                residual_rms_ms=round(rms * 1e3, 3) if np.isfinite(rms) else None,
                drift_fitted=bool(fit or short_drift is not None),
                window_offsets=[[round(float(u), 3), round(float(o), 6)] for u, o in zip(U, O)][:400])
    n_ok = int(inl.sum())
    hit = len(f_u) / max(n_tried, 1)                 # windows where the audio itself correlates
    meas["fine_hit_fraction"] = round(hit, 3)
    c_win = frac * min(1.0, n_ok / 3.0) * math.sqrt(hit) if U.size > 1 else 0.7 * math.sqrt(hit)
    conf = float(np.clip(0.5 * c_peak + 0.5 * c_win, 0, 1)) if c_peak > 0 else 0.3 * c_win
    if ratio >= 2.0 and frac >= 0.8 and n_ok >= 3:
        conf = max(conf, 0.9)
    conf = round(conf, 3)
    reason = None
    if conf < UNCERTAIN_BELOW:
        if c_peak < 0.3:
            reason = f"no distinct correlation peak (best is {ratio:.2f}x the runner-up)"
        else:
            reason = f"windowed offsets disagree ({n_ok} of {U.size} windows consistent)"
    # uncertainty of the window line: scatter of the inlier windows, their slope's standard error
    Ui = U[inl] if inl.any() else U
    u_mid = float(np.mean(Ui))
    n_w = max(int(inl.sum()), 1)
    scat = rms if np.isfinite(rms) else FINE_MARGIN_S
    sxx = float(np.sum((Ui - u_mid) ** 2))
    est = SyncEstimate(offset_s=float(icpt + slope * u_mid) - slope * u_mid, drift_ppm=float(drift_ppm),
                       confidence=conf, evidence=ev, uncertain_reason=reason,
                       sigma_s=centre_sd if math.isfinite(centre_sd) else 1.2533 * scat / math.sqrt(n_w),
                       u_mid_s=u_mid,
                       drift_sigma_ppm=(fraction_to_ppm(scat / math.sqrt(sxx)) if fit and sxx > 0
                                        else fraction_to_ppm(short_drift.sd) if short_drift is not None
                                        else float("nan")),
                       acoustic_s=float(0.5 * (p_hi - p_lo)), peak_sigma_s=0.0,
                       span_s=(other.start_s, other.end_s), p_correct=min(1.0, conf / 0.9))

    # ---- shared events: one lag per onset, a robust line through them ------------------------
    step(0.97, "shared events")
    search = min(0.35, 0.08 + (0.02 if fit else max_slope * overlap / 2))
    ef = event_line(ref, other, Clock(icpt, drift_ppm), u0=u0, u1=u1, search_s=search, max_slope=max_slope)
    # a weak or smeared whole-feed peak (drift, sparse sound, repetitive sounds): try the other
    # lags the correlation offers, segment by segment too, and keep the one most events confirm
    if ratio < 2.0 and overlap >= 30.0:
        pat = [o - (ref.start_s - other.start_s) for o, v in pattern_offsets(ref, other) if v >= 4]
        alts = [o for o in pat + _alternative_offsets(ap, bp, lo_c, hi_c, next_peaks, P)
                if abs(o + ref.start_s - other.start_s - icpt) > 0.5]
        alts = [o for k, o in enumerate(alts) if all(abs(o - x) > 0.5 for x in alts[:k])]
        def score(e):   # the line least likely to arise by chance, then the best supported
            return (-e.n_strong, -e.n_sources) if e is not None and e.n_inliers >= MIN_EVENTS else (0, 0)

        best_n = score(ef)
        runner = None
        for lag_alt in alts[:MAX_ALTERNATIVES]:
            check_cancel(should_stop, what)
            o_alt = lag_alt + ref.start_s - other.start_s
            a0 = max(other.start_s, ref.start_s - o_alt)
            a1 = min(other.end_s, ref.end_s - o_alt)
            if a1 - a0 < min_overlap_s:
                continue
            e_alt = event_line(ref, other, Clock(o_alt, 0.0), u0=a0, u1=a1,
                               search_s=min(0.35, 0.08 + max_slope * (a1 - a0) / 2), max_slope=max_slope)
            n_alt = score(e_alt)
            if n_alt < best_n:
                if best_n[0] < 0:
                    runner = {"offset_s": round(ef.offset_s, 4), "event_sources": ef.n_sources,
                              "strong_sources": ef.n_strong}
                ef, best_n, u0, u1 = e_alt, n_alt, a0, a1
                meas["overlap_s"] = round(u1 - u0, 3)
                meas["overlap_mid_other_s"] = round(0.5 * (u0 + u1), 3)
            elif n_alt[0] < 0 and (runner is None or -n_alt[0] > runner["strong_sources"]):
                runner = {"offset_s": round(e_alt.offset_s, 4), "event_sources": e_alt.n_sources,
                          "strong_sources": e_alt.n_strong}
        if runner is not None:
            meas["runner_up"] = runner
    if ef is not None:
        meas.update(events_measured=ef.n_events, events_used=ef.n_inliers, event_sources=ef.n_sources,
                    events_span_s=round(ef.span_s, 1), events_drift_fitted=ef.drift_fitted,
                    events_drift_ppm=round(ef.drift_ppm, 2),
                    events_drift_sigma_ppm=None if not math.isfinite(ef.drift_sigma_ppm)
                    else round(ef.drift_sigma_ppm, 2),
                    events_offset_s=round(ef.offset_s, 6),
                    event_lags=[[round(e.u_s, 3), round(e.lag_s, 6), round(e.sigma_s * 1e3, 3)]
                                for e, ok in zip(ef.events, ef.inliers) if ok][:300])
    dense = (conf >= 0.9 and hit >= 0.5 and len(f_u) >= min(8, max(2, fstarts.size // 2))
             and (fit or overlap < MIN_DRIFT_SPAN_S))
    # short overlaps with a good window answer keep it (drift does not matter there, and the
    # windows' peaks hold every source while an event's strongest peak favours the loudest)
    dense = dense or (overlap < MIN_DRIFT_SPAN_S and conf >= 0.5 and reason is None)
    meas["dense_sound"] = bool(dense)
    if ef is not None and ef.n_inliers >= MIN_EVENTS and ef.n_strong >= 2 and not dense:
        # sources heard strongly by both feeds on one line: each more makes chance less likely
        p_ok = (1.0 - 0.5 ** (ef.n_inliers - 2)) * (1.0 - 0.25 ** (ef.n_strong - 1))
        meas["events_strong_sources"] = ef.n_strong
        if ef.n_events:
            p_ok *= min(1.0, 0.5 + ef.n_inliers / ef.n_events)
        est = SyncEstimate(offset_s=ef.offset_s, drift_ppm=ef.drift_ppm, confidence=0.0, evidence=ev,
                           uncertain_reason=None, sigma_s=ef.sigma_offset_s, u_mid_s=ef.u_mid_s,
                           drift_sigma_ppm=ef.drift_sigma_ppm, acoustic_s=ef.acoustic_s,
                           peak_sigma_s=ef.peak_sigma_s, span_s=(other.start_s, other.end_s),
                           p_correct=float(p_ok))
        if f_u:
            # the events' strongest peaks favour the loudest source (a wearer's own voice); the
            # windows' peaks hold every coherent source: centre the clock on both spreads
            slope_e = ppm_to_fraction(ef.drift_ppm)
            rw = _supported(PO - slope_e * PU, PU, np.asarray(all_z))
            rw = rw[np.abs(rw - ef.offset_s) <= 0.035]
            if rw.size >= 4:
                inl_e = ef.inliers if ef.inliers is not None else np.ones(len(ef.events), bool)
                re_ = np.array([e.lag_s - slope_e * e.u_s for e, ok in zip(ef.events, inl_e) if ok])
                both = np.concatenate([re_, rw])
                q_lo, q_hi = np.percentile(both, [10, 90])
                est.offset_s = float(0.5 * (q_lo + q_hi))
                est.acoustic_s = max(est.acoustic_s, float(0.5 * (q_hi - q_lo)))
                meas["centred_with_window_peaks"] = int(rw.size)
        ru = meas.get("runner_up")
        if ru:   # another line that events also support: how much better supported is this one?
            est.p_correct *= 1.0 - 0.5 ** max(0, ef.n_strong - ru["strong_sources"])
        ev["method"] = "audio"
        meas["line_from"] = "events"
        meas["drift_fitted"] = ef.drift_fitted
    else:
        meas["line_from"] = "windows"
    from .uncertainty import FRAME_30_S, gate_confidence, of_estimate

    unc = of_estimate(est)
    est.confidence = gate_confidence(unc, frame_s=FRAME_30_S, p_correct=est.p_correct)
    meas["uncertainty"] = unc.as_dict()
    meas["drift_ppm_uncertainty"] = (None if not math.isfinite(est.drift_sigma_ppm)
                                     else round(est.drift_sigma_ppm, 2))
    if est.confidence < UNCERTAIN_BELOW and est.uncertain_reason is None:
        est.uncertain_reason = (reason or f"the match is too loose to place the feed (+-{unc.bound_s * 1e3:.0f} ms, "
                                f"{meas.get('events_used', 0)} shared events)")
    elif est.confidence >= UNCERTAIN_BELOW and meas["line_from"] == "events":
        est.uncertain_reason = None
    if progress is not None:
        progress(1.0, "match done")
    return est


def _next_peaks(sm: np.ndarray, ipk: int, lo_c: int, rate: float) -> list[float]:
    """The whole-feed curve's 3 next peaks (lags in s) at least 0.5 s from the best and each other."""
    excl = int(0.5 * rate)
    out: list[float] = []
    cur = sm.copy()
    cur[max(0, ipk - excl): ipk + excl + 1] = -np.inf
    for _ in range(3):
        k = int(np.argmax(cur))
        if not np.isfinite(cur[k]):
            break
        out.append((lo_c + k) / rate)
        cur[max(0, k - excl): k + excl + 1] = -np.inf
    return out


def _alternative_offsets(ap: np.ndarray, bp: np.ndarray, lo_c: int, hi_c: int, next_peaks: list[float],
                         P: int, *, seg_s: float = 120.0) -> list[float]:
    """Lags (s, ref index minus other index) worth a second look besides the whole-feed peak:
    the next peaks of the whole-feed curve (:func:`_next_peaks`), and the peaks of 2-minute
    segments of the other feed (a drifting clock smears the whole-feed peak; a segment's stays
    sharp), most votes first.
    """
    rate = FEATURE_RATE / P
    excl = int(0.5 * rate)
    out: list[tuple[float, float]] = [(lag, 1.0) for lag in next_peaks]
    n = int(seg_s * rate)
    votes: dict[int, float] = {}
    if bp.size >= 2 * n:
        for i0 in range(0, bp.size - n + 1, n):
            if not np.any(bp[i0:i0 + n]):
                continue
            with TRANSIENT_LOCK:   # whole-feed curves: one thread at a time
                seg = np.zeros_like(bp)
                seg[i0:i0 + n] = bp[i0:i0 + n]
                c = lag_curve(ap, seg, lo_c, hi_c, beta=1.0)
                del seg
                # uniform_filter1d (mode reflect) in place, a chunk at a time
                c = moving_mean(c, max(1, int(0.04 * rate)), mode="reflect", out=c)
                k = int(np.argmax(c))
                r_, _, _ = peak_stats(c, k, excl=excl)
                del c
            if r_ >= 1.3:
                key = int(round((lo_c + k) / rate / 0.5))
                votes[key] = votes.get(key, 0.0) + min(r_, 3.0)
    for key, v in sorted(votes.items(), key=lambda kv: -kv[1]):
        out.append((key * 0.5, 1.0 + v))
    out.sort(key=lambda x: -x[1])
    lags: list[float] = []
    for lag, _ in out:
        if all(abs(lag - x) > 0.5 for x in lags):
            lags.append(lag)
    return lags


def _theil_sen_slope(x: np.ndarray, y: np.ndarray) -> float:
    """The Theil-Sen slope of ``y`` over ``x``: the median of the slopes between all pairs."""
    from scipy.stats import theilslopes

    return float(theilslopes(y, x)[0])


def _cluster_slope(u: np.ndarray, lag: np.ndarray, slope0: float, *, same_s: float = 0.003,
                   min_du: float = 60.0) -> float:
    """Drift from pairs of source peaks that share a geometry (same lag after ``slope0``).

    A wearer's voice, a radio on the dash: a source that keeps its place relative to both
    cameras keeps its lag, so pairs of its peaks far apart in time measure the drift without the
    sound-travel scatter between different sources.
    """
    if u.size < 6:
        return slope0
    r = lag - slope0 * u
    i, j = np.triu_indices(u.size, 1)
    du = u[j] - u[i]
    ok = (np.abs(du) >= min_du) & (np.abs(r[j] - r[i]) <= same_s)
    if ok.sum() < 10:
        return slope0
    return float(np.median((lag[j] - lag[i])[ok] / du[ok]))


def _supported(res: np.ndarray, u: np.ndarray, z: np.ndarray, *, near_s: float = 0.003,
               z_alone: float = 10.0, gap_s: float = 0.030) -> np.ndarray:
    """Source lags worth trusting (sorted): strong, or seen again in another window; no far
    stragglers (:func:`_supported_mask`).
    """
    return np.sort(res[_supported_mask(res, u, z, near_s=near_s, z_alone=z_alone, gap_s=gap_s)])


def _supported_mask(res: np.ndarray, u: np.ndarray, z: np.ndarray, *, near_s: float = 0.003,
                    z_alone: float = 10.0, gap_s: float = 0.030) -> np.ndarray:
    """Which source lags are worth trusting: strong, or seen again in another window; a small
    group cut off from the rest by a wide gap at either end is dropped.
    """
    keep = z >= z_alone
    for i in range(res.size):
        if not keep[i]:
            keep[i] = bool(np.any((np.abs(res - res[i]) <= near_s) & (u != u[i])))
    if not keep.any():
        keep = np.ones(res.size, bool)
    idx = np.flatnonzero(keep)
    idx = idx[np.argsort(res[idx], kind="stable")]
    r = res[idx]
    a, b = 0, r.size
    while b - a >= 4:
        if r[a + 1] - r[a] > gap_s and b - a >= 10:
            a += 1
        elif r[b - 1] - r[b - 2] > gap_s and b - a >= 10:
            b -= 1
        else:
            break
    out = np.zeros(res.size, bool)
    out[idx[a:b]] = True
    return out


def estimate_offset(y_ref, sr_ref: int, y_other, sr_other: int, *,
                    exclude_ref: Iterable[tuple[float, float]] = (),
                    exclude_other: Iterable[tuple[float, float]] = (),
                    max_drift_ppm: float = MAX_DRIFT_PPM, progress: Progress | None = None,
                    should_stop: ShouldStop | None = None) -> SyncEstimate:
    """Offset and drift of ``y_other`` against ``y_ref`` from their audio.

    Parameters
    ----------
    y_ref, y_other : np.ndarray, shape (n,) or (channels, n)
        Audio, float in [-1, 1]; sample 0 is media time 0.
    sr_ref, sr_other : int
        Sample rates (may differ).
    exclude_ref, exclude_other : list of (start_s, end_s)
        Spans to ignore (e.g. mutes from :class:`media_core.analysis.mutes.MuteListener`). Runs of exact
        zeros are excluded automatically.

    Returns
    -------
    SyncEstimate
        ``ref_time = offset_s + other_time * (1 + drift_ppm * 1e-6)``, with ``confidence`` and
        ``uncertain_reason`` (None when usable).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = (rng.standard_normal(48000 * 20) * (rng.random(48000 * 20) > 0.999)).astype(np.float32)
    >>> est = estimate_offset(x, 48000, x[48000 * 3:], 48000)
    >>> round(est.offset_s, 3)
    3.0
    """
    fa = features_from_array(y_ref, sr_ref, exclude=exclude_ref)
    fb = features_from_array(y_other, sr_other, exclude=exclude_other)
    return estimate_offset_features(fa, fb, max_drift_ppm=max_drift_ppm, progress=progress,
                                    should_stop=should_stop)

