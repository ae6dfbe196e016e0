"""Gunshot detection and counting in body-cam and dash-cam audio.

Two stages, so that a long feed costs little more than decoding it:

1. **Candidates** (whole stream, cheap): the signal is differenced (a +6 dB/octave tilt that
   favours the broadband crack of a muzzle blast over speech, wind and thumps) and its energy
   is summed over 1-ms frames. A candidate is a frame whose energy jumps well above the frames
   just before it and whose waveform comes near full scale (close gunfire overloads a body-worn
   microphone) -- or, at a lower level, towers over the feed's own background (a dash cam 10 m
   away, a body cam whose gain control has come down).
2. **Features** (only around candidates): the onset is refined to the sample (first arrival,
   not the peak), then measured: peak level and clipping, level above the background, rise
   time, spectral shape of the first milliseconds (high-frequency share, flatness,
   low-frequency share), how long the event rings above the background, and its neighbours
   (echo of an earlier shot? part of a periodic click train? part of a dense crackle?).
   The measurements are combined into a score and a confidence; every shot carries them as
   evidence. Two judgements compete: against full scale (an overloading blast), and against
   the feed's own recent sound (the crack well above the loudest of the last 3 s, shots
   already counted left out), where the shape terms are stricter.

Echoes (3-90 ms after a shot: weaker, with a smeared front) are attributed to the shot that
caused them; shots at least 60 ms apart are separated; transients too close to separate are
noted as "possible overlap" in the evidence of the shot they merge into. Periodic click trains
(a taser) are rejected; inside a dense crackle (fireworks), or when its crack is no louder than
the feed's recent sound (counted shots left out: a bang among others as loud), a shot is
``possible_fireworks`` and never confident.

Use :func:`detect_shots` on an array, or :class:`ShotListener` on a decoded stream (see
:mod:`media_core.listeners`); both give the same shots. :func:`group_volleys` groups shots into
volleys.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from media_core.errors import ParameterError
from media_core.listeners import AudioBlock, AudioStreamInfo

__all__ = ["ALGORITHM_VERSION", "ShotParams", "detect_shots", "group_volleys", "summarize", "ShotListener"]

ALGORITHM_VERSION = "shots-1.2"
METHOD = ("1-ms differenced-energy candidates near full scale or far above the feed's background; onset "
          "features (overload, jump, rise, spectral shape, blast length, level over the feed's recent sound) "
          "and context (volley, echo, click train, crackle)")


@dataclass(frozen=True)
class ShotParams:
    """Tunable parameters of the detector (defaults tuned on seeded synthetic incidents).

    Attributes
    ----------
    jump_db : float
        Candidate: differenced-signal frame energy above the mean of the 2-12 ms before.
    min_peak_dbfs : float
        Candidates whose peak (first 12 ms) reaches this are measured. Gunfire within tens of
        metres overloads a body-worn microphone (140+ dB SPL against ~120 dB). Quieter
        candidates are measured only when they tower over the feed's background (``rel_*``).
    onset_db : float
        The onset is the earliest frame (from 2 ms before the first hit) whose full-band energy
        is within this of the blast's peak frame: weaker precursors (codec pre-echo, a click
        of the mechanism) do not pull it earlier.
    confident : float
        Confidence at or above which a shot counts (``shot_count``, ``confident: True``).
    report : float
        Confidence at or above which a gunshot-like event is listed at all.
    min_separation_s : float
        Transients closer than this to a stronger shot merge into it ("possible overlap").
    echo_window_s : float
        Transients this long after a shot are tested as its echoes.
    volley_gap_s : float
        Shots separated by more than this start a new volley.
    agc_release_s : float
        After a confident shot, later transients this close are judged as the gain control
        leaves them (reduced): they need not stay at full scale as long.
    volley_min_peak_dbfs, volley_gate_s : float
        Within ``volley_gate_s`` after a full-scale transient, candidates down to this peak
        level are measured (a farther shooter heard after the gain came down).
        ``volley_gate_s`` must not exceed the listener's ``context_s``.
    rel_jump_db, rel_hf_snr_db, rel_floor_dbfs : float
        Candidates below those levels are still measured when their differenced energy jumps
        ``rel_jump_db`` above the 2-12 ms before, stands ``rel_hf_snr_db`` above the median of
        the 0.3 s before, and peaks above ``rel_floor_dbfs``.
    history_s, rel_min_history_s, rel_min_reference_db, rel_over_recent_db : float
        The feed-relative judgement compares the crack with the loudest 50-ms block of the
        ``history_s`` before it (``level_over_recent_db``, ramp ``rel_over_recent_db``); with less
        than ``rel_min_history_s`` of audio, or only digital silence (below
        ``rel_min_reference_db``), there is no reference. ``history_s`` must not exceed the
        listener's ``context_s``.
    fireworks_over_recent_db, fireworks_min_history_s : float
        A bang whose crack does not stand this far above the loudest 50-ms block of the
        feed's recent sound (counted shots left out; at least ``fireworks_min_history_s`` of
        it) is one bang among others as loud: ``possible_fireworks``, never confident.
    agc_trigger_dbfs : float
        A confident shot that clipped or peaked above this opens a volley context (the gain
        control reacts) for ``agc_release_s``.
    """

    jump_db: float = 8.0
    onset_db: float = 10.0
    min_peak_dbfs: float = -5.0
    confident: float = 0.5
    report: float = 0.2
    min_separation_s: float = 0.030
    echo_window_s: float = 0.120
    volley_gap_s: float = 2.0
    agc_release_s: float = 2.0
    volley_min_peak_dbfs: float = -9.0
    volley_gate_s: float = 1.0
    rel_jump_db: float = 12.0
    rel_hf_snr_db: float = 15.0
    rel_floor_dbfs: float = -40.0
    history_s: float = 3.0
    agc_trigger_dbfs: float = -9.0
    rel_min_history_s: float = 1.0
    rel_min_reference_db: float = -90.0
    rel_over_recent_db: tuple[float, float] = (6.0, 10.0)
    fireworks_over_recent_db: float = 2.0
    fireworks_min_history_s: float = 0.3


# ----------------------------------------------------------------------------------------------
# stage 1: candidates

def _diff_energies(y: np.ndarray, h: int) -> np.ndarray:
    """Per-frame energy of the first difference of ``y`` (frames of ``h`` samples), float32.

    This is the only pass over every sample; everything else looks at a few ms around
    candidates.
    """
    nf = y.size // h
    out = np.empty(nf, dtype=np.float32)
    if nf == 0:
        return out
    # in cache-sized chunks: one subtraction and one reduction per sample, no big temporary
    step = 1024  # frames per chunk
    d = np.empty(step * h, dtype=np.float32)
    for f0 in range(0, nf, step):
        f1 = min(nf, f0 + step)
        a, b = f0 * h, f1 * h
        dd = d[: b - a]
        if a == 0:
            dd[0] = 0.0
            np.subtract(y[1:b], y[: b - 1], out=dd[1:])
        else:
            np.subtract(y[a:b], y[a - 1: b - 1], out=dd)
        D = dd.reshape(f1 - f0, h)
        out[f0:f1] = np.einsum("ij,ij->i", D, D)
    return out


class _FrameEnergy:
    """Full-band energy of 1-ms frames of ``y``, computed lazily for the frames asked for."""

    def __init__(self, y: np.ndarray, h: int):
        self.y = y
        self.h = h
        self.size = y.size // h

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            a, b, _ = key.indices(self.size)
            b = max(a, b)
            Y = self.y[a * self.h: b * self.h].astype(np.float64).reshape(b - a, self.h)
            return np.einsum("ij,ij->i", Y, Y)
        k = int(key)
        if k < 0:
            k += self.size
        x = self.y[k * self.h: (k + 1) * self.h].astype(np.float64)
        return float(np.dot(x, x))


def _candidates(e: _FrameEnergy, ed: np.ndarray, h: int, p: ShotParams, y: np.ndarray | None = None,
                starts: list[np.ndarray] | None = None) -> list[tuple[int, int]]:
    """Transients as ``(onset_frame, peak_frame)`` pairs from the differenced frame energies.

    A frame is a hit when its energy exceeds the mean of the frames 2-12 ms before by
    ``jump_db``. Hits are grouped; each group's peak is the loudest frame in the 8 ms from its
    first hit (full-band energy), and its onset the earliest frame from 2 ms before the first
    hit up to that peak within ``onset_db`` of the peak -- so a weak precursor (codec pre-echo, a mechanical click) does not pull
    the onset earlier than the blast, but the blast's first millisecond is kept.
    """
    nf = ed.size
    if nf < 16:
        return []
    c = np.zeros(nf + 1)
    np.cumsum(ed, dtype=np.float64, out=c[1:])
    # mean of frames i-12 .. i-3 for every i >= 12
    ref = (c[10: nf - 2] - c[0: nf - 12]) * (10 ** (p.jump_db / 10) / 10.0)
    floor = (10 ** (-45.0 / 10)) * h * 1e-2  # differenced energy of a quiet click
    tail = ed[12:]
    idx = np.flatnonzero((tail > ref) & (tail > floor)) + 12
    if starts is not None:  # every transient, loud or not (for the crackle density)
        starts.append(idx[np.concatenate([[True], np.diff(idx) > 3])] if idx.size else idx)
    # (the onset is then placed by full-band energy: the blast's main rise)
    out: list[tuple[int, int]] = []
    last_peak = -10**9
    last_loud = -10**9
    amp_floor = 10 ** (p.min_peak_dbfs / 20)
    amp_floor_volley = 10 ** (p.volley_min_peak_dbfs / 20)
    loud = 10 ** (-1.5 / 20)
    rel_floor = 10 ** (p.rel_floor_dbfs / 20)
    rel_jump = 10 ** (p.rel_jump_db / 10)
    rel_snr = 10 ** (p.rel_hf_snr_db / 10)
    for k in idx:
        k = int(k)
        if k <= last_peak + 2:
            continue
        if y is not None:
            m = float(np.max(np.abs(y[k * h: (k + 12) * h]), initial=0.0))
            # near full scale (ShotParams.min_peak_dbfs), or shortly after a full-scale event
            # when the gain control has pulled the gain down; otherwise only a transient that
            # towers over the feed's own background (a dash cam's or a farther microphone's
            # shot): its differenced energy jumps rel_jump_db above the 2-12 ms before and
            # stands rel_hf_snr_db above the median of the 0.3 s before
            if m < (amp_floor_volley if k - last_loud <= 1000 * p.volley_gate_s else amp_floor):
                if m < rel_floor:
                    continue
                epk = float(ed[k: k + 4].max())
                if epk < rel_jump * (c[k - 2] - c[k - 12]) / 10.0:
                    continue
                a0, b0 = max(k - 300, 0), k - 10
                if b0 - a0 < 20 or epk < rel_snr * max(float(np.median(ed[a0:b0])), 1e-20):
                    continue
            if m >= loud:
                last_loud = k
        w = e[k: k + 8]
        pk = k + int(np.argmax(w))
        thr = e[pk] * 10 ** (-p.onset_db / 10)
        lo_j = max(k - 2, last_peak + 1, 0)
        j = lo_j + int(np.argmax(e[lo_j: pk + 1] >= thr))
        out.append((j, pk))
        last_peak = pk
    return out


# ----------------------------------------------------------------------------------------------
# stage 2: features around one candidate

def _db(x: float) -> float:
    return float(10 * np.log10(max(x, 1e-20)))


def _onset(y: np.ndarray, s_lo: int, s_hi: int) -> int:
    """First sample in [s_lo, s_hi) whose slope reaches a quarter of the region's largest slope."""
    s_lo = max(s_lo, 1)
    seg = y[s_lo - 1: s_hi].astype(np.float64)
    d = np.abs(np.diff(seg))
    if d.size == 0:
        return s_lo
    return s_lo + int(np.argmax(d >= 0.25 * d.max()))


