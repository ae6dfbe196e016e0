"""Place feeds on one shared clock from their audio: offset and drift by robust cross-correlation.

Two stages, both on what :class:`SyncFeatureListener` keeps from one streaming decode:

1. **Coarse** -- a band-limited onset envelope at 1 kHz (three bands between 300 Hz and 3.3 kHz,
   log energy, half-wave rectified rise) correlated over the whole of both feeds with
   phase-transform weighting (GCC-PHAT). Microphones, gains and sample rates differ between
   cameras; the *rises* of band energy do not. Muted spans (digital silence, decoder gaps, spans
   the caller excludes) are zero in the envelope, so silence never attracts the match.
2. **Windows** -- the overlap is cut into 30 s windows. Each window finds its local lag on the
   envelope, then refines it with GCC-PHAT on the audio itself (kept at about 8 kHz, int16), with
   the other feed resampled onto the reference's grid along the current clock line, and a
   parabolic fit between samples. A robust line (Theil-Sen, then weighted least squares on the
   inliers) through the window offsets gives offset and drift.

Confidence comes from how far the correlation peak stands out (against the second-best peak and
against the noise floor) and from how many windows agree with the line. Below
:data:`UNCERTAIN_BELOW` the estimate carries ``uncertain_reason`` and must not be used silently.

Conventions: an estimate maps the *other* feed's media time ``u`` onto the *reference* feed's
media time: ``ref = offset_s + u * (1 + drift_ppm * 1e-6)`` -- exactly a
:class:`~media_core.clock.Clock`.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from media_core.clock import Clock
from media_core.errors import MediaError, ParameterError

ALGORITHM_VERSION = "sync-audio/1"
FEATURE_RATE = 1000.0          # Hz, onset envelope rate used for correlation
TARGET_AUDIO_SR = 8000         # audio kept for fine refinement: native rate // k >= this
BANDS_HZ = ((300.0, 700.0), (700.0, 1500.0), (1500.0, 3300.0))
WINDOW_S = 30.0
HOP_S = 15.0
MAX_DRIFT_PPM = 300.0
FINE_MARGIN_S = 0.1            # fine search around the clock line: sound travel up to ~34 m
MIN_OVERLAP_S = 4.0
MIN_DRIFT_SPAN_S = 300.0      # shorter overlaps: drift is not measurable against sound travel
FINE_WINDOW_S = 10.0
PHAT_BETA = 0.8
MAX_FINE_WINDOWS = 40
COARSE_POOL = 4               # coarse correlation at FEATURE_RATE / 4
UNCERTAIN_BELOW = 0.35
INT16_FULL = 32767.0


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass
class SyncEstimate:
    """How the other feed's media time maps onto the reference feed's media time.

    ``ref_s = offset_s + other_s * (1 + drift_ppm * 1e-6)``.
    """

    offset_s: float | None
    drift_ppm: float
    confidence: float
    evidence: dict[str, Any] = field(default_factory=dict)
    uncertain_reason: str | None = None

    @property
    def uncertain(self) -> bool:
        return self.uncertain_reason is not None or self.offset_s is None

    @property
    def clock(self) -> Clock:
        if self.offset_s is None:
            raise ParameterError("this estimate has no offset: " + (self.uncertain_reason or "?"))
        return Clock(self.offset_s, self.drift_ppm)


@dataclass
class SyncFeatures:
    """What sync keeps of one feed: a 1 kHz onset envelope and ~8 kHz int16 audio.

    ``audio[m]`` is at media time ``start_s + m / sr``; ``feat[i]`` and ``muted[i]`` are at
    ``start_s + i / FEATURE_RATE``. Memory: about 21 kB per second of feed (38 MB for 30 min).
    """

    path: str | None
    sr: float
    audio: np.ndarray              # int16, (n,)
    start_s: float
    feat: np.ndarray               # float32 onset envelope at FEATURE_RATE, zero where muted
    muted: np.ndarray              # bool at FEATURE_RATE
    native_sr: int = 0

    @property
    def duration_s(self) -> float:
        return self.audio.size / self.sr

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    @property
    def nbytes(self) -> int:
        return int(self.audio.nbytes + self.feat.nbytes + self.muted.nbytes)

    @property
    def active_fraction(self) -> float:
        return float(1.0 - self.muted.mean()) if self.muted.size else 0.0

    def excluding(self, spans: Iterable[tuple[float, float]]) -> "SyncFeatures":
        """A copy with ``spans`` (media time, e.g. the mute listener's mutes) muted."""
        m = _spans_mask(self.muted.size, FEATURE_RATE, self.start_s, spans)
        if not m.any():
            return self
        muted = self.muted | m
        feat = self.feat.copy()
        feat[_dilate(muted, int(0.03 * FEATURE_RATE))] = 0.0
        return SyncFeatures(self.path, self.sr, self.audio, self.start_s, feat, muted, self.native_sr)


# --------------------------------------------------------------------------------------------
# Streaming feature extraction
# --------------------------------------------------------------------------------------------
class _Extractor:
    """Streaming decimation (linear-phase polyphase FIR) plus band energies per 1 ms frame."""

    def __init__(self, sr: int, start_s: float = 0.0):
        from scipy.signal import butter, firwin

        if sr <= 0:
            raise ParameterError(f"sample rate must be > 0 (got {sr})")
        self.sr = int(sr)
        self.k = max(1, self.sr // TARGET_AUDIO_SR)
        self.sr_d = self.sr / self.k
        self.start_s = float(start_s)
        if self.k > 1:
            taps = 12 * self.k + 1
            self.h = firwin(taps, 0.42 * self.sr_d, fs=self.sr).astype(np.float32)
        else:
            self.h = np.ones(1, np.float32)
        self.D = (self.h.size - 1) // 2
        self._buf = np.zeros(self.D, np.float32)   # zero history before the first sample
        self._buf_start = -self.D                   # absolute input index of _buf[0]
        self._m_next = 0                            # next decimated output index
        self._n_in = 0                              # input samples received
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self.hop = max(1, int(round(self.sr_d / FEATURE_RATE)))
        self.fr = self.sr_d / self.hop
        nyq = self.sr_d / 2
        self.sos = []
        for lo, hi in BANDS_HZ:
            hi = min(hi, 0.9 * nyq)
            if lo < hi:
                self.sos.append(butter(2, [lo, hi], btype="band", fs=self.sr_d, output="sos").astype(np.float32))
        self.zi = [np.zeros((s.shape[0], 2), np.float32) for s in self.sos]
        self._dcarry = np.zeros(0, np.float32)      # decimated samples not yet in a full frame
        self._audio: list[np.ndarray] = []
        self._energy: list[np.ndarray] = []
        self._mute: list[np.ndarray] = []

    # -- input ---------------------------------------------------------------------------------
    def push(self, y: np.ndarray) -> None:
        """Append mono float samples (contiguous with what came before)."""
        if y.size == 0:
            return
        self._pending.append(np.asarray(y, np.float32))
        self._pending_n += y.size
        self._n_in += y.size
        if self._pending_n >= 4 * self.sr:   # batch ~4 s: keeps per-block Python cost low
            self._flush()

    def push_zeros(self, n: int) -> None:
        """A gap or undecodable span: ``n`` samples of nothing (marked muted)."""
        while n > 0:
            m = min(n, self.sr * 10)
            self.push(np.zeros(m, np.float32))
            n -= m

    @property
    def n_in(self) -> int:
        return self._n_in

    def _flush(self, final: bool = False) -> None:
        from scipy.signal import upfirdn

        parts = [self._buf] + self._pending
        if final:
            parts.append(np.zeros(self.D + self.k, np.float32))
        buf = np.concatenate(parts) if len(parts) > 1 else parts[0]
        self._pending, self._pending_n = [], 0
        buf_end = self._buf_start + buf.size               # exclusive absolute index
        n_total = self._n_in
        k, D = self.k, self.D
        m_last = (buf_end - 1 - D) // k
        if final:
            m_last = min(m_last, (n_total - 1) // k)
        if m_last >= self._m_next:
            s0 = self._m_next * k - D - self._buf_start
            s1 = m_last * k + D - self._buf_start + 1
            seg = buf[s0:s1]
            if k > 1:
                out = upfirdn(self.h, seg, 1, k)
                q0 = (2 * D) // k
                d = out[q0:q0 + (m_last - self._m_next + 1)].astype(np.float32)
            else:
                d = seg.astype(np.float32)
            self._m_next = m_last + 1
            self._features(d)
        keep_from = self._m_next * k - D
        self._buf = buf[keep_from - self._buf_start:].copy()
        self._buf_start = keep_from

    def _features(self, d: np.ndarray) -> None:
        from scipy.signal import sosfilt

        self._audio.append(np.clip(np.round(d * INT16_FULL), -32768, 32767).astype(np.int16))
        x = np.concatenate([self._dcarry, d]) if self._dcarry.size else d
        nfr = x.size // self.hop
        if nfr == 0:
            self._dcarry = x
            return
        xf = x[: nfr * self.hop]
        self._dcarry = x[nfr * self.hop:].copy()
        # bands filtered on the full stream with state; the carry is re-filtered next time, so
        # filter only the part that forms frames and keep the state at the frame boundary
        e = np.empty((len(self.sos), nfr), np.float32)
        for b, sos in enumerate(self.sos):
            yb, self.zi[b] = sosfilt(sos, xf, zi=self.zi[b])
            yb *= yb
            e[b] = yb.reshape(nfr, self.hop).sum(axis=1)
        self._energy.append(e)
        self._mute.append(~np.any(xf.reshape(nfr, self.hop) != 0.0, axis=1))

    # -- output --------------------------------------------------------------------------------
    def finish(self, path: str | None = None, excluded: Iterable[tuple[float, float]] = ()) -> SyncFeatures:
        self._flush(final=True)
        if self._dcarry.size:  # last partial frame
            pad = np.zeros(self.hop - self._dcarry.size, np.float32)
            tail = self._dcarry
            self._dcarry = np.zeros(0, np.float32)
            audio_keep = self._audio
            self._features(np.concatenate([tail, pad]))
            # _features appended padded audio; drop it again (the tail was already stored)
            audio_keep.pop()
        audio = np.concatenate(self._audio) if self._audio else np.zeros(0, np.int16)
        self._audio = []
        n_exp = -(-self._n_in // self.k)
        audio = audio[:n_exp]
        energy = np.concatenate(self._energy, axis=1) if self._energy else np.zeros((len(self.sos), 0), np.float32)
        self._energy = []
        mute = np.concatenate(self._mute) if self._mute else np.zeros(0, bool)
        self._mute = []
        feat, muted = _onset_envelope(energy, mute, self.fr, excluded=excluded, start_s=self.start_s)
        return SyncFeatures(path=path, sr=self.sr_d, audio=audio, start_s=self.start_s, feat=feat,
                            muted=muted, native_sr=self.sr)


def _spans_mask(n: int, rate: float, start_s: float, spans: Iterable[tuple[float, float]]) -> np.ndarray:
    m = np.zeros(n, bool)
    for a, b in spans or ():
        i0 = max(0, int(math.floor((float(a) - start_s) * rate)))
        i1 = min(n, int(math.ceil((float(b) - start_s) * rate)))
        if i1 > i0:
            m[i0:i1] = True
    return m


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    if r <= 0 or not mask.any():
        return mask
    c = np.concatenate([[0], np.cumsum(mask.astype(np.int32))])
    n = mask.size
    i = np.arange(n)
    lo = np.clip(i - r, 0, n)
    hi = np.clip(i + r + 1, 0, n)
    return (c[hi] - c[lo]) > 0


def _onset_envelope(energy: np.ndarray, mute: np.ndarray, fr: float, *, excluded=(), start_s=0.0):
    """Band energies per frame -> onset envelope at FEATURE_RATE, zero in muted spans."""
    from scipy.ndimage import uniform_filter1d

    nb, nf = energy.shape
    if nf == 0:
        return np.zeros(0, np.float32), np.zeros(0, bool)
    # muted = exact digital zeros (at least 20 ms in a row) or spans the caller excluded
    muted = _long_runs(mute.astype(bool), max(1, int(round(0.020 * fr))))
    muted |= _spans_mask(nf, fr, start_s, excluded)
    live = ~muted
    size = max(1, int(round(0.006 * fr)))
    lag = max(1, int(round(0.004 * fr)))
    onset = np.zeros(nf, np.float32)
    for b in range(nb):                      # band by band: memory stays a few rows
        es = uniform_filter1d(energy[b], size=size, mode="nearest")
        ref = es[live] if live.any() else es
        floor = np.float32(0.03 * float(np.median(ref)) + 1e-12) if ref.size else np.float32(1e-12)
        es += floor
        L = np.log(es, out=es)
        onset[lag:] += np.maximum(L[lag:] - L[:-lag], 0.0)
        del es, L, ref
    onset[_dilate(muted, max(1, int(round(0.03 * fr))))] = 0.0
    if abs(fr - FEATURE_RATE) > 1e-9:
        t_src = np.arange(nf) / fr
        n_out = int(math.floor((nf - 1) / fr * FEATURE_RATE)) + 1
        t_out = np.arange(n_out) / FEATURE_RATE
        onset = np.interp(t_out, t_src, onset)
        muted = np.interp(t_out, t_src, muted.astype(np.float32)) > 0.0
    return onset.astype(np.float32), muted


def _long_runs(mask: np.ndarray, minlen: int) -> np.ndarray:
    """``mask`` with runs of True shorter than ``minlen`` cleared."""
    if not mask.any():
        return mask.copy()
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    s = np.flatnonzero(d == 1)
    e = np.flatnonzero(d == -1)
    out = np.zeros_like(mask)
    for a, b in zip(s, e):
        if b - a >= minlen:
            out[a:b] = True
    return out


class SyncFeatureListener:
    """Audio listener (see :mod:`media_core.listeners`) that collects :class:`SyncFeatures`.

    Channels are mixed to mono; gaps and undecodable spans become muted zeros so the time line
    stays true. ``finish`` returns the :class:`SyncFeatures` (None when no audio arrived).
    """

    name = "sync"

    def __init__(self, *, exclude: Iterable[tuple[float, float]] = ()):
        self.exclude = list(exclude)
        self._ex: _Extractor | None = None
        self._path: str | None = None
        self._sr = 0
        self._muted_spans: list[tuple[float, float]] = []

    def on_start(self, info) -> None:
        self._path = info.path
        self._sr = int(info.sr)

    def _ensure(self, start_s: float, sr: int) -> _Extractor:
        if self._ex is None:
            self._ex = _Extractor(sr, start_s)
        return self._ex

    def _expected(self) -> float:
        ex = self._ex
        return ex.start_s + ex.n_in / ex.sr

    def on_block(self, block) -> None:
        y = block.y
        if y.ndim == 2:
            y = y[0] if y.shape[0] == 1 else y.mean(axis=0)
        ex = self._ensure(block.start_s, block.sr)
        if block.sr != ex.sr:
            raise ParameterError(f"sample rate changed mid-stream ({ex.sr} -> {block.sr} Hz)")
        exp = self._expected()
        d = int(round((block.start_s - exp) * ex.sr))
        if d > 0:                     # a hole the decoder did not announce: keep time true
            ex.push_zeros(d)
        elif d < 0:                   # overlap: drop what we already have
            y = y[-d:]
        ex.push(y)

    def on_gap(self, start_s: float, end_s: float, *, missing_packets: int = 0) -> None:
        self._muted_spans.append((start_s, end_s))
        if self._ex is not None:
            n = int(round((end_s - self._expected()) * self._ex.sr))
            if n > 0:
                self._ex.push_zeros(n)

    def on_error(self, start_s: float, end_s: float, message: str = "") -> None:
        self.on_gap(start_s, end_s)

    def finish(self, end_s: float | None = None) -> SyncFeatures | None:
        if self._ex is None:
            return None
        return self._ex.finish(self._path, excluded=self.exclude + self._muted_spans)


def features_from_array(y, sr: int, *, start_s: float = 0.0, exclude: Iterable[tuple[float, float]] = (),
                        path: str | None = None) -> SyncFeatures:
    """:class:`SyncFeatures` of an array ``y`` (shape ``(n,)`` or ``(channels, n)``) at ``sr``."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=0)
    if y.ndim != 1:
        raise ParameterError(f"audio must be shaped (n,) or (channels, n); got {y.shape}")
    ex = _Extractor(int(sr), start_s)
    step = int(sr) * 60
    for i in range(0, y.size, step):
        ex.push(y[i:i + step])
    return ex.finish(path, excluded=exclude)


# --------------------------------------------------------------------------------------------
# Correlation helpers
# --------------------------------------------------------------------------------------------
def _gcc_phat(a: np.ndarray, b: np.ndarray, *, beta: float = 1.0, band: tuple[float, float] | None = None,
              rate: float = 1.0) -> np.ndarray:
    """Generalised cross-correlation with phase transform; ``cc[k] = sum a[t+k] b[t]`` (circular,
    length ``n >= len(a)+len(b)-1``; negative lags at the end)."""
    from scipy.fft import irfft, next_fast_len, rfft

    n = next_fast_len(a.size + b.size - 1, real=True)
    A = rfft(a, n)
    B = rfft(b, n)
    R = A * np.conj(B)
    mag = np.abs(R)
    eps = mag.dtype.type(1e-3 * float(mag.mean()) + 1e-30)
    mag += eps
    if beta == 1.0:
        W = R / mag
    else:
        W = R / mag ** mag.dtype.type(beta)
    if band is not None:
        f = np.arange(W.size) * rate / n
        W[(f < band[0]) | (f > band[1])] = 0
    return irfft(W, n)


def _parabolic(y: np.ndarray, i: int) -> float:
    if 0 < i < y.size - 1:
        a, b, c = y[i - 1], y[i], y[i + 1]
        den = a - 2 * b + c
        if den < 0:
            return float(i + 0.5 * (a - c) / den)
    return float(i)


def _peak_stats(score: np.ndarray, i: int, excl: int) -> tuple[float, float, float]:
    """(ratio of peak to the best value outside +-excl, z-score vs a robust floor, floor)."""
    pk = float(score[i])
    mask = np.ones(score.size, bool)
    mask[max(0, i - excl): i + excl + 1] = False
    rest = score[mask]
    if rest.size == 0:
        return 1.0, 0.0, 0.0
    second = float(rest.max())
    med = float(np.median(rest))
    mad = float(np.median(np.abs(rest - med))) * 1.4826 + 1e-12
    ratio = (pk - med) / max(second - med, 1e-12)
    return ratio, (pk - med) / mad, med


def _lag_curve(a: np.ndarray, b: np.ndarray, lo: int, hi: int, *, beta: float = 1.0,
               band=None, rate: float = 1.0) -> np.ndarray:
    """GCC values for lags ``lo..hi`` (inclusive; lag = index in a minus index in b)."""
    cc = _gcc_phat(a, b, beta=beta, band=band, rate=rate)
    n = cc.size
    lags = np.arange(lo, hi + 1)
    return cc[lags % n]


# --------------------------------------------------------------------------------------------
# Pairwise estimate
# --------------------------------------------------------------------------------------------
def _feat_centered(f: SyncFeatures) -> np.ndarray:
    x = f.feat.astype(np.float64)
    live = ~f.muted
    if live.any():
        x = x - x[live].mean()
    x[f.muted] = 0.0
    return x


def _theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    n = x.size
    i, j = np.triu_indices(n, 1)
    dx = x[j] - x[i]
    ok = np.abs(dx) > 1e-9
    slope = float(np.median((y[j] - y[i])[ok] / dx[ok])) if ok.any() else 0.0
    icpt = float(np.median(y - slope * x))
    return slope, icpt


def _audio_at(f: SyncFeatures, t: np.ndarray) -> np.ndarray:
    """The kept audio at media times ``t`` (linear interpolation; zero outside)."""
    pos = (t - f.start_s) * f.sr
    i0 = np.floor(pos).astype(np.int64)
    fr = (pos - i0).astype(np.float32)
    n = f.audio.size
    ok = (i0 >= 0) & (i0 + 1 < n)
    out = np.zeros(t.size, np.float32)
    ii = i0[ok]
    a = f.audio[ii].astype(np.float32)
    b = f.audio[ii + 1].astype(np.float32)
    out[ok] = a + (b - a) * fr[ok]
    return out


def _muted_at(f: SyncFeatures, t: np.ndarray) -> np.ndarray:
    i = np.round((t - f.start_s) * FEATURE_RATE).astype(np.int64)
    ok = (i >= 0) & (i < f.muted.size)
    out = np.ones(t.size, bool)
    out[ok] = f.muted[i[ok]]
    return out


def _uncertain(reason: str, evidence: dict, offset=None, drift=0.0, conf=0.0) -> SyncEstimate:
    return SyncEstimate(offset_s=offset, drift_ppm=drift, confidence=float(conf), evidence=evidence,
                        uncertain_reason=reason)


def estimate_offset_features(ref: SyncFeatures, other: SyncFeatures, *,
                             max_drift_ppm: float = MAX_DRIFT_PPM,
                             min_overlap_s: float = MIN_OVERLAP_S,
                             window_s: float = WINDOW_S, hop_s: float = HOP_S,
                             max_offset_s: float | None = None) -> SyncEstimate:
    """Offset and drift mapping ``other``'s media time onto ``ref``'s (see module docstring)."""
    ev: dict[str, Any] = {"method": "audio", "algorithm_version": ALGORITHM_VERSION, "measurements": {}}
    meas = ev["measurements"]
    meas.update(ref_active_s=round(float((~ref.muted).sum()) / FEATURE_RATE, 3),
                other_active_s=round(float((~other.muted).sum()) / FEATURE_RATE, 3))
    if ref.feat.size < 16 or other.feat.size < 16:
        return _uncertain("a feed has almost no audio", ev)
    if (~ref.muted).sum() < min_overlap_s * FEATURE_RATE or (~other.muted).sum() < min_overlap_s * FEATURE_RATE:
        return _uncertain("a feed's audio is muted (digital silence) nearly throughout", ev)

    # ---- coarse: whole-feed GCC-PHAT on the onset envelopes -----------------------------------
    a = _feat_centered(ref)
    b = _feat_centered(other)
    na, nb = a.size, b.size
    min_ov = int(min(min_overlap_s, 0.5 * min(na, nb) / FEATURE_RATE) * FEATURE_RATE)
    lo, hi = -(nb - min_ov), na - min_ov
    if max_offset_s is not None:
        base = int(round((other.start_s - ref.start_s) * FEATURE_RATE))
        lo = max(lo, -int(max_offset_s * FEATURE_RATE) - base)
        hi = min(hi, int(max_offset_s * FEATURE_RATE) - base)
    if hi <= lo:
        return _uncertain("the feeds cannot overlap", ev)
    # pooled to 250 Hz: a drifting clock smears the peak over drift*duration anyway, and the
    # windows below refine the lag at 1 kHz
    P = COARSE_POOL
    ap = a[: a.size // P * P].reshape(-1, P).sum(axis=1)
    bp = b[: b.size // P * P].reshape(-1, P).sum(axis=1)
    lo_c, hi_c = lo // P, -(-hi // P)
    cc = _lag_curve(ap, bp, lo_c, hi_c, beta=1.0)
    from scipy.ndimage import uniform_filter1d

    sm = uniform_filter1d(cc, size=max(1, int(round(0.016 * FEATURE_RATE / P))), mode="constant")
    ipk = int(np.argmax(sm))
    ratio, z, _ = _peak_stats(sm, ipk, excl=int(0.25 * FEATURE_RATE / P))
    lag0 = (lo_c + _parabolic(sm, ipk)) * P / FEATURE_RATE
    # lag in feature samples: ref index = other index + lag  ->  ref_t - ref.start = other_t - other.start + lag
    coarse_offset = lag0 + ref.start_s - other.start_s
    meas.update(coarse_offset_s=round(coarse_offset, 4), coarse_peak_ratio=round(ratio, 3),
                coarse_peak_z=round(z, 2))
    c_peak = float(np.clip((ratio - 1.15) / 0.85, 0, 1) * np.clip((z - 6.0) / 14.0, 0, 1))

    # overlap on the other's time line
    u0 = max(other.start_s, ref.start_s - coarse_offset)
    u1 = min(other.end_s, ref.end_s - coarse_offset)
    overlap = u1 - u0
    meas["overlap_s"] = round(overlap, 3)
    meas["overlap_mid_other_s"] = round(0.5 * (u0 + u1), 3)
    if overlap < min(min_overlap_s, 0.5 * min(ref.duration_s, other.duration_s)):
        return _uncertain(f"the feeds overlap by only {overlap:.1f} s", ev, conf=0.0)

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
    R = 0.15 + max_drift_ppm * 1e-6 * overlap
    Rn = int(math.ceil(R * FEATURE_RATE))
    pts_u, pts_off, pts_w = [], [], []
    for s in starts:
        i0 = int(round((s - other.start_s) * FEATURE_RATE))
        i1 = i0 + int(round(win * FEATURE_RATE))
        bw = b[i0:i1]
        if bw.size < 16 or other.muted[i0:i1].mean() > 0.6 or not np.any(bw):
            continue
        j0 = i0 + int(round(lag0 * FEATURE_RATE)) - Rn        # ref index where lag -Rn starts
        j1 = j0 + bw.size + 2 * Rn
        jj0, jj1 = max(0, j0), min(na, j1)
        aw = a[jj0:jj1]
        if aw.size < bw.size // 2 or ref.muted[jj0:jj1].mean() > 0.6:
            continue
        # lag L (feature samples) such that a[i0 + lagc + L'] ~ b[i0]; in curve coordinates
        base = jj0 - i0
        lags_lo = j0 - i0 - base
        curve = _lag_curve(aw, bw, lags_lo, lags_lo + 2 * Rn, beta=1.0)
        k = int(np.argmax(curve))
        r_, z_, _ = _peak_stats(curve, k, excl=int(0.15 * FEATURE_RATE))
        if r_ < 1.1 or z_ < 5:
            continue
        lag_w = (j0 - i0 + _parabolic(curve, k)) / FEATURE_RATE
        uc = s + win / 2
        pts_u.append(uc)
        pts_off.append(lag_w + ref.start_s - other.start_s)
        pts_w.append(min(r_, 5.0))
    meas["windows"] = int(starts.size)
    meas["windows_with_peak"] = len(pts_u)
    if not pts_u:
        if c_peak < UNCERTAIN_BELOW:
            return _uncertain(f"no distinct correlation peak (best is {ratio:.2f}x the runner-up)",
                              ev, conf=c_peak)
        pts_u, pts_off, pts_w = [0.5 * (u0 + u1)], [coarse_offset], [1.0]
    U = np.asarray(pts_u)
    O = np.asarray(pts_off)
    fit_drift = U.size >= 4 and (U.max() - U.min()) >= MIN_DRIFT_SPAN_S
    if fit_drift:
        slope, icpt = _theil_sen(U, O)
        slope = float(np.clip(slope, -max_drift_ppm * 1e-6, max_drift_ppm * 1e-6))
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
    taper = np.hanning(nwin_s).astype(np.float32)
    f_u, f_mid, f_w = [], [], []
    all_u, all_off, all_z = [], [], []
    n_tried = 0
    for s0 in fstarts:
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
        xr = _audio_at(ref, tr)
        xr[mr] = 0.0
        xo = _audio_at(other, uu)
        xo[mo] = 0.0
        if not np.any(xo) or not np.any(xr):
            continue
        n_tried += 1
        curve = _lag_curve(xr, xo * taper, 0, 2 * M, beta=PHAT_BETA, band=(150.0, 0.45 * sr), rate=sr)
        peaks = _curve_peaks(curve, min_sep=int(0.002 * sr))
        if not peaks:
            continue
        lags = [local + (_parabolic(curve, k) - M) / sr for k, _ in peaks]   # ref later by lag
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
    if fit:
        slope, _ = _theil_sen(U, O)
        for _ in range(3):
            slope = _cluster_slope(PU, PO, slope)
        slope = float(np.clip(slope, -max_drift_ppm * 1e-6, max_drift_ppm * 1e-6))
    else:
        slope = 0.0
    # intercept: centre of the spread of all source lags around the line (robust percentiles)
    res_all = PO - slope * PU
    if f_u:
        res_all = _supported(res_all, np.asarray(all_u), np.asarray(all_z))
    lo_q, hi_q = (10, 90) if res_all.size >= 20 else (0, 100)
    p_lo, p_hi = np.percentile(res_all, [lo_q, hi_q])
    icpt = float(0.5 * (p_lo + p_hi))
    resid = O - (icpt + slope * U)
    tol = max(FINE_MARGIN_S / 2, 3.0 * 1.4826 * float(np.median(np.abs(resid))))
    inl = np.abs(resid) <= tol
    meas.update(source_lag_spread_ms=[round(float(p_lo - icpt) * 1e3, 2), round(float(p_hi - icpt) * 1e3, 2)],
                source_peaks=int(res_all.size))
    drift_ppm = slope * 1e6
    frac = float(inl.mean()) if inl.size else 0.0
    rms = float(np.sqrt(np.mean(resid[inl] ** 2))) if inl.any() else float("nan")
    meas.update(inliers=int(inl.sum()), inlier_fraction=round(frac, 3),
                residual_rms_ms=round(rms * 1e3, 3) if np.isfinite(rms) else None,
                drift_fitted=bool(fit),
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
    return SyncEstimate(offset_s=float(icpt), drift_ppm=float(drift_ppm), confidence=conf,
                        evidence=ev, uncertain_reason=reason)


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
    """Source lags worth trusting: strong, or seen again in another window; no far stragglers."""
    keep = z >= z_alone
    for i in range(res.size):
        if not keep[i]:
            keep[i] = bool(np.any((np.abs(res - res[i]) <= near_s) & (u != u[i])))
    r = np.sort(res[keep] if keep.any() else res)
    # drop a small group cut off from the rest by a wide gap at either end
    while r.size >= 4:
        if r[1] - r[0] > gap_s and r.size >= 10:
            r = r[1:]
        elif r[-1] - r[-2] > gap_s and r.size >= 10:
            r = r[:-1]
        else:
            break
    return r


def _curve_peaks(curve: np.ndarray, *, min_sep: int, rel: float = 0.3, z_min: float = 8.0):
    """Significant local maxima of a GCC curve as [(index, z)], strongest first."""
    from scipy.signal import find_peaks

    med = float(np.median(curve))
    mad = float(np.median(np.abs(curve - med))) * 1.4826 + 1e-12
    z = (curve - med) / mad
    top = float(z.max())
    if top < z_min:
        return []
    idx, _ = find_peaks(z, height=max(z_min, rel * top), distance=max(1, min_sep))
    if idx.size == 0:
        idx = np.array([int(np.argmax(z))])
    order = np.argsort(-z[idx])
    return [(int(idx[i]), float(z[idx[i]])) for i in order]


def estimate_offset(y_ref, sr_ref: int, y_other, sr_other: int, *,
                    exclude_ref: Iterable[tuple[float, float]] = (),
                    exclude_other: Iterable[tuple[float, float]] = (),
                    max_drift_ppm: float = MAX_DRIFT_PPM) -> SyncEstimate:
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
    return estimate_offset_features(fa, fb, max_drift_ppm=max_drift_ppm)


def features_from_file(path: str | os.PathLike, *, exclude: Iterable[tuple[float, float]] = (),
                       progress: Callable[[float], None] | None = None) -> SyncFeatures | None:
    """Decode ``path``'s audio once and return its :class:`SyncFeatures` (None: no audio)."""
    from media_core.io.decode import run_listeners

    li = SyncFeatureListener(exclude=exclude)
    res = run_listeners(path, [li], progress=progress)
    return res[li.name]


# --------------------------------------------------------------------------------------------
# N feeds: one global solution from all pairwise estimates
# --------------------------------------------------------------------------------------------
@dataclass
class GlobalSync:
    """Every feed's clock on the reference's time line, from pairwise estimates."""

    reference: Any
    clocks: dict[Any, Clock]
    confidence: dict[Any, float]
    unplaced: dict[Any, str]
    warnings: list[str]
    residuals_ms: dict[tuple[Any, Any], float]
    edges_used: list[tuple[Any, Any]]


def solve_global(pairwise: Mapping[tuple[Any, Any], SyncEstimate], *, reference=None,
                 durations: Mapping[Any, float] | None = None, feeds: Sequence[Any] | None = None,
                 tolerance_s: float = 0.015) -> GlobalSync:
    """Solve every feed's clock from pairwise estimates by weighted least squares.

    Parameters
    ----------
    pairwise : mapping (a, b) -> SyncEstimate
        ``est`` maps feed ``b``'s media time onto feed ``a``'s. Uncertain estimates are ignored.
    reference : feed id, optional
        The feed whose clock is the identity; default: the longest (``durations``), else the
        first feed.
    durations : mapping feed id -> seconds, optional
    feeds : sequence of feed ids, optional
        Feeds to place (default: every id in ``pairwise`` and ``durations``).
    tolerance_s : float
        Loops whose pairwise offsets disagree by more than this are reported in ``warnings``;
        the worst contradicting pair is dropped while the rest still connects the feeds.

    Returns
    -------
    GlobalSync
        Log-rates are solved first (``log r_b - log r_a = log(1 + drift_ab)``, exact for any
        drift), then offsets at each pair's overlap midpoint, both weighted by confidence.
    """
    ids: list[Any] = list(feeds) if feeds is not None else []
    for a, b in pairwise:
        for x in (a, b):
            if x not in ids:
                ids.append(x)
    for x in (durations or {}):
        if x not in ids:
            ids.append(x)
    if not ids:
        raise ParameterError("solve_global needs at least one feed")
    if reference is None:
        reference = max(ids, key=lambda x: (durations or {}).get(x, 0.0)) if durations else ids[0]
    if reference not in ids:
        raise ParameterError(f"reference {reference!r} is not one of the feeds")
    edges = {k: e for k, e in pairwise.items()
             if e is not None and not e.uncertain and k[0] != k[1] and k[0] in ids and k[1] in ids}
    warnings: list[str] = []
    while True:
        placed = _reachable(reference, edges)
        sol = _solve_ls(reference, placed, edges)
        res = {k: _edge_residual(sol, k, e) for k, e in edges.items() if k[0] in placed}
        bad = {k: r for k, r in res.items() if abs(r) > tolerance_s}
        if not bad:
            break
        worst = max(bad, key=lambda k: abs(bad[k]) / max(edges[k].confidence, 1e-3))
        warnings.append(f"pairwise results contradict: {worst[0]} vs {worst[1]} is off the joint "
                        f"solution by {res[worst] * 1e3:.1f} ms (loop inconsistency); pair dropped")
        trial = dict(edges)
        trial.pop(worst)
        if _reachable(reference, trial) != placed:
            warnings[-1] = warnings[-1].replace("pair dropped", "kept: it is the only link")
            break
        edges = trial
    clocks = {x: Clock(sol[x][0], (sol[x][1] - 1.0) * 1e6) for x in placed}
    clocks[reference] = Clock(0.0, 0.0)
    conf = _widest_paths(reference, edges)
    unplaced = {x: "no confident audio match links it to the reference" for x in ids if x not in placed}
    for (a, b), e in pairwise.items():
        if e is not None and e.uncertain and b in unplaced:
            unplaced[b] = f"audio match to {a} uncertain: {e.uncertain_reason}"
        elif e is not None and e.uncertain and a in unplaced:
            unplaced[a] = f"audio match to {b} uncertain: {e.uncertain_reason}"
    return GlobalSync(reference=reference, clocks=clocks,
                      confidence={x: round(conf.get(x, 0.0), 3) for x in placed} | {reference: 1.0},
                      unplaced=unplaced, warnings=warnings,
                      residuals_ms={k: round(r * 1e3, 3) for k, r in res.items()},
                      edges_used=list(edges))


def _reachable(ref, edges) -> set:
    adj: dict[Any, set] = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    seen, todo = {ref}, [ref]
    while todo:
        x = todo.pop()
        for y in adj.get(x, ()):
            if y not in seen:
                seen.add(y)
                todo.append(y)
    return seen


def _widest_paths(ref, edges) -> dict:
    """Per feed, the best bottleneck confidence over paths from the reference."""
    best = {ref: 1.0}
    changed = True
    while changed:
        changed = False
        for (a, b), e in edges.items():
            for x, y in ((a, b), (b, a)):
                if x in best:
                    c = min(best[x], e.confidence)
                    if c > best.get(y, -1.0):
                        best[y] = c
                        changed = True
    return best


def _mid(e: SyncEstimate) -> float:
    return float(e.evidence.get("measurements", {}).get("overlap_mid_other_s", 0.0))


def _solve_ls(ref, placed: set, edges) -> dict:
    """(offset, rate) per placed feed: weighted LS on log-rates, then on offsets."""
    order = [ref] + [x for x in placed if x != ref]
    idx = {x: i for i, x in enumerate(order)}
    n = len(order)
    use = [(k, e) for k, e in edges.items() if k[0] in idx and k[1] in idx]
    if n == 1 or not use:
        return {ref: (0.0, 1.0)}
    w = np.array([max(e.confidence, 1e-3) for _, e in use])
    # rates
    A = np.zeros((len(use), n - 1))
    y = np.zeros(len(use))
    for r, ((a, b), e) in enumerate(use):
        if idx[b]:
            A[r, idx[b] - 1] += 1.0
        if idx[a]:
            A[r, idx[a] - 1] -= 1.0
        y[r] = math.log1p(e.drift_ppm * 1e-6)
    sw = np.sqrt(w)
    lr, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
    rate = np.concatenate([[1.0], np.exp(lr)])
    # offsets: o_b + r_b m = o_a + r_a (off_ab + (1 + d_ab) m), m = overlap midpoint in b
    A = np.zeros((len(use), n - 1))
    for r, ((a, b), e) in enumerate(use):
        m = _mid(e)
        if idx[b]:
            A[r, idx[b] - 1] += 1.0
        if idx[a]:
            A[r, idx[a] - 1] -= 1.0
        y[r] = rate[idx[a]] * (e.offset_s + (1 + e.drift_ppm * 1e-6) * m) - rate[idx[b]] * m
    off, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
    off = np.concatenate([[0.0], off])
    return {x: (float(off[idx[x]]), float(rate[idx[x]])) for x in order}


def _edge_residual(sol, k, e: SyncEstimate) -> float:
    a, b = k
    if a not in sol or b not in sol:
        return 0.0
    m = _mid(e)
    oa, ra = sol[a]
    ob, rb = sol[b]
    return (ob + rb * m) - (oa + ra * (e.offset_s + (1 + e.drift_ppm * 1e-6) * m))


def apply_nudge(clock: Clock, *, frames: float | None = None, fps: float | None = None,
                ms: float | None = None) -> Clock:
    """``clock`` moved later on the shared time line by ``frames`` (at ``fps``) and/or ``ms``.

    >>> apply_nudge(Clock(1.0, 0.0), frames=2, fps=25).offset_s
    1.08
    """
    delta = 0.0
    if frames is not None:
        if not fps or fps <= 0:
            raise ParameterError("a nudge in frames needs the feed's frame rate (fps > 0)")
        delta += float(frames) / float(fps)
    if ms is not None:
        delta += float(ms) * 1e-3
    if frames is None and ms is None:
        raise ParameterError("give frames (with fps) or ms to nudge by")
    return clock.nudged(delta)


# --------------------------------------------------------------------------------------------
# Metadata: creation time / timecode as first guess and fallback
# --------------------------------------------------------------------------------------------
METADATA_CONFIDENCE = 0.2


def timecode_seconds(tc: str | None, fps: float | None) -> float | None:
    """``HH:MM:SS:FF`` (or ``;`` drop-frame separator) to seconds of the day; None if unreadable."""
    if not tc:
        return None
    parts = tc.replace(";", ":").replace(".", ":").split(":")
    try:
        h, m, s = int(parts[0]), int(parts[1]), int(parts[2])
        ff = int(parts[3]) if len(parts) > 3 else 0
    except (ValueError, IndexError):
        return None
    rate = fps if fps and fps > 0 else 30.0
    return h * 3600 + m * 60 + s + ff / round(rate)


def _iso_seconds(iso: str | None) -> float | None:
    import datetime as _dt

    if not iso:
        return None
    try:
        return _dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def metadata_offset(probe_ref: Mapping[str, Any], probe_other: Mapping[str, Any]) -> SyncEstimate:
    """Offset from the files' own tags: timecode when both have one, else creation time.

    Both are assumed to mark the feed's media time 0. Method ``metadata``, confidence
    :data:`METADATA_CONFIDENCE`: camera clocks are set by hand and tags have 1 s resolution.
    """
    ev: dict[str, Any] = {"method": "metadata", "algorithm_version": ALGORITHM_VERSION, "measurements": {}}
    fr = (probe_ref.get("video") or {}).get("avg_fps")
    fo = (probe_other.get("video") or {}).get("avg_fps")
    tr, to = timecode_seconds(probe_ref.get("timecode"), fr), timecode_seconds(probe_other.get("timecode"), fo)
    if tr is not None and to is not None:
        off = to - tr
        if off < -43200:
            off += 86400
        elif off > 43200:
            off -= 86400
        ev["measurements"].update(source="timecode", ref=probe_ref.get("timecode"), other=probe_other.get("timecode"))
        return SyncEstimate(off, 0.0, METADATA_CONFIDENCE, ev, None)
    cr, co = _iso_seconds(probe_ref.get("creation_time")), _iso_seconds(probe_other.get("creation_time"))
    if cr is not None and co is not None:
        ev["measurements"].update(source="creation_time", ref=probe_ref.get("creation_time"),
                                  other=probe_other.get("creation_time"))
        return SyncEstimate(co - cr, 0.0, METADATA_CONFIDENCE, ev, None)
    return _uncertain("no timecode or creation_time tag on both files", ev)


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------
SCHEMA = "evidence-audit.sync/1"


def _pair_summary(e: SyncEstimate, other: str) -> dict[str, Any]:
    m = e.evidence.get("measurements", {})
    return {"with": other, "offset_s": None if e.offset_s is None else round(e.offset_s, 6),
            "drift_ppm": round(e.drift_ppm, 3), "confidence": e.confidence,
            "uncertain_reason": e.uncertain_reason,
            **{k: m.get(k) for k in ("overlap_s", "coarse_peak_ratio", "coarse_peak_z", "inlier_fraction",
                                     "fine_windows_with_peak", "source_lag_spread_ms", "drift_fitted")
               if k in m}}


def _decode_one(path: str, want_shots: bool):
    from media_core.io.decode import run_listeners

    lis: list[Any] = [SyncFeatureListener()]
    if want_shots:
        try:
            from media_core.analysis.shots import ShotListener

            sl = ShotListener()
            if hasattr(sl, "on_block"):
                lis.append(sl)
        except ImportError:  # pragma: no cover - shots module absent
            pass
    res = run_listeners(path, lis)
    shots = res.get("shots")
    if isinstance(shots, dict):
        shots = shots.get("shots", [])
    return res.get("sync"), shots or []


def sync_files(paths: Sequence[str | os.PathLike], *, reference: str | os.PathLike | None = None,
               progress: Callable[[float], None] | None = None, workers: int = 2,
               exclude: Mapping[str, Iterable[tuple[float, float]]] | None = None) -> dict[str, Any]:
    """Place every file on one shared clock (the issue's JSON contract, ``evidence-audit.sync/1``).

    ``exclude`` maps a path to spans to ignore (e.g. stored mutes from
    :class:`media_core.analysis.mutes.MuteListener`); runs of exact zeros and decoder gaps are always
    excluded. Audio first (all pairs, global least squares); feeds audio cannot place are tried by visual
    flashes against shots heard in placed feeds, then by metadata (timecode / creation time).
    A feed that cannot be placed has ``offset_s: None`` and a ``reason``. A file that cannot be
    read does not stop the others; its entry names the problem.

    Returns
    -------
    dict
        ``{"schema", "reference", "feeds": [{"path", "offset_s", "drift_ppm", "method",
        "confidence", "evidence"[, "reason"]}]}``; a feed's media time ``t``
        maps to ``offset_s + t * (1 + drift_ppm * 1e-6)`` on the reference's time line.
    """
    from concurrent.futures import ThreadPoolExecutor

    from media_core.io.probe import probe

    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ParameterError("sync needs at least one file")
    n = len(paths)
    report = progress or (lambda f: None)
    probes: list[dict | None] = [None] * n
    errors: dict[int, str] = {}
    for i, p in enumerate(paths):
        try:
            probes[i] = probe(p, scan_timing=False)
        except MediaError as exc:
            errors[i] = exc.problem
    report(0.05)
    ok = [i for i in range(n) if i not in errors]
    has_audio = [i for i in ok if probes[i].get("audio") is not None]
    want_shots = any(probes[i].get("audio") is None for i in ok)
    feats: dict[int, SyncFeatures | None] = {}
    shots: dict[int, list] = {}

    def work(i):
        try:
            return i, _decode_one(paths[i], want_shots), None
        except MediaError as exc:
            return i, (None, []), exc.problem

    done = 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, (f, sh), err in pool.map(work, has_audio):
            done += 1
            report(0.05 + 0.6 * done / max(1, len(has_audio)))
            if err:
                errors[i] = err
                continue
            if f is not None and exclude and exclude.get(paths[i]):
                f = f.excluding(exclude[paths[i]])
            feats[i], shots[i] = f, sh
    return _sync_prepared(paths, probes, feats, shots, errors, reference=reference, report=report,
                          workers=workers)


def sync_features(feeds: Sequence[Mapping[str, Any]], *, reference: str | os.PathLike | None = None,
                  progress: Callable[[float], None] | None = None, workers: int = 2) -> dict[str, Any]:
    """:func:`sync_files` from analyses already made in each feed's one shared decode.

    Parameters
    ----------
    feeds : sequence of dict
        Per feed: ``path``; ``probe`` (:func:`media_core.io.probe.probe`'s dict); ``features``
        (what :class:`SyncFeatureListener` returned, None without audio); optionally ``shots``
        (:class:`media_core.analysis.shots.ShotListener`'s result or its list, for flash sync of silent
        feeds) and ``error`` (why the file could not be read).

    Returns
    -------
    dict
        The ``evidence-audit.sync/1`` document, as :func:`sync_files`.
    """
    paths = [os.fspath(f["path"]) for f in feeds]
    if not paths:
        raise ParameterError("sync needs at least one file")
    probes = [f.get("probe") for f in feeds]
    errors = {i: str(f["error"]) for i, f in enumerate(feeds) if f.get("error")}
    for i, pr in enumerate(probes):
        if pr is None and i not in errors:
            errors[i] = "was not probed"
    feats = {i: f["features"] for i, f in enumerate(feeds) if f.get("features") is not None}
    shots = {}
    for i, f in enumerate(feeds):
        sh = f.get("shots") or []
        shots[i] = list(sh.get("shots", []) if isinstance(sh, Mapping) else sh)
    return _sync_prepared(paths, probes, feats, shots, errors, reference=reference,
                          report=progress or (lambda x: None), workers=workers)


def _sync_prepared(paths, probes, feats, shots, errors, *, reference, report, workers) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    n = len(paths)
    ok = [i for i in range(n) if i not in errors]
    has_audio = [i for i in ok if probes[i].get("audio") is not None]
    audio_ok = [i for i in has_audio if i not in errors and feats.get(i) is not None
                and feats[i].active_fraction * feats[i].duration_s >= MIN_OVERLAP_S]
    durations = {i: float(probes[i]["duration_s"]) for i in ok if i not in errors}

    # reference: the user's, else the longest feed with usable audio, else the longest feed
    ref = None
    if reference is not None:
        rp = os.path.abspath(os.fspath(reference))
        match = [i for i in range(n) if os.path.abspath(paths[i]) == rp]
        if not match:
            raise ParameterError(f"{os.fspath(reference)}: the reference must be one of the files to sync")
        ref = match[0]
        if ref in errors:
            raise MediaError(paths[ref], f"cannot be the reference: {errors[ref]}")
    else:
        pool_ids = audio_ok or [i for i in ok if i not in errors]
        if not pool_ids:
            return {"schema": SCHEMA, "reference": None,
                    "feeds": [_unplaced(paths[i], errors.get(i, "no usable audio or video")) for i in range(n)]}
        ref = max(pool_ids, key=lambda i: durations.get(i, 0.0))

    pairs = [(a, b) for ii, a in enumerate(audio_ok) for b in audio_ok[ii + 1:]]

    def est(pair):
        a, b = pair
        return pair, estimate_offset_features(feats[a], feats[b])

    pw: dict[tuple[int, int], SyncEstimate] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for k, (pair, e) in enumerate(pool.map(est, pairs)):
            pw[pair] = e
            report(0.65 + 0.25 * (k + 1) / max(1, len(pairs)))
    feeds_ids = sorted(set(audio_ok) | {ref})
    g = solve_global(pw, reference=ref, durations=durations, feeds=feeds_ids)
    out: list[dict[str, Any]] = [dict() for _ in range(n)]
    for i in range(n):
        if i in errors:
            out[i] = _unplaced(paths[i], errors[i])
            continue
        if i in g.clocks:
            c = g.clocks[i]
            pairs_i = [_pair_summary(e, paths[b if a == i else a]) for (a, b), e in pw.items() if i in (a, b)]
            res_i = {f"{paths[a]} | {paths[b]}": r for (a, b), r in g.residuals_ms.items() if i in (a, b)}
            md_guess = metadata_offset(probes[ref], probes[i]) if i != ref else None
            meas_i = {"pairs": pairs_i, "loop_residuals_ms": res_i}
            if md_guess is not None and md_guess.offset_s is not None:   # the tags' first guess
                meas_i["metadata_guess"] = {"offset_s": round(md_guess.offset_s, 3),
                                            "source": md_guess.evidence["measurements"].get("source"),
                                            "audio_minus_metadata_s": round(c.offset_s - md_guess.offset_s, 3)}
            out[i] = {"path": paths[i], "offset_s": round(c.offset_s, 6), "drift_ppm": round(c.drift_ppm, 3),
                      "method": "reference" if i == ref else "audio",
                      "confidence": 1.0 if i == ref else g.confidence.get(i, 0.0),
                      "evidence": {"method": "reference" if i == ref else "audio",
                                   "algorithm_version": ALGORITHM_VERSION,
                                   "measurements": meas_i,
                                   "warnings": [w for w in g.warnings]}}
    # feeds audio could not place: flashes against shots heard in placed feeds, then metadata
    placed_shots = _shared_shots({i: shots.get(i, []) for i in g.clocks}, g.clocks, paths)
    for i in range(n):
        if out[i]:
            continue
        why = []
        if i in has_audio and i not in audio_ok:
            why.append("its audio is muted (digital silence) or shorter than "
                       f"{MIN_OVERLAP_S:g} s throughout")
        elif i in has_audio:
            why.append(g.unplaced.get(i) or "no confident audio match links it to the reference")
        else:
            why.append("no audio stream")
        pr = probes[i]
        if pr.get("video") is not None and len(placed_shots) >= 3:
            try:
                from media_core.analysis.flashes import detect_flashes, match_flashes

                fl = detect_flashes(paths[i])
                fps = float(pr["video"].get("avg_fps") or 30.0)
                m = match_flashes([f["time_s"] for f in fl], placed_shots, fps=fps)
                if m["offset_s"] is not None and m["uncertain_reason"] is None:
                    out[i] = {"path": paths[i], "offset_s": round(m["offset_s"], 6),
                              "drift_ppm": round(m["drift_ppm"], 3), "method": "visual-flash",
                              "confidence": m["confidence"], "evidence": m["evidence"] | {"audio": "; ".join(why)}}
                    continue
                why.append(f"flashes: {m['uncertain_reason']}")
            except MediaError as exc:
                why.append(f"flashes: {exc.problem}")
        elif pr.get("video") is not None:
            why.append("flashes: fewer than 3 shots heard in placed feeds")
        md = metadata_offset(probes[ref], pr) if probes[ref] else None
        if md is not None and md.offset_s is not None:
            out[i] = {"path": paths[i], "offset_s": round(md.offset_s, 6), "drift_ppm": 0.0,
                      "method": "metadata", "confidence": md.confidence,
                      "evidence": md.evidence | {"why_not_better": "; ".join(why)}}
            continue
        why.append("metadata: " + (md.uncertain_reason if md else "no tags"))
        out[i] = _unplaced(paths[i], "; ".join(why))
    report(1.0)
    return {"schema": SCHEMA, "reference": paths[ref], "feeds": out}


def _unplaced(path: str, reason: str) -> dict[str, Any]:
    return {"path": path, "offset_s": None, "drift_ppm": None, "method": None, "confidence": 0.0,
            "evidence": {"method": "none", "algorithm_version": ALGORITHM_VERSION, "measurements": {}},
            "reason": reason}


def _shared_shots(shots: Mapping[int, list], clocks: Mapping[int, Clock], paths) -> list[float]:
    """Incident-level shot times (shared clock) from the placed feeds' shots."""
    from media_core.analysis.incident_shots import match_incident_shots

    per_feed = {paths[i]: [dict(s) for s in shots.get(i, []) if s.get("confident", True)]
                for i in clocks}
    if not any(per_feed.values()):
        return []
    inc = match_incident_shots(per_feed, {paths[i]: clocks[i] for i in clocks})
    return [s["time_s"] for s in inc["shots"]]
