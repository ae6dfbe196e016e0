"""Family-b synthetic gunfire: independent models, for training and testing a learned detector.

Nothing here comes from family a (:mod:`sample_media.gunshot`); the models are:

* **Muzzle blast** (:func:`muzzle_blast_b`) -- a shock front with a finite rise time (5 to
  40 us) followed by a power-law decay ``(1 - t/T)^k`` over the positive phase ``T``
  (0.3 to 3 ms), then a half-sine-power negative phase 1.8 to 4.5 times longer whose impulse
  nearly cancels the positive one (a far-field acoustic pulse carries almost no net
  impulse). The waveform is integrated over each sample (box-filtered from a 4x finer grid),
  so the first sample already carries the front and nothing precedes it.
* **Turbulent jet** -- band-limited noise with a gamma envelope over the first few ms;
  rifles and shotguns sometimes add a weaker secondary pulse (muzzle flash) 1 to 6 ms later.
* **Directivity** -- the blast is 3 to 6 dB louder down range than to the side and as much
  quieter behind, and its positive phase a little longer behind.
* **Ballistic crack** (supersonic bullets: rifles, some pistol loads) -- a Whitham N-wave
  whose peak ``0.53 p0 (M^2-1)^(1/8) d / (b^(3/4) l^(1/4))`` and duration
  ``1.82 M b^(1/4) d / (c (M^2-1)^(3/8) l^(1/4))`` follow the miss distance ``b``, bullet
  Mach number ``M``, calibre ``d`` and length ``l``. It is heard only inside the Mach cone
  (down range); it is emitted from the trajectory point whose shock normal reaches the
  microphone, so it arrives *before* the blast by a delay set by the geometry.
* **Mechanical action** -- slide or bolt clicks 40 to 120 ms after a semi-automatic shot,
  a pump 0.3 to 0.8 s after a pump-action one, optionally the casing tinkling on the ground
  0.3 to 0.6 s later; 40 to 80 dB weaker than the blast.
* **Propagation** -- each component through :func:`sample_media.chains.direct_path`
  over its own path (the crack's is shorter than the blast's), plus one shared reverberant
  tail; then the rest of the chain (:func:`sample_media.chains.apply_chain`).

Units: full scale (1.0) is 20 Pa (120 dB SPL peak, a typical body-cam MEMS microphone), so a
pistol blast is near +35 dBFS at 1 m and clips any camera closer than ~50 m before AGC.

Truth onsets are the first sample of the first arrival (the crack for a rifle heard down
range, the blast otherwise); the chain never shifts them.

Example
-------
>>> import numpy as np
>>> y, sr_out, truth = render_scene_b(np.random.default_rng(0), layout="double_tap")
>>> len(truth["shots"])
2
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from media_core.errors import ParameterError
from sample_media import chains
from sample_media.distractors_b import KINDS_B, ON_MIC_B, band_noise, modal_hit, render_distractor_b

__all__ = [
    "KINDS",
    "LAYOUTS",
    "BACKGROUNDS_B",
    "FULL_SCALE_PA",
    "MIN_SPACING_S",
    "muzzle_blast_b",
    "n_wave",
    "crack_geometry",
    "render_shot_b",
    "render_background_b",
    "render_scene_b",
]

#: Weapon kinds of family b.
KINDS = ("pistol", "rifle", "shotgun")
#: Scene layouts of :func:`render_scene_b`.
LAYOUTS = ("single", "double_tap", "volley", "two_shooters", "library_clip")
#: Backgrounds of :func:`render_background_b`.
BACKGROUNDS_B = ("none", "room", "traffic", "wind", "babble", "car")
#: Pressure (Pa) of digital full scale.
FULL_SCALE_PA = 20.0
#: No two shots of a scene are closer than this (s).
MIN_SPACING_S = 0.060

_P0 = 101325.0
_C = chains.SPEED_OF_SOUND

# per kind: positive phase (ms), peak SPL at 1 m to the side (dB), blast shape exponent,
# negative/positive duration ratio, jet decay (ms), bullet speed (m/s), calibre and bullet
# length (m), actions and their probabilities
_WEAPONS: dict[str, dict[str, Any]] = {
    "pistol": {"T_ms": (0.3, 1.0), "spl": (150.0, 160.0), "k": (1.3, 2.2), "neg": (2.0, 4.0),
               "jet_ms": (0.3, 1.2), "v": (260.0, 420.0), "d": (0.009, 0.0115), "l": (0.014, 0.018),
               "actions": (("semi", 0.85), ("revolver", 0.15)), "flash": 0.1},
    "rifle": {"T_ms": (0.6, 2.0), "spl": (156.0, 168.0), "k": (1.4, 2.6), "neg": (2.0, 4.5),
              "jet_ms": (0.6, 2.5), "v": (700.0, 980.0), "d": (0.0056, 0.0078), "l": (0.023, 0.032),
              "actions": (("semi", 0.8), ("bolt", 0.2)), "flash": 0.35},
    "shotgun": {"T_ms": (1.2, 3.0), "spl": (152.0, 164.0), "k": (1.1, 1.8), "neg": (1.8, 3.5),
                "jet_ms": (1.5, 5.0), "v": None, "d": None, "l": None,
                "actions": (("pump", 0.6), ("semi", 0.4)), "flash": 0.35},
}


def _check_sr(sr) -> int:
    if not isinstance(sr, (int, np.integer)) or sr < 4000:
        raise ParameterError(f"sr must be an integer sample rate >= 4000 Hz; got {sr!r}")
    return int(sr)


def _pa(db_spl: float) -> float:
    return 20e-6 * 10.0 ** (db_spl / 20.0)


def _boxed(fn, n: int, sr: int, os: int = 4) -> np.ndarray:
    """``fn(t)`` averaged over each sample period [k/sr, (k+1)/sr) from an ``os``-times grid."""
    t = (np.arange(n * os) + 0.5) / (sr * os)
    return fn(t).reshape(n, os).mean(axis=1)


# ----------------------------------------------------------------------------- waveforms

def muzzle_blast_b(sr: int, positive_phase_s: float, *, shape_k: float = 1.8,
                   neg_ratio: float = 3.0, neg_balance: float = 0.95, neg_shape: float = 1.0,
                   rise_s: float = 20e-6) -> np.ndarray:
    """Family-b muzzle-blast pulse, peak about 1, starting at sample 0.

    ``p(t) = (1 - exp(-t / rise_s)) (1 - t/T)^k`` for ``0 <= t < T``, then
    ``-A sin(pi u)^q`` for ``u = (t - T) / (neg_ratio T)`` in [0, 1), with ``A`` such that
    the negative impulse is ``neg_balance`` times the positive one.

    Parameters
    ----------
    sr : int
        Sample rate (Hz).
    positive_phase_s : float
        Positive phase ``T`` (s), 0.1 to 5 ms.
    shape_k : float
        Decay exponent ``k`` of the positive phase (larger: more peaked).
    neg_ratio : float
        Negative-phase duration over ``T``.
    neg_balance : float
        Negative impulse over positive impulse (0..1).
    neg_shape : float
        Exponent ``q`` of the negative lobe.
    rise_s : float
        Shock rise time constant (s).

    Returns
    -------
    np.ndarray, shape (n,)
        float64, ``n`` covering both phases and 1 ms more.
    """
    sr = _check_sr(sr)
    T = float(positive_phase_s)
    if not 1e-4 <= T <= 5e-3:
        raise ParameterError(f"positive_phase_s must be 0.1..5 ms; got {T * 1e3:.3f} ms")
    tn = neg_ratio * T
    q = float(neg_shape)
    u = (np.arange(4000) + 0.5) / 4000
    lobe_area = float(np.mean(np.sin(np.pi * u) ** q)) * tn
    pos_area = float(np.mean((1.0 - np.exp(-u * T / rise_s)) * (1.0 - u) ** shape_k)) * T
    amp = neg_balance * pos_area / max(lobe_area, 1e-12)

    def p(t):
        x = t / T
        pos = np.where(x < 1.0, (1.0 - np.exp(-t / rise_s)) * np.clip(1.0 - x, 0, 1) ** shape_k, 0.0)
        v = (t - T) / tn
        neg = np.where((v >= 0) & (v < 1), -amp * np.abs(np.sin(np.pi * v)) ** q, 0.0)
        return pos + neg

    n = int(math.ceil((T + tn + 1e-3) * sr))
    y = _boxed(p, n, sr)
    return y / max(float(y.max()), 1e-12)


def n_wave(sr: int, duration_s: float, *, rise_s: float = 5e-6) -> np.ndarray:
    """Ballistic N-wave: +1 jumping in, a linear fall to -1 over ``duration_s``, back to 0.

    Integrated over each sample; starts at sample 0.
    """
    sr = _check_sr(sr)
    D = float(duration_s)

    def p(t):
        lin = 1.0 - 2.0 * t / D
        front = 1.0 - np.exp(-t / rise_s)
        return np.where(t < D, front * lin, 0.0)

    n = int(math.ceil((D + 2e-4) * sr)) + 1
    return _boxed(p, n, sr, os=8)


def crack_geometry(distance_m: float, angle_deg: float, speed_mps: float, *,
                   calibre_m: float = 0.0057, length_m: float = 0.023,
                   min_miss_m: float = 0.5) -> dict[str, Any] | None:
    """Where and when a supersonic bullet's shock reaches a microphone.

    The shooter is at the origin firing along +x; the microphone is ``distance_m`` away at
    ``angle_deg`` from the line of fire. The shock reaching the microphone left the
    trajectory at ``x_e = x - b / sqrt(M^2 - 1)`` (``b`` the miss distance).

    Returns
    -------
    dict or None
        None when the bullet is subsonic or the microphone is outside the Mach cone;
        otherwise ``lead_s`` (crack before blast), ``path_m`` (emission point to
        microphone), ``miss_m``, ``mach``, ``peak_pa`` and ``duration_s`` (Whitham).
    """
    M = speed_mps / _C
    if M <= 1.02:
        return None
    th = math.radians(angle_deg)
    x, b = distance_m * math.cos(th), max(distance_m * math.sin(th), min_miss_m)
    s = math.sqrt(M * M - 1.0)
    xe = x - b / s
    if xe <= 0:
        return None
    path = math.hypot(x - xe, b)
    t_crack = xe / speed_mps + path / _C
    lead = math.hypot(x, b) / _C - t_crack
    if lead <= 0:
        return None
    peak = 0.53 * _P0 * (M * M - 1.0) ** 0.125 * calibre_m / (b ** 0.75 * length_m ** 0.25)
    dur = 1.82 * M * b ** 0.25 * calibre_m / (_C * (M * M - 1.0) ** 0.375 * length_m ** 0.25)
    return {"lead_s": lead, "path_m": path, "miss_m": b, "mach": M, "peak_pa": peak,
            "duration_s": dur}


def _click(sr: int, rng: np.random.Generator, lo: float, hi: float, decay=(0.0005, 0.003),
           n_modes: int = 5) -> np.ndarray:
    m = int(0.03 * sr)
    return modal_hit(m, sr, rng, rng.uniform(lo, hi, n_modes), rng.uniform(*decay, n_modes))


def _shot_components(kind: str, sr: int, rng: np.random.Generator, *, distance_m: float,
                     angle_deg: float | None, level_db: float | None,
                     positive_phase_s: float | None, action: str | None,
                     casing: bool | None, speed_mps: float | None = None):
    """Components ``(signal at 1 m equivalent, start sample, path m)`` and meta of one shot."""
    if kind not in _WEAPONS:
        raise ParameterError(f"unknown weapon kind {kind!r}; expected one of {KINDS}")
    if not 0.05 <= float(distance_m) <= 2000.0:
        raise ParameterError(f"distance_m must be 0.05..2000 m; got {distance_m}")
    w = _WEAPONS[kind]
    ang = float(rng.uniform(0.0, 180.0) if angle_deg is None else angle_deg)
    cth = math.cos(math.radians(ang))
    T = float(rng.uniform(*w["T_ms"]) * 1e-3 if positive_phase_s is None else positive_phase_s)
    T_here = min(T * (1.0 + 0.15 * (1.0 - cth) / 2.0), max(T, 3e-3))  # duller behind
    spl = float(rng.uniform(*w["spl"]) if level_db is None else level_db)
    spl += float(rng.uniform(3.0, 6.0)) * cth  # directivity
    A = _pa(spl) / FULL_SCALE_PA
    blast = muzzle_blast_b(sr, T_here, shape_k=float(rng.uniform(*w["k"])),
                           neg_ratio=float(rng.uniform(*w["neg"])),
                           neg_balance=float(rng.uniform(0.85, 1.0)),
                           neg_shape=float(rng.uniform(0.6, 1.5)),
                           rise_s=float(rng.uniform(5e-6, 40e-6)))
    n_b = blast.size + int(0.02 * sr)
    body = np.zeros(n_b)
    body[: blast.size] = blast
    tau = float(rng.uniform(*w["jet_ms"])) * 1e-3
    t = np.arange(n_b) / sr
    jet = band_noise(n_b, sr, rng, float(rng.uniform(200, 800)), float(rng.uniform(3000, 10000)))
    jet *= (t / tau) * np.exp(1.0 - t / tau)
    body += float(rng.uniform(0.08, 0.25)) * jet / max(float(np.std(jet[: int(3 * tau * sr) + 2])), 1e-9) / 3
    if rng.random() < w["flash"]:
        k = int(rng.uniform(0.001, 0.006) * sr)
        fl = muzzle_blast_b(sr, min(T * rng.uniform(1.0, 2.0), 4.9e-3), shape_k=1.5)
        m = min(fl.size, n_b - k)
        body[k:k + m] += float(rng.uniform(0.1, 0.35)) * fl[:m]
    body *= A / max(float(np.max(np.abs(body))), 1e-12)

    parts: list[tuple[np.ndarray, int, float]] = []
    meta: dict[str, Any] = {"kind": kind, "distance_m": float(distance_m), "angle_deg": ang,
                            "positive_phase_s": T_here, "blast_peak_db_spl_1m": spl, "crack": False,
                            "crack_lead_s": 0.0}
    crack = None
    if w["v"] is not None:
        v = float(rng.uniform(*w["v"]) if speed_mps is None else speed_mps)
        crack = crack_geometry(float(distance_m), ang, v, calibre_m=float(rng.uniform(*w["d"])),
                               length_m=float(rng.uniform(*w["l"])))
        meta["speed_mps"] = v
    lead_k = 0
    if crack is not None:
        lead_k = int(round(crack["lead_s"] * sr))
        nw = n_wave(sr, crack["duration_s"])
        pk = crack["peak_pa"] / FULL_SCALE_PA * crack["path_m"]  # 1 m equivalent
        parts.append((nw * pk, 0, crack["path_m"]))
        meta.update(crack=True, crack_lead_s=lead_k / sr, crack_path_m=crack["path_m"],
                    crack_peak_pa=crack["peak_pa"], crack_duration_s=crack["duration_s"])
    parts.append((body, lead_k, float(distance_m)))

    # mechanical action (at the shooter, so over the blast's path)
    acts, probs = zip(*w["actions"])
    act = str(rng.choice(acts, p=probs) if action is None else action)
    meta["action"] = act
    click_a = _pa(float(rng.uniform(100.0, 116.0))) / FULL_SCALE_PA
    if act == "semi":
        k1 = lead_k + int(rng.uniform(0.040, 0.120) * sr)
        k2 = k1 + int(rng.uniform(0.008, 0.025) * sr)
        parts.append((click_a * _click(sr, rng, 1500, 9000), k1, float(distance_m)))
        parts.append((click_a * rng.uniform(0.5, 1.0) * _click(sr, rng, 1200, 7000), k2, float(distance_m)))
    elif act in ("pump", "bolt"):
        k1 = lead_k + int(rng.uniform(0.3, 0.8) * sr)
        k2 = k1 + int(rng.uniform(0.1, 0.25) * sr)
        amp = click_a * (2.0 if act == "pump" else 1.0)
        parts.append((amp * _click(sr, rng, 400, 4000, (0.002, 0.01)), k1, float(distance_m)))
        parts.append((amp * _click(sr, rng, 400, 4000, (0.002, 0.01)), k2, float(distance_m)))
    if casing is None:
        casing = act == "semi" and bool(rng.random() < 0.5)
    meta["casing"] = bool(casing)
    if casing:
        tk = lead_k + int(rng.uniform(0.3, 0.6) * sr)
        amp = _pa(float(rng.uniform(72.0, 90.0))) / FULL_SCALE_PA
        gap = rng.uniform(0.05, 0.12)
        for _ in range(int(rng.integers(2, 6))):
            m = int(0.06 * sr)
            ring = modal_hit(m, sr, rng, rng.uniform(4000, 14000, 4), rng.uniform(0.005, 0.03, 4))
            parts.append((amp * ring, tk, float(distance_m)))
            tk += int(gap * sr)
            gap *= rng.uniform(0.5, 0.7)
            amp *= rng.uniform(0.3, 0.7)
    meta["blast_offset_s"] = lead_k / sr
    return parts, meta


def _assemble(parts, sr: int, render) -> np.ndarray:
    n = max(k + x.size for x, k, _ in parts)
    out = np.zeros(n)
    for x, k, path in parts:
        y = render(x, path)
        out[k:k + y.size] += y
    return out


def render_shot_b(kind: str, sr: int, rng: np.random.Generator, *, distance_m: float = 10.0,
                  angle_deg: float | None = None, level_db: float | None = None,
                  positive_phase_s: float | None = None, action: str | None = None,
                  casing: bool | None = None, speed_mps: float | None = None,
                  at_mic: bool = True, return_meta: bool = False):
    """One dry family-b shot, its first arrival at sample 0.

    Parameters
    ----------
    kind : {"pistol", "rifle", "shotgun"}
        Weapon.
    sr : int
        Sample rate (Hz).
    rng : np.random.Generator
        Randomness.
    distance_m : float
        Muzzle-microphone distance (m), 0.05 to 2000.
    angle_deg : float or None
        Angle between the line of fire and the microphone (0 = down range); None draws
        0..180. Decides directivity and whether a crack is heard.
    level_db : float or None
        Blast peak at 1 m to the side (dB SPL); None draws the kind's range.
    positive_phase_s : float or None
        Blast positive phase (s); None draws the kind's range (pistol 0.3-1, rifle 0.6-2,
        shotgun 1.2-3 ms).
    action : {"semi", "revolver", "bolt", "pump"} or None
        Mechanical action; None draws one that fits the kind.
    casing : bool or None
        Casing tinkle; None: half of the semi-automatic shots.
    speed_mps : float or None
        Bullet speed; None draws the kind's range (shotguns: none).
    at_mic : bool
        True: as it reaches the microphone -- spherical spreading and air absorption over
        each component's path (no ground, reverb or chain). False: the source at 1 m (full
        scale = 20 Pa), the crack scaled so that propagating the whole by ``distance_m``
        (e.g. with :func:`sample_media.chains.propagate`) gives it its right level.
    return_meta : bool
        Also return a dict: ``positive_phase_s``, ``crack``, ``crack_lead_s`` (blast delay
        after the crack), ``action``, ``casing``, ...

    Returns
    -------
    np.ndarray
        float32; with ``return_meta`` a tuple ``(y, meta)``.
    """
    sr = _check_sr(sr)
    parts, meta = _shot_components(kind, sr, rng, distance_m=distance_m, angle_deg=angle_deg,
                                   level_db=level_db, positive_phase_s=positive_phase_s,
                                   action=action, casing=casing, speed_mps=speed_mps)
    d = float(distance_m)
    if at_mic:
        y = _assemble(parts, sr, lambda x, path: chains.direct_path(x, sr, path))
    else:
        y = _assemble(parts, sr, lambda x, path: x * (path / d))
    y = y.astype(np.float32)
    return (y, meta) if return_meta else y


# ---------------------------------------------------------------------------- backgrounds

def _shaped(n: int, sr: int, rng: np.random.Generator, slope_db_oct: float, lo: float,
            hi: float) -> np.ndarray:
    """Noise with a spectral slope between soft band edges, unit RMS."""
    X = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1.0 / sr), 1.0)
    g = (f / 1000.0) ** (slope_db_oct / 6.0206)
    g /= np.sqrt(1.0 + (lo / f) ** 4) * np.sqrt(1.0 + (f / hi) ** 4)
    y = np.fft.irfft(X * g, n)
    return y / max(float(np.std(y)), 1e-12)


def _slow(n: int, sr: int, rng: np.random.Generator, rate_hz: float) -> np.ndarray:
    """Smooth random curve (unit std) varying at about ``rate_hz``."""
    m = max(4, int(n / sr * rate_hz * 4) + 4)
    pts = rng.standard_normal(m)
    k = np.ones(4) / 4
    pts = np.convolve(pts, k, mode="same")
    pts /= max(float(np.std(pts)), 1e-9)
    return np.interp(np.arange(n), np.linspace(0, n - 1, m), pts)


_BG_LEVELS = {"none": (-92.0, -85.0), "room": (-72.0, -55.0), "traffic": (-55.0, -35.0),
              "wind": (-50.0, -28.0), "babble": (-50.0, -30.0), "car": (-55.0, -38.0)}


def render_background_b(kind: str, n: int, sr: int, rng: np.random.Generator, *,
                        level_dbfs: float | None = None) -> np.ndarray:
    """Family-b background noise at the microphone.

    Parameters
    ----------
    kind : {"none", "room", "traffic", "wind", "babble", "car"}
        ``room``: HVAC hiss and mains hum; ``traffic``: road rumble and passing vehicles;
        ``wind``: gusty low-frequency buffeting; ``babble``: several voice-like talkers;
        ``car``: engine harmonics and road noise in a cabin; ``none``: a converter floor.
    n : int
        Samples.
    sr : int
        Sample rate (Hz).
    rng : np.random.Generator
        Randomness.
    level_dbfs : float or None
        RMS (dBFS); None draws the kind's usual range.

    Returns
    -------
    np.ndarray, shape (n,)
        float32.
    """
    from scipy import signal

    sr = _check_sr(sr)
    if kind not in _BG_LEVELS:
        raise ParameterError(f"unknown background {kind!r}; expected one of {BACKGROUNDS_B}")
    n = int(n)
    if n <= 0:
        return np.zeros(0, np.float32)
    t = np.arange(n) / sr
    if kind == "none":
        y = rng.standard_normal(n)
    elif kind == "room":
        mains = float(rng.choice([50.0, 60.0]))
        hum = sum(np.sin(2 * np.pi * mains * h * t + rng.uniform(0, 6)) / h ** 1.5 for h in (1, 2, 3, 5))
        y = _shaped(n, sr, rng, -3.0, 40.0, 5000.0) + float(rng.uniform(0.05, 0.5)) * hum
    elif kind == "car":
        f0 = float(rng.uniform(25.0, 60.0)) * (1.0 + 0.05 * _slow(n, sr, rng, 0.3))
        ph = 2 * np.pi * np.cumsum(f0) / sr
        eng = sum(np.sin(h * ph + rng.uniform(0, 6)) / h for h in range(1, 9))
        y = _shaped(n, sr, rng, -6.0, 25.0, 2500.0) + float(rng.uniform(0.3, 1.0)) * eng / 2
    elif kind == "traffic":
        y = _shaped(n, sr, rng, -5.0, 25.0, 5000.0)
        for _ in range(int(rng.integers(1, 2 + int(n / sr / 3)))):
            c, s = rng.uniform(0, n / sr), rng.uniform(0.5, 2.0)
            env = np.exp(-0.5 * ((t - c) / s) ** 2)
            y += float(rng.uniform(1.0, 4.0)) * env * _shaped(n, sr, rng, -3.0, 60.0, 4000.0)
    elif kind == "wind":
        gust = np.exp(float(rng.uniform(0.4, 1.0)) * _slow(n, sr, rng, float(rng.uniform(0.3, 2.0))))
        y = _shaped(n, sr, rng, -9.0, 8.0, 2000.0) * gust
    else:  # babble
        y = np.zeros(n)
        for _ in range(int(rng.integers(3, 9))):
            f0 = float(rng.uniform(90, 250)) * (1.0 + 0.08 * _slow(n, sr, rng, 2.0))
            ph = np.cumsum(f0) / sr
            exc = signal.lfilter([1.0], [1.0, -0.95], np.diff(np.floor(ph), prepend=0.0))
            exc += 0.02 * rng.standard_normal(n)
            v = np.zeros(n)
            for fc, bw in ((rng.uniform(300, 850), 90), (rng.uniform(900, 2300), 140),
                           (rng.uniform(2400, 3300), 220)):
                sos = signal.butter(1, [fc - bw, fc + bw], "band", fs=sr, output="sos")
                v += signal.sosfilt(sos, exc)
            syl = np.clip(_slow(n, sr, rng, float(rng.uniform(3.0, 6.0))), 0, None) ** 1.5
            y += v * syl * float(rng.uniform(0.3, 1.0)) / max(float(np.std(v)), 1e-9)
    y = np.asarray(y, dtype=np.float64)
    lv = float(rng.uniform(*_BG_LEVELS[kind]) if level_dbfs is None else level_dbfs)
    y *= 10.0 ** (lv / 20.0) / max(float(np.std(y)), 1e-15)
    return y.astype(np.float32)


# ---------------------------------------------------------------------------------- scenes

def _space(times: list[float], min_s: float = MIN_SPACING_S) -> list[float]:
    out: list[float] = []
    for t in sorted(times):
        if out and t - out[-1] < min_s:
            t = out[-1] + min_s
        out.append(t)
    return out


def _train(rng: np.random.Generator, n: int, start: float, spacing: tuple[float, float]) -> list[float]:
    if n <= 0:
        return []
    base = float(rng.uniform(*spacing))
    ts = [start]
    for _ in range(n - 1):
        gap = base * float(rng.uniform(0.85, 1.15))
        ts.append(ts[-1] + min(max(gap, spacing[0]), spacing[1]))
    return ts


def render_scene_b(rng: np.random.Generator, *, duration_s: float | None = None, sr: int = 48000,
                   n_shots: int | None = None, kind: str | None = None, layout: str | None = None,
                   spacing: tuple[float, float] | None = None, background: str | None = None,
                   distractors: Sequence[str] | bool | None = None,
                   chain: dict[str, Any] | bool | None = None
                   ) -> tuple[np.ndarray, int, dict[str, Any]]:
    """A family-b scene: shots, background and distractors, through a degradation chain.

    Parameters
    ----------
    rng : np.random.Generator
        All randomness; the same seed gives the same scene.
    duration_s : float or None
        Length (s); None: 0.3 to 2 s for a library clip, else 3 to 8 s (longer if the
        shots need it). Shots that would not fit are dropped from the scene and the truth.
    sr : int
        Rendering rate (Hz); the output rate is the chain's.
    n_shots : int or None
        Number of shots; 0 renders no shot (a distractor or background scene). None: set by
        the layout.
    kind : str or None
        Weapon for every shooter (one of :data:`KINDS`); None draws per shooter.
    layout : str or None
        ``single``, ``double_tap`` (60 to 250 ms apart), ``volley`` (2 to 20 shots,
        60 ms to 1 s apart), ``two_shooters`` (two interleaved trains at different
        distances), ``library_clip`` (one shot 0.02 to 0.3 s into a 0.3 to 2 s clip, as sound
        libraries cut them). None draws one (or follows ``n_shots``).
    spacing : (min_s, max_s) or None
        Interval range of a shooter's train (each train draws a base interval in it and
        jitters it by 15 %); never below 60 ms, whatever is asked.
    background : str or None
        One of :data:`BACKGROUNDS_B`; None draws one.
    distractors : sequence of str, bool or None
        Distractor kinds to mix in (:data:`sample_media.distractors_b.KINDS_B`);
        None: one or two random ones in a third of the scenes; False: none.
    chain : dict, bool or None
        Chain spec (:func:`sample_media.chains.random_chain`); None draws one, False
        returns the dry mix at ``sr`` (no microphone, AGC, clip or codec). Shots are
        propagated over ``chain["distance_m"]`` (the second shooter elsewhere).

    Returns
    -------
    y : np.ndarray
        float32 at ``sr_out``.
    sr_out : int
        Output sample rate.
    truth : dict
        ``shots`` (``time_s`` -- first arrival, ``kind``, ``distance_m``, ``shooter``,
        ``crack``, ``blast_s``, ``positive_phase_s``, ``angle_deg``), ``distractors``
        (``time_s``, ``kind``, ``end_s``, ``onsets_s``), ``chain``, ``layout``,
        ``background``, ``duration_s``, ``family`` = ``"b"``.
    """
    from scipy import signal

    sr = _check_sr(sr)
    if kind is not None and kind not in KINDS:
        raise ParameterError(f"unknown weapon kind {kind!r}; expected one of {KINDS}")
    if layout is not None and layout not in LAYOUTS:
        raise ParameterError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    if n_shots is not None and not 0 <= int(n_shots) <= 60:
        raise ParameterError(f"n_shots must be 0..60; got {n_shots}")
    if chain is None:
        spec = chains.random_chain(rng)
    elif chain is False:
        spec = None
    elif isinstance(chain, dict):
        spec = dict(chain)
    else:
        raise ParameterError("chain must be a spec dict, None (random) or False (dry)")
    if layout is None and n_shots != 0:
        if n_shots == 1:
            layout = str(rng.choice(["single", "library_clip"], p=[0.7, 0.3]))
        elif n_shots == 2:
            layout = str(rng.choice(["double_tap", "volley"]))
        elif n_shots is not None:
            layout = str(rng.choice(["volley", "two_shooters"], p=[0.6, 0.4]))
        else:
            layout = str(rng.choice(LAYOUTS, p=[0.2, 0.2, 0.3, 0.15, 0.15]))
    if n_shots == 0:
        layout = None

    # ---- shot times
    lo_hi = spacing
    if lo_hi is not None:
        lo_hi = (max(float(lo_hi[0]), MIN_SPACING_S), max(float(lo_hi[1]), float(lo_hi[0]), MIN_SPACING_S))
    start = float(rng.uniform(0.2, 1.0))
    times: list[tuple[float, int]] = []
    if layout == "library_clip":
        times = [(float(rng.uniform(0.02, 0.3)), 0)]
    elif layout == "single":
        times = [(start, 0)]
    elif layout == "double_tap":
        times = [(t, 0) for t in _train(rng, 2, start, lo_hi or (0.06, 0.25))]
    elif layout == "volley":
        m = int(n_shots) if n_shots is not None else int(rng.integers(2, 21))
        times = [(t, 0) for t in _train(rng, m, start, lo_hi or (0.06, 1.0))]
    elif layout == "two_shooters":
        m = int(n_shots) if n_shots is not None else int(rng.integers(4, 21))
        m1 = int(rng.integers(1, m)) if m > 1 else 1
        a = _train(rng, m1, start, lo_hi or (0.06, 1.0))
        b = _train(rng, m - m1, start + float(rng.uniform(-0.1, 1.0)), lo_hi or (0.06, 1.0))
        merged = sorted([(t, 0) for t in a] + [(t, 1) for t in b])
        ts = _space([t for t, _ in merged])
        times = [(t, s) for t, (_, s) in zip(ts, merged)]
        times = [(max(t, 0.05), s) for t, s in times]
    if n_shots is not None and layout in ("single", "library_clip") and int(n_shots) != 1:
        raise ParameterError(f"layout {layout!r} has one shot; got n_shots={n_shots}")
    if n_shots is not None and layout == "double_tap" and int(n_shots) != 2:
        raise ParameterError(f"layout 'double_tap' has two shots; got n_shots={n_shots}")
    last = max((t for t, _ in times), default=0.0)
    if duration_s is None:
        if layout == "library_clip":
            duration_s = float(rng.uniform(max(0.3, last + 0.25), 2.0))
        else:
            duration_s = max(float(rng.uniform(3.0, 8.0)), last + 1.0)
    duration_s = float(duration_s)
    if not 0.1 <= duration_s <= 600.0:
        raise ParameterError(f"duration_s must be 0.1..600 s; got {duration_s}")
    times = [(t, s) for t, s in times if t < duration_s - 0.05]
    n = int(round(duration_s * sr))

    # ---- shooters
    base_d = float(spec["distance_m"]) if spec else float(np.exp(rng.uniform(np.log(0.3), np.log(150.0))))
    shooters = []
    for s in range(2):
        d = base_d if s == 0 else float(np.exp(rng.uniform(np.log(3.0), np.log(150.0))))
        shooters.append({"kind": kind or str(rng.choice(KINDS, p=[0.5, 0.3, 0.2])), "distance_m": d,
                         "angle_deg": float(rng.uniform(0, 180)),
                         "T": None, "level_db": None})
    for sh in shooters:
        w = _WEAPONS[sh["kind"]]
        sh["T"] = float(rng.uniform(*w["T_ms"])) * 1e-3
        sh["level_db"] = float(rng.uniform(*w["spl"]))
        sh["action"] = str(rng.choice([a for a, _ in w["actions"]], p=[p for _, p in w["actions"]]))

    rv = (spec or {}).get("reverb")
    ground = (spec or {}).get("ground")
    air = (spec or {}).get("air") or {}
    early = rv.get("early", ()) if rv else ()
    early_lp = rv.get("early_lowpass_hz", 6000.0) if rv else 6000.0
    direct = np.zeros(n)
    send = np.zeros(n)
    g_send = chains.reverb_send_gain(rv)
    shots_truth = []
    for t0, s in times:
        sh = shooters[s]
        d = sh["distance_m"] * float(np.exp(rng.normal(0.0, 0.03)))
        parts, meta = _shot_components(
            sh["kind"], sr, rng, distance_m=d,
            angle_deg=float(np.clip(sh["angle_deg"] + rng.normal(0, 2.0), 0, 180)),
            level_db=sh["level_db"] + float(rng.normal(0, 0.7)),
            positive_phase_s=sh["T"] * float(rng.uniform(0.95, 1.05)),
            action=sh["action"], casing=None)
        k0 = int(round(t0 * sr))
        for x, k, path in parts:
            y = chains.direct_path(x, sr, path, ground=ground, early=early,
                                   early_lowpass_hz=early_lp, **air)
            _mix(direct, y, k0 + k)
            if g_send:
                _mix(send, x * g_send, k0 + k)
        shots_truth.append({"time_s": k0 / sr, "kind": sh["kind"], "distance_m": d, "shooter": s,
                            "crack": meta["crack"], "blast_s": (k0 + int(round(meta["blast_offset_s"] * sr))) / sr,
                            "positive_phase_s": meta["positive_phase_s"], "angle_deg": meta["angle_deg"]})

    # ---- distractors
    if distractors is None:
        dk = [str(k) for k in rng.choice(KINDS_B, int(rng.integers(1, 3)))] if rng.random() < 1 / 3 else []
    elif distractors is False:
        dk = []
    else:
        dk = [str(k) for k in distractors]
    dis_truth = []
    shot_t = np.array([t["time_s"] for t in shots_truth])
    for dkind in dk:
        ev, ons = render_distractor_b(dkind, sr, rng, return_onsets=True)
        for _ in range(20):
            td = float(rng.uniform(0.05, max(0.06, duration_s - 0.3)))
            if shot_t.size == 0 or np.min(np.abs(shot_t - td)) > 0.03:
                break
        k0 = int(round(td * sr))
        if k0 >= n:
            continue
        _mix(direct, ev.astype(np.float64), k0)
        if g_send and dkind not in ON_MIC_B:
            _mix(send, ev * (g_send * float(rng.uniform(1.0, 8.0))), k0)
        dis_truth.append({"time_s": k0 / sr, "kind": dkind,
                          "end_s": min(duration_s, (k0 + ev.size) / sr),
                          "onsets_s": [k0 / sr + o for o in ons if k0 / sr + o < duration_s]})
    dis_truth.sort(key=lambda e: e["time_s"])

    # ---- reverberant tail, background
    if g_send and np.any(send):
        src = chains.direct_path(send, sr, 20.0, ref_distance_m=20.0)
        direct += signal.oaconvolve(src, chains.reverb_ir(sr, rng, rv))[:n]
    if background is None:
        background = str(rng.choice(["none", "room"]) if layout == "library_clip"
                         else rng.choice(BACKGROUNDS_B, p=[0.05, 0.2, 0.2, 0.15, 0.2, 0.2]))
    direct += render_background_b(background, n, sr, rng)

    if spec is None:
        y_out, sr_out = direct.astype(np.float32), sr
    else:
        y_out, sr_out = chains.apply_chain(direct, sr, spec, rng, stages=("mic", "agc", "clip", "codec"))
    truth = {"shots": shots_truth, "distractors": dis_truth, "chain": spec, "family": "b",
             "layout": layout, "background": background, "duration_s": duration_s, "sr": sr}
    return y_out, sr_out, truth


def _mix(buf: np.ndarray, x: np.ndarray, k: int) -> None:
    if k >= buf.size or k < 0:
        return
    m = min(x.size, buf.size - k)
    buf[k:k + m] += x[:m]