def _features(y: np.ndarray, sr: int, e: _FrameEnergy, ed: np.ndarray, h: int,
              onset_frame: int, peak_frame: int, history_s: float = 3.0) -> dict[str, Any]:
    n = y.size
    ms = sr / 1000.0
    s0 = _onset(y, onset_frame * h, min((peak_frame + 1) * h, n))
    frame = onset_frame
    f: dict[str, Any] = {"onset_sample": s0}

    def seg(a_ms: float, b_ms: float) -> np.ndarray:
        a = min(max(s0 + int(a_ms * ms), 0), n)
        b = min(max(s0 + int(b_ms * ms), 0), n)
        return y[a:b]

    def pw(a_ms: float, b_ms: float) -> float:
        x = seg(a_ms, b_ms).astype(np.float64)
        return float(np.mean(x * x)) if x.size else 0.0

    onset_seg = seg(0, 10)
    pk = float(np.max(np.abs(onset_seg))) if onset_seg.size else 0.0
    f["peak_dbfs"] = round(float(20 * np.log10(max(pk, 1e-10))), 2)
    early = np.abs(onset_seg)
    flat = int(np.sum(early >= 0.995 * pk)) if pk > 0 else 0
    # clipped: at full scale, or a flat top (the same extreme held for several samples: a
    # clip upstream of a gain stage)
    f["clipped"] = bool(pk >= 0.97 or (flat >= 4 and pk > 0.3))
    f["clipped_samples"] = int(np.sum(early >= 0.97))
    # how long the event stays hot (within 6 dB of full scale) in its first 30 ms: an
    # overloading blast stays there for milliseconds, a clap or a click for a fraction of one
    f["hot_ms"] = round(float(np.sum(np.abs(seg(0, 30)) >= 0.5)) / ms, 2)
    # the same relative to the event's own peak (level-independent: a blast heard from afar or
    # after the gain control came down still holds near its peak for a while)
    f["hot_rel_ms"] = round(float(np.sum(np.abs(seg(0, 30)) >= 0.5 * pk)) / ms, 2) if pk > 0 else 0.0

    # background: median 1-ms frame power over 300 ms to 10 ms before the onset
    fa = max(frame - 300, 0)
    fb = max(frame - 10, 0)
    bg = float(np.median(e[fa:fb]) / h) if fb - fa >= 20 else float(np.min(e[max(frame - 20, 0): frame + 1]) / h if frame > 0 else 1e-12)
    bg = max(bg, 1e-12)
    f["background_dbfs"] = round(_db(bg), 1)
    f["snr_db"] = round(f["peak_dbfs"] - _db(bg), 1)
    # the same in the differenced (high-frequency-weighted) signal, robust to loud LF tails
    ed_pk = float(np.max(ed[onset_frame: peak_frame + 3]))
    bgd = float(np.median(ed[fa:fb])) if fb - fa >= 20 else float(np.min(ed[max(frame - 20, 0): frame + 1]))
    f["hf_snr_db"] = round(_db(ed_pk) - _db(max(bgd, 1e-12)), 1)
    pre = ed[max(frame - 12, 0): max(frame - 2, 0)]
    f["jump_db"] = round(_db(ed_pk) - _db(float(np.mean(pre)) if pre.size else 1e-12), 1)
    f["hf_peak_db"] = round(_db(ed_pk / h), 1)
    # a second blast-like arrival inside the first 30 ms (after a dip of >= 6 dB, within 4 dB
    # of the first): another shot too close to separate, or a very strong early reflection
    f["second_arrival_ms"] = None
    q0, q1 = peak_frame + 2, min(onset_frame + 30, ed.size)
    if q1 > q0:
        q = q0 + int(np.argmax(ed[q0:q1]))
        dip = float(np.min(ed[peak_frame: q + 1]))
        if ed[q] >= ed_pk * 10 ** (-0.4) and dip <= ed[q] * 10 ** (-0.6):
            f["second_arrival_ms"] = int(q - onset_frame)
            f["second_arrival_db"] = round(_db(float(ed[q])) - _db(ed_pk), 1)
    # blast length: frames from the onset while the HF energy stays within 10 dB of its peak
    k = peak_frame
    while k + 1 < ed.size and k - peak_frame < 200 and ed[k + 1] >= 0.1 * ed_pk:
        k += 1
    f["blast_ms"] = int(k - onset_frame + 1)

    # rise: onset to the first sample reaching 80% of the first 10 ms' peak
    r = np.abs(onset_seg)
    f["rise_ms"] = round(float(np.argmax(r >= 0.8 * r.max()) / ms), 3) if r.size and r.max() > 0 else 10.0

    # spectrum of 5-ms windows at the onset and at the energy peak and of the first 10 ms
    # (Hann-tapered): the most broadband of them describes the blast (a blast's first ms may be
    # a low pressure swing, a codec's pre-echo, or a clipped plateau)
    best = (-1.0, 0.0, 0.0)
    best_lo = 0.0
    peak_ms = (peak_frame - onset_frame) * h / ms
    wins = [(-0.5, 4.5), (0.0, 10.0)] + ([(peak_ms - 0.5, peak_ms + 4.5)] if peak_ms > 2.0 else [])
    for a_ms, b_ms in wins:
        x = seg(a_ms, b_ms).astype(np.float64)
        if x.size <= 8:
            continue
        nfft = 1 << int(np.ceil(np.log2(max(x.size, 64) * 2)))
        X = np.abs(np.fft.rfft(x * np.hanning(x.size), nfft)) ** 2
        fr = np.fft.rfftfreq(nfft, 1 / sr)
        tot = float(X[fr >= 100].sum()) + 1e-20
        hf = float(X[fr >= 2000].sum()) / tot
        band = (fr >= 1000) & (fr <= min(12000.0, 0.45 * sr))
        Xb = X[band] + 1e-20
        flat = float(np.exp(np.mean(np.log(Xb))) / np.mean(Xb))
        cen = float((X[fr >= 100] * fr[fr >= 100]).sum()) / tot
        # flatness of 300 Hz - 4 kHz: what survives a closed car, a 16-kHz codec or a distant
        # shot's air absorption (a knock or a slam is resonant there, a blast is not)
        band_lo = (fr >= 300) & (fr <= min(4000.0, 0.45 * sr))
        Xl = X[band_lo] + 1e-20
        flat_lo = float(np.exp(np.mean(np.log(Xl))) / np.mean(Xl))
        best_lo = max(best_lo, flat_lo)
        if flat + hf > best[0] + best[1]:
            best = (flat, hf, cen)
    f["flatness"] = round(max(best[0], 0.0), 3)
    f["hf_share"] = round(best[1], 3)
    f["centroid_hz"] = round(best[2], 0)
    f["flatness_lo"] = round(best_lo, 3)
    # broadband jump: how far each octave band (250 Hz - 4 kHz) rises from the 10 ms before the
    # onset to the 10 ms after it; the weakest band's rise. A blast (low-frequency pressure
    # pulse plus crack) lifts every band; a knock or a clap lifts its resonance, a thump the lows.
    xb = seg(-12.0, -2.0).astype(np.float64)
    xa = seg(0.0, 10.0).astype(np.float64)
    if xb.size > 8 and xa.size == xb.size:
        nb_fft = 1 << int(np.ceil(np.log2(max(xa.size, 64) * 2)))
        wb = np.hanning(xa.size)
        Pb = np.abs(np.fft.rfft(xb * wb, nb_fft)) ** 2
        Pa = np.abs(np.fft.rfft(xa * wb, nb_fft)) ** 2
        frb = np.fft.rfftfreq(nb_fft, 1 / sr)
        rises = []
        for fc in (250.0, 500.0, 1000.0, 2000.0, 4000.0):
            if fc * 1.41 > 0.45 * sr:
                break
            m_ = (frb >= fc / 1.41) & (frb < fc * 1.41)
            rises.append(_db(float(Pa[m_].sum())) - _db(float(Pb[m_].sum()) + 1e-16))
        f["band_rise_min_db"] = round(min(rises), 1) if rises else 0.0
    else:
        f["band_rise_min_db"] = 0.0

    # low-frequency share over the first 20 ms (vest bumps, footsteps, slams)
    x2 = seg(0, 20).astype(np.float64)
    if x2.size > 8:
        X2 = np.abs(np.fft.rfft(x2 * np.hanning(x2.size), 2048)) ** 2
        fr2 = np.fft.rfftfreq(2048, 1 / sr)
        f["lf_share"] = round(float(X2[fr2 < 250].sum() / (X2.sum() + 1e-20)), 3)
    else:
        f["lf_share"] = 0.0

    # ring-down: level in later windows relative to the onset and to the background
    p_on = pw(0, 3)
    p10 = pw(8, 18)
    p40 = pw(35, 55)
    p100 = pw(90, 130)
    f["drop_10_db"] = round(_db(p_on) - _db(p10), 1)
    f["drop_40_db"] = round(_db(p_on) - _db(p40), 1)
    f["tail_40_over_bg_db"] = round(_db(p40) - _db(bg), 1)
    f["tail_100_over_bg_db"] = round(_db(p100) - _db(bg), 1)

    # the feed's recent loudness in the differenced (high-frequency weighted) signal: the
    # loudest 1-ms frame of each 50-ms block over the ``history_s`` before the onset (up to
    # 20 ms before it). The classifier leaves out the blocks of shots it has counted and
    # compares the candidate's crack with the loudest of the rest: a voice, even shouting
    # into the microphone, carries far less high-frequency energy than a muzzle blast's crack;
    # a footstep, a knock or a clap among others like it does not stand above them.
    blk = 50
    end = onset_frame - 20
    nblk = min(int(history_s / 0.05), max(end, 0) // blk)
    if nblk > 0:
        f["_hist_peaks"] = ed[end - nblk * blk: end].reshape(nblk, blk).max(axis=1).astype(np.float32) / h
    else:
        f["_hist_peaks"] = np.zeros(0, np.float32)
    f["_hist_end_s"] = (end - onset_frame) * h / sr
    f["_hist_block_s"] = blk * h / sr
    f["history_s"] = round(nblk * blk * h / sr, 2)
    return f


def _ramp(x: float, lo: float, hi: float) -> float:
    """0 below ``lo``, 1 above ``hi``, linear between (``lo > hi`` gives a falling ramp)."""
    if lo == hi:
        return float(x >= lo)
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))


