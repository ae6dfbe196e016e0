"""Family-e synthetic gunfire: a third renderer with its own physics, for training and testing.

Written without the code of family a (:mod:`sample_media.gunshot`) or family b
(:mod:`sample_media.gunfire_b`, :mod:`sample_media.chains`) and without reference to the
detector. The models:

* **Muzzle blast** (:func:`blast_waveform`) -- a Friedlander wave
  ``p(t) = P (1 - t/T) exp(-b t/T)`` (its negative phase included) behind a raised-cosine
  front. ``P`` and ``T`` follow Kinney-Graham's free-air blast curves
  (:func:`kg_overpressure`, :func:`kg_duration`) at the scaled distance
  ``Z = R / W^(1/3)`` (Hopkinson cube-root scaling). The equivalent charge ``W`` of each
  weapon is set from its positive phase at 10 m (0.3 to 3 ms) and a blast efficiency from
  its 10 m level, so the near field (strong shock, short phase) and far field (1/R, a longer
  phase) come from the same curves. With distance the wave ages as a weak shock: the
  positive phase grows by ``1 + s ln(1 + R / 5 m)`` and the front's rise time is an
  inverse-overpressure (Taylor-like) term plus a turbulence term growing with range;
  ``b`` relaxes towards 1 (an acoustic pulse with no net impulse).
* **Directivity** -- ``-D (1 - cos theta) / 2`` dB with ``D`` 4 to 10 dB, and a longer phase
  behind the muzzle.
* **Muzzle gas** -- resonant band noise (300 Hz to 2.5 kHz) with an ``t e^(-t/tau)``
  envelope from the blast front.
* **Revolvers** -- a cylinder-gap blast 0.1 to 0.6 ms before the muzzle blast (then the
  first arrival), 8 to 18 dB weaker and shorter.
* **Suppressed pistols** -- 25 to 35 dB less blast, a rounded front (80 to 400 us rise),
  a 1.2 to 3 ms phase, subsonic, and the slide's clatter 4 to 15 ms later.
* **Ballistic crack** (:func:`n_wave_e`) -- an asymmetric, slightly curved N-wave whose
  peak ``P1 b^(-3/4)`` and duration ``T1 b^(1/4)`` are scaled from an empirical per-weapon
  table at 1 m miss distance ``b``; both shocks have a relaxation rise time ``K / p``.
  The bullet decelerates (linear drag); the crack leaves the trajectory where the local
  Mach cone's ray reaches the microphone, travels ``b M / sqrt(M^2 - 1)`` and arrives before
  the blast down range, when ``x_e >= 0``.
* **Propagation** -- ANSI S1.26 air absorption computed here and approximated per path by
  two cascaded one-pole low-passes matched at the 6 dB point; a ground reflection through
  a Delany-Bazley impedance with the Weyl-Van der Pol spherical-wave correction (a causal FIR
  per shooter); a shoebox image-source early part (order 2, per-wall absorption, a low-pass
  per order) indoors, two-façade flutter images in streets, an optional distant echo in
  open fields; and a two-band feedback delay network (8 lines, Hadamard) for the late tail,
  sent at the Sabine critical distance. Distances 0.2 to 150 m.
* **Recording chain** -- :mod:`sample_media.chains_e`.

Units: pressure in Pa until the chain divides by its full-scale pressure. Truth onsets
(``time_s``) are the first sample of the first arrival at the output rate; no stage delays it
(causal filters, centred resampling, codec lag measured and removed).

Example
-------
>>> import numpy as np
>>> y, sr, truth = render_scene_e(np.random.default_rng(0), layout="double_tap")
>>> len(truth["shots"])
2
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from scipy import signal, special

from media_core.errors import ParameterError
from sample_media import chains_e
from sample_media.distractors_e import KINDS_E, ON_MIC_E, render_distractor_e

__all__ = [
    "WEAPONS_E",
    "LAYOUTS_E",
    "ENVIRONMENTS_E",
    "BACKGROUNDS_E",
    "MIN_SPACING_S",
    "kg_overpressure",
    "kg_duration",
    "blast_waveform",
    "n_wave_e",
    "air_absorption_db_per_m",
    "air_lowpass",
    "ground_fir",
    "fdn_ir",
    "render_background_e",
    "render_scene_e",
]

WEAPONS_E = ("pistol", "revolver", "rifle", "shotgun", "suppressed_pistol")
LAYOUTS_E = ("single", "double_tap", "volley", "rapid_fire", "two_shooters", "library_clip",
             "faint", "release_tail")
ENVIRONMENTS_E = ("open_field", "street", "indoor_small", "indoor_large")
BACKGROUNDS_E = ("none", "room_tone", "hvac", "traffic", "wind", "crowd", "rain", "siren", "radio")
MIN_SPACING_S = 0.060
P0 = 101325.0

#: per weapon: level at 10 m side-on (dB SPL), positive phase at 10 m (ms), Friedlander b at
#: 1 m, gas level re blast (dB), gas decay (ms), chance of a supersonic bullet, muzzle speed
#: (m/s), drag (1/s), crack peak at 1 m miss (Pa), crack duration at 1 m miss (ms)
_WEAPONS: dict[str, dict[str, Any]] = {
    "pistol": dict(L10=(134.0, 146.0), T10=(0.30, 0.70), b=(1.0, 1.8), gas=(-20.0, -8.0), gas_tau=(0.8, 3.0),
                   sup=0.15, v0=(370.0, 460.0), drag=(1.5, 3.0), P1=(60.0, 160.0), T1=(0.07, 0.13)),
    "revolver": dict(L10=(139.0, 150.0), T10=(0.40, 0.90), b=(1.0, 1.8), gas=(-18.0, -8.0), gas_tau=(1.0, 3.5),
                     sup=0.3, v0=(400.0, 520.0), drag=(1.5, 3.0), P1=(80.0, 200.0), T1=(0.09, 0.15)),
    "rifle": dict(L10=(145.0, 157.0), T10=(0.60, 1.50), b=(1.2, 2.2), gas=(-18.0, -6.0), gas_tau=(1.5, 6.0),
                  sup=0.95, v0=(700.0, 980.0), drag=(0.6, 1.6), P1=(250.0, 700.0), T1=(0.15, 0.32)),
    "shotgun": dict(L10=(144.0, 153.0), T10=(1.00, 2.50), b=(1.2, 2.4), gas=(-16.0, -6.0), gas_tau=(2.0, 8.0),
                    sup=0.1, v0=(420.0, 500.0), drag=(3.0, 6.0), P1=(150.0, 300.0), T1=(0.15, 0.30)),
    "suppressed_pistol": dict(L10=(110.0, 126.0), T10=(1.20, 3.00), b=(0.9, 1.4), gas=(-14.0, -4.0),
                              gas_tau=(2.0, 8.0), sup=0.0, v0=(290.0, 320.0), drag=(1.0, 2.0),
                              P1=(0.0, 0.0), T1=(0.1, 0.1)),
}


# ----------------------------------------------------------------------------------------------
# blast physics

def kg_overpressure(z) -> np.ndarray:
    """Kinney-Graham peak overpressure ``dp / p0`` at scaled distance ``z`` (m/kg^(1/3))."""
    z = np.asarray(z, dtype=np.float64)
    return 808.0 * (1 + (z / 4.5) ** 2) / np.sqrt((1 + (z / 0.048) ** 2) * (1 + (z / 0.32) ** 2)
                                                  * (1 + (z / 1.35) ** 2))


def kg_duration(z) -> np.ndarray:
    """Kinney-Graham positive-phase duration per cube-root charge (s/kg^(1/3))."""
    z = np.asarray(z, dtype=np.float64)
    return 0.980 * (1 + (z / 0.54) ** 10) / ((1 + (z / 0.02) ** 3) * (1 + (z / 0.74) ** 6)
                                               * np.sqrt(1 + (z / 6.9) ** 2))


def _charge_for_phase(t10_s: float) -> float:
    """Cube-root charge (kg^(1/3)) whose Kinney-Graham phase at 10 m is ``t10_s``."""
    w = t10_s / 4.2e-3
    for _ in range(8):
        w = t10_s / float(kg_duration(10.0 / w))
    return w


def blast_waveform(sr: int, peak_pa: float, phase_s: float, b: float, rise_s: float, *,
                   frac: float = 0.0) -> np.ndarray:
    """A Friedlander wave behind a raised-cosine front, sampled from its onset.

    ``frac`` (0 to 1 sample) delays the onset inside the first sample; the first sample at or
    after the onset is index 0 (for ``frac == 0`` it is exactly the onset).
    """
    T = float(phase_s)
    n = int(math.ceil((T * (1 + 9.0 / max(b, 0.5)) + rise_s) * sr)) + 2
    t = np.arange(n) / sr - frac / sr
    tau = max(float(rise_s), 1.0 / sr)
    front = np.where(t < tau, 0.5 * (1 - np.cos(np.pi * np.clip(t, 0, None) / tau)), 1.0)
    front[t < 0] = 0.0
    u = np.clip(t, 0, None) / T
    p = peak_pa * front * (1 - u) * np.exp(-b * u)
    # taper the far end of the negative phase to zero
    m = max(4, n // 8)
    p[-m:] *= np.hanning(2 * m)[m:]
    return p


def n_wave_e(sr: int, peak_pa: float, dur_s: float, rise_s: float, *, rear: float = 0.85,
             curve: float = 0.1, frac: float = 0.0) -> np.ndarray:
    """An asymmetric N-wave: front to ``+peak``, a slightly curved fall, a rear shock back to 0.

    ``rear`` is the rear shock's share of the front's; ``curve`` bows the interior (0 = linear).
    """
    tau = max(float(rise_s), 1.0 / sr)
    T = float(dur_s)
    n = int(math.ceil((T + 2 * tau) * sr)) + 2
    t = np.arange(n) / sr - frac / sr
    x = np.clip((t - tau) / T, 0.0, 1.0)
    inner = 1 - (1 + rear) * x + curve * np.sin(np.pi * x)
    front = np.clip(t / tau, 0, 1)
    front = 0.5 * (1 - np.cos(np.pi * front))
    tr = T + tau
    back = np.clip((t - tr) / tau, 0, 1)
    back = 0.5 * (1 - np.cos(np.pi * back))
    p = peak_pa * (front * inner * (1 - back))
    p[t < 0] = 0.0
    return p


# ----------------------------------------------------------------------------------------------
# propagation

def _c_air(temp_c: float) -> float:
    return 331.3 * math.sqrt(1 + temp_c / 273.15)


def air_absorption_db_per_m(f, temp_c: float = 20.0, rh: float = 50.0, pa_kpa: float = 101.325) -> np.ndarray:
    """ANSI S1.26 pure-tone absorption of air (dB/m) at frequencies ``f`` (Hz)."""
    f = np.asarray(f, dtype=np.float64)
    T = temp_c + 273.15
    T0, T01 = 293.15, 273.16
    pr = pa_kpa / 101.325
    psat = 10 ** (-6.8346 * (T01 / T) ** 1.261 + 4.6151)
    h = rh * psat / pr
    fro = pr * (24 + 4.04e4 * h * (0.02 + h) / (0.391 + h))
    frn = pr * (T / T0) ** -0.5 * (9 + 280 * h * np.exp(-4.170 * ((T / T0) ** (-1 / 3) - 1)))
    return 8.686 * f ** 2 * (1.84e-11 / pr * (T / T0) ** 0.5
                             + (T / T0) ** -2.5 * (0.01275 * np.exp(-2239.1 / T) / (fro + f ** 2 / fro)
                                                   + 0.1068 * np.exp(-3352.0 / T) / (frn + f ** 2 / frn)))


def _air_fc(sr: int, distance_m: float, temp_c: float, rh: float) -> tuple[int, float]:
    """(number of one-pole sections, cutoff) approximating the path's absorption."""
    f = np.geomspace(200.0, 0.45 * sr, 96)
    a = air_absorption_db_per_m(f, temp_c, rh) * distance_m
    if a[-1] < 1.0:
        return 0, 0.0
    if a[-1] < 6.0:
        i = int(np.searchsorted(a, 3.0)) if a[-1] >= 3.0 else -1
        fc = float(f[i]) if i >= 0 else float(f[-1]) * math.sqrt(3.0 / a[-1])
        return 1, min(fc, 0.45 * sr)
    return 2, float(f[int(np.searchsorted(a, 6.0))])


