"""Small, seeded signal generators for test and demo audio.

All functions return float32 mono arrays ``(n,)`` in [-1, 1] at sample rate ``sr``; levels are
given in dBFS (0 dBFS == full scale sine peak 1.0; noise levels are RMS).
"""
from __future__ import annotations

import numpy as np

from media_core.errors import ParameterError


def db_to_amp(db: float) -> float:
    """Convert a level in dBFS to a linear amplitude (``10 ** (db / 20)``)."""
    return float(10.0 ** (db / 20.0))


def amp_to_db(amp: float, floor_db: float = -200.0) -> float:
    """Convert a linear amplitude to dBFS; zero maps to ``floor_db``."""
    amp = float(abs(amp))
    return float(20.0 * np.log10(amp)) if amp > 0 else floor_db


def lowpass(y: np.ndarray, sr: int, fc: float, order: int = 2) -> np.ndarray:
    """``y`` through a Butterworth low-pass at ``fc`` Hz (``order`` poles); unchanged when ``fc`` is
    at or above 0.45 ``sr`` (nothing audible left to cut). Float64 out, same shape.
    """
    from scipy.signal import butter, sosfilt

    if fc >= 0.45 * sr:
        return y
    return sosfilt(butter(order, fc, btype="low", fs=sr, output="sos"), y)


def _n(duration_s: float, sr: int) -> int:
    if duration_s < 0 or sr <= 0:
        raise ParameterError(f"duration_s must be >= 0 and sr > 0 (got {duration_s}, {sr})")
    return int(round(duration_s * sr))


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def tone(freq_hz: float, duration_s: float, sr: int = 48000, *, level_dbfs: float = -12.0,
         phase: float = 0.0) -> np.ndarray:
    """A sine tone of peak level ``level_dbfs``; shape ``(n,)``, float32."""
    n = _n(duration_s, sr)
    t = np.arange(n, dtype=np.float64) / sr
    return (db_to_amp(level_dbfs) * np.sin(2 * np.pi * freq_hz * t + phase)).astype(np.float32)


def _shaped_noise(n: int, sr: int, rng: np.random.Generator, slope_db_per_oct: float,
                  lowcut_hz: float = 20.0, highcut_hz: float | None = None) -> np.ndarray:
    """White noise shaped to a power slope in dB/octave, normalised to unit RMS."""
    if n == 0:
        return np.zeros(0, np.float32)
    w = rng.standard_normal(n)
    spec = np.fft.rfft(w)
    f = np.fft.rfftfreq(n, 1.0 / sr)
    f[0] = f[1] if n > 1 else 1.0
    gain = (f / 1000.0) ** (slope_db_per_oct / (20 * np.log10(2)))  # amplitude slope
    gain[f < lowcut_hz] = 0.0
    if highcut_hz is not None:
        gain *= 1.0 / np.sqrt(1.0 + (f / highcut_hz) ** 8)
    y = np.fft.irfft(spec * gain, n)
    rms = np.sqrt(np.mean(y ** 2))
    return (y / rms if rms > 0 else y).astype(np.float32)


def room_tone(duration_s: float, sr: int = 48000, level_dbfs: float = -70.0, rng=0) -> np.ndarray:
    """Pink-ish (-3 dB/octave) room noise at RMS ``level_dbfs`` with slow level wander.

    Parameters
    ----------
    duration_s : float
    sr : int
    level_dbfs : float
        RMS level in dBFS, e.g. -70 for a quiet room.
    rng : int or numpy.random.Generator
        Seed or generator.
    """
    g = _rng(rng)
    n = _n(duration_s, sr)
    y = _shaped_noise(n, sr, g, -3.0)
    # a slow +-1.5 dB wander, as real rooms breathe (HVAC, traffic far away)
    t = np.arange(n) / sr
    wander = 1.0 + 0.18 * np.sin(2 * np.pi * 0.37 * t + g.uniform(0, 6.28))
    return (y * wander * db_to_amp(level_dbfs)).astype(np.float32)


def car_rumble(duration_s: float, sr: int = 48000, level_dbfs: float = -68.0, rng=0) -> np.ndarray:
    """A closed car: low-frequency engine/road rumble (steep -9 dB/octave) with a 30 Hz hum."""
    g = _rng(rng)
    n = _n(duration_s, sr)
    y = _shaped_noise(n, sr, g, -9.0, lowcut_hz=15.0, highcut_hz=2000.0)
    t = np.arange(n) / sr
    y = y + 0.6 * np.sin(2 * np.pi * 31.0 * t) + 0.3 * np.sin(2 * np.pi * 62.0 * t)
    y /= np.sqrt(np.mean(y ** 2)) if n else 1.0
    return (y * db_to_amp(level_dbfs)).astype(np.float32)


def dead_floor(duration_s: float, sr: int = 48000, level_dbfs: float = -90.0, rng=0) -> np.ndarray:
    """A cut microphone's electrical floor: steady white noise at RMS ``level_dbfs``."""
    g = _rng(rng)
    n = _n(duration_s, sr)
    return (g.standard_normal(n) * db_to_amp(level_dbfs)).astype(np.float32)


def speech_like(duration_s: float, sr: int = 48000, *, level_dbfs: float = -20.0, rng=0,
                syllable_hz: float = 4.0, pause_prob: float = 0.15) -> np.ndarray:
    """Speech-like sound: noise through two moving formant resonances, chopped into syllables.

    Roughly 4 syllables per second with pauses; ``level_dbfs`` is the RMS of the voiced parts.
    """
    from scipy.signal import lfilter

    g = _rng(rng)
    n = _n(duration_s, sr)
    if n == 0:
        return np.zeros(0, np.float32)
    # glottal-ish excitation: a 120 Hz pulse train plus breath noise
    t = np.arange(n) / sr
    f0 = 120.0 * (1 + 0.1 * np.sin(2 * np.pi * 0.5 * t))
    ph = np.cumsum(f0 / sr)
    exc = (np.diff(np.floor(ph), prepend=0) > 0).astype(np.float64) * 4.0 + 0.3 * g.standard_normal(n)
    y = np.zeros(n)
    seg = int(sr / syllable_hz)
    for s0 in range(0, n, seg):
        s1 = min(n, s0 + seg)
        if g.random() < pause_prob:
            continue
        out = np.zeros(s1 - s0)
        for fc in (g.uniform(300, 900), g.uniform(1000, 2500)):
            r = 0.97
            a = [1.0, -2 * r * np.cos(2 * np.pi * fc / sr), r * r]
            out += lfilter([1.0 - r], a, exc[s0:s1])
        env = np.sin(np.pi * np.linspace(0, 1, s1 - s0)) ** 2
        y[s0:s1] = out * env
    voiced = y[np.abs(y) > 0]
    rms = np.sqrt(np.mean(voiced ** 2)) if voiced.size else 1.0
    y = y / rms * db_to_amp(level_dbfs)
    return np.clip(y, -1, 1).astype(np.float32)