def _score(f: dict[str, Any]) -> tuple[float, dict[str, float]]:
    """Gunshot likeness of one transient, 0..1, and the terms behind it: the better of the
    full-scale judgement (:func:`_score_full_scale`) and the feed-relative one
    (:func:`_score_relative`). The terms of the relative judgement carry ``loud_for_feed``."""
    score, terms = _score_full_scale(f)
    rel_score, rel_terms = _score_relative(f)
    return (rel_score, rel_terms) if rel_score > score else (score, terms)


def _score_full_scale(f: dict[str, Any]) -> tuple[float, dict[str, float]]:
    """Gunshot likeness of one transient from its own features, 0..1, and the terms behind it.

    Each term is a soft gate on one physical property of a muzzle blast heard through a
    clipping, gain-controlled, lossy chain; the score is their product, so one clearly
    un-gunshot-like property is enough to reject.
    """
    clipped = bool(f["clipped"])
    terms = {
        # a muzzle blast starts abruptly: a big jump in high-frequency energy within a frame
        "impulsive": _ramp(f["jump_db"], 8.0, 12.0),
        # and, within tens of metres, overloads a body-worn microphone: at or near full scale
        # (140+ dB SPL against the ~120 dB a consumer capsule handles)
        "full_scale": 1.0 if clipped else _ramp(f["peak_dbfs"], -5.0, -2.0),
        # standing far above what came before (the loudest thing around: a shot fired near a
        # body cam is 20-60 dB above speech and traffic; applause, a crash or a crowd is not)
        "stands_out": _ramp(f["snr_db"], 10.0, 18.0),
        # and stays there for a millisecond or more (a clap or a click: a fraction of one)
        "stays_hot": _ramp(f["hot_ms"], 0.3, 1.2),
        # a blast is short: near-peak high-frequency energy for tens of ms is a continuing
        # source (shattering glass, crackle, scraping)
        "short": _ramp(f["blast_ms"], 45.0, 28.0),
        # broadband, noise-like (turbulent jet, clipped blast): not a tonal or band-limited
        # click (claps, knocks, glass shards) nor a low thump (vest bump, footstep, slam)
        "broadband": _ramp(f["flatness"], 0.18, 0.30),
        # (a big low-frequency pulse -- a rifle's long positive phase -- can dwarf the crack's
        # share of energy; a white-flat crack on top of it still counts)
        "has_highs": max(_ramp(f["hf_share"], 0.03, 0.12), _ramp(f["flatness"], 0.45, 0.55)),
        # a muzzle blast carries a low-frequency pressure pulse (the Friedlander wave) under its
        # crack; where the microphone's low cut hides it, the overloaded blast is white-broad.
        # A hand clap or a snap has neither (little below 250 Hz, a coloured 1-4 kHz band).
        "blast_body": max(_ramp(f["lf_share"], 0.012, 0.03), _ramp(f["flatness"], 0.38, 0.48)),
        # reaching its peak within a few milliseconds
        "fast_rise": 1.0 if clipped else _ramp(f["rise_ms"], 6.0, 3.0),
    }
    return _combine(terms)


