"""Family-e distractors: impulsive and bursty sounds that are not gunshots.

Independent of families a and b. The building blocks are physical rather than
envelope-shaped noise:

* **Contact excitation** -- a Hertzian force pulse ``sin(pi t / tc)^1.5`` whose contact
  time ``tc`` (0.1 to 8 ms) says how hard the two bodies are (steel on steel short, a boot
  heel or a car door seal long).
* **Modal resonators** -- the force drives a bank of two-pole resonators (frequency, T60,
  gain per mode): wood panels, car doors, metal gates, keys, glass shards, a flashlight.
* **Bounce schedules** -- dropped objects bounce with a restitution coefficient ``e``:
  intervals and amplitudes shrink by ``e`` per bounce.
* **Granular textures** -- gravel crunch, glass tinkle, rain-like fizz and firework crackle
  are Poisson streams of micro-impacts with a decaying rate.
* **Pressure pulses** -- balloons, cork pops, firecrackers and aerial shells are pulses
  of their own shapes (a Gaussian-derivative lobe, a ruptured-membrane half-cosine with
  a tearing-noise coda), not a blast-wave model.
* **Sources with pitch** -- barks, coughs, plosives + vowels (a glottal sawtooth through
  formant resonators), horn chirps and siren yelps (clipped two-tone and swept squares),
  kick/snare patterns through a car cabin.
* **On the camera** -- vest bumps (a diaphragm displacement pulse far above full scale),
  clothing rub, plosives, coughs and shoulder-radio squelch clicks get no room sound.

Each kind draws a peak level at the microphone (dBFS, :data:`LEVELS_E`) from faint to far
above full scale (clipped by the chain).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from scipy import signal

from media_core.errors import ParameterError

__all__ = ["KINDS_E", "ON_MIC_E", "LEVELS_E", "render_distractor_e", "render_distractor_scene_e"]


def _n(sec: float, sr: int) -> int:
    return max(1, int(round(sec * sr)))


def _hertz(sr: int, tc: float) -> np.ndarray:
    m = max(2, int(round(tc * sr)))
    return np.sin(np.pi * (np.arange(m) + 0.5) / m) ** 1.5


def _modes(exc: np.ndarray, sr: int, freqs, t60s, gains, n: int) -> np.ndarray:
    """Drive two-pole resonators with ``exc``; returns ``n`` samples."""
    x = np.zeros(n)
    x[:min(exc.size, n)] = exc[:n]
    y = np.zeros(n)
    for f, t60, g in zip(freqs, t60s, gains):
        if f >= 0.45 * sr:
            continue
        r = 10 ** (-3 / (t60 * sr))
        w = 2 * math.pi * f / sr
        y += g * signal.lfilter([(1 - r) * math.sin(w) * 4], [1, -2 * r * math.cos(w), r * r], x)
    return y


def _bp(x, sr, f, q):
    w = 2 * math.pi * min(f, 0.45 * sr) / sr
    al = math.sin(w) / (2 * q)
    return signal.lfilter([al, 0, -al], [1 + al, -2 * math.cos(w), 1 - al], x)


def _lp(x, sr, fc, order=2):
    return signal.sosfilt(signal.butter(order, min(fc, 0.45 * sr), "lowpass", fs=sr, output="sos"), x)


def _hp(x, sr, fc, order=2):
    return signal.sosfilt(signal.butter(order, min(fc, 0.45 * sr), "highpass", fs=sr, output="sos"), x)


def _dec(n: int, sr: int, tau: float, attack: float = 0.0) -> np.ndarray:
    t = np.arange(n) / sr
    e = np.exp(-t / tau)
    if attack > 0:
        e *= 1 - np.exp(-t / attack)
    return e


def _add(buf: np.ndarray, x: np.ndarray, k: int, g: float = 1.0) -> None:
    if k >= buf.size:
        return
    m = min(x.size, buf.size - k)
    buf[k:k + m] += g * x[:m]


def _norm(y: np.ndarray) -> np.ndarray:
    p = float(np.max(np.abs(y)))
    return y / p if p > 0 else y


def _grains(n: int, sr: int, rng: np.random.Generator, rate: float, tau_rate: float, band, dur=(0.0005, 0.004)) -> np.ndarray:
    """Poisson micro-impacts whose rate decays with ``tau_rate``; each a short band burst."""
    t_end = n / sr
    ts = []
    t = 0.0
    while t < t_end:
        lam = rate * math.exp(-t / tau_rate) if tau_rate > 0 else rate
        if lam < 1.0:
            break
        t += float(rng.exponential(1 / lam))
        ts.append(t)
    y = np.zeros(n)
    for t in ts:
        m = _n(float(rng.uniform(*dur)), sr)
        f = float(np.exp(rng.uniform(np.log(band[0]), np.log(band[1]))))
        g = np.sin(2 * np.pi * f * np.arange(m) / sr) * np.exp(-np.arange(m) / (0.3 * m))
        _add(y, g, int(t * sr), float(rng.exponential(1.0)))
    return y


def _glottal(n: int, sr: int, rng: np.random.Generator, f0: float, fall: float, formants) -> np.ndarray:
    t = np.arange(n) / sr
    f = f0 * (1 - fall * t / max(t[-1], 1e-3)) * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))
    ph = np.cumsum(f) / sr
    src = (ph % 1.0) ** 3 - 0.25  # a skewed pulse per period
    y = np.zeros(n)
    for fm, q in formants:
        y += _bp(src, sr, fm, q)
    return y


# ----------------------------------------------------------------------------------------------
# kinds (each returns (y, onsets_s); y any scale)

def _vest_bump(sr, rng):
    n = _n(float(rng.uniform(0.15, 0.5)), sr)
    y = np.zeros(n)
    w = _n(float(rng.uniform(0.004, 0.025)), sr)
    pulse = np.sin(np.pi * np.arange(w) / w) ** 2 * rng.choice([-1.0, 1.0])
    y[:w] += pulse
    rub = _lp(rng.standard_normal(n), sr, float(rng.uniform(800, 3000))) * _dec(n, sr, float(rng.uniform(0.02, 0.08)))
    y += 0.15 * rub / max(np.max(np.abs(rub)), 1e-9)
    ons = [0.0]
    if rng.random() < 0.5:
        k = _n(float(rng.uniform(0.05, 0.2)), sr)
        _add(y, pulse * -0.5, k)
        ons.append(k / sr)
    return y, ons


def _clothing_rub(sr, rng):
    n = _n(float(rng.uniform(0.5, 2.0)), sr)
    t = np.arange(n) / sr
    strokes = np.clip(np.sin(2 * np.pi * float(rng.uniform(1.0, 3.0)) * t + rng.uniform(0, 6)), 0, None) ** 0.7
    scratch = 1 + 0.5 * np.sin(2 * np.pi * float(rng.uniform(10, 40)) * t)
    y = _bp(rng.standard_normal(n), sr, float(rng.uniform(1000, 5000)), 0.6) * strokes * scratch
    y += 2 * _grains(n, sr, rng, float(rng.uniform(20, 80)), 0.0, (2000, 9000), (0.0002, 0.001))
    y[:_n(0.01, sr)] *= np.linspace(0, 1, _n(0.01, sr))
    return y, [0.0]


def _door(sr, rng, what):
    if what == "car":
        n = _n(0.8, sr)
        body = _modes(_hertz(sr, float(rng.uniform(0.003, 0.008))), sr,
                      rng.uniform(40, 140, 5), rng.uniform(0.06, 0.2, 5), rng.uniform(0.5, 1, 5), n)
        latch_at = float(rng.uniform(0.005, 0.025))
        latch = _modes(_hertz(sr, 0.0003), sr, rng.uniform(1500, 5000, 4), rng.uniform(0.01, 0.04, 4),
                       rng.uniform(0.2, 0.5, 4), n)
    elif what == "house":
        n = _n(0.8, sr)
        body = _modes(_hertz(sr, float(rng.uniform(0.002, 0.005))), sr,
                      rng.uniform(70, 400, 8), rng.uniform(0.04, 0.15, 8), rng.uniform(0.3, 1, 8), n)
        latch_at = float(rng.uniform(0.002, 0.015))
        latch = _modes(_hertz(sr, 0.0002), sr, rng.uniform(2000, 4500, 3), rng.uniform(0.01, 0.05, 3),
                       rng.uniform(0.2, 0.6, 3), n)
    else:  # metal gate: inharmonic long ring + chain jingle
        n = _n(1.6, sr)
        body = _modes(_hertz(sr, float(rng.uniform(0.0005, 0.002))), sr,
                      np.exp(rng.uniform(np.log(150), np.log(4000), 14)), rng.uniform(0.3, 1.5, 14),
                      rng.uniform(0.2, 1, 14), n)
        latch_at = float(rng.uniform(0.05, 0.2))
        latch = _grains(n, sr, rng, 200, 0.15, (2000, 8000), (0.003, 0.02))
    y = _norm(body)
    _add(y, _norm(latch), int(latch_at * sr), float(rng.uniform(0.2, 0.6)))
    return y, [0.0, latch_at]


def _knock(sr, rng):
    k = int(rng.integers(2, 6))
    gap = float(rng.uniform(0.12, 0.26))
    n = _n(gap * k + 0.3, sr)
    y = np.zeros(n)
    fr = rng.uniform(150, 900, 4)
    ons = []
    for i in range(k):
        hit = _modes(_hertz(sr, float(rng.uniform(0.0006, 0.0015))), sr, fr * rng.uniform(0.97, 1.03, 4),
                     rng.uniform(0.02, 0.06, 4), rng.uniform(0.4, 1, 4), _n(0.25, sr))
        t = i * gap * float(rng.uniform(0.9, 1.1))
        _add(y, _norm(hit), int(t * sr), float(rng.uniform(0.6, 1.0)))
        ons.append(int(t * sr) / sr)
    return y, ons


def _clap(sr, rng):
    k = int(rng.choice([1, 1, 2, 4, 8]))
    gap = float(rng.uniform(0.25, 0.5))
    n = _n(gap * k + 0.2, sr)
    y = np.zeros(n)
    ons = []
    fc = float(rng.uniform(700, 2500))
    for i in range(k):
        m = _n(0.06, sr)
        burst = rng.standard_normal(m) * _dec(m, sr, float(rng.uniform(0.004, 0.012)), float(rng.uniform(0.0001, 0.0003)))
        c = _bp(burst, sr, fc * float(rng.uniform(0.9, 1.1)), float(rng.uniform(1.5, 4))) + 0.3 * _hp(burst, sr, 3000)
        t = i * gap * float(rng.uniform(0.92, 1.08))
        _add(y, _norm(c), int(t * sr), float(rng.uniform(0.7, 1.0)))
        ons.append(int(t * sr) / sr)
    return y, ons


def _footsteps(sr, rng, gravel: bool):
    k = int(rng.integers(3, 9))
    gap = float(rng.uniform(0.45, 0.65))
    n = _n(gap * k + 0.3, sr)
    y = np.zeros(n)
    ons = []
    for i in range(k):
        t = i * gap * float(rng.uniform(0.95, 1.05))
        m = _n(0.25, sr)
        thud = _modes(_hertz(sr, float(rng.uniform(0.002, 0.005))), sr, rng.uniform(80, 200, 3),
                      rng.uniform(0.02, 0.06, 3), rng.uniform(0.5, 1, 3), m)
        if gravel:
            tex = _grains(m, sr, rng, float(rng.uniform(300, 900)), float(rng.uniform(0.04, 0.1)), (800, 8000))
            step = 0.4 * _norm(thud) + _norm(tex)
        else:
            scuff = _hp(rng.standard_normal(m), sr, 1500) * _dec(m, sr, float(rng.uniform(0.001, 0.005)))
            toe = np.zeros(m)
            _add(toe, _norm(thud), _n(float(rng.uniform(0.06, 0.12)), sr), 0.4)
            step = _norm(thud) + 0.5 * _norm(scuff) + toe
        _add(y, step, int(t * sr), float(rng.uniform(0.6, 1.0)))
        ons.append(int(t * sr) / sr)
    return y, ons


def _glass(sr, rng):
    n = _n(float(rng.uniform(0.4, 1.2)), sr)
    crack = _hp(rng.standard_normal(n), sr, 2000) * _dec(n, sr, 0.004, 0.0001)
    y = _norm(crack)
    m = _n(0.2, sr)
    shards = np.zeros(n)
    rate = float(rng.uniform(60, 200))
    t = 0.0
    while t < n / sr:
        lam = rate * math.exp(-t / float(rng.uniform(0.15, 0.4)))
        if lam < 2:
            break
        t += float(rng.exponential(1 / lam))
        s = _modes(_hertz(sr, 0.0001), sr, rng.uniform(2000, 12000, 2), rng.uniform(0.02, 0.15, 2), [1, 0.6], m)
        _add(shards, s, int(t * sr), float(rng.exponential(0.5)))
    y += 0.8 * _norm(shards)
    return y, [0.0]


def _can_pop(sr, rng):
    n = _n(float(rng.uniform(0.2, 0.5)), sr)
    tab = _modes(_hertz(sr, 0.0002), sr, rng.uniform(2000, 6000, 3), rng.uniform(0.005, 0.02, 3), [1, 0.6, 0.4], n)
    hiss = _bp(rng.standard_normal(n), sr, float(rng.uniform(4000, 9000)), 0.8) * _dec(n, sr, float(rng.uniform(0.05, 0.25)), 0.002)
    return _norm(tab) + 0.5 * _norm(hiss), [0.0]


def _bottle_pop(sr, rng):
    n = _n(0.4, sr)
    w = float(rng.uniform(0.0005, 0.0015))
    t = np.arange(n) / sr - 2 * w
    pulse = -(t / w) * np.exp(-0.5 * (t / w) ** 2)
    pulse[t < -2 * w + 0.5 / sr] = 0.0
    ring = _modes(_hertz(sr, w), sr, [float(rng.uniform(250, 700))], [float(rng.uniform(0.01, 0.04))], [1.0], n)
    fizz = _hp(rng.standard_normal(n), sr, 3000) * _dec(n, sr, 0.1, 0.01)
    return _norm(pulse) + 0.6 * _norm(ring) + 0.1 * _norm(fizz), [0.0]


def _balloon(sr, rng):
    n = _n(0.3, sr)
    t = np.arange(n) / sr
    rise = float(rng.uniform(50e-6, 200e-6))
    lobe = float(rng.uniform(0.0006, 0.002))
    p = np.where(t < rise, t / rise, np.where(t < rise + lobe, np.cos(0.5 * np.pi * (t - rise) / lobe), 0.0))
    neg = t - rise - lobe
    p -= np.where((neg >= 0) & (neg < 2 * lobe), 0.45 * np.sin(np.pi * np.clip(neg, 0, None) / (2 * lobe)), 0.0)
    tear = _hp(rng.standard_normal(n), sr, 1000) * _dec(n, sr, float(rng.uniform(0.002, 0.008)), 0.0002)
    return _norm(p) + float(rng.uniform(0.2, 0.5)) * _norm(tear), [0.0]


def _drop(sr, rng, what):
    e = float(rng.uniform(0.35, 0.7))
    gap = float(rng.uniform(0.05, 0.2)) if what != "keys" else float(rng.uniform(0.03, 0.1))
    k = int(rng.integers(2, 6))
    n = _n(gap / (1 - e) + 0.5, sr)
    y = np.zeros(n)
    t, a = 0.0, 1.0
    ons = []
    if what == "keys":
        fr = rng.uniform(2000, 10000, 12)
        t60 = rng.uniform(0.05, 0.3, 12)
        tc = 0.0002
    elif what == "flashlight":
        f1 = float(rng.uniform(700, 1500))
        fr = f1 * np.array([1.0, 2.7, 5.1, 8.2]) * rng.uniform(0.98, 1.02, 4)
        t60 = rng.uniform(0.1, 0.5, 4)
        tc = 0.0004
    else:  # magazine: polymer thud + metal lips
        fr = np.concatenate([rng.uniform(200, 900, 3), rng.uniform(2000, 5000, 2)])
        t60 = np.concatenate([rng.uniform(0.01, 0.04, 3), rng.uniform(0.02, 0.08, 2)])
        tc = 0.0008
    m = _n(0.5, sr)
    for i in range(k):
        hit = _modes(_hertz(sr, tc), sr, fr, t60, rng.uniform(0.3, 1, fr.size), m)
        _add(y, _norm(hit), int(t * sr), a)
        ons.append(int(t * sr) / sr)
        t += gap * e ** i
        a *= e
    if what == "flashlight":
        roll = _bp(rng.standard_normal(n), sr, 600, 1.0) * 0.05 * (np.arange(n) > t * sr)
        y += roll
    return y, ons


def _hammer(sr, rng, nail_gun: bool):
    k = int(rng.integers(2, 7)) if not nail_gun else int(rng.integers(1, 6))
    gap = float(rng.uniform(0.35, 0.8)) if not nail_gun else float(rng.uniform(0.3, 1.5))
    n = _n(gap * k + 0.5, sr)
    y = np.zeros(n)
    ons = []
    m = _n(0.4, sr)
    for i in range(k):
        t = i * gap * float(rng.uniform(0.9, 1.1))
        if nail_gun:
            blast = _hp(rng.standard_normal(m), sr, 1000) * _dec(m, sr, float(rng.uniform(0.001, 0.003)), 0.00005)
            clack = _modes(_hertz(sr, 0.0002), sr, rng.uniform(1000, 4000, 4), rng.uniform(0.01, 0.05, 4),
                           rng.uniform(0.3, 1, 4), m)
            hiss = _bp(rng.standard_normal(m), sr, 5000, 0.7) * _dec(m, sr, float(rng.uniform(0.03, 0.12)), 0.003)
            ev = _norm(blast) + 0.6 * _norm(clack) + 0.2 * _norm(hiss)
        else:
            ping = _modes(_hertz(sr, float(rng.uniform(0.0002, 0.0006))), sr, rng.uniform(2000, 6000, 3),
                          rng.uniform(0.05, 0.3, 3), [1, 0.5, 0.3], m)
            wood = _modes(_hertz(sr, 0.001), sr, rng.uniform(100, 400, 3), rng.uniform(0.02, 0.06, 3), [1, 1, 1], m)
            ev = _norm(ping) + 0.7 * _norm(wood)
        _add(y, ev, int(t * sr), float(rng.uniform(0.7, 1.0)))
        ons.append(int(t * sr) / sr)
    return y, ons


def _pop_pulse(sr, width):
    m = _n(6 * width, sr)
    t = np.arange(m) / sr - 1.5 * width
    p = -(t / width) * np.exp(-0.5 * (t / width) ** 2)
    p[:1] = 0.0
    return p - p[0]


def _firework(sr, rng, what):
    if what == "crackle":
        n = _n(float(rng.uniform(0.6, 2.0)), sr)
        y = np.zeros(n)
        rate = float(rng.uniform(60, 300))
        t = 0.0
        ons = []
        while True:
            lam = rate * math.exp(-t / float(rng.uniform(0.4, 1.0)))
            t += float(rng.exponential(1 / max(lam, 1e-3)))
            if t > n / sr - 0.01 or lam < 5:
                break
            _add(y, _pop_pulse(sr, float(rng.uniform(0.0001, 0.0004))), int(t * sr), float(rng.exponential(1.0)))
            ons.append(int(t * sr) / sr)
        y = _lp(y, sr, float(rng.uniform(3000, 9000)), 1)
        return y, ons[:1] or [0.0]
    if what == "aerial":
        n = _n(float(rng.uniform(2.0, 3.5)), sr)
        y = np.zeros(n)
        thump = _modes(_hertz(sr, 0.004), sr, [60.0, 110.0], [0.05, 0.04], [1, 0.5], _n(0.3, sr))
        _add(y, _norm(thump), 0, 0.3)
        t_b = float(rng.uniform(0.8, 1.6))
        if rng.random() < 0.5:
            m = int((t_b - 0.1) * sr)
            tt = np.arange(m) / sr
            whistle = np.sin(2 * np.pi * np.cumsum(np.linspace(float(rng.uniform(1500, 3000)), 900, m)) / sr)
            _add(y, whistle * 0.1 * np.minimum(1, tt / 0.1), _n(0.05, sr))
        w = float(rng.uniform(0.002, 0.006))
        bang = _lp(_pop_pulse(sr, w), sr, float(rng.uniform(800, 3000)), 1)
        rumble = _lp(rng.standard_normal(n), sr, 400) * _dec(n, sr, float(rng.uniform(0.3, 0.9)), 0.02)
        _add(y, _norm(bang), int(t_b * sr))
        _add(y, _norm(rumble), int(t_b * sr), 0.4)
        crack = _grains(n, sr, rng, 150, 0.6, (2000, 6000), (0.0003, 0.001))
        _add(y, 0.3 * _norm(crack), int((t_b + 0.3) * sr))
        return y, [0.0, int(t_b * sr) / sr]
    # firecracker string: irregular small bangs
    k = int(rng.integers(10, 60))
    gaps = rng.uniform(0.015, 0.09, k)
    n = _n(float(np.sum(gaps)) + 0.3, sr)
    y = np.zeros(n)
    ons = []
    t = 0.0
    for i in range(k):
        p = _pop_pulse(sr, float(rng.uniform(0.00015, 0.0004)))
        deb = _hp(rng.standard_normal(_n(0.02, sr)), sr, 2000) * _dec(_n(0.02, sr), sr, 0.003)
        _add(y, p, int(t * sr), float(rng.uniform(0.3, 1.0)))
        _add(y, deb, int(t * sr), 0.1)
        ons.append(int(t * sr) / sr)
        t += float(gaps[i])
    return y, ons


def _taser(sr, rng):
    dur = float(rng.uniform(1.0, 4.5))
    rate = float(rng.uniform(15, 20))
    n = _n(dur + 0.05, sr)
    y = np.zeros(n)
    ons = []
    m = _n(0.01, sr)
    t = 0.0
    while t < dur:
        arc = _hp(rng.standard_normal(m), sr, 2000) * _dec(m, sr, float(rng.uniform(0.001, 0.004)), 0.00003)
        _add(y, arc, int(t * sr), float(rng.uniform(0.7, 1.0)))
        ons.append(int(t * sr) / sr)
        t += 1 / rate * float(rng.uniform(0.97, 1.03))
    tt = np.arange(n) / sr
    buzz = np.sign(np.sin(2 * np.pi * rate * 10 * tt)) * 0.05 * (tt < dur)
    return _norm(y) + _lp(buzz, sr, 4000), ons


def _music(sr, rng):
    bpm = float(rng.uniform(80, 140))
    beat = 60 / bpm
    bars = int(rng.integers(2, 5))
    n = _n(beat * 4 * bars * 0.5 + 0.6, sr)
    y = np.zeros(n)
    m = _n(0.4, sr)
    tk = np.arange(m) / sr
    f = 45 + 80 * np.exp(-tk / 0.03)
    kick = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-tk / float(rng.uniform(0.08, 0.2)))
    kick[:_n(0.002, sr)] += rng.standard_normal(_n(0.002, sr)) * 0.3
    snare = 0.5 * np.sin(2 * np.pi * float(rng.uniform(180, 240)) * tk) * np.exp(-tk / 0.05) \
        + _bp(rng.standard_normal(m), sr, 4000, 0.5) * np.exp(-tk / float(rng.uniform(0.06, 0.15)))
    ons = []
    t = 0.0
    step = 0
    while t < n / sr - 0.4:
        if step % 2 == 0:
            _add(y, kick, int(t * sr))
        else:
            _add(y, _norm(snare), int(t * sr), 0.8)
        ons.append(int(t * sr) / sr)
        t += beat / 2 * 2
        step += 1
    y = np.tanh(2 * _norm(y))
    y = _hp(_lp(y, sr, float(rng.uniform(300, 8000))), sr, 50)
    return y, ons


def _plosive(sr, rng):
    n = _n(float(rng.uniform(0.3, 0.6)), sr)
    y = np.zeros(n)
    w = _n(float(rng.uniform(0.01, 0.04)), sr)
    y[:w] = np.sin(np.pi * np.arange(w) / w) ** 1.5
    puff = _lp(rng.standard_normal(n), sr, 200) * _dec(n, sr, 0.03)
    y += 0.3 * _norm(puff)
    v0 = _n(float(rng.uniform(0.02, 0.06)), sr)
    vn = _n(float(rng.uniform(0.1, 0.3)), sr)
    vowel = _glottal(vn, sr, rng, float(rng.uniform(90, 220)), 0.15,
                     [(float(rng.uniform(300, 800)), 5), (float(rng.uniform(900, 2200)), 6), (2600, 8)])
    vowel *= np.hanning(vn)
    _add(y, 0.3 * _norm(vowel), v0)
    return y, [0.0]


def _cough(sr, rng):
    k = int(rng.integers(1, 4))
    gap = float(rng.uniform(0.3, 0.6))
    n = _n(gap * k + 0.3, sr)
    y = np.zeros(n)
    ons = []
    for i in range(k):
        m = _n(float(rng.uniform(0.15, 0.3)), sr)
        burst = rng.standard_normal(m) * _dec(m, sr, float(rng.uniform(0.04, 0.12)), 0.002)
        c = _bp(burst, sr, float(rng.uniform(500, 1200)), 2) + _bp(burst, sr, float(rng.uniform(1500, 2500)), 3)
        c += 0.3 * _norm(_glottal(m, sr, rng, float(rng.uniform(100, 250)), 0.3, [(700, 4), (1500, 5)])) \
            * _dec(m, sr, 0.08)
        t = i * gap * float(rng.uniform(0.9, 1.1))
        _add(y, _norm(c), int(t * sr), float(rng.uniform(0.6, 1.0)))
        ons.append(int(t * sr) / sr)
    return y, ons


def _bark(sr, rng):
    k = int(rng.integers(1, 5))
    gap = float(rng.uniform(0.25, 0.6))
    n = _n(gap * k + 0.3, sr)
    y = np.zeros(n)
    ons = []
    for i in range(k):
        m = _n(float(rng.uniform(0.08, 0.2)), sr)
        b = _glottal(m, sr, rng, float(rng.uniform(400, 1000)), 0.3,
                     [(float(rng.uniform(800, 1500)), 3), (float(rng.uniform(1800, 3000)), 4)])
        b = _norm(b) * _dec(m, sr, m / sr / 3, 0.003) + 0.2 * _hp(rng.standard_normal(m), sr, 2000) * _dec(m, sr, 0.02)
        t = i * gap * float(rng.uniform(0.85, 1.15))
        _add(y, b, int(t * sr), float(rng.uniform(0.6, 1.0)))
        ons.append(int(t * sr) / sr)
    return y, ons


def _horn(sr, rng):
    k = int(rng.integers(1, 3))
    n = _n(0.9 * k + 0.2, sr)
    y = np.zeros(n)
    ons = []
    fa, fb = float(rng.uniform(380, 440)), float(rng.uniform(470, 520))
    t = 0.0
    for _ in range(k):
        m = _n(float(rng.uniform(0.06, 0.4)), sr)
        tt = np.arange(m) / sr
        h = np.tanh(3 * np.sin(2 * np.pi * fa * tt)) + np.tanh(3 * np.sin(2 * np.pi * fb * tt))
        h *= np.minimum(1, tt / 0.005) * np.minimum(1, (tt[-1] - tt) / 0.01)
        _add(y, h, int(t * sr))
        ons.append(int(t * sr) / sr)
        t += m / sr + float(rng.uniform(0.08, 0.3))
    return _lp(y, sr, 5000), ons


def _siren_yelp(sr, rng):
    n = _n(float(rng.uniform(0.5, 2.5)), sr)
    tt = np.arange(n) / sr
    rate = float(rng.uniform(3, 8))
    sweep = (tt * rate) % 1.0
    f = 700 + 900 * (np.minimum(sweep, 1 - sweep) * 2)
    ph = 2 * np.pi * np.cumsum(f) / sr
    y = np.tanh(2 * np.sin(ph)) * np.minimum(1, tt / 0.003)
    return _lp(y, sr, 6000), [0.0]


def _squelch(sr, rng):
    k = int(rng.integers(1, 4))
    n = _n(k * 0.6 + 0.2, sr)
    y = np.zeros(n)
    ons = []
    t = 0.0
    for _ in range(k):
        m = _n(float(rng.uniform(0.08, 0.25)), sr)
        burst = signal.sosfilt(signal.butter(4, [300, 3400], "bandpass", fs=sr, output="sos"), rng.standard_normal(m))
        click = np.zeros(m)
        click[:3] = [1.0, -0.6, 0.2]
        click[-3:] += [0.5, -0.5, 0.2]
        _add(y, 0.5 * _norm(burst) + click, int(t * sr))
        ons.append(int(t * sr) / sr)
        t += m / sr + float(rng.uniform(0.1, 0.4))
    return y, ons


_RENDER: dict[str, Callable[[int, np.random.Generator], tuple[np.ndarray, list]]] = {
    "vest_bump": _vest_bump,
    "clothing_rub": _clothing_rub,
    "door_car": lambda sr, rng: _door(sr, rng, "car"),
    "door_house": lambda sr, rng: _door(sr, rng, "house"),
    "gate_metal": lambda sr, rng: _door(sr, rng, "gate"),
    "knock": _knock,
    "clap": _clap,
    "footsteps_concrete": lambda sr, rng: _footsteps(sr, rng, False),
    "footsteps_gravel": lambda sr, rng: _footsteps(sr, rng, True),
    "glass_break": _glass,
    "can_pop": _can_pop,
    "bottle_pop": _bottle_pop,
    "balloon_pop": _balloon,
    "drop_keys": lambda sr, rng: _drop(sr, rng, "keys"),
    "drop_flashlight": lambda sr, rng: _drop(sr, rng, "flashlight"),
    "drop_magazine": lambda sr, rng: _drop(sr, rng, "magazine"),
    "hammer": lambda sr, rng: _hammer(sr, rng, False),
    "nail_gun": lambda sr, rng: _hammer(sr, rng, True),
    "firework_crackle": lambda sr, rng: _firework(sr, rng, "crackle"),
    "firework_aerial": lambda sr, rng: _firework(sr, rng, "aerial"),
    "firecracker_string": lambda sr, rng: _firework(sr, rng, "string"),
    "taser": _taser,
    "music_percussion": _music,
    "plosive": _plosive,
    "cough": _cough,
    "dog_bark": _bark,
    "horn_chirp": _horn,
    "siren_yelp": _siren_yelp,
    "squelch_click": _squelch,
}

#: The distractor kinds of family e.
KINDS_E: tuple[str, ...] = tuple(_RENDER)

#: Kinds made at (or on) the camera: no room sound is added to them.
ON_MIC_E = frozenset({"vest_bump", "clothing_rub", "plosive", "cough", "squelch_click"})

#: Peak at the microphone (dBFS range; above 0 clips in the chain).
LEVELS_E: dict[str, tuple[float, float]] = {
    "vest_bump": (-6.0, 15.0), "clothing_rub": (-35.0, -6.0), "door_car": (-30.0, 3.0),
    "door_house": (-30.0, 3.0), "gate_metal": (-30.0, 0.0), "knock": (-35.0, -3.0), "clap": (-30.0, 6.0),
    "footsteps_concrete": (-40.0, -10.0), "footsteps_gravel": (-40.0, -10.0), "glass_break": (-30.0, 3.0),
    "can_pop": (-35.0, -6.0), "bottle_pop": (-30.0, 0.0), "balloon_pop": (-25.0, 8.0),
    "drop_keys": (-35.0, -3.0), "drop_flashlight": (-30.0, 0.0), "drop_magazine": (-30.0, 0.0),
    "hammer": (-30.0, 3.0), "nail_gun": (-25.0, 6.0), "firework_crackle": (-35.0, -3.0),
    "firework_aerial": (-35.0, 0.0), "firecracker_string": (-30.0, 6.0), "taser": (-25.0, 3.0),
    "music_percussion": (-35.0, -6.0), "plosive": (-12.0, 10.0), "cough": (-18.0, 6.0),
    "dog_bark": (-30.0, 0.0), "horn_chirp": (-30.0, -3.0), "siren_yelp": (-30.0, -3.0),
    "squelch_click": (-25.0, -2.0),
}


def render_distractor_e(kind: str, sr: int, rng: np.random.Generator, *, peak_dbfs: float | None = None,
                        return_onsets: bool = False):
    """Render one family-e distractor, its first event at sample 0, in full-scale units.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS_E`.
    sr : int
        Sample rate (Hz), at least 8000.
    rng : np.random.Generator
        Randomness.
    peak_dbfs : float or None
        Peak at the microphone (dBFS; may exceed 0); None draws from :data:`LEVELS_E`.
    return_onsets : bool
        Also return the onsets (s) of the individual impulses and the peak (dBFS).

    Returns
    -------
    np.ndarray or tuple
        float32 ``y``; with ``return_onsets`` ``(y, onsets_s, peak_dbfs)``.
    """
    if kind not in _RENDER:
        raise ParameterError(f"unknown distractor kind {kind!r}; expected one of {KINDS_E}")
    if not isinstance(sr, (int, np.integer)) or isinstance(sr, bool) or sr < 8000:
        raise ParameterError(f"sr must be an integer sample rate >= 8000 Hz; got {sr!r}")
    y, ons = _RENDER[kind](int(sr), rng)
    if peak_dbfs is None:
        peak_dbfs = float(rng.uniform(*LEVELS_E[kind]))
    y = _norm(np.asarray(y, dtype=np.float64)) * 10 ** (float(peak_dbfs) / 20)
    y = y.astype(np.float32)
    return (y, [float(o) for o in ons], float(peak_dbfs)) if return_onsets else y


def render_distractor_scene_e(rng: np.random.Generator, kind: str | None = None, *, sr: int = 48000,
                              duration_s: float | None = None, n_events: int | None = None,
                              background: str | None = None, environment: str | None = None,
                              chain: dict[str, Any] | bool | None = None) -> tuple[np.ndarray, int, dict[str, Any]]:
    """A 2 to 6 s scene of one distractor kind (1 to 3 events) and no gunshot, through a chain.

    Returns ``(y, sr_out, truth)`` as :func:`sample_media.gunfire_e.render_scene_e`, with
    ``truth["shots"] == []``.
    """
    from sample_media.gunfire_e import render_scene_e

    if kind is None:
        kind = str(KINDS_E[int(rng.integers(len(KINDS_E)))])
    if kind not in _RENDER:
        raise ParameterError(f"unknown distractor kind {kind!r}; expected one of {KINDS_E}")
    if n_events is None:
        n_events = int(rng.integers(1, 4))
    if isinstance(n_events, bool) or not 1 <= int(n_events) <= 10:
        raise ParameterError(f"n_events must be 1..10; got {n_events!r}")
    if duration_s is None:
        duration_s = float(rng.uniform(2.0, 6.0))
    return render_scene_e(rng, duration_s=duration_s, sr=sr, n_shots=0, background=background,
                          environment=environment, distractors=[kind] * int(n_events), chain=chain)
