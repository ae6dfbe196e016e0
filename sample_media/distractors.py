"""Synthetic impulsive sounds that are *not* gunshots, for testing rejection.

Each ``render_<kind>(*, sr, rng, peak_dbfs=...)`` returns float32 mono starting at the event's
onset (sample 0). :func:`render_distractor` dispatches by name and :data:`KINDS` lists them.
Levels may exceed 0 dBFS (a vest bump clips the mic); :func:`sample_media.gunshot.
render_incident_audio` applies clipping and AGC to the whole mix.

What makes each one *unlike* gunfire, the cue a detector may use:

=================  ===================================================================
door_slam          slow-ish rise (2-6 ms), energy mostly below 1 kHz, rattle after
knock              2-4 knocks ~0.15-0.3 s apart, wooden modes 150-900 Hz, no HF blast
glass_breaking     an impact then hundreds of ms of narrow high-frequency tinkles
hand_clap          1-3 kHz band-limited noise burst of a few ms, short tail, usually repeated
footsteps          low thuds (< 400 Hz) about twice a second, plus scuffs
mic_bump           a very low-frequency (20-120 Hz) thump on the mic, clipped
shouting           voiced harmonic bursts (f0 150-450 Hz) lasting 0.3-1.2 s
taser              periodic train of sharp clicks at about 19 per second for ~5 s
fireworks          crackle: dense random pops, sometimes a bang; *is* gunshot-like
=================  ===================================================================
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from media_core.errors import ParameterError
from sample_media.audio import lowpass
from sample_media.gunshot import render_gunshot

__all__ = ["KINDS", "render_distractor"]


def _bandpass(y: np.ndarray, sr: int, lo: float, hi: float, order: int = 2) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    hi = min(hi, 0.45 * sr)
    sos = butter(order, [lo, hi], btype="band", fs=sr, output="sos")
    return sosfilt(sos, y)


def _norm(y: np.ndarray, peak_dbfs: float) -> np.ndarray:
    return (y * (10 ** (peak_dbfs / 20) / max(np.max(np.abs(y)), 1e-12))).astype(np.float32)


def _modes(sr: int, rng: np.random.Generator, n: int, freqs: tuple[float, float],
           decay_s: tuple[float, float], count: int) -> np.ndarray:
    t = np.arange(n) / sr
    out = np.zeros(n)
    for _ in range(count):
        f = rng.uniform(*freqs)
        out += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28)) * np.exp(-t / rng.uniform(*decay_s))
    return out


def _attack(n: int, sr: int, rise_s: float) -> np.ndarray:
    t = np.arange(n) / sr
    return 1.0 - np.exp(-t / max(rise_s, 1.0 / sr))


def render_door_slam(*, sr: int, rng: np.random.Generator, peak_dbfs: float = -3.0) -> np.ndarray:
    n = int(0.8 * sr)
    t = np.arange(n) / sr
    body = _modes(sr, rng, n, (60.0, 400.0), (0.02, 0.09), 6)
    thud = lowpass(rng.standard_normal(n), sr, 900.0) * np.exp(-t / 0.03)
    latch = np.zeros(n)
    k = int(rng.uniform(0.01, 0.05) * sr)  # latch/rattle a little later
    m = int(0.08 * sr)
    latch[k:k + m] = _bandpass(rng.standard_normal(m), sr, 1500, 5000) * np.exp(-np.arange(m) / (0.01 * sr)) * 0.3
    y = (body + 1.5 * thud) * _attack(n, sr, rng.uniform(0.002, 0.006)) + latch
    return _norm(y, peak_dbfs)


def render_knock(*, sr: int, rng: np.random.Generator, peak_dbfs: float = -8.0) -> np.ndarray:
    count = int(rng.integers(2, 5))
    gap = rng.uniform(0.15, 0.3)
    n = int((count * gap + 0.3) * sr)
    y = np.zeros(n)
    for i in range(count):
        k = int(i * gap * rng.uniform(0.9, 1.1) * sr)
        m = int(0.15 * sr)
        one = _modes(sr, rng, m, (150.0, 900.0), (0.008, 0.03), 5) * _attack(m, sr, 0.0008)
        one += 0.2 * _bandpass(rng.standard_normal(m), sr, 1000, 4000) * np.exp(-np.arange(m) / (0.002 * sr))
        y[k:k + m] += one[: n - k] * rng.uniform(0.7, 1.0)
    return _norm(y, peak_dbfs)


def render_glass_breaking(*, sr: int, rng: np.random.Generator, peak_dbfs: float = -3.0) -> np.ndarray:
    n = int(rng.uniform(0.6, 1.2) * sr)
    t = np.arange(n) / sr
    impact = _bandpass(rng.standard_normal(n), sr, 800, 8000) * np.exp(-t / 0.006)
    y = impact
    for _ in range(int(rng.integers(40, 120))):  # shards: narrow high modes, scattered in time
        k = int(rng.exponential(0.15) * sr)
        if k >= n:
            continue
        m = min(int(0.06 * sr), n - k)
        tt = np.arange(m) / sr
        f = rng.uniform(2500, 12000)
        y[k:k + m] += rng.uniform(0.05, 0.5) * np.sin(2 * np.pi * f * tt) * np.exp(-tt / rng.uniform(0.005, 0.02))
    return _norm(y, peak_dbfs)


def render_hand_clap(*, sr: int, rng: np.random.Generator, peak_dbfs: float = -6.0,
                     count: int | None = None) -> np.ndarray:
    if count is None:
        count = int(rng.integers(1, 6))
    period = rng.uniform(0.25, 0.6)
    n = int((count * period + 0.2) * sr)
    y = np.zeros(n)
    for i in range(count):
        k = int(i * period * rng.uniform(0.95, 1.05) * sr)
        m = int(0.05 * sr)
        f0 = rng.uniform(900, 2200)
        burst = _bandpass(rng.standard_normal(m), sr, f0 * 0.6, f0 * 2.2)
        burst *= _attack(m, sr, 0.0004) * np.exp(-np.arange(m) / (rng.uniform(0.003, 0.008) * sr))
        y[k:k + m] += burst[: n - k]
    return _norm(y, peak_dbfs)


def render_footsteps(*, sr: int, rng: np.random.Generator, peak_dbfs: float = -12.0) -> np.ndarray:
    count = int(rng.integers(3, 9))
    period = rng.uniform(0.4, 0.65)
    n = int((count * period + 0.3) * sr)
    y = np.zeros(n)
    for i in range(count):
        k = int(i * period * rng.uniform(0.93, 1.07) * sr)
        m = int(0.12 * sr)
        tt = np.arange(m) / sr
        thud = lowpass(rng.standard_normal(m), sr, 350.0) * np.exp(-tt / 0.02) * _attack(m, sr, 0.004)
        scuff = 0.15 * _bandpass(rng.standard_normal(m), sr, 1500, 6000) * np.exp(-tt / 0.03)
        y[k:k + m] += (thud + scuff)[: n - k]
    return _norm(y, peak_dbfs)


def render_mic_bump(*, sr: int, rng: np.random.Generator, peak_dbfs: float = 6.0) -> np.ndarray:
    """A hand or strap hitting the camera on the vest: a huge low thump that clips the mic."""
    n = int(0.3 * sr)
    t = np.arange(n) / sr
    f = rng.uniform(20.0, 120.0)
    y = np.sin(2 * np.pi * f * t) * np.exp(-t / rng.uniform(0.02, 0.06)) * _attack(n, sr, 0.002)
    y += 0.2 * lowpass(rng.standard_normal(n), sr, 300.0) * np.exp(-t / 0.03)
    y += 0.02 * _bandpass(rng.standard_normal(n), sr, 1000.0, 6000.0) * np.exp(-t / 0.005)  # fabric rub
    return _norm(y, peak_dbfs)


def render_shouting(*, sr: int, rng: np.random.Generator, peak_dbfs: float = -2.0) -> np.ndarray:
    dur = rng.uniform(0.3, 1.2)
    n = int(dur * sr)
    t = np.arange(n) / sr
    f0 = rng.uniform(150, 450) * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(2, 6) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    y = np.zeros(n)
    for h in range(1, 25):
        fh = f0 * h
        # formant weighting around 700 and 1200 Hz (an open vowel)
        w = np.exp(-((fh - 700) / 300) ** 2) + 0.6 * np.exp(-((fh - 1200) / 400) ** 2) + 0.05
        y += w * np.sin(h * phase) * (fh < 0.45 * sr)
    y += 0.02 * rng.standard_normal(n)
    env = np.minimum(1.0, t / rng.uniform(0.02, 0.06)) * np.minimum(1.0, (dur - t) / 0.05)
    return _norm(y * env, peak_dbfs)


def render_taser(*, sr: int, rng: np.random.Generator, peak_dbfs: float = -1.0,
                 duration_s: float | None = None) -> np.ndarray:
    """Electrical arc clicks at about 19 per second (the standard 5-second cycle, or shorter)."""
    if duration_s is None:
        duration_s = rng.uniform(1.5, 5.0)
    rate = rng.uniform(17.0, 21.0)
    n = int((duration_s + 0.05) * sr)
    y = np.zeros(n)
    m = int(0.004 * sr)
    count = int(duration_s * rate)
    for i in range(count):
        k = int((i / rate + rng.normal(0, 0.0005)) * sr)
        if k < 0 or k + m > n:
            continue
        click = rng.standard_normal(m) * np.exp(-np.arange(m) / (0.0004 * sr))
        y[k:k + m] += click * rng.uniform(0.8, 1.0)
    y += 0.05 * _bandpass(rng.standard_normal(n), sr, 2000, 8000) * (np.arange(n) < count / rate * sr)  # buzz
    return _norm(y, peak_dbfs)


def render_fireworks(*, sr: int, rng: np.random.Generator, peak_dbfs: float = -2.0) -> np.ndarray:
    """Crackle: dense random small pops, optionally one bigger bang first."""
    dur = rng.uniform(1.0, 3.0)
    n = int(dur * sr)
    y = np.zeros(n)
    m = int(0.006 * sr)
    for _ in range(int(rng.uniform(20, 80) * dur)):
        k = int(rng.uniform(0, dur - 0.01) * sr)
        pop = rng.standard_normal(m) * np.exp(-np.arange(m) / (rng.uniform(0.0003, 0.0015) * sr))
        y[k:k + m] += pop * rng.uniform(0.1, 1.0)
    if rng.uniform() < 0.5:
        bang = render_gunshot(sr=sr, rng=rng, distance_m=60.0, wall_echoes=None, positive_phase_ms=2.5)
        bang = bang[: n] / max(np.max(np.abs(bang)), 1e-9) * 1.5
        y[: bang.size] += bang
    return _norm(y, peak_dbfs)


_RENDER: dict[str, Callable[..., np.ndarray]] = {
    "door_slam": render_door_slam,
    "knock": render_knock,
    "glass_breaking": render_glass_breaking,
    "hand_clap": render_hand_clap,
    "footsteps": render_footsteps,
    "mic_bump": render_mic_bump,
    "shouting": render_shouting,
    "taser": render_taser,
    "fireworks": render_fireworks,
}

#: Every distractor kind this module renders.
KINDS: tuple[str, ...] = tuple(_RENDER)


def render_distractor(kind: str, *, sr: int, rng: np.random.Generator, **kwargs: Any) -> np.ndarray:
    """Render one distractor of ``kind`` (see :data:`KINDS`) as float32 mono, onset at sample 0.

    Raises
    ------
    ParameterError
        If ``kind`` is unknown.
    """
    try:
        fn = _RENDER[kind]
    except KeyError:
        raise ParameterError(f"unknown distractor kind {kind!r}; expected one of {list(KINDS)}") from None
    if sr <= 0:
        raise ParameterError(f"sample rate must be positive, got {sr}")
    return fn(sr=sr, rng=rng, **kwargs)


def distractor_events(kinds: list[str], times_s: list[float], *, sr: int, rng: np.random.Generator
                      ) -> list[tuple[float, np.ndarray, dict[str, Any]]]:
    """Rendered distractors ready for ``render_incident_audio(..., distractors=...)``."""
    return [(float(t), render_distractor(k, sr=sr, rng=rng), {"kind": k}) for k, t in zip(kinds, times_s)]