def _score_relative(f: dict[str, Any], p: ShotParams | None = None, *,
                    in_volley: bool = False) -> tuple[float, dict[str, float]]:
    """Gunshot likeness judged against the feed's own recent sound, not against full scale.

    A dash cam 10 m from gunfire, a body cam on a farther officer, or one whose gain control
    has just come down hears a muzzle blast well below full scale. Its level then says only
    that it towers over the sound just before it (``snr_db``, ``hf_snr_db``) and over the
    loudest sound of the last seconds (``level_over_recent_db``: a footstep, a knock or a clap
    among others like it does not); the blast's shape has to do the rest, more strictly than at
    full scale: an abrupt high-frequency front, a peak reached within a couple of milliseconds
    and held for more than a click's instant, every octave from 250 Hz to 4 kHz rising at once
    (pressure pulse plus crack), a low-frequency body, some highs, a blast of a few ms that has
    decayed 10 ms later.
    """
    p = p or ShotParams()
    over = f.get("level_over_recent_db")
    if over is None and "_hist_peaks" in f:
        over = _over_recent(f, [], p)
    lo, hi = p.rel_over_recent_db
    terms = {
        # (inside a volley, against the sound around it: 4 dB less)
        "loud_for_feed": _ramp(f["hf_snr_db"], 14.0, 20.0) * (_ramp(over, lo - 4.0 * in_volley, hi - 4.0 * in_volley)
                                                              if over is not None else 0.0),
        "impulsive": _ramp(f["jump_db"], 9.0, 14.0) if in_volley else _ramp(f["jump_db"], 10.0, 15.0),
        "stays_near_peak": _ramp(f.get("hot_rel_ms", 0.0), 0.1, 0.3),
        "short": _ramp(f["blast_ms"], 16.0, 10.0),
        # down 10 ms later (or far down 40 ms later); or a white-flat overload plateau of a few
        # ms (a blast clipped by the capsule, then scaled down by the gain control)
        "decays": max(_ramp(f["drop_10_db"], 3.0, 6.0), _ramp(f["drop_40_db"], 12.0, 18.0),
                      _ramp(f.get("hot_rel_ms", 0.0), 1.5, 3.0) * _ramp(f["flatness"], 0.22, 0.32)
                      * _ramp(f["drop_10_db"], -6.0, -3.0)),  # (a codec pre-echo rises into the blast)
        # every octave rises (inside a volley the previous shot's low-frequency reverberation
        # fills the lowest bands before the onset: they need not rise as much), or the onset
        # is white-flat over 1-12 kHz
        "broadband": max(_ramp(f.get("band_rise_min_db", 0.0), -4.0, 0.0) if in_volley
                         else _ramp(f.get("band_rise_min_db", 0.0), -1.0, 3.0),
                         _ramp(f["flatness"], 0.40, 0.50)),
        "has_highs": _ramp(f["hf_share"], 0.005, 0.02),
        # not a resonance (a knock on a door is nearly tonal at any level)
        "noise_like": _ramp(max(f["flatness"], f.get("flatness_lo", 0.0)), 0.08, 0.15),
        "blast_body": _ramp(f["lf_share"], 0.06, 0.15),
        "fast_rise": _ramp(f["rise_ms"], 3.5, 2.0),
    }
    return _combine(terms)


