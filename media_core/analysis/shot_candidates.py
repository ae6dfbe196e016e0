"""Stage 1 of gunshot detection: impulsive onsets with near-total recall, cheaply.

Every sample is touched twice (the energy of 1-ms frames of the signal and of its first
difference); everything else looks at a few frames. A **candidate** is a frame whose energy,
full-band or differenced (a +6 dB/octave tilt that favours a blast's crack), jumps
``jump_db`` above the mean of the 2-12 ms before it and stands ``snr_db`` above the quiet
part of the 0.3 s before it, with a peak above ``floor_dbfs``. No level near full scale is
required: a shot 40 dB down, in the release tail of a gain control, through an 8-kHz codec or
60 ms after another shot is still a candidate. Deciding which candidates are shots is the
fitted model's job (:mod:`media_core.analysis.shot_model`).

Candidates closer than ``min_gap_ms`` are one candidate (the stronger); the onset is the
earliest frame from 2 ms before the first hit whose energy is within ``onset_db`` of the
group's peak, refined to the sample by the steepest slope (:func:`refine_onset`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CandidateParams", "frame_energies", "find_candidates", "refine_onset", "refine_onsets"]


@dataclass(frozen=True)
class CandidateParams:
    """Thresholds of the candidate stage (set for recall; see the module docstring)."""

    jump_db: float = 7.0
    snr_db: float = 6.0
    floor_dbfs: float = -62.0
    min_gap_ms: int = 12
    onset_db: float = 10.0


def frame_energies(y: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Energy of 1-frame blocks of ``h`` samples of ``y`` and of its first difference (float64)."""
    nf = y.size // h
    e = np.empty(nf, dtype=np.float64)
    ed = np.empty(nf, dtype=np.float64)
    if nf == 0:
        return e, ed
    step = 4096  # frames per chunk: no big temporaries
    for f0 in range(0, nf, step):
        f1 = min(nf, f0 + step)
        a, b = f0 * h, f1 * h
        x = y[a:b].astype(np.float64)
        X = x.reshape(f1 - f0, h)
        e[f0:f1] = np.einsum("ij,ij->i", X, X)
        d = np.empty_like(x)
        d[1:] = x[1:] - x[:-1]
        d[0] = x[0] - (float(y[a - 1]) if a > 0 else x[0])
        D = d.reshape(f1 - f0, h)
        ed[f0:f1] = np.einsum("ij,ij->i", D, D)
    return e, ed


def _jump_ratio(en: np.ndarray, snr: float, floor: float) -> np.ndarray:
    """Per frame: energy over the mean of the 2-12 ms before it, where the frame also stands
    ``snr`` over the quiet part of the 0.3 s before it and above ``floor``; 0 elsewhere.
    """
    nf = en.size
    c = np.zeros(nf + 1)
    np.cumsum(en, out=c[1:])
    ref = np.empty(nf)
    ref[12:] = (c[10: nf - 2] - c[0: nf - 12]) / 10.0
    # at the very start of the stream (no history) compare with the quietest early frame
    ref[:12] = en[:12].min() if nf else 0.0
    # quiet part of the 0.3 s before: the least of three 30-ms means (robust to the previous
    # shot's tail because it takes the quiet part)
    run = ref.copy()
    m30 = (c[30:] - c[:-30]) / 30.0  # mean of frames i..i+29, for i = 0..nf-30
    for lag in (40, 130, 250):
        if nf <= lag or m30.size == 0:
            continue
        i = np.arange(lag, nf)
        run[i] = np.minimum(run[i], m30[np.minimum(i - lag, m30.size - 1)])
    ratio = en / np.maximum(ref, 1e-30)
    ok = (en > snr * np.maximum(run, 1e-30)) & (en > floor)
    return np.where(ok, ratio, 0.0)


def find_candidates(y: np.ndarray, sr: int, p: CandidateParams | None = None,
                    energies: tuple[np.ndarray, np.ndarray] | None = None) -> list[tuple[int, int]]:
    """Candidate onsets as ``(onset_frame, peak_frame)`` pairs of 1-ms frames, in time order.

    A candidate is a frame whose jump ratio (full-band or differenced, the larger) reaches
    ``jump_db`` and is the largest within ``min_gap_ms / 2`` either side: neighbouring events
    (two shots 60 ms apart, a shot in the previous one's tail) stay apart.

    Parameters
    ----------
    y : np.ndarray
        Mono float audio, full scale 1.
    sr : int
        Sample rate (Hz); a frame is ``round(sr / 1000)`` samples.
    p : CandidateParams, optional
    energies : tuple, optional
        ``frame_energies(y, h)`` if already computed.
    """
    from scipy.ndimage import maximum_filter1d

    p = p or CandidateParams()
    h = max(1, int(round(sr / 1000)))
    e, ed = energies if energies is not None else frame_energies(y, h)
    nf = e.size
    if nf < 16:
        return []
    jump = 10 ** (p.jump_db / 10)
    snr = 10 ** (p.snr_db / 10)
    floor_e = h * 10 ** (p.floor_dbfs / 10)
    # the differenced signal of a -62 dBFS broadband click has about the same energy; of a
    # low rumble far less, which is what we want
    score = np.maximum(_jump_ratio(e, snr, floor_e), _jump_ratio(ed, snr, floor_e * 0.5))
    half = max(1, p.min_gap_ms // 2)
    peak = (score >= jump) & (score >= maximum_filter1d(score, size=2 * half + 1, mode="constant"))
    idx = np.flatnonzero(peak)
    out: list[tuple[int, int]] = []
    thr_rel = 10 ** (-p.onset_db / 10)
    for k in idx:
        k = int(k)
        if out and k - out[-1][0] < half:
            continue  # a plateau of equal scores: one candidate
        pk = k + int(np.argmax(e[k: k + 8]))
        lo = max(k - 2, out[-1][1] + 1 if out else 0, 0)
        lo = min(lo, k)
        j = lo + int(np.argmax(e[lo: pk + 1] >= e[pk] * thr_rel))
        out.append((j, pk))
    return out


def refine_onset(y: np.ndarray, s_lo: int, s_hi: int) -> int:
    """First sample in ``[s_lo, s_hi)`` whose slope reaches a quarter of the region's largest."""
    s_lo = max(s_lo, 1)
    seg = y[s_lo - 1: s_hi].astype(np.float64)
    d = np.abs(np.diff(seg))
    if d.size == 0:
        return s_lo
    return s_lo + int(np.argmax(d >= 0.25 * d.max()))


def refine_onsets(y: np.ndarray, s_lo: np.ndarray, s_hi: np.ndarray) -> np.ndarray:
    """:func:`refine_onset` for many regions at once (the same samples)."""
    s_lo = np.maximum(np.asarray(s_lo, dtype=np.int64), 1)
    s_hi = np.asarray(s_hi, dtype=np.int64)
    n = s_lo.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    L = s_hi - s_lo                                 # slopes in each region (may be <= 0)
    width = int(max(L.max(), 1))
    idx = s_lo[:, None] + np.arange(width)[None, :]
    ok = np.arange(width)[None, :] < L[:, None]
    cur = y[np.clip(idx, 0, y.size - 1)].astype(np.float64)
    prev = y[np.clip(idx - 1, 0, y.size - 1)].astype(np.float64)
    d = np.where(ok, np.abs(cur - prev), -1.0)
    first = np.argmax(d >= 0.25 * d.max(axis=1, keepdims=True), axis=1)
    return np.where(L > 0, s_lo + first, s_lo)
