"""Family-b impulsive sounds that are *not* gunshots, rendered from scratch.

Each kind is built from a few physical primitives -- damped modes (:func:`modal_hit`),
filtered noise bursts (:func:`band_noise`), attack/decay envelopes -- chosen for the way the
real sound is made: a vest or microphone bump is a low-frequency thump with almost nothing
above 1 kHz (it only gains highs when the chain clips it), a close plosive is a puff of air
into the capsule followed by a vowel, a taser is a train of arcs at 10 to 20 Hz, an aerial
firework is a long, dull bang with seconds of rumble.

Levels are the peak at the microphone in dBFS before the chain (full scale = 1); each kind
draws its own range, from quiet to well above full scale (a bump or a plosive on a body cam
clips hard). Every render starts its first event at sample 0.

:func:`render_distractor_scene_b` mixes one kind into a background and runs a chain; its truth
has no shots.

Example
-------
>>> import numpy as np
>>> y = render_distractor_b("knock", 48000, np.random.default_rng(0))
>>> bool(np.abs(y[:48]).max() > 0)
True
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

from media_core.errors import ParameterError

__all__ = [
    "KINDS_B",
    "LEVELS_DBFS",
    "ON_MIC_B",
    "band_noise",
    "modal_hit",
    "render_distractor_b",
    "render_distractor_scene_b",
]


# ----------------------------------------------------------------------------- primitives

def _t(n: int, sr: int) -> np.ndarray:
    return np.arange(n) / sr


def _n(dur_s: float, sr: int) -> int:
    return max(1, int(round(dur_s * sr)))


def band_noise(n: int, sr: int, rng: np.random.Generator, lo_hz: float, hi_hz: float, *,
               order: int = 2) -> np.ndarray:
    """White noise through a Butterworth band-pass (``lo_hz <= 0``: low-pass; ``hi_hz`` at or
    above Nyquist: high-pass), float64, unit-ish RMS before filtering.
    """
    from scipy import signal

    x = rng.standard_normal(n)
    return signal.sosfilt(_band_sos(int(sr), round(float(lo_hz), 1), round(float(hi_hz), 1), int(order)), x)


@functools.lru_cache(maxsize=4096)
def _band_sos(sr: int, lo_hz: float, hi_hz: float, order: int) -> np.ndarray:
    from scipy import signal

    nyq = 0.5 * sr
    hi = min(hi_hz, 0.95 * nyq)
    if lo_hz <= 0:
        return signal.butter(order, hi, "low", fs=sr, output="sos")
    if hi_hz >= 0.95 * nyq:
        return signal.butter(order, min(lo_hz, 0.9 * nyq), "high", fs=sr, output="sos")
    return signal.butter(order, [lo_hz, max(hi, lo_hz * 1.05)], "band", fs=sr, output="sos")


def modal_hit(n: int, sr: int, rng: np.random.Generator, freqs_hz, decays_s, *,
              amps=None) -> np.ndarray:
    """Sum of exponentially damped sinusoids with random phases (a struck object).

    Parameters
    ----------
    n : int
        Samples.
    sr : int
        Sample rate (Hz); modes above 0.45 ``sr`` are dropped.
    rng : np.random.Generator
        Randomness (phases).
    freqs_hz, decays_s : array_like
        Mode frequencies (Hz) and 1/e decay times (s).
    amps : array_like or None
        Mode amplitudes (default 1).

    Returns
    -------
    np.ndarray, shape (n,)
        float64, peak about 1 or less.
    """
    f = np.atleast_1d(np.asarray(freqs_hz, dtype=np.float64))
    d = np.broadcast_to(np.asarray(decays_s, dtype=np.float64), f.shape)
    a = np.ones_like(f) if amps is None else np.broadcast_to(np.asarray(amps, np.float64), f.shape)
    keep = f < 0.45 * sr
    f, d, a = f[keep], d[keep], a[keep]
    t = _t(n, sr)
    if f.size == 0:
        return np.zeros(n)
    ph = rng.uniform(0, 2 * np.pi, f.size)
    # a mode struck at t = 0 starts near its peak (cos) rather than at zero
    y = (a[:, None] * np.exp(-t[None, :] / d[:, None])
         * np.cos(2 * np.pi * f[:, None] * t[None, :] + 0.3 * ph[:, None])).sum(axis=0)
    return y / max(float(a.sum()), 1e-12)


def _env(n: int, sr: int, attack_s: float, decay_s: float) -> np.ndarray:
    t = _t(n, sr)
    return (1.0 - np.exp(-(t + 0.5 / sr) / max(attack_s, 1e-6))) * np.exp(-t / decay_s)


def _add(buf: np.ndarray, x: np.ndarray, k: int) -> None:
    if k >= buf.size:
        return
    m = min(x.size, buf.size - k)
    buf[k:k + m] += x[:m]


def _peak(y: np.ndarray, peak_dbfs: float) -> np.ndarray:
    return y * (10.0 ** (peak_dbfs / 20.0) / max(float(np.max(np.abs(y))), 1e-12))


# ---------------------------------------------------------------------------------- kinds

def _vest_bump(sr, rng):
    """Hand, strap or door frame against the camera: a dull, low thump, sometimes two."""
    from scipy import signal

    n = _n(rng.uniform(0.08, 0.25), sr)
    out = np.zeros(n)
    hits = [0] if rng.random() < 0.6 else [0, _n(rng.uniform(0.02, 0.08), sr)]
    for i, k in enumerate(hits):
        m = n - k
        f = rng.uniform(20.0, 120.0, 3)
        thump = modal_hit(m, sr, rng, f, rng.uniform(0.01, 0.05, 3))
        rub = band_noise(m, sr, rng, 0, rng.uniform(150.0, 500.0), order=2) * _env(m, sr, 0.002, 0.015)
        x = thump * _env(m, sr, rng.uniform(0.0005, 0.003), 1.0) + 0.3 * rub / max(np.abs(rub).max(), 1e-9)
        _add(out, x * (0.5 if i else 1.0), k)
    sos = signal.butter(4, rng.uniform(300.0, 800.0), fs=sr, output="sos")
    return signal.sosfilt(sos, out), [0.0] + [k / sr for k in hits[1:]]


def _glass_break(sr, rng):
    n = _n(rng.uniform(0.4, 1.3), sr)
    out = np.zeros(n)
    m0 = _n(0.01, sr)
    out[:m0] += band_noise(m0, sr, rng, 1500.0, 14000.0) * _env(m0, sr, 0.0002, 0.002) * 0.6
    body = _n(0.05, sr)
    out[:body] += modal_hit(body, sr, rng, rng.uniform(600, 2500, 3), rng.uniform(0.005, 0.02, 3)) * 0.5
    n_sh = int(rng.integers(20, 90))
    times = np.sort(rng.exponential(0.12, n_sh))
    for tt in times:
        k = int(tt * sr)
        m = _n(0.06, sr)
        ping = modal_hit(m, sr, rng, rng.uniform(2500, 13000, 2), rng.uniform(0.003, 0.02, 2))
        _add(out, ping * rng.uniform(0.05, 0.5) * math.exp(-tt / 0.4), k)
    return out, [0.0]


def _can_open(sr, rng):
    n = _n(rng.uniform(0.2, 0.5), sr)
    out = np.zeros(n)
    m = _n(0.02, sr)
    out[:m] += modal_hit(m, sr, rng, rng.uniform(1800, 6000, 3), rng.uniform(0.0008, 0.003, 3))
    k = _n(rng.uniform(0.0, 0.006), sr)
    hiss = band_noise(n - k, sr, rng, rng.uniform(1500, 3000), rng.uniform(8000, 14000))
    hiss *= _env(n - k, sr, 0.003, rng.uniform(0.04, 0.2))
    _add(out, 0.5 * hiss / max(np.abs(hiss).max(), 1e-9), k)
    return out, [0.0]


def _bottle_pop(sr, rng):
    n = _n(rng.uniform(0.1, 0.3), sr)
    out = modal_hit(n, sr, rng, [rng.uniform(300, 900)], [rng.uniform(0.004, 0.015)])
    out += 0.3 * modal_hit(n, sr, rng, [rng.uniform(1500, 3500)], [0.002])
    fizz = band_noise(n, sr, rng, 3000, 12000) * _env(n, sr, 0.01, rng.uniform(0.03, 0.1))
    out += 0.1 * fizz / max(np.abs(fizz).max(), 1e-9)
    return out, [0.0]


def _click_mechanical(sr, rng):
    n = _n(0.08, sr)
    out = np.zeros(n)
    ks = [0] + sorted(_n(rng.uniform(0.005, 0.03), sr) for _ in range(int(rng.integers(0, 3))))
    for i, k in enumerate(ks):
        m = _n(0.02, sr)
        c = modal_hit(m, sr, rng, rng.uniform(1000, 8000, 4), rng.uniform(0.0005, 0.003, 4))
        _add(out, c * (1.0 if i == 0 else rng.uniform(0.3, 0.9)), k)
    return out, [k / sr for k in ks]


def _pen_click(sr, rng):
    gap = rng.uniform(0.03, 0.12)
    n = _n(gap + 0.03, sr)
    out = np.zeros(n)
    for i, k in enumerate((0, _n(gap, sr))):
        m = _n(0.01, sr)
        _add(out, modal_hit(m, sr, rng, rng.uniform(3000, 10000, 3), rng.uniform(0.0003, 0.0015, 3))
             * (1.0 if i == 0 else rng.uniform(0.4, 1.0)), k)
    return out, [0.0, gap]


def _knock(sr, rng):
    nk = int(rng.integers(1, 5))
    gap = rng.uniform(0.12, 0.25)
    n = _n(nk * gap + 0.1, sr)
    out = np.zeros(n)
    ons = []
    for i in range(nk):
        k = _n(i * gap * rng.uniform(0.9, 1.1), sr) if i else 0
        m = _n(0.1, sr)
        wood = modal_hit(m, sr, rng, rng.uniform(150, 1200, 5), rng.uniform(0.008, 0.04, 5))
        tap = band_noise(m, sr, rng, 1000, 6000) * _env(m, sr, 0.0001, 0.001)
        _add(out, (wood + 0.2 * tap / max(np.abs(tap).max(), 1e-9)) * rng.uniform(0.6, 1.0), k)
        ons.append(k / sr)
    return out, ons


def _door_slam(sr, rng, car: bool):
    from scipy import signal

    n = _n(rng.uniform(0.3, 0.7), sr)
    lo = (40.0, 150.0) if car else (60.0, 250.0)
    out = modal_hit(n, sr, rng, rng.uniform(*lo, 4), rng.uniform(0.03, 0.12, 4))
    thud = band_noise(n, sr, rng, 0, 400.0, order=2) * _env(n, sr, 0.0015, 0.02)
    out = out * _env(n, sr, 0.002, 1.0) + 0.5 * thud / max(np.abs(thud).max(), 1e-9)
    m = _n(0.05, sr)
    metal = modal_hit(m, sr, rng, rng.uniform(300, 2000, 4) if car else rng.uniform(800, 3000, 3),
                      rng.uniform(0.004, 0.02, 4 if car else 3))
    out[:m] += 0.3 * metal
    latch = modal_hit(m, sr, rng, rng.uniform(2000, 6000, 3), rng.uniform(0.001, 0.004, 3))
    _add(out, 0.25 * latch, _n(rng.uniform(0.001, 0.01), sr))
    if car and rng.random() < 0.5:
        _add(out, 0.15 * latch, _n(rng.uniform(0.015, 0.04), sr))
    if not car:  # rattle of the frame and the room
        r = band_noise(n, sr, rng, 100, 2000) * _env(n, sr, 0.01, 0.08)
        out += 0.08 * r / max(np.abs(r).max(), 1e-9)
    return signal.sosfilt(signal.butter(1, 30.0, "high", fs=sr, output="sos"), out), [0.0]


def _clap(sr, rng):
    nc = 1 if rng.random() < 0.5 else int(rng.integers(2, 9))
    gap = rng.uniform(0.2, 0.5)
    n = _n(nc * gap + 0.05, sr)
    out = np.zeros(n)
    ons = []
    for i in range(nc):
        k = 0 if i == 0 else _n(i * gap + rng.normal(0, 0.01), sr)
        m = _n(0.04, sr)
        fc = rng.uniform(800, 2500)
        c = band_noise(m, sr, rng, fc / 2, fc * 2.5) * _env(m, sr, 0.0003, rng.uniform(0.003, 0.01))
        c += 0.5 * modal_hit(m, sr, rng, [fc], [0.004])
        _add(out, c / max(np.abs(c).max(), 1e-9) * rng.uniform(0.7, 1.0), k)
        ons.append(k / sr)
    return out, ons


def _firework_crackle(sr, rng):
    dur = rng.uniform(0.5, 2.0)
    n = _n(dur + 0.05, sr)
    out = np.zeros(n)
    npop = int(rng.integers(30, 300))
    times = np.sort(np.concatenate([[0.0], rng.uniform(0, dur, npop - 1)]))
    m = _n(0.004, sr)
    for tt in times:
        p = band_noise(m, sr, rng, 800, 16000, order=1) * _env(m, sr, 0.00005, rng.uniform(0.0003, 0.001))
        _add(out, p * rng.uniform(0.2, 1.0), int(tt * sr))
    out[: m] += band_noise(m, sr, rng, 800, 16000, order=1) * _env(m, sr, 0.00005, 0.0008)
    return out, [0.0]


def _firework_aerial(sr, rng):
    from scipy import signal

    dur = rng.uniform(1.0, 3.0)
    n = _n(dur, sr)
    t = _t(n, sr)
    tp = rng.uniform(0.003, 0.012)  # long, dull positive phase of a distant large charge
    bang = np.where(t < tp, np.sin(np.pi * np.minimum(t / tp, 1.0)) ** 0.7, 0.0)
    tn = tp * rng.uniform(1.5, 3.0)
    neg = (t >= tp) & (t < tp + tn)
    bang[neg] = -0.45 * np.sin(np.pi * (t[neg] - tp) / tn)
    rumble = band_noise(n, sr, rng, 20.0, rng.uniform(120.0, 300.0)) * _env(n, sr, 0.03, dur / 4)
    out = bang + 0.35 * rumble / max(np.abs(rumble).max(), 1e-9)
    for _ in range(int(rng.integers(1, 4))):  # echoes off buildings and hills
        d = _n(rng.uniform(0.1, 0.8), sr)
        out[d:] += rng.uniform(0.1, 0.35) * bang[: n - d]
    out = signal.sosfilt(signal.butter(2, rng.uniform(1500, 4000), fs=sr, output="sos"), out)
    return out, [0.0]


def _taser(sr, rng):
    rate = rng.uniform(10.0, 20.0)
    dur = rng.uniform(0.8, 4.0)
    n = _n(dur + 0.02, sr)
    out = np.zeros(n)
    ons = []
    m = _n(0.012, sr)
    t = 0.0
    while t < dur:
        arc = band_noise(m, sr, rng, 2000, 16000, order=1) * _env(m, sr, 0.00005, rng.uniform(0.0003, 0.002))
        arc += 0.5 * modal_hit(m, sr, rng, [rng.uniform(3000, 9000)], [0.001])
        _add(out, arc * rng.uniform(0.6, 1.0), int(t * sr))
        ons.append(t)
        t += (1.0 / rate) * rng.normal(1.0, 0.05)
    hum = band_noise(n, sr, rng, 3000, 10000) * 0.02
    return out + hum, ons


def _music_percussion(sr, rng):
    dur = rng.uniform(2.0, 5.0)
    n = _n(dur, sr)
    t = _t(n, sr)
    bed = np.zeros(n)
    root = rng.uniform(110, 220)
    for ratio in rng.choice([1.0, 1.25, 1.5, 2.0, 1.2, 1.333], 4, replace=False):
        for h in range(1, 5):
            bed += np.sin(2 * np.pi * root * ratio * h * t + rng.uniform(0, 6)) / h ** 1.5
    bed *= 0.04 * (0.7 + 0.3 * np.sin(2 * np.pi * t / rng.uniform(1.5, 4.0)))
    out = bed
    beat = 60.0 / rng.uniform(80, 140)
    ons = []
    step = 0
    while step * beat / 2 < dur - 0.25:
        k = _n(step * beat / 2, sr) if step else 0
        m = _n(0.25, sr)
        tm = _t(m, sr)
        if step % 4 == 0:  # kick: falling pitch
            f = 50 + 120 * np.exp(-tm / 0.03)
            x = np.sin(2 * np.pi * np.cumsum(f) / sr) * _env(m, sr, 0.001, 0.12)
        elif step % 4 == 2:  # snare: noise + body
            x = 0.6 * band_noise(m, sr, rng, 1000, 7000) * _env(m, sr, 0.0005, 0.06)
            x += 0.4 * np.sin(2 * np.pi * 190 * tm) * _env(m, sr, 0.0005, 0.04)
        else:  # hi-hat
            x = 0.3 * band_noise(m, sr, rng, 7000, 20000) * _env(m, sr, 0.0002, 0.02)
        _add(out, x, k)
        ons.append(k / sr)
        step += 1
    return out, ons


def _plosive(sr, rng):
    from scipy import signal

    n = _n(rng.uniform(0.2, 0.45), sr)
    t = _t(n, sr)
    kind = str(rng.choice(["p", "b", "t"]))
    puff_s = rng.uniform(0.005, 0.025) if kind != "t" else rng.uniform(0.003, 0.01)
    u = np.minimum(t / puff_s, 1.0)
    puff = np.where(t < puff_s, np.sin(np.pi * u) ** 2 * (1.0 - u) ** 0.3, 0.0)
    puff = signal.sosfilt(signal.butter(2, rng.uniform(120, 400), fs=sr, output="sos"), puff)
    puff /= max(np.abs(puff).max(), 1e-9)
    m = _n(rng.uniform(0.01, 0.04), sr)
    turb = band_noise(m, sr, rng, 500, 5000 if kind != "t" else 9000) * _env(m, sr, 0.0005, 0.01)
    out = puff.copy()
    out[:m] += (0.15 if kind != "t" else 0.5) * turb / max(np.abs(turb).max(), 1e-9)
    # the vowel after the release
    k = _n(rng.uniform(0.02, 0.06), sr)
    v = n - k
    f0 = rng.uniform(90, 240) * (1 + 0.05 * np.sin(2 * np.pi * 4 * _t(v, sr)))
    ph = np.cumsum(f0) / sr
    pulses = np.diff(np.floor(ph), prepend=0.0)
    exc = signal.lfilter([1.0], [1.0, -0.97], pulses)
    vowel = np.zeros(v)
    for fc, bw in ((rng.uniform(300, 800), 80), (rng.uniform(900, 2200), 120), (rng.uniform(2300, 3200), 200)):
        sos = signal.butter(1, [fc - bw, fc + bw], "band", fs=sr, output="sos")
        vowel += signal.sosfilt(sos, exc)
    vowel *= _env(v, sr, 0.01, rng.uniform(0.08, 0.2))
    _add(out, 0.12 * vowel / max(np.abs(vowel).max(), 1e-9), k)
    return out, [0.0]


def _footsteps(sr, rng):
    ns = int(rng.integers(3, 11))
    period = 1.0 / rng.uniform(1.6, 2.2)
    n = _n(ns * period + 0.1, sr)
    out = np.zeros(n)
    ons = []
    gravel = rng.random() < 0.3
    for i in range(ns):
        k = 0 if i == 0 else _n(i * period + rng.normal(0, 0.02), sr)
        m = _n(0.08, sr)
        heel = modal_hit(m, sr, rng, rng.uniform(60, 200, 2), rng.uniform(0.008, 0.025, 2))
        scuff = band_noise(m, sr, rng, 1500, 9000) * _env(m, sr, 0.001, 0.01 if not gravel else 0.03)
        if gravel:
            scuff *= (rng.random(m) < 0.05)
        x = heel * _env(m, sr, 0.002, 1.0) + 0.3 * scuff / max(np.abs(scuff).max(), 1e-9)
        _add(out, x * rng.uniform(0.6, 1.0), k)
        ons.append(k / sr)
    return out, ons


def _keys_drop(sr, rng):
    nb = int(rng.integers(3, 9))
    n = _n(0.9, sr)
    out = np.zeros(n)
    t, amp, gap = 0.0, 1.0, rng.uniform(0.05, 0.15)
    ons = []
    for _ in range(nb):
        m = _n(0.2, sr)
        jingle = modal_hit(m, sr, rng, rng.uniform(2000, 12000, 8), rng.uniform(0.02, 0.15, 8))
        jingle += 0.3 * band_noise(m, sr, rng, 3000, 15000) * _env(m, sr, 0.0002, 0.003)
        _add(out, amp * jingle, int(t * sr))
        ons.append(t)
        t += gap * rng.uniform(0.5, 1.2)
        amp *= rng.uniform(0.3, 0.8)
    return out, ons


_RENDER: dict[str, Callable] = {
    "vest_bump": _vest_bump,
    "glass_break": _glass_break,
    "can_open": _can_open,
    "bottle_pop": _bottle_pop,
    "click_mechanical": _click_mechanical,
    "pen_click": _pen_click,
    "knock": _knock,
    "door_slam_car": lambda sr, rng: _door_slam(sr, rng, True),
    "door_slam_house": lambda sr, rng: _door_slam(sr, rng, False),
    "clap": _clap,
    "firework_crackle": _firework_crackle,
    "firework_aerial": _firework_aerial,
    "taser": _taser,
    "music_percussion": _music_percussion,
    "plosive": _plosive,
    "footsteps": _footsteps,
    "keys_drop": _keys_drop,
}

#: Distractor kinds of family b.
KINDS_B: tuple[str, ...] = tuple(_RENDER)

#: Peak level at the microphone (dBFS, before the chain) each kind draws from.
LEVELS_DBFS: dict[str, tuple[float, float]] = {
    "vest_bump": (-6.0, 24.0), "glass_break": (-28.0, 0.0), "can_open": (-36.0, -8.0),
    "bottle_pop": (-28.0, -3.0), "click_mechanical": (-36.0, -6.0), "pen_click": (-40.0, -12.0),
    "knock": (-30.0, -3.0), "door_slam_car": (-26.0, 4.0), "door_slam_house": (-26.0, 0.0),
    "clap": (-26.0, -2.0), "firework_crackle": (-30.0, -3.0), "firework_aerial": (-22.0, 4.0),
    "taser": (-24.0, 0.0), "music_percussion": (-28.0, -4.0), "plosive": (-12.0, 14.0),
    "footsteps": (-36.0, -10.0), "keys_drop": (-32.0, -6.0),
}

#: Kinds made at (or on) the microphone: a scene adds no room sound to them.
ON_MIC_B = frozenset({"vest_bump", "plosive", "pen_click", "click_mechanical"})


def render_distractor_b(kind: str, sr: int, rng: np.random.Generator, *,
                        peak_dbfs: float | None = None, return_onsets: bool = False):
    """Render one family-b distractor, its first event at sample 0.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS_B`.
    sr : int
        Sample rate (Hz).
    rng : np.random.Generator
        Randomness.
    peak_dbfs : float or None
        Peak at the microphone (dBFS, may exceed 0); None draws from :data:`LEVELS_DBFS`.
    return_onsets : bool
        Also return the onsets (s) of the individual impulses (a taser's arcs, footsteps...).

    Returns
    -------
    np.ndarray, shape (n,)
        float32; with ``return_onsets`` a tuple ``(y, onsets_s)``.
    """
    if kind not in _RENDER:
        raise ParameterError(f"unknown distractor kind {kind!r}; expected one of {KINDS_B}")
    if not isinstance(sr, (int, np.integer)) or sr < 4000:
        raise ParameterError(f"sr must be an integer sample rate >= 4000 Hz; got {sr!r}")
    y, ons = _RENDER[kind](int(sr), rng)
    if peak_dbfs is None:
        peak_dbfs = float(rng.uniform(*LEVELS_DBFS[kind]))
    y = _peak(np.asarray(y, dtype=np.float64), float(peak_dbfs)).astype(np.float32)
    return (y, [float(o) for o in ons]) if return_onsets else y


def render_distractor_scene_b(rng: np.random.Generator, kind: str | None = None, *,
                              sr: int = 48000, duration_s: float | None = None,
                              n_events: int | None = None, background: str | None = None,
                              chain: dict[str, Any] | bool | None = None
                              ) -> tuple[np.ndarray, int, dict[str, Any]]:
    """A scene with distractors of one kind and no gunshot, through a chain.

    Parameters
    ----------
    rng : np.random.Generator
        Randomness.
    kind : str or None
        One of :data:`KINDS_B`; None draws one.
    sr : int
        Rendering rate (Hz).
    duration_s : float or None
        Scene length; None draws 2 to 6 s (long enough for the events).
    n_events : int or None
        How many events (default 1 to 3).
    background : str or None
        See :func:`sample_media.gunfire_b.render_background_b`; None draws one.
    chain : dict, bool or None
        Chain spec; None draws one (:func:`~sample_media.chains.random_chain`), False
        returns the dry mix at ``sr``.

    Returns
    -------
    y : np.ndarray
        float32 at ``sr_out``.
    sr_out : int
        Output rate.
    truth : dict
        ``{"shots": [], "distractors": [{"time_s", "kind", "end_s", "onsets_s"}...],
        "chain": spec, "family": "b", ...}``.
    """
    from sample_media.gunfire_b import render_scene_b

    if kind is None:
        kind = str(rng.choice(KINDS_B))
    if kind not in _RENDER:
        raise ParameterError(f"unknown distractor kind {kind!r}; expected one of {KINDS_B}")
    if n_events is None:
        n_events = int(rng.integers(1, 4))
    return render_scene_b(rng, duration_s=duration_s, sr=sr, n_shots=0, background=background,
                          distractors=[kind] * int(n_events), chain=chain)