def _combine(terms: dict[str, float]) -> tuple[float, dict[str, float]]:
    score = 1.0
    for v in terms.values():
        score *= v
    return float(score), {k: round(v, 3) for k, v in terms.items()}


def _over_recent(f: dict[str, Any], shot_times: list[float], p: ShotParams,
                 min_history_s: float | None = None) -> float | None:
    peaks = f.get("_hist_peaks")
    if peaks is None or f.get("history_s", 0.0) < (p.rel_min_history_s if min_history_s is None else min_history_s):
        return None
    n = peaks.size
    blk = f["_hist_block_s"]
    centers = f["time_s"] + f["_hist_end_s"] - (n - np.arange(n) - 0.5) * blk
    keep = np.ones(n, dtype=bool)
    for ts in shot_times:
        if ts > centers[0] - 0.5:
            keep &= ~((centers >= ts - 0.01 - blk / 2) & (centers <= ts + 0.4 + blk / 2))
    ref = float(peaks[keep].max()) if keep.any() else 0.0
    if _db(max(ref, 1e-20)) < p.rel_min_reference_db:
        return None  # digital silence (a mute, a gap) before it: no live sound to compare with
    return round(f["hf_peak_db"] - _db(ref), 1)


def _click_trains(times: np.ndarray, *, min_len: int = 6, lo_s: float = 0.035, hi_s: float = 0.080,
                  cv: float = 0.15) -> np.ndarray:
    """Mask of events that belong to a periodic click train (a taser's ~19 clicks/s)."""
    n = times.size
    mask = np.zeros(n, dtype=bool)
    if n < min_len:
        return mask
    d = np.diff(times)
    i = 0
    while i < n - 1:
        j = i
        while j < n - 1 and lo_s <= d[j] <= hi_s:
            j += 1
        if j - i + 1 >= min_len:
            seg = d[i:j]
            # regular: the median interval explains most intervals
            med = np.median(seg)
            if np.mean(np.abs(seg - med) <= cv * med) >= 0.7:
                mask[i: j + 1] = True
        i = j + 1
    return mask


