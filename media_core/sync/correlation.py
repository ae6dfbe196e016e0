"""Cross-correlation for sync: GCC-PHAT lag curves, their peaks, and how far a peak stands out.

Pure numpy/scipy over arrays; no notion of feeds or clocks. Lags count samples of ``a`` after
``b`` (``cc[k] = sum a[t + k] b[t]``).
"""
from __future__ import annotations

import numpy as np


def gcc_phat(a: np.ndarray, b: np.ndarray, *, beta: float = 1.0, band: tuple[float, float] | None = None,
             rate: float = 1.0) -> np.ndarray:
    """Generalised cross-correlation with phase transform; ``cc[k] = sum a[t+k] b[t]`` (circular,
    length ``n >= len(a)+len(b)-1``; negative lags at the end).
    """
    from scipy.fft import irfft, next_fast_len, rfft

    n = next_fast_len(a.size + b.size - 1, real=True)
    A = rfft(a, n)
    W = rfft(b, n)
    if W.dtype != A.dtype:
        W = W.astype(np.result_type(A, W))
    np.conj(W, out=W)
    W *= A                           # A * conj(B), in place (the products commute exactly)
    del A
    mag = np.abs(W)
    eps = mag.dtype.type(1e-3 * float(mag.mean()) + 1e-30)
    mag += eps
    if beta != 1.0:
        mag **= mag.dtype.type(beta)
    W /= mag
    del mag
    if band is not None:
        f = np.arange(W.size) * rate / n
        W[(f < band[0]) | (f > band[1])] = 0
    return irfft(W, n)


def parabolic(y: np.ndarray, i: int) -> float:
    """The sub-sample position of the peak at ``i`` from a parabola through it and its neighbours."""
    if 0 < i < y.size - 1:
        a, b, c = y[i - 1], y[i], y[i + 1]
        den = a - 2 * b + c
        if den < 0:
            return float(i + 0.5 * (a - c) / den)
    return float(i)


def peak_stats(score: np.ndarray, i: int, excl: int) -> tuple[float, float, float]:
    """(ratio of peak to the best value outside +-excl, z-score vs a robust floor, floor)."""
    pk = float(score[i])
    rest = np.concatenate([score[:max(0, i - excl)], score[i + excl + 1:]])   # a copy, used up below
    if rest.size == 0:
        return 1.0, 0.0, 0.0
    second = float(rest.max())
    med = float(np.median(rest, overwrite_input=True))
    rest -= rest.dtype.type(med)
    np.abs(rest, out=rest)
    mad = float(np.median(rest, overwrite_input=True)) * 1.4826 + 1e-12
    ratio = (pk - med) / max(second - med, 1e-12)
    return ratio, (pk - med) / mad, med


def lag_curve(a: np.ndarray, b: np.ndarray, lo: int, hi: int, *, beta: float = 1.0,
              band=None, rate: float = 1.0) -> np.ndarray:
    """GCC values for lags ``lo..hi`` (inclusive; lag = index in a minus index in b)."""
    cc = gcc_phat(a, b, beta=beta, band=band, rate=rate)
    n = cc.size
    if hi - lo + 1 <= n and lo > -n and hi < n:     # at most one wrap: two slices, no index array
        if lo >= 0 or hi < 0:
            return cc[lo % n: lo % n + hi - lo + 1].copy()
        return np.concatenate([cc[lo % n:], cc[: hi + 1]])
    lags = np.arange(lo, hi + 1)
    return cc[lags % n]


def curve_peaks(curve: np.ndarray, *, min_sep: int, rel: float = 0.3, z_min: float = 8.0):
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