def air_lowpass(x: np.ndarray, sr: int, distance_m: float, temp_c: float = 20.0, rh: float = 50.0) -> np.ndarray:
    """Air absorption over ``distance_m``: cascaded one-pole low-passes (causal, minimum phase)."""
    k, fc = _air_fc(sr, distance_m, temp_c, rh)
    y = np.asarray(x, dtype=np.float64)
    if k == 0:
        return y.copy()
    a = math.exp(-2 * math.pi * fc / sr)
    for _ in range(k):
        y = signal.lfilter([1 - a], [1, -a], y)
    return y


def ground_fir(sr: int, r_direct: float, h_src: float, h_mic: float, sigma: float,
               c: float = 343.0, n_fft: int = 4096) -> np.ndarray:
    """Direct path (unit tap at 0) plus a ground reflection, as a causal FIR.

    The reflection uses the spherical-wave reflection coefficient
    ``Q = Rp + (1 - Rp) F(w)`` with a Delany-Bazley surface impedance of flow resistivity
    ``sigma`` (Pa s / m^2), relative to the direct path's amplitude and delay.
    """
    horiz = math.sqrt(max(r_direct ** 2 - (h_src - h_mic) ** 2, 1e-6))
    r1 = math.sqrt(horiz ** 2 + (h_src - h_mic) ** 2)
    r2 = math.sqrt(horiz ** 2 + (h_src + h_mic) ** 2)
    dly = (r2 - r1) / c
    f = np.fft.rfftfreq(n_fft, 1 / sr)
    f[0] = f[1] * 0.5
    X = 1.21 * f / sigma
    Z = 1 + 0.0571 * X ** -0.754 + 1j * 0.087 * X ** -0.732  # e^{-i w t} convention
    beta = 1 / Z
    cos_t = (h_src + h_mic) / r2
    rp = (cos_t - beta) / (cos_t + beta)
    k = 2 * np.pi * f / c
    w = np.sqrt(0.5j * k * r2) * (cos_t + beta)
    F = 1 + 1j * np.sqrt(np.pi) * w * special.wofz(w)
    Q = rp + (1 - rp) * F
    H = np.conj(Q) * (r1 / r2) * np.exp(-2j * np.pi * f * dly)
    h = np.fft.irfft(H, n_fft)
    L = min(n_fft // 2, int(dly * sr) + 384)
    h = h[:L].copy()
    tail = min(128, L // 4)
    h[-tail:] *= np.hanning(2 * tail)[tail:]
    h[0] += 1.0
    return h


def _add_tap(fir: np.ndarray, delay_s: float, gain: float, sr: int) -> None:
    """Add a fractional-delay tap (linear interpolation) to ``fir``."""
    pos = delay_s * sr
    k = int(pos)
    fr = pos - k
    if k + 1 < fir.size:
        fir[k] += gain * (1 - fr)
        fir[k + 1] += gain * fr


def _image_fir(sr: int, env: dict[str, Any], src, mic, c: float) -> np.ndarray:
    """Early reflections relative to the direct path (no direct tap): shoebox or street images."""
    src = np.asarray(src, float)
    mic = np.asarray(mic, float)
    r0 = float(np.linalg.norm(src - mic))
    if env["kind"].startswith("indoor"):
        L = np.asarray(env["room_m"], float)
        alpha = np.asarray(env["alpha"], float)  # x0, x1, y0, y1, z0, z1
        taps = []
        for nx in range(-2, 3):
            for ny in range(-2, 3):
                for nz in range(-2, 3):
                    order = abs(nx) + abs(ny) + abs(nz)
                    if order == 0 or order > 2:
                        continue
                    img = np.empty(3)
                    gain = 1.0
                    for ax, nn in enumerate((nx, ny, nz)):
                        if nn % 2 == 0:
                            img[ax] = src[ax] + nn * L[ax]
                        else:
                            img[ax] = -src[ax] + (nn + 1) * L[ax]
                        # walls hit: |nn| reflections alternating between the two walls
                        lo, hi = alpha[2 * ax], alpha[2 * ax + 1]
                        n_lo = (abs(nn) + (1 if nn < 0 else 0)) // 2
                        n_hi = abs(nn) - n_lo
                        gain *= math.sqrt(1 - lo) ** n_lo * math.sqrt(1 - hi) ** n_hi
                    r = float(np.linalg.norm(img - mic))
                    taps.append((order, (r - r0) / c, gain * r0 / r))
    elif env["kind"] == "street":
        W = float(env["width_m"])
        alpha = float(env["facade_alpha"])
        ys = src[1]
        taps = []
        for nn in range(-4, 5):
            if nn == 0:
                continue
            yi = ys + nn * W if nn % 2 == 0 else -ys + (nn + 1) * W
            img = np.array([src[0], yi, src[2]])
            r = float(np.linalg.norm(img - mic))
            taps.append((abs(nn), (r - r0) / c, (1 - alpha) ** (abs(nn) / 2) * r0 / r))
    else:
        taps = []
        if env.get("echo_s"):
            taps.append((3, float(env["echo_s"]), 10 ** (float(env["echo_db"]) / 20)))
    if not taps:
        return np.zeros(0)
    n = int(max(d for _, d, _ in taps) * sr) + 4
    by_order: dict[int, np.ndarray] = {}
    for o, d, g in taps:
        if d <= 0:
            continue
        arr = by_order.setdefault(o, np.zeros(n))
        _add_tap(arr, d, g, sr)
    out = np.zeros(n)
    for o, arr in by_order.items():
        fc = min(0.45 * sr, float(env.get("wall_lp_hz", 9000.0)) / o)
        a = math.exp(-2 * math.pi * fc / sr)
        out += signal.lfilter([1 - a], [1, -a], arr)
    return out


def fdn_ir(sr: int, rng: np.random.Generator, t60_s: float, hf_ratio: float, mean_delay_s: float,
           length_s: float) -> np.ndarray:
    """Two-band feedback-delay-network impulse response, unit energy.

    Eight delay lines around ``mean_delay_s`` (at least 6 ms) feed back through a Hadamard
    matrix; the low band decays with ``t60_s``, the high band (above ~2.5 kHz) with
    ``t60_s * hf_ratio``. Computed a block of ``min(delay)`` samples at a time.
    """
    from scipy.linalg import hadamard

    N = 8
    md = max(mean_delay_s, 0.006)
    m = np.unique(np.round(np.exp(rng.uniform(np.log(md * 0.6), np.log(md * 1.6), N)) * sr).astype(int))
    while m.size < N:
        m = np.unique(np.concatenate([m, m[-1:] + 7]))
    L = int(length_s * sr)
    A = hadamard(N) / math.sqrt(N)
    bi = rng.choice([-1.0, 1.0], N)
    ci = rng.choice([-1.0, 1.0], N)
    g = np.stack([10 ** (-3 * m / (sr * t60)) for t60 in (t60_s, max(0.05, t60_s * hf_ratio))])[:, :, None]
    s = np.zeros((2, N, L))
    v = np.zeros((2, N, L))
    B = int(m.min())
    rows = np.arange(N)[:, None]
    for k in range(0, L, B):
        e = min(L, k + B)
        idx = np.arange(k, e)[None, :] - m[:, None]
        ok = idx >= 0
        if ok.any():
            s[:, :, k:e] = g * np.where(ok, v[:, rows, np.maximum(idx, 0)], 0.0)
        v[:, :, k:e] = A @ s[:, :, k:e]
        if k == 0:
            v[:, :, 0] += bi
    out = [ci @ s[0], ci @ s[1]]
    sos_lo = signal.butter(2, 2500.0, "lowpass", fs=sr, output="sos")
    sos_hi = signal.butter(2, 2500.0, "highpass", fs=sr, output="sos")
    # Linkwitz-Riley (squared Butterworth) split: the bands sum in phase, no moving notch
    ir = signal.sosfilt(sos_lo, signal.sosfilt(sos_lo, out[0])) + signal.sosfilt(sos_hi, signal.sosfilt(sos_hi, out[1]))
    e = float(np.sqrt(np.sum(ir ** 2)))
    return ir / e if e > 0 else ir


# ----------------------------------------------------------------------------------------------
# environment

def _random_env(rng: np.random.Generator, kind: str | None) -> dict[str, Any]:
    if kind is None:
        kind = str(ENVIRONMENTS_E[int(rng.choice(4, p=[0.3, 0.3, 0.2, 0.2]))])
    if kind not in ENVIRONMENTS_E:
        raise ParameterError(f"unknown environment {kind!r}; expected one of {ENVIRONMENTS_E}")
    env: dict[str, Any] = {"kind": kind, "temp_c": float(rng.uniform(-5.0, 35.0)),
                           "rh": float(rng.uniform(20.0, 95.0)),
                           "wall_lp_hz": float(rng.uniform(4000.0, 14000.0))}
    if kind == "indoor_small":
        room = [float(rng.uniform(3.0, 7.0)), float(rng.uniform(2.5, 6.0)), float(rng.uniform(2.4, 3.0))]
        env.update(room_m=room, alpha=[float(a) for a in rng.uniform(0.03, 0.5, 6)],
                   t60_s=float(rng.uniform(0.25, 0.9)))
    elif kind == "indoor_large":
        room = [float(rng.uniform(10.0, 40.0)), float(rng.uniform(8.0, 30.0)), float(rng.uniform(4.0, 10.0))]
        env.update(room_m=room, alpha=[float(a) for a in rng.uniform(0.02, 0.35, 6)],
                   t60_s=float(rng.uniform(0.8, 2.5)))
    elif kind == "street":
        env.update(width_m=float(rng.uniform(8.0, 30.0)), facade_alpha=float(rng.uniform(0.03, 0.3)),
                   t60_s=float(rng.uniform(0.5, 2.0)), sigma=float(np.exp(rng.uniform(np.log(5e6), np.log(5e7)))),
                   rc_m=float(np.exp(rng.uniform(np.log(5.0), np.log(25.0)))))
    else:
        env.update(sigma=float(np.exp(rng.uniform(np.log(3e4), np.log(2e6)))),
                   t60_s=float(rng.uniform(0.3, 1.2)) if rng.random() < 0.4 else 0.0,
                   rc_m=float(np.exp(rng.uniform(np.log(30.0), np.log(150.0)))))
        if rng.random() < 0.5:
            env.update(echo_s=float(rng.uniform(0.08, 0.6)), echo_db=float(rng.uniform(-35.0, -15.0)))
    env["hf_ratio"] = float(rng.uniform(0.3, 0.8))
    return env


def _max_distance(env: dict[str, Any]) -> float:
    if env["kind"].startswith("indoor"):
        r = env["room_m"]
        return 0.9 * math.sqrt(r[0] ** 2 + r[1] ** 2)
    return 150.0


def _geometry(rng: np.random.Generator, env: dict[str, Any], d: float):
    """Source and mic positions ``d`` apart inside the environment; returns (src, mic, d)."""
    hm = float(rng.uniform(1.0, 1.5))
    hs = float(rng.uniform(0.9, 1.7))
    if env["kind"].startswith("indoor"):
        L = np.asarray(env["room_m"], float)
        for _ in range(30):
            mic = np.array([rng.uniform(0.5, L[0] - 0.5), rng.uniform(0.5, L[1] - 0.5), min(hm, L[2] - 0.3)])
            ang = rng.uniform(0, 2 * np.pi)
            dz = np.clip(hs - mic[2], -0.5, 0.5)
            hor = math.sqrt(max(d ** 2 - dz ** 2, 0.01))
            src = mic + np.array([hor * math.cos(ang), hor * math.sin(ang), dz])
            if np.all(src[:2] > 0.2) and np.all(src[:2] < L[:2] - 0.2):
                return src, mic, d
        src = np.clip(src, 0.2, L - 0.2)
        return src, mic, float(np.linalg.norm(src - mic))
    if env["kind"] == "street":
        W = env["width_m"]
        mic = np.array([0.0, float(rng.uniform(1.0, W - 1.0)), hm])
        ys = float(rng.uniform(1.0, W - 1.0))
        dy = ys - mic[1]
        dz = hs - hm
        dx = math.sqrt(max(d ** 2 - dy ** 2 - dz ** 2, 0.01))
        src = np.array([dx, ys, hs])
        return src, mic, float(np.linalg.norm(src - mic))
    mic = np.array([0.0, 0.0, hm])
    dz = hs - hm
    src = np.array([math.sqrt(max(d ** 2 - dz ** 2, 0.01)), 0.0, hs])
    return src, mic, float(np.linalg.norm(src - mic))


def _path_fir(sr: int, env: dict[str, Any], src, mic, c: float) -> np.ndarray:
    d = float(np.linalg.norm(np.asarray(src) - np.asarray(mic)))
    if env["kind"].startswith("indoor"):
        direct = np.zeros(1)
        direct[0] = 1.0
    else:
        direct = ground_fir(sr, d, float(src[2]), float(mic[2]), float(env["sigma"]), c=c)
    early = _image_fir(sr, env, src, mic, c)
    n = max(direct.size, early.size)
    h = np.zeros(n)
    h[:direct.size] += direct
    h[:early.size] += early
    return h


def _send_gain(env: dict[str, Any]) -> float:
    """Late-tail gain: 1 / critical distance (m) for a unit-energy tail; 0 for none."""
    t60 = float(env.get("t60_s", 0.0))
    if t60 <= 0:
        return 0.0
    if env["kind"].startswith("indoor"):
        V = float(np.prod(env["room_m"]))
        # the image sources already carry part of the reverberant energy
        rc = 0.057 * math.sqrt(V / t60) / float(env.setdefault("late_share", 0.6))
    elif env["kind"] == "street":
        rc = float(env["rc_m"])
    else:
        rc = float(env["rc_m"])
    return 1.0 / max(rc, 0.3)


def _mean_delay(env: dict[str, Any]) -> float:
    if env["kind"].startswith("indoor"):
        L = env["room_m"]
        V = L[0] * L[1] * L[2]
        S = 2 * (L[0] * L[1] + L[0] * L[2] + L[1] * L[2])
        return 4 * V / S / 343.0
    if env["kind"] == "street":
        return env["width_m"] / 343.0
    return 0.05


# ----------------------------------------------------------------------------------------------
# one shot

def _gas(sr: int, rng: np.random.Generator, peak: float, tau: float) -> np.ndarray:
    n = int(tau * 8 * sr) + 8
    t = np.arange(n) / sr
    env = (t / tau) * np.exp(1 - t / tau)
    fc = float(rng.uniform(300.0, 2500.0))
    q = float(rng.uniform(0.5, 1.5))
    w = 2 * math.pi * fc / sr
    al = math.sin(w) / (2 * q)
    b = np.array([al, 0.0, -al])
    a = np.array([1 + al, -2 * math.cos(w), 1 - al])
    x = signal.lfilter(b, a, rng.standard_normal(n))
    x /= max(float(np.max(np.abs(x))), 1e-12)
    return peak * env * x


def _clatter(sr: int, rng: np.random.Generator, peak: float) -> np.ndarray:
    n = int(0.04 * sr)
    t = np.arange(n) / sr
    y = np.zeros(n)
    for _ in range(int(rng.integers(2, 5))):
        f = float(rng.uniform(1500.0, 7000.0))
        t0 = float(rng.uniform(0.0, 0.02))
        dec = float(rng.uniform(0.002, 0.008))
        tt = t - t0
        y += np.where(tt >= 0, np.sin(2 * np.pi * f * tt) * np.exp(-np.clip(tt, 0, None) / dec), 0.0) \
            * float(rng.uniform(0.3, 1.0))
    y /= max(float(np.max(np.abs(y))), 1e-12)
    return peak * y


def _shooter(rng: np.random.Generator, kind: str, distance: float, env: dict[str, Any], c: float,
             sr: int, own: bool = False) -> dict[str, Any]:
    w = _WEAPONS[kind]
    src, mic, d = _geometry(rng, env, distance)
    theta = float(rng.uniform(60.0, 150.0)) if own else float(rng.uniform(0.0, 180.0))
    t10 = float(rng.uniform(*w["T10"])) * 1e-3
    W = _charge_for_phase(t10)
    L10 = float(rng.uniform(*w["L10"]))
    eff = 20e-6 * 10 ** (L10 / 20) / (P0 * float(kg_overpressure(10.0 / W)))
    sh = {"kind": kind, "distance_m": d, "angle_deg": theta, "W": W, "eff": eff,
          "b1": float(rng.uniform(*w["b"])), "D_db": float(rng.uniform(4.0, 10.0)),
          "age": float(rng.uniform(0.03, 0.1)), "K_rise": float(rng.uniform(1e-3, 4e-3)),
          "turb": float(rng.uniform(0.3, 1.5)) * 1e-6,
          "gas_db": float(rng.uniform(*w["gas"])), "gas_tau": float(rng.uniform(*w["gas_tau"])) * 1e-3,
          "supersonic": bool(rng.random() < w["sup"]), "v0": float(rng.uniform(*w["v0"])),
          "drag": float(rng.uniform(*w["drag"])), "P1": float(rng.uniform(*w["P1"])),
          "T1": float(rng.uniform(*w["T1"])) * 1e-3, "Kc": float(rng.uniform(0.3e-3, 1.2e-3)),
          "rear": float(rng.uniform(0.75, 0.95)), "curve": float(rng.uniform(-0.05, 0.2)),
          "gap_db": float(rng.uniform(-18.0, -8.0)), "gap_lead": float(rng.uniform(0.1, 0.6)) * 1e-3,
          "sup_rise": float(rng.uniform(80e-6, 400e-6)),
          "clatter_delay": float(rng.uniform(0.004, 0.015)), "clatter_db": float(rng.uniform(-15.0, -6.0)),
          "action_db": float(rng.uniform(95.0, 110.0))}
    sh["fir"] = _path_fir(sr, env, src, mic, c)
    return sh


def _shot_parts(sh: dict[str, Any], sr: int, rng: np.random.Generator, c: float, jitter: bool = True):
    """Components (pressure at the mic, offset s from first arrival, path m) and metadata."""
    kind = sh["kind"]
    R = sh["distance_m"] * (float(np.exp(rng.normal(0, 0.02))) if jitter else 1.0)
    th = math.radians(float(np.clip(sh["angle_deg"] + (rng.normal(0, 1.5) if jitter else 0.0), 0, 180)))
    W = sh["W"]
    z = R / W
    dirg = 10 ** (-sh["D_db"] * (1 - math.cos(th)) / 2 / 20)
    if kind == "suppressed_pistol":
        # a weak wave from the can: acoustic (1/R) from its 10 m level, its phase set by the gas release
        P = P0 * float(kg_overpressure(10.0 / W)) * sh["eff"] * 10.0 / R
        T = W * float(kg_duration(10.0 / W)) * (1 + 0.3 * sh["age"] * math.log(1 + R / 5.0))
    else:
        P = P0 * float(kg_overpressure(z)) * sh["eff"]
        T = W * float(kg_duration(z)) * (1 + sh["age"] * math.log(1 + R / 5.0))
    P *= dirg * (float(np.exp(rng.normal(0, 0.06))) if jitter else 1.0)
    T *= 1 + 0.15 * (1 - math.cos(th)) / 2
    b = 1.0 + (sh["b1"] - 1.0) * math.exp(-R / 20.0)
    rise = min(sh["K_rise"] / max(P, 1e-3) + sh["turb"] * R, 6e-4)
    if kind == "suppressed_pistol":
        rise += sh["sup_rise"]
    parts = []  # (wave, t_rel_to_blast_s, path_m)
    t_blast = R / c
    parts.append(("blast", t_blast, R, P, T, rise))
    if kind == "revolver":
        parts.append(("gap", t_blast - sh["gap_lead"], R, P * 10 ** (sh["gap_db"] / 20), T * 0.35, rise))
    crack = None
    if sh["supersonic"] and kind != "suppressed_pistol":
        a = R * math.cos(th)
        bm = max(R * math.sin(th), 0.3)
        v0, k = sh["v0"], sh["drag"]
        xe = a
        Me = v0 / c
        for _ in range(4):
            v = max(v0 - k * max(xe, 0.0), 1.0)
            Me = v / c
            if Me <= 1.02:
                break
            xe = a - bm / math.sqrt(Me * Me - 1)
        if Me > 1.02 and xe >= 0:
            tf = -math.log(max(1 - k * xe / v0, 1e-6)) / k
            Lp = bm * Me / math.sqrt(Me * Me - 1)
            t_c = tf + Lp / c
            Pc = sh["P1"] * bm ** -0.75 * (float(np.exp(rng.normal(0, 0.05))) if jitter else 1.0)
            Tc = sh["T1"] * bm ** 0.25 * min(1.3, math.sqrt(Me / 2.5) + 0.5)
            crack = ("crack", t_c, Lp, Pc, Tc, min(sh["Kc"] / max(Pc, 1e-3), 3e-4))
            parts.append(crack)
    t_first = min(p[1] for p in parts)
    out = []
    for name, ta, path, pk, dur, rs in parts:
        off = ta - t_first
        k = int(math.floor(off * sr + 1e-9))
        frac = off * sr - k
        if name == "crack":
            x = n_wave_e(sr, pk, dur, rs, rear=sh["rear"], curve=sh["curve"], frac=frac)
        else:
            x = blast_waveform(sr, pk, dur, b, rs, frac=frac)
            if name == "blast":
                g = _gas(sr, rng, pk * 10 ** (sh["gas_db"] / 20), sh["gas_tau"])
                m = max(x.size, g.size)
                x = np.pad(x, (0, m - x.size)) + np.pad(g, (0, m - g.size))
        out.append((x, k, path))
    kb = int(math.floor((t_blast - t_first) * sr + 1e-9))
    if kind == "suppressed_pistol":
        out.append((_clatter(sr, rng, P * 10 ** (sh["clatter_db"] / 20)), kb + int(sh["clatter_delay"] * sr), R))
    elif kind in ("pistol", "rifle") and R < 3.0:
        pa = 20e-6 * 10 ** (sh["action_db"] / 20) / max(R, 0.2)
        out.append((_clatter(sr, rng, pa), kb + int(rng.uniform(0.03, 0.1) * sr), R))
    meta = {"crack": crack is not None, "blast_offset_s": (t_blast - t_first),
            "positive_phase_s": T, "overpressure_pa": P, "angle_deg": math.degrees(th), "distance_m": R,
            "crack_first": crack is not None and crack[1] < t_blast}
    return out, meta


# ----------------------------------------------------------------------------------------------
# backgrounds

def _pink(n: int, rng: np.random.Generator, slope: float = -1.0) -> np.ndarray:
    X = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(X.size, dtype=float)
    f[0] = 1.0
    X *= f ** (slope / 2)
    x = np.fft.irfft(X, n)
    return x / max(float(np.std(x)), 1e-12)


def _slow_env(n: int, sr: int, rng: np.random.Generator, rate_hz: float, depth_db: float) -> np.ndarray:
    m = max(4, int(n / sr * rate_hz * 4) + 4)
    pts = rng.standard_normal(m)
    e = np.interp(np.linspace(0, m - 1, n), np.arange(m), pts)
    return 10 ** (depth_db * np.tanh(e / 2) / 20)


def _bp(x, sr, f, q):
    w = 2 * math.pi * min(f, 0.45 * sr) / sr
    al = math.sin(w) / (2 * q)
    return signal.lfilter([al, 0, -al], [1 + al, -2 * math.cos(w), 1 - al], x)


def _voices(n: int, sr: int, rng: np.random.Generator, talkers: int) -> np.ndarray:
    y = np.zeros(n)
    groups = [np.zeros(n), np.zeros(n)]
    for i in range(talkers):
        f0 = float(rng.uniform(90.0, 240.0)) * _slow_env(n, sr, rng, 3.0, 1.5)
        ph = np.cumsum(f0) / sr
        src = 2 * (ph % 1.0) - 1
        syl = np.clip(_slow_env(n, sr, rng, float(rng.uniform(3.0, 6.0)), 25.0) - 1.5, 0, None)
        groups[i % 2] += src * syl * float(rng.uniform(0.3, 1.0))
    for g in groups:
        for f in (float(rng.uniform(400, 800)), float(rng.uniform(1000, 1800)), float(rng.uniform(2200, 3000))):
            y += _bp(g, sr, f, 4.0)
    y += 0.1 * _pink(n, rng) * np.std(y)
    return y


def render_background_e(kind: str, n: int, sr: int, rng: np.random.Generator, *,
                        level_db_spl: float | None = None) -> np.ndarray:
    """Background pressure (Pa) of ``kind`` (:data:`BACKGROUNDS_E`), ``n`` samples at ``sr``."""
    if kind not in BACKGROUNDS_E:
        raise ParameterError(f"unknown background {kind!r}; expected one of {BACKGROUNDS_E}")
    levels = {"none": (22.0, 32.0), "room_tone": (30.0, 45.0), "hvac": (42.0, 62.0),
              "traffic": (52.0, 75.0), "wind": (55.0, 88.0), "crowd": (52.0, 74.0), "rain": (48.0, 70.0),
              "siren": (55.0, 80.0), "radio": (52.0, 74.0)}
    if level_db_spl is None:
        level_db_spl = float(rng.uniform(*levels[kind]))
    t = np.arange(n) / sr
    if kind == "none":
        y = rng.standard_normal(n)
    elif kind == "room_tone":
        mains = float(rng.choice([50.0, 60.0]))
        y = _pink(n, rng) + sum(float(rng.uniform(0.0, 0.3)) / h * np.sin(2 * np.pi * mains * h * t)
                                for h in (1, 2, 3))
    elif kind == "hvac":
        blade = float(rng.uniform(20.0, 120.0))
        y = signal.lfilter(*signal.butter(2, float(rng.uniform(300.0, 1500.0)), fs=sr), _pink(n, rng, -1.3))
        y = y / max(float(np.std(y)), 1e-12)
        y += sum(float(rng.uniform(0.05, 0.4)) / h * np.sin(2 * np.pi * blade * h * t + rng.uniform(0, 6))
                 for h in (1, 2, 3, 4))
    elif kind == "traffic":
        y = signal.lfilter(*signal.butter(2, float(rng.uniform(200.0, 600.0)), fs=sr), _pink(n, rng, -1.5))
        y = y / max(float(np.std(y)), 1e-12) * _slow_env(n, sr, rng, 0.3, 4.0)
        for _ in range(int(rng.integers(0, 4))):
            tc = float(rng.uniform(0, n / sr))
            wd = float(rng.uniform(1.0, 3.0))
            env = np.exp(-0.5 * ((t - tc) / wd) ** 2)
            hiss = _bp(rng.standard_normal(n), sr, float(rng.uniform(600.0, 2000.0)), 0.7)
            y += env * hiss / max(float(np.std(hiss)), 1e-12) * float(rng.uniform(1.0, 3.0))
    elif kind == "wind":
        g = _slow_env(n, sr, rng, float(rng.uniform(0.5, 2.0)), 14.0)
        y = signal.lfilter(*signal.butter(2, float(rng.uniform(150.0, 500.0)), fs=sr), rng.standard_normal(n))
        y = y / max(float(np.std(y)), 1e-12) * g
    elif kind == "crowd":
        y = _voices(n, sr, rng, int(rng.integers(4, 13)))
    elif kind == "rain":
        rate = float(rng.uniform(200.0, 3000.0))
        imp = np.zeros(n)
        k = rng.integers(0, n, int(rate * n / sr))
        np.add.at(imp, k, rng.exponential(1.0, k.size) * rng.choice([-1, 1], k.size))
        drop = np.sin(2 * np.pi * float(rng.uniform(1500.0, 5000.0)) * np.arange(int(0.004 * sr)) / sr) \
            * np.exp(-np.arange(int(0.004 * sr)) / (0.0008 * sr))
        y = signal.oaconvolve(imp, drop)[:n]
        y = y / max(float(np.std(y)), 1e-12) + 0.5 * _pink(n, rng, -0.5)
    elif kind == "siren":
        per = float(rng.uniform(3.0, 6.0))
        f = 1000.0 + 400.0 * np.sin(2 * np.pi * t / per + rng.uniform(0, 6))
        ph = 2 * np.pi * np.cumsum(f) / sr
        y = np.sin(ph) + 0.4 * np.sin(3 * ph) + 0.2 * np.sin(5 * ph)
        y = signal.lfilter(*signal.butter(1, float(rng.uniform(1500.0, 4000.0)), fs=sr), y)
        y = y * _slow_env(n, sr, rng, 0.2, 3.0) + 0.1 * _pink(n, rng)
    else:  # radio: band-limited chatter with squelch
        v = _voices(n, sr, rng, 1)
        v = signal.sosfilt(signal.butter(4, [300.0, 3400.0], "bandpass", fs=sr, output="sos"),
                           v + 0.05 * np.std(v) * rng.standard_normal(n))
        key = np.zeros(n)
        pos = 0.0
        while pos < n / sr:
            on = float(rng.uniform(0.8, 3.0))
            key[int(pos * sr):int(min(pos + on, n / sr) * sr)] = 1.0
            pos += on + float(rng.uniform(0.3, 2.0))
        y = v * key
    y = y / max(float(np.sqrt(np.mean(y ** 2))), 1e-12)
    return y * 20e-6 * 10 ** (level_db_spl / 20)


# ----------------------------------------------------------------------------------------------
# scenes

def _train(rng: np.random.Generator, n: int, start: float, lo: float, hi: float, jit: float = 0.2) -> list[float]:
    base = float(rng.uniform(lo, hi))
    ts = [start]
    for _ in range(n - 1):
        ts.append(ts[-1] + max(MIN_SPACING_S, base * float(rng.uniform(1 - jit, 1 + jit))))
    return ts


def _mix(buf: np.ndarray, x: np.ndarray, k: int) -> None:
    if k >= buf.size:
        return
    if k < 0:
        x = x[-k:]
        k = 0
    m = min(x.size, buf.size - k)
    if m > 0:
        buf[k:k + m] += x[:m]


def _check_sr(sr) -> int:
    if not isinstance(sr, (int, np.integer)) or isinstance(sr, bool) or not 16000 <= int(sr) <= 192000:
        raise ParameterError(f"sr must be an integer render rate of 16000..192000 Hz; got {sr!r}")
    return int(sr)


def _draw_distance(rng: np.random.Generator, env: dict[str, Any]) -> tuple[float, bool]:
    dmax = _max_distance(env)
    if rng.random() < 0.15:
        return float(rng.uniform(0.2, 1.0)), True
    return float(np.exp(rng.uniform(np.log(1.0), np.log(dmax)))), False


def render_scene_e(rng: np.random.Generator, *, duration_s: float | None = None, sr: int = 48000,
                   n_shots: int | None = None, kind: str | None = None, layout: str | None = None,
                   distance_m: float | None = None, environment: str | None = None,
                   background: str | None = None, distractors: Sequence[str] | bool | None = None,
                   chain: dict[str, Any] | bool | None = None
                   ) -> tuple[np.ndarray, int, dict[str, Any]]:
    """A family-e scene: shots, background and distractors through a family-e chain.

    Parameters
    ----------
    rng : np.random.Generator
        All randomness; the same seed gives the same output bytes.
    duration_s : float or None
        Length (s). None: 3 to 8 s (0.3 to 2 s for a library clip), long enough for the shots.
    sr : int
        Rendering rate (Hz, 16 to 192 kHz); the output rate is the chain's.
    n_shots : int or None
        Shots (0 gives a scene without gunfire). None: set by the layout. With a layout of
        fixed count (single, library_clip: 1; double_tap: 2) a different count is an error.
    kind : str or None
        Weapon of every shooter (:data:`WEAPONS_E`); None draws per shooter.
    layout : str or None
        ``single``; ``double_tap`` (60 to 250 ms); ``volley`` (2 to 20 shots, 0.12 to 1 s
        apart); ``rapid_fire`` (5 to 20 shots at 8 to 12 rounds/s); ``two_shooters``
        (interleaved trains at distances 2 to 8 times apart); ``library_clip`` (one shot
        10 to 250 ms into a 0.3 to 2 s clip); ``faint`` (1 to 3 shots peaking 37 to 43 dB
        below full scale, no upward gain); ``release_tail`` (a loud close shot or bump, then
        1 to 3 distant shots inside the gain control's release). None draws one.
    distance_m : float or None
        First shooter's distance (0.2 to 150 m); None draws one.
    environment : str or None
        :data:`ENVIRONMENTS_E`; None draws one.
    background : str or None
        :data:`BACKGROUNDS_E`; None draws one.
    distractors : sequence of str, bool or None
        Distractor kinds (:data:`sample_media.distractors_e.KINDS_E`) to mix in; None: one
        or two in 30 % of scenes; False: none.
    chain : dict, bool or None
        A :func:`sample_media.chains_e.random_chain_e` spec; None draws one; False returns the
        dry pressure mix divided by 20 Pa at ``sr`` (no chain at all).

    Returns
    -------
    y : np.ndarray
        float32 mono, full scale 1.0, at ``sr_out``.
    sr_out : int
        Output rate.
    truth : dict
        ``family`` ("e"), ``shots`` (``time_s`` first arrival, ``kind``, ``distance_m``,
        ``shooter``, ``crack``, ``crack_first``, ``blast_s``, ``positive_phase_s``,
        ``overpressure_pa``, ``angle_deg``, ``peak_dbfs`` -- the dry direct peak re full
        scale, ``in_release_tail``), ``distractors`` (``time_s``, ``kind``, ``end_s``,
        ``onsets_s``, ``peak_dbfs``), ``chain``, ``env``, ``layout``, ``background``,
        ``duration_s``, ``sr_render``.
    """
    sr = _check_sr(sr)
    if kind is not None and kind not in WEAPONS_E:
        raise ParameterError(f"unknown weapon kind {kind!r}; expected one of {WEAPONS_E}")
    if layout is not None and layout not in LAYOUTS_E:
        raise ParameterError(f"unknown layout {layout!r}; expected one of {LAYOUTS_E}")
    if n_shots is not None and (isinstance(n_shots, bool) or not 0 <= int(n_shots) <= 40):
        raise ParameterError(f"n_shots must be 0..40; got {n_shots!r}")
    if distance_m is not None and not 0.2 <= float(distance_m) <= 150.0:
        raise ParameterError(f"distance_m must be 0.2..150 m; got {distance_m}")
    if background is not None and background not in BACKGROUNDS_E:
        raise ParameterError(f"unknown background {background!r}; expected one of {BACKGROUNDS_E}")
    if duration_s is not None and not 0.2 <= float(duration_s) <= 120.0:
        raise ParameterError(f"duration_s must be 0.2..120 s; got {duration_s}")
    if distractors not in (None, False, True):
        if isinstance(distractors, str):
            raise ParameterError("distractors must be a sequence of kinds, not a string")
        for dkind in distractors:
            if dkind not in KINDS_E:
                raise ParameterError(f"unknown distractor kind {dkind!r}; expected one of {KINDS_E}")
    if layout is not None and n_shots is not None:
        fixed = {"single": 1, "library_clip": 1, "double_tap": 2}.get(layout)
        if (fixed is not None and int(n_shots) != fixed) or int(n_shots) == 0:
            raise ParameterError(f"layout {layout!r} cannot have n_shots={n_shots}")
    if n_shots == 0:
        layout = None
    elif layout is None:
        if n_shots == 1:
            layout = str(rng.choice(["single", "library_clip", "faint"], p=[0.7, 0.2, 0.1]))
        elif n_shots == 2:
            layout = str(rng.choice(["double_tap", "volley"]))
        elif n_shots is not None:
            layout = str(rng.choice(["volley", "rapid_fire", "two_shooters"]))
        else:
            layout = str(LAYOUTS_E[int(rng.choice(len(LAYOUTS_E), p=[0.2, 0.14, 0.16, 0.1, 0.12, 0.12, 0.08, 0.08]))])
    env = _random_env(rng, environment)
    c = _c_air(env["temp_c"])

    # ---- chain
    if chain is None:
        if layout == "library_clip":
            spec = chains_e.random_chain_e(rng, sr_out=int(rng.choice([44100, 48000, 32000, 22050])),
                                           gain="fixed", noise_suppression=False)
        elif layout == "faint":
            spec = chains_e.random_chain_e(rng, gain="fixed", noise_suppression=False)
            spec["gain"]["makeup_db"] = 0.0
        elif layout == "release_tail":
            spec = chains_e.random_chain_e(rng, gain=str(rng.choice(["limiter", "phone_agc"])))
            spec["gain"]["release_s"] = float(rng.uniform(0.4, 2.5))
        else:
            spec = chains_e.random_chain_e(rng)
    elif chain is False:
        spec = None
    elif isinstance(chain, dict):
        spec = dict(chain)
        chains_e._validate(spec)
    else:
        raise ParameterError("chain must be a spec dict, None (random) or False (dry)")
    fs_pa = float(spec["full_scale_pa"]) if spec else 20.0

    # ---- shooters and shot times
    own0 = False
    if distance_m is None:
        d0, own0 = _draw_distance(rng, env)
        if layout == "release_tail":
            d0, own0 = float(rng.uniform(0.3, 4.0)), True
    else:
        d0 = float(distance_m)
    d0 = min(d0, _max_distance(env))
    if layout in ("two_shooters", "release_tail"):
        ratio = float(np.exp(rng.uniform(np.log(2.0), np.log(8.0))))
        d1 = d0 * ratio if (d0 * ratio <= _max_distance(env) and rng.random() < 0.7) or layout == "release_tail" \
            else d0 / ratio
        d1 = float(np.clip(d1, 0.5, min(150.0, _max_distance(env))))
        if layout == "release_tail":
            d1 = float(np.clip(max(d1, 15.0), 0.5, _max_distance(env)))
    else:
        d1 = None
    kinds = [kind or str(WEAPONS_E[int(rng.choice(5, p=[0.35, 0.12, 0.28, 0.15, 0.10]))]) for _ in range(2)]
    shooters = [_shooter(rng, kinds[0], d0, env, c, sr, own=own0)]
    if d1 is not None:
        shooters.append(_shooter(rng, kinds[1], d1, env, c, sr))
    start = float(rng.uniform(0.2, 1.2))
    times: list[tuple[float, int]] = []
    tail_flags: set[int] = set()
    if layout == "single":
        times = [(start, 0)]
    elif layout == "library_clip":
        times = [(float(rng.uniform(0.01, 0.25)), 0)]
    elif layout == "faint":
        m = int(n_shots) if n_shots is not None else int(rng.integers(1, 4))
        times = [(t, 0) for t in _train(rng, m, start, 0.1, 0.8)]
    elif layout == "double_tap":
        times = [(t, 0) for t in _train(rng, 2, start, 0.06, 0.25, 0.0)]
    elif layout == "volley":
        m = int(n_shots) if n_shots is not None else int(rng.integers(2, 21))
        hi = min(1.0, max(0.12, (6.0 - start) / max(m - 1, 1) / 1.2))
        times = [(t, 0) for t in _train(rng, m, start, min(0.12, hi), hi)]
    elif layout == "rapid_fire":
        m = int(n_shots) if n_shots is not None else int(rng.integers(5, 21))
        times = [(t, 0) for t in _train(rng, m, start, 1 / 12.0, 1 / 8.0, 0.05)]
    elif layout == "two_shooters":
        m = int(n_shots) if n_shots is not None else int(rng.integers(3, 21))
        m0 = int(rng.integers(1, m)) if m > 1 else 1
        a = _train(rng, m0, start, 0.1, max(0.1, min(1.0, (6.0 - start) / 1.2 / max(m0, 1))))
        b0 = start + float(rng.uniform(-0.1, 1.5))
        b = _train(rng, max(m - m0, 1), b0, 0.1, max(0.1, min(1.0, (6.0 - b0) / 1.2 / max(m - m0, 1))))
        merged = sorted([(t, 0) for t in a] + [(max(t, 0.05), 1) for t in b])
        times = []
        for t, s in merged:  # keep first arrivals at least 60 ms apart: drop the clashing shot
            if not times or t - times[-1][0] >= MIN_SPACING_S:
                times.append((t, s))
    elif layout == "release_tail":
        m = int(n_shots) if n_shots is not None else int(rng.integers(2, 5))
        rel = float(spec["gain"].get("release_s", 1.0)) if spec else 1.0
        times = [(start, 0)]
        t = start
        for _ in range(m - 1):
            t += float(rng.uniform(0.08, max(0.1, 0.5 * rel / max(m - 1, 1))))
            times.append((t, 1))
        tail_flags = set(range(1, len(times)))
    if duration_s is None and layout != "library_clip":
        times = [(t, s) for t, s in times if t <= 7.2]  # a scene is at most 8 s
    last = max((t for t, _ in times), default=0.0)
    if duration_s is None:
        if layout == "library_clip":
            duration_s = float(rng.uniform(max(0.3, last + 0.15), 2.0))
        else:
            duration_s = max(float(rng.uniform(3.0, 8.0)), last + 0.8)
    duration_s = float(duration_s)
    n = int(round(duration_s * sr))
    times = [(t, s) for t, s in times if t < duration_s - 0.05]
    bump_at = None
    if layout == "release_tail" and rng.random() < 0.4:
        # the loud event is a bump on the camera instead of the close shot
        bump_at = times[0][0]
        times = [(t, s) for t, s in times if s == 1]
        tail_flags = set(range(len(times)))

    # ---- shots
    shot_bus = np.zeros(n)
    send = np.zeros(n)
    g_send = _send_gain(env)
    shots_truth = []
    for i, (t0, s) in enumerate(times):
        sh = shooters[s]
        parts, meta = _shot_parts(sh, sr, rng, c)
        k0 = int(round(t0 * sr))
        one = np.zeros(max(x.size + k for x, k, _ in parts) + sh["fir"].size)
        for x, k, path in parts:
            xa = air_lowpass(x, sr, path, env["temp_c"], env["rh"])
            _mix(one, signal.oaconvolve(xa, sh["fir"]) if sh["fir"].size > 1 else xa, k)
            if g_send:
                _mix(send, air_lowpass(x, sr, 20.0) * path * g_send, k0 + k)
        direct_len = max(x.size + k for x, k, _ in parts)
        pk = float(np.max(np.abs(one[:direct_len + 64])))
        _mix(shot_bus, one, k0)
        shots_truth.append({"time_s": k0 / sr, "kind": sh["kind"], "distance_m": meta["distance_m"],
                            "shooter": s, "crack": meta["crack"], "crack_first": meta["crack_first"],
                            "blast_s": k0 / sr + meta["blast_offset_s"],
                            "positive_phase_s": meta["positive_phase_s"],
                            "overpressure_pa": meta["overpressure_pa"], "angle_deg": meta["angle_deg"],
                            "peak_pa": pk, "in_release_tail": i in tail_flags})
    if layout == "library_clip" and shots_truth and chain is None:
        # a sound library sets its gain for the shot: the peak 0 to 10 dB under full scale
        spec["full_scale_pa"] = fs_pa = float(max(s["peak_pa"] for s in shots_truth)
                                              * 10 ** (rng.uniform(0.0, 10.0) / 20))
    if layout == "faint" and shots_truth:
        target = float(rng.uniform(-43.0, -37.0))
        pk = max(s["peak_pa"] for s in shots_truth)
        g = fs_pa * 10 ** (target / 20) / max(pk, 1e-12)
        shot_bus *= g
        send *= g
        for s in shots_truth:
            s["peak_pa"] *= g
    for s in shots_truth:
        s["peak_dbfs"] = 20 * math.log10(max(s.pop("peak_pa"), 1e-12) / fs_pa)

    # ---- distractors
    if distractors is None:
        dk = [str(KINDS_E[int(i)]) for i in rng.choice(len(KINDS_E), int(rng.integers(1, 3)))] \
            if (rng.random() < 0.3 and layout not in ("library_clip", "faint")) else []
    elif distractors is False or distractors is True:
        dk = [str(KINDS_E[int(i)]) for i in rng.choice(len(KINDS_E), int(rng.integers(1, 3)))] if distractors else []
    else:
        dk = [str(k) for k in distractors]
    if bump_at is not None:
        dk = ["vest_bump"] + dk
    dis_bus = np.zeros(n)
    dis_truth = []
    shot_t = np.array([s["time_s"] for s in shots_truth])
    dist_fir = None
    for j, dkind in enumerate(dk):
        ev, ons, pk_db = render_distractor_e(dkind, sr, rng, return_onsets=True,
                                             peak_dbfs=float(rng.uniform(3.0, 12.0)) if (bump_at is not None and j == 0) else None)
        ev = ev.astype(np.float64) * fs_pa
        if bump_at is not None and j == 0:
            td = bump_at
        else:
            td = 0.05
            for _ in range(30):
                td = float(rng.uniform(0.05, max(0.06, duration_s - 0.3)))
                if shot_t.size == 0 or np.min(np.abs(shot_t - td)) > 0.05:
                    break
        k0 = int(round(td * sr))
        if k0 >= n:
            continue
        if dkind in ON_MIC_E:
            _mix(dis_bus, ev, k0)
        else:
            if dist_fir is None:
                dd = float(min(rng.uniform(1.5, 12.0), _max_distance(env)))
                src, mic, dd = _geometry(rng, env, dd)
                dist_fir = (_path_fir(sr, env, src, mic, c), dd)
            _mix(dis_bus, signal.oaconvolve(ev, dist_fir[0]), k0)
            if g_send:
                _mix(send, ev * dist_fir[1] * g_send, k0)
        dis_truth.append({"time_s": k0 / sr, "kind": dkind, "end_s": min(duration_s, (k0 + ev.size) / sr),
                          "onsets_s": [k0 / sr + o for o in ons if k0 / sr + o < duration_s],
                          "peak_dbfs": pk_db})
    dis_truth.sort(key=lambda e: e["time_s"])

    # ---- late tail, background
    mix = shot_bus + dis_bus
    if g_send and np.any(send):
        t60 = float(env["t60_s"])
        ir = fdn_ir(sr, rng, t60, env["hf_ratio"], _mean_delay(env), min(1.3 * t60, 2.5))
        nz = np.flatnonzero(send)
        a0 = int(nz[0])
        mix[a0:] += signal.oaconvolve(send[a0:], ir)[:n - a0]
    if background is None:
        if layout in ("library_clip", "faint"):
            background = str(rng.choice(["none", "room_tone", "hvac"]))
        else:
            background = str(BACKGROUNDS_E[int(rng.choice(len(BACKGROUNDS_E),
                                                          p=[0.05, 0.12, 0.12, 0.15, 0.12, 0.14, 0.1, 0.1, 0.1]))])
    lvl = None
    if layout == "faint":
        lvl = 20 * math.log10(fs_pa / 20e-6) - float(rng.uniform(70.0, 95.0))
    mix += render_background_e(background, n, sr, rng, level_db_spl=lvl)

    if spec is None:
        y_out, sr_out = (mix / 20.0).astype(np.float32), sr
    else:
        y_out, sr_out = chains_e.apply_chain_e(mix, sr, spec)
    env_out = {k: v for k, v in env.items()}
    truth = {"family": "e", "shots": shots_truth, "distractors": dis_truth, "chain": spec, "env": env_out,
             "layout": layout, "background": background, "duration_s": duration_s, "sr_render": sr}
    return y_out, int(sr_out), truth