class _Classifier:
    """Sequential, streaming classification of candidate events into shots.

    Candidates arrive in time order (possibly in several batches); each is decided once the
    candidates up to ``horizon_s`` after it are known, so its context (neighbours, click
    trains, the shot it may be an echo of) is the same whether the audio came as one array or
    as a stream of blocks. Memory holds only the last few seconds of candidates.
    """

    horizon_s = 1.0

    def __init__(self, p: ShotParams):
        self.p = p
        self.window: list[dict[str, Any]] = []  # decided (kept for context) + pending candidates
        self.n_decided = 0                      # how many of ``window`` are decided
        self.prev: dict[str, Any] | None = None  # last reported shot (open for echoes/overlaps)
        self.last_confident = -1e9
        self.shot_times: list[float] = []       # recent confident shots (left out of the loudness reference)
        self.out: list[dict[str, Any]] = []

    def _over_recent(self, f: dict[str, Any]) -> float | None:
        """The candidate's peak above the loudest 50-ms block of the feed's recent past (dB).

        Blocks within 0.4 s after a counted shot (its blast, echoes and tail) are left out, so
        a volley's later shots are compared with the sound around the volley, not with the
        shots before them. None when less than ``rel_min_history_s`` of audio precedes it.
        """
        return _over_recent(f, self.shot_times, self.p)

    def add(self, events: list[dict[str, Any]], *, upto_s: float) -> None:
        self.window.extend(events)
        self._decide(upto_s - self.horizon_s)

    def finish(self) -> list[dict[str, Any]]:
        self._decide(float("inf"))
        self._close_prev()
        return self.out

    def _decide(self, until_s: float) -> None:
        w = self.window
        if self.n_decided >= len(w):
            return
        times = np.array([e["time_s"] for e in w])
        train = _click_trains(times)
        k = self.n_decided
        while k < len(w) and w[k]["time_s"] < until_s:
            self._one(w[k], times, bool(train[k]))
            k += 1
        self.n_decided = k
        # drop context older than the horizon
        cut = 0
        while cut < self.n_decided and w[cut]["time_s"] < until_s - 2 * self.horizon_s:
            cut += 1
        if cut:
            del w[:cut]
            self.n_decided -= cut

    def _one(self, f: dict[str, Any], times: np.ndarray, in_train: bool) -> None:
        p = self.p
        score, terms = _score_full_scale(f)
        note: list[str] = []
        f["level_over_recent_db"] = over = self._over_recent(f)
        lo, hi = p.rel_over_recent_db
        # within a volley the gain control has already pulled the gain down, so a later shot
        # (especially a farther shooter's) reaches full scale only briefly: do not ask it to
        # stay hot as long as a first shot
        # (nor to stand out from the previous shot's reverberation as a first shot must, nor to
        # jump as far above that reverberation)
        if ((terms["stays_hot"] < 1.0 or terms["stands_out"] < 1.0 or terms["impulsive"] < 1.0
             or terms["full_scale"] < 1.0 or terms["broadband"] < 1.0)
                and f["time_s"] - self.last_confident <= p.agc_release_s
                and f["peak_dbfs"] >= p.volley_min_peak_dbfs):
            terms["stays_hot"] = terms["stands_out"] = 1.0
            # (near full scale, or far above the feed's sound around the volley)
            terms["full_scale"] = max(terms["full_scale"], round(_ramp(f["peak_dbfs"], p.volley_min_peak_dbfs,
                                                                       p.volley_min_peak_dbfs + 5.0), 3),
                                      round(_ramp(over, lo, hi), 3) if over is not None else 0.0)
            # riding on the previous shot's dark reverberation makes a blast's spectrum less flat
            terms["broadband"] = max(terms["broadband"], round(_ramp(f["flatness"], 0.12, 0.22), 3))
            terms["impulsive"] = round(_ramp(f["jump_db"], 6.0, 9.0), 3)
            note.append("in a volley (gain reduced by the previous shot)")
            score, _ = _combine(terms)
        # below full scale (a farther microphone, a gain control that came down): judged against
        # the feed's own background, with stricter shape terms
        rel_score, rel_terms = _score_relative(f, p, in_volley=f["time_s"] - self.last_confident <= p.agc_release_s)
        if rel_score > score:
            score, terms = rel_score, rel_terms
            note = [n for n in note if not n.startswith("in a volley")]
            note.append("judged against the feed's background (below full scale)")
        # context: how busy is the neighbourhood (crackle), is this part of a click train
        nb = int(np.sum(np.abs(times - f["time_s"]) <= 0.25)) - 1
        f["neighbours_500ms"] = nb
        if in_train:
            terms["not_click_train"] = 0.0
            note.append("periodic click train (taser-like)")
        # fireworks: a bang inside a crackle of many small pops. Gunfire volleys, even two
        # shooters with their echoes, show at most a handful of transients in half a second.
        crackle = max(_ramp(nb, 6.0, 10.0), _ramp(f.get("transients_500ms", 0), 6.0, 10.0))
        if crackle > 0:
            terms["not_crackle"] = round(1.0 - 0.6 * crackle, 3)
            note.append(f"dense crackle around it ({f.get('transients_500ms', nb)} transients within "
                        "+-250 ms): fireworks-like")
        # fireworks: a bang no louder (in its crack) than the loudest sound of the last seconds,
        # shots already counted left out. Gunfire near a microphone is the loudest thing the
        # feed hears (measured: every confident shot of volley seeds 0-7 and demo seed 7 >= 9 dB above it,
        # the range shots >= 13 dB); a display goes on bang after bang with crackle, whistles
        # and booms between them, as loud as the bang itself.
        fw_over = over if over is not None else _over_recent(f, self.shot_times, p, p.fireworks_min_history_s)
        among_bangs = fw_over is not None and fw_over < p.fireworks_over_recent_db and not in_train
        if among_bangs:
            f["fireworks_over_recent_db"] = fw_over
            note.append(f"no louder than the feed's recent sound (crack {fw_over} dB above the loudest 50-ms "
                        f"block of the {f.get('history_s')} s before, counted shots left out): a bang among "
                        "others as loud, fireworks-like")
        shape_score = score  # before the crackle / click-train context
        for key in ("not_click_train", "not_crackle"):
            if key in terms:
                score *= terms[key]
        # echo of / overlap with the previous reported shot?
        prev = self.prev
        if prev is not None:
            dt = f["time_s"] - prev["time_s"]
            pf = prev["_f"]
            weaker_db = pf["hf_peak_db"] - f["hf_peak_db"]
            if dt < p.min_separation_s:
                # within the same blast (a few ms) it is the same event; later, a second strong
                # transient that cannot be separated is noted, not counted
                if dt >= 0.005 and score >= p.report and weaker_db < 6.0:
                    prev["_overlap"].append(round(f["time_s"], 4))
                elif dt >= 0.005:
                    prev["_echoes"] += 1
                return
            if dt < p.echo_window_s:
                # an echo is a weaker copy smeared by the reflecting surface: it rises less
                # sharply. A second shooter's blast may be weaker and duller too (farther away),
                # but its front is as sharp as any direct arrival.
                # Far weaker still (20+ dB) is a reflection whatever its front: a second
                # shooter that much quieter would not be heard inside the first one's echoes.
                echo_like = max(_ramp(weaker_db, 8.0, 14.0) * _ramp(f["jump_db"], 11.0, 8.0),
                                _ramp(weaker_db, 20.0, 26.0))
                terms["not_echo"] = round(1.0 - echo_like, 3)
                score *= terms["not_echo"]
                if echo_like > 0.5:
                    prev["_echoes"] += 1
        if score < p.report:
            return
        conf = float(np.clip(score, 0.0, 1.0))
        if crackle >= 0.5 or among_bangs:
            conf = min(conf, round(p.confident - 0.01, 3))  # never confident gunfire inside crackle
        # a blast that is shot-like by itself (even if a crackle around it keeps it from being
        # counted) is left out of the loudness reference of what follows, and makes the gain
        # control react
        # (a bang held back as fireworks-like stays shot-like here: were it a missed shot, the
        # next shots must not be judged against it)
        shot_like = conf >= p.confident or (not in_train and shape_score * terms.get("not_echo", 1.0) >= p.confident)
        if shot_like:
            self.shot_times.append(f["time_s"])
            del self.shot_times[:-64]
        if shot_like and (f["hot_ms"] >= 1.2 or f["clipped"] or f["peak_dbfs"] >= p.agc_trigger_dbfs):
            self.last_confident = f["time_s"]  # an overloading shot: the gain control reacts
        cls = "gunshot" if conf >= p.confident else "impulsive_uncertain"
        if crackle > 0 or among_bangs:
            cls = "possible_fireworks"
        self._close_prev()
        self.prev = {"time_s": f["time_s"], "confidence": round(conf, 3), "confident": conf >= p.confident,
                     "class": cls, "peak_dbfs": f["peak_dbfs"], "clipped": f["clipped"],
                     "_f": f, "_terms": terms, "_note": note, "_echoes": 0, "_overlap": []}

    def _close_prev(self) -> None:
        s_ = self.prev
        if s_ is None:
            return
        self.prev = None
        f = s_.pop("_f")
        terms = s_.pop("_terms")
        note = s_.pop("_note")
        echoes = s_.pop("_echoes")
        overlap = s_.pop("_overlap")
        if overlap:
            note.append(f"possible overlap: transients at {overlap} s merged into this shot")
        elif f.get("second_arrival_ms") is not None:
            note.append(f"possible overlap: a second blast-like arrival {f['second_arrival_ms']} ms after the "
                        f"onset ({f['second_arrival_db']} dB): a second shot or a strong early reflection, "
                        "counted once")
        meas = {k: v for k, v in f.items() if k not in ("onset_sample", "time_s") and not k.startswith("_")}
        meas["echoes_attributed"] = echoes
        s_["time_s"] = round(float(s_["time_s"]), 4)
        s_["evidence"] = {"method": METHOD, "algorithm_version": ALGORITHM_VERSION,
                          "measurements": meas, "terms": terms, "notes": note}
        self.out.append(s_)


def _classify(events: list[dict[str, Any]], p: ShotParams) -> list[dict[str, Any]]:
    """Score candidates, attribute echoes and overlaps, reject trains; return reported shots."""
    c = _Classifier(p)
    c.add(events, upto_s=float("inf"))
    return c.finish()


def _detect_window(y: np.ndarray, sr: int, p: ShotParams, *, t0: float = 0.0) -> list[dict[str, Any]]:
    """Candidate features (all candidates, unscored) for one array starting at ``t0`` s."""
    h = max(1, int(round(sr / 1000)))
    ed = _diff_energies(y, h)
    e = _FrameEnergy(y, h)
    starts: list[np.ndarray] = []
    cands = _candidates(e, ed, h, p, y, starts)
    all_starts = starts[0] if starts else np.zeros(0, dtype=np.int64)
    events = []
    for j, pk in cands:
        f = _features(y, sr, e, ed, h, j, pk, p.history_s)
        # how many transients of any level start within +-250 ms (crackle, applause, rattle)
        f["transients_500ms"] = int(np.searchsorted(all_starts, j + 250) - np.searchsorted(all_starts, j - 250)) - 1
        f["time_s"] = t0 + f["onset_sample"] / sr
        events.append(f)
    return events


def detect_shots(y: np.ndarray, sr: int, **params: Any) -> list[dict[str, Any]]:
    """Detect gunshots in an audio array.

    Parameters
    ----------
    y : np.ndarray
        Audio, float, shape ``(n,)`` or ``(channels, n)``, full scale 1. Several channels are
        combined by taking, at each sample, the one of largest magnitude (keeps overload).
    sr : int
        Sample rate in Hz.
    **params
        Overrides of :class:`ShotParams` fields.

    Returns
    -------
    list of dict
        One per reported shot, sorted by time: ``time_s`` (onset, first arrival),
        ``confidence`` (0..1), ``confident`` (bool), ``class`` ("gunshot" or
        "impulsive_uncertain"), ``peak_dbfs``, ``clipped``, ``evidence``.
    """
    p = _params(params)
    x = _mono(y)
    if sr <= 0:
        raise ParameterError(f"sample rate must be positive, got {sr}")
    return _classify(_detect_window(x, int(sr), p), p)


def _params(params: dict[str, Any]) -> ShotParams:
    try:
        return replace(ShotParams(), **params)
    except TypeError as exc:
        raise ParameterError(f"unknown shot detection parameter: {exc}") from None


def _loudest_channel(y: np.ndarray) -> np.ndarray:
    """Mono by taking, at each sample, the channel of largest magnitude.

    An average would hide a clipped channel when the other is quieter (a stereo dash cam, a
    mic pair); overload and full-scale level are what mark gunfire, so keep them.
    """
    out = y[0]
    for ch in y[1:]:
        out = np.where(np.abs(ch) > np.abs(out), ch, out)
    return out


def _mono(y: np.ndarray) -> np.ndarray:
    x = np.asarray(y, dtype=np.float32)
    if x.ndim == 2:
        x = _loudest_channel(x) if x.shape[0] > 1 else x[0]
    if x.ndim != 1:
        raise ParameterError(f"audio must be shaped (n,) or (channels, n); got {np.shape(y)}")
    return x


def group_volleys(shots: list[dict[str, Any]], *, gap_s: float = 2.0) -> list[dict[str, Any]]:
    """Group confident shots into volleys: a new volley starts after ``gap_s`` without one.

    Returns
    -------
    list of dict
        ``start_s`` and ``end_s`` (first and last onset), ``shot_indices`` (indices into
        ``shots``), ``count`` (confident shots), ``uncertain_indices`` (reported but not
        confident transients inside the volley's span).
    """
    if gap_s <= 0:
        raise ParameterError(f"gap_s must be positive, got {gap_s}")
    volleys: list[dict[str, Any]] = []
    for i, s_ in enumerate(shots):
        if not s_.get("confident", True):
            continue
        t = float(s_["time_s"])
        if volleys and t - volleys[-1]["end_s"] <= gap_s:
            volleys[-1]["end_s"] = t
            volleys[-1]["shot_indices"].append(i)
        else:
            volleys.append({"start_s": t, "end_s": t, "shot_indices": [i]})
    for v in volleys:
        v["count"] = len(v["shot_indices"])
        v["uncertain_indices"] = [i for i, s_ in enumerate(shots) if not s_.get("confident", True)
                                  and v["start_s"] <= s_["time_s"] <= v["end_s"]]
    return volleys


def summarize(shots: list[dict[str, Any]], p: ShotParams | None = None) -> dict[str, Any]:
    """The ``analyze --json`` fields for one feed: ``shots``, ``shot_count``, ``volleys``."""
    p = p or ShotParams()
    return {"shots": shots, "shot_count": int(sum(1 for s_ in shots if s_["confident"])),
            "volleys": group_volleys(shots, gap_s=p.volley_gap_s),
            "algorithm_version": ALGORITHM_VERSION, "params": asdict(p)}


class ShotListener:
    """Streaming shot detector: an :class:`~media_core.listeners.AudioListener`.

    Blocks are made mono (the channel of largest magnitude at each sample) and buffered into analysis windows of ``window_s`` seconds that
    overlap by ``2 * context_s``; each window's candidates are measured with ``context_s`` of
    audio on both sides and handed to one streaming classifier, so the result equals
    :func:`detect_shots` on the whole array while memory stays at one window whatever the
    feed's length. A gap or a decode error ends the current stretch of audio (no candidate is
    measured across it).

    ``finish`` returns :func:`summarize`'s dict plus ``gaps`` (spans without audio).
    """

    name = "shots"

    def __init__(self, *, window_s: float = 60.0, context_s: float = 3.0, **params: Any):
        if window_s <= 0 or context_s < 0.5:
            raise ParameterError(f"window_s must be > 0 and context_s >= 0.5 s; got {window_s}, {context_s}")
        self.p = _params(params)
        if self.p.volley_gate_s > context_s or self.p.history_s > context_s:
            raise ParameterError(f"volley_gate_s ({self.p.volley_gate_s}) and history_s ({self.p.history_s}) must "
                                 f"not exceed context_s ({context_s})")
        self.window_s = float(window_s)
        self.context_s = float(context_s)
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._sr = 0
        self._clf = _Classifier(self.p)
        self._gaps: list[dict[str, Any]] = []
        self._reset_buffer()

    def _reset_buffer(self) -> None:
        self._buf = getattr(self, "_buf", np.zeros(0, dtype=np.float32))
        self._n = 0
        self._origin: float | None = None  # time of the first sample of this stretch of audio
        self._offset = 0                   # sample index (in the stretch) of the buffer's start
        self._keep_from = -float("inf")

    def on_start(self, info: AudioStreamInfo) -> None:
        self._reset_stream()
        self._sr = int(info.sr)

    def on_block(self, block: AudioBlock) -> None:
        sr = int(block.sr)
        if sr <= 0:
            raise ParameterError(f"block sample rate must be positive, got {sr}")
        if self._sr != sr:
            self._flush(final=True)
            self._sr = sr
        y = block.y
        x = (y[0] if y.shape[0] == 1 else _loudest_channel(y)) if y.ndim == 2 else y
        x = np.asarray(x, dtype=np.float32)
        if self._origin is None:
            self._origin = float(block.start_s)
        else:
            expected = self._origin + (self._offset + self._n) / sr
            if abs(float(block.start_s) - expected) > 2.0 / sr:
                # a timestamp jump the decoder did not report as a gap: treat it as one
                self._flush(final=True)
                self._origin = float(block.start_s)
        if self._n + x.size > self._buf.size:
            grown = np.empty(max(2 * self._buf.size, self._n + x.size, int(self.window_s * sr)), dtype=np.float32)
            grown[: self._n] = self._buf[: self._n]
            self._buf = grown
        self._buf[self._n: self._n + x.size] = x
        self._n += x.size
        need = int((self.window_s + 2 * self.context_s) * sr)
        while self._n >= need:
            self._flush(final=False)

    def on_gap(self, start_s: float, end_s: float, *, missing_packets: int = 0) -> None:
        self._flush(final=True)
        self._gaps.append({"start_s": float(start_s), "end_s": float(end_s), "kind": "gap"})

    def on_error(self, start_s: float, end_s: float, message: str = "") -> None:
        self._flush(final=True)
        self._gaps.append({"start_s": float(start_s), "end_s": float(end_s), "kind": "error",
                           "message": message})

    def finish(self, end_s: float | None = None) -> dict[str, Any]:
        self._flush(final=True)
        out = summarize(self._clf.finish(), self.p)
        out["gaps"] = self._gaps
        return out

    def _flush(self, *, final: bool) -> None:
        if self._origin is None or self._n == 0:
            self._reset_buffer()
            return
        sr = self._sr
        y = self._buf[: self._n]
        t0 = self._origin + self._offset / sr
        h = max(1, int(round(sr / 1000)))
        # windows start on the 1-ms frame grid of the whole stretch, so frames (and therefore
        # candidates and onsets) are exactly those of detect_shots on the whole array
        tail = h * int(round(2 * self.context_s * sr / h))
        n_proc = y.size if final else h * (y.size // h)
        keep_to = float("inf") if final else t0 + (n_proc - tail // 2) / sr
        events = [e for e in _detect_window(y[:n_proc], sr, self.p, t0=0.0)
                  if self._keep_from <= t0 + e["time_s"] < keep_to]
        for e in events:
            # exact times: origin + whole-stretch sample index
            e["time_s"] = self._origin + (self._offset + e["onset_sample"]) / sr
        self._clf.add(events, upto_s=keep_to if not final else t0 + y.size / sr)
        if final:
            self._reset_buffer()
            return
        start = n_proc - tail
        rest = self._n - start
        self._buf[:rest] = self._buf[start: self._n]  # memmove: keep the overlap
        self._n = rest
        self._offset += start
        self._keep_from = keep_to
