"""Degradation chains: what happens to a sound between the air and a body-cam file.

Family-b synthetic data (see :mod:`sample_media.gunfire_b`) and re-rendered real
gunshot recordings go through the same chain, stage by stage:

1. :func:`propagate` -- spherical spreading, ISO 9613-1 air absorption (a minimum-phase
   filter per distance), a ground reflection from the source and microphone heights, discrete
   early reflections (3 to 90 ms) and an exponentially decaying two-band reverberant tail.
   The propagation *delay* is not added: an onset at sample ``k`` of the input stays at
   sample ``k``.
2. Microphone sensitivity (``mic_gain_db``), then, for ``clip["kind"] == "capsule"``,
   :func:`capsule_overload`: the diaphragm limits, rings at 2 to 8 kHz and the preamp sags
   while it recovers.
3. A DC-blocking high-pass (``highpass_hz``).
4. :func:`agc` -- a cheap camera AGC without look-ahead: the first fraction of a millisecond
   of a shot passes at the old gain, the gain falls within ``attack_s`` and recovers over
   ``release_s``.
5. :func:`clip` -- the converter's overload (hard, soft, cubic or asymmetric), then a hard
   clip at full scale.
6. :func:`resample` to the file's rate (8, 16, 32, 44.1 or 48 kHz; zero-phase) and
   :func:`codec_roundtrip` through FFmpeg (AAC, Opus or MP3 via PyAV, or 16-bit PCM) with
   the encoder's priming removed, so sample ``k`` of the output is sample ``k`` of the
   input.

Every stage keeps onset times in seconds: no stage delays the signal. :func:`random_chain`
draws a JSON-serialisable spec and :func:`apply_chain` runs it.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> spec = random_chain(rng)
>>> y, sr_out = apply_chain(np.zeros(48000, np.float32), 48000, spec, rng)
>>> y.shape[0] == sr_out
True
"""
from __future__ import annotations

import functools
import io
import math
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from media_core.errors import ParameterError

__all__ = [
    "SPEED_OF_SOUND",
    "CLIP_KINDS",
    "CODECS",
    "OUTPUT_RATES",
    "STAGES",
    "air_absorption_db",
    "air_absorption_filter",
    "random_reverb",
    "reverb_ir",
    "reverb_send_gain",
    "direct_path",
    "propagate",
    "clip",
    "capsule_overload",
    "agc",
    "resample",
    "codec_roundtrip",
    "random_chain",
    "apply_chain",
]

#: Speed of sound in air at 20 degC (m/s).
SPEED_OF_SOUND = 343.0
#: Converter / microphone overload models accepted by :func:`clip` and ``spec["clip"]``.
CLIP_KINDS = ("none", "hard", "soft", "cubic", "asymmetric", "capsule")
#: Codecs of :func:`codec_roundtrip`; ``"pcm16"`` only quantises to 16 bits.
CODECS = ("pcm16", "aac", "opus", "mp3")
#: Sample rates a chain may deliver.
OUTPUT_RATES = (8000, 16000, 32000, 44100, 48000)
#: Stages of :func:`apply_chain`, in order.
STAGES = ("propagate", "mic", "agc", "clip", "codec")

_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
# codec -> (PyAV encoder, container to write, container to read)
_FFMPEG = {"aac": ("aac", "adts", "aac"), "opus": ("libopus", "ogg", "ogg"),
           "mp3": ("libmp3lame", "mp3", "mp3")}


def _f64(y) -> np.ndarray:
    x = np.asarray(y, dtype=np.float64)
    if x.ndim != 1:
        raise ParameterError(f"expected a mono signal shaped (n,); got {x.shape}")
    return x


def _check_sr(sr) -> int:
    if not isinstance(sr, (int, np.integer)) or sr < 4000:
        raise ParameterError(f"sr must be an integer sample rate >= 4000 Hz; got {sr!r}")
    return int(sr)


# ---------------------------------------------------------------------------- propagation

def air_absorption_db(freq_hz, distance_m: float, *, temperature_c: float = 20.0,
                      humidity_pct: float = 50.0, pressure_kpa: float = 101.325) -> np.ndarray:
    """Atmospheric absorption over a path, after ISO 9613-1:1993 (pure-tone formula).

    Parameters
    ----------
    freq_hz : array_like
        Frequencies (Hz).
    distance_m : float
        Path length (m).
    temperature_c, humidity_pct, pressure_kpa : float
        Air temperature (degC), relative humidity (%) and pressure (kPa).

    Returns
    -------
    np.ndarray
        Attenuation in dB (positive), same shape as ``freq_hz``.
    """
    f = np.asarray(freq_hz, dtype=np.float64)
    t = temperature_c + 273.15
    t0, t01, pr = 293.15, 273.16, 101.325
    pa = pressure_kpa / pr
    h = humidity_pct * 10.0 ** (-6.8346 * (t01 / t) ** 1.261 + 4.6151) / pa
    fr_o = pa * (24.0 + 4.04e4 * h * (0.02 + h) / (0.391 + h))
    fr_n = pa * (t / t0) ** -0.5 * (9.0 + 280.0 * h * np.exp(-4.170 * ((t / t0) ** (-1 / 3) - 1.0)))
    alpha = 8.686 * f ** 2 * (1.84e-11 / pa * (t / t0) ** 0.5 + (t / t0) ** -2.5 * (
        0.01275 * np.exp(-2239.1 / t) / (fr_o + f ** 2 / fr_o)
        + 0.1068 * np.exp(-3352.0 / t) / (fr_n + f ** 2 / fr_n)))
    return alpha * float(distance_m)


def air_absorption_filter(sr: int, distance_m: float, *, temperature_c: float = 20.0,
                          humidity_pct: float = 50.0, n_taps: int = 192) -> np.ndarray:
    """Minimum-phase FIR with the ISO 9613-1 magnitude response of a path.

    A minimum-phase filter is causal and puts its energy first, so an onset filtered by it
    starts where it did (no pre-ringing, group delay of a few samples at most).

    Parameters
    ----------
    sr : int
        Sample rate (Hz).
    distance_m : float
        Path length (m).
    temperature_c, humidity_pct : float
        Air state, see :func:`air_absorption_db`.
    n_taps : int
        Filter length.

    Returns
    -------
    np.ndarray, shape (n_taps,)
        Impulse response (float64); ``[1.0]`` for paths shorter than 1 m.
    """
    sr = _check_sr(sr)
    if distance_m < 1.0:
        return np.ones(1)
    return _air_fir(sr, round(float(distance_m), 2), round(float(temperature_c), 1),
                    round(float(humidity_pct), 1), int(n_taps)).copy()


@functools.lru_cache(maxsize=2048)
def _air_fir(sr: int, distance_m: float, temperature_c: float, humidity_pct: float,
             n_taps: int) -> np.ndarray:
    n_fft = 2048
    f = np.fft.rfftfreq(n_fft, 1.0 / sr)
    att = np.minimum(air_absorption_db(f, distance_m, temperature_c=temperature_c,
                                       humidity_pct=humidity_pct), 120.0)
    log_mag = -att * (math.log(10.0) / 20.0)
    cep = np.fft.irfft(log_mag, n_fft)
    fold = np.zeros(n_fft)
    fold[0] = cep[0]
    fold[1:n_fft // 2] = 2.0 * cep[1:n_fft // 2]
    fold[n_fft // 2] = cep[n_fft // 2]
    h = np.fft.irfft(np.exp(np.fft.rfft(fold)), n_fft)[:n_taps]
    taper = np.ones(n_taps)
    k = n_taps // 4
    taper[-k:] = 0.5 * (1.0 + np.cos(np.linspace(0.0, np.pi, k)))
    return h * taper


def random_reverb(rng: np.random.Generator, *, indoor: bool | None = None) -> dict[str, Any]:
    """Draw a reverberation spec for :func:`propagate` (JSON-serialisable).

    Parameters
    ----------
    rng : np.random.Generator
        Randomness.
    indoor : bool or None
        Rooms (RT60 0.2 to 1.2 s, close walls) or streets and yards (RT60 0.4 to 2.5 s,
        distant facades); None draws either.

    Returns
    -------
    dict
        ``rt60_s``, ``hf_ratio`` (HF RT60 / RT60), ``predelay_s``, ``critical_distance_m``
        (where the tail is as loud as the direct sound), ``early`` (list of
        ``[delay_s, gain]``, 3 to 90 ms) and ``early_lowpass_hz``.
    """
    if indoor is None:
        indoor = bool(rng.random() < 0.4)
    if indoor:
        rt60 = float(rng.uniform(0.2, 1.2))
        rc = float(rng.uniform(1.0, 5.0))
        n_early, span = int(rng.integers(3, 9)), (0.003, 0.035)
    else:
        rt60 = float(rng.uniform(0.4, 2.5))
        rc = float(rng.uniform(4.0, 40.0))
        n_early, span = int(rng.integers(1, 6)), (0.008, 0.090)
    delays = np.sort(rng.uniform(*span, n_early))
    gains = rng.uniform(0.15, 0.7, n_early) * (span[0] / delays) ** 0.5
    gains *= rng.choice([-1.0, 1.0], n_early, p=[0.2, 0.8])
    return {"rt60_s": rt60, "hf_ratio": float(rng.uniform(0.3, 0.8)),
            "predelay_s": float(delays[0] if n_early else 0.01),
            "critical_distance_m": rc,
            "early": [[float(d), float(g)] for d, g in zip(delays, gains)],
            "early_lowpass_hz": float(rng.uniform(2000.0, 9000.0))}


def reverb_ir(sr: int, rng: np.random.Generator, reverb: dict[str, Any]) -> np.ndarray:
    """Diffuse reverberant tail: two-band exponentially decaying noise, unit energy.

    The band above 2 kHz decays with ``hf_ratio * rt60_s``; the tail builds up over the first
    10 ms after ``predelay_s``. The IR is zero before ``predelay_s``.

    Parameters
    ----------
    sr : int
        Sample rate (Hz).
    rng : np.random.Generator
        Randomness (the noise).
    reverb : dict
        Spec from :func:`random_reverb`.

    Returns
    -------
    np.ndarray
        Impulse response (float64) whose squares sum to 1.
    """
    from scipy import signal

    rt60 = float(reverb["rt60_s"])
    if not 0.05 <= rt60 <= 5.0:
        raise ParameterError(f"reverb rt60_s must be 0.05..5 s; got {rt60}")
    pre = int(round(float(reverb.get("predelay_s", 0.01)) * sr))
    n = int(min(1.2 * rt60, 3.0) * sr)
    t = np.arange(n) / sr
    noise = rng.standard_normal((2, n))
    sos = signal.butter(2, 2000.0, "low", fs=sr, output="sos")
    lo = signal.sosfilt(sos, noise[0])
    hi = noise[1] - signal.sosfilt(sos, noise[1])
    rt_hi = rt60 * float(reverb.get("hf_ratio", 0.5))
    tail = lo * np.exp(-6.91 * t / rt60) + 0.7 * hi * np.exp(-6.91 * t / rt_hi)
    tail *= 1.0 - np.exp(-t / 0.01)
    ir = np.concatenate([np.zeros(pre), tail])
    return ir / math.sqrt(float(np.sum(ir ** 2)))


def reverb_send_gain(reverb: dict[str, Any] | None, *, ref_distance_m: float = 1.0) -> float:
    """Gain of the reverberant tail relative to the source at ``ref_distance_m``.

    The diffuse field is as loud everywhere; it equals the direct sound at the critical
    distance, so the send is ``ref_distance_m / critical_distance_m`` whatever the distance.
    """
    if not reverb:
        return 0.0
    return float(ref_distance_m) / float(reverb["critical_distance_m"])


def direct_path(y, sr: int, distance_m: float, *, ref_distance_m: float = 1.0,
                ground: dict[str, Any] | None = None, early: Sequence[Sequence[float]] = (),
                early_lowpass_hz: float = 6000.0, temperature_c: float = 20.0,
                humidity_pct: float = 50.0) -> np.ndarray:
    """Direct sound at a distance: spreading, air absorption, ground and early reflections.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Source signal as heard at ``ref_distance_m``.
    sr : int
        Sample rate (Hz).
    distance_m : float
        Source-microphone distance (m).
    ref_distance_m : float
        Distance at which ``y`` was "recorded".
    ground : dict or None
        ``source_height_m``, ``mic_height_m``, ``reflection`` (pressure reflection factor,
        0..1) and ``lowpass_hz`` (soft ground dulls the reflection); None: no ground.
    early : sequence of (delay_s, gain)
        Discrete reflections after the direct sound; gains relative to it.
    early_lowpass_hz : float
        Reflections off rough walls lose their top; one low-pass for all of them.
    temperature_c, humidity_pct : float
        Air state.

    Returns
    -------
    np.ndarray, shape (n,)
        float64; the propagation delay is not added (the direct sound starts where ``y`` does).
    """
    from scipy import signal

    sr = _check_sr(sr)
    x = _f64(y)
    d = max(float(distance_m), 0.05)
    out = x * (float(ref_distance_m) / d)
    h = air_absorption_filter(sr, d, temperature_c=temperature_c, humidity_pct=humidity_pct)
    if h.size > 1:
        out = signal.oaconvolve(out, h)[: x.size]
    refl = np.zeros(1)
    if ground:
        hs, hm = float(ground["source_height_m"]), float(ground["mic_height_m"])
        r1 = math.hypot(d, hs - hm)
        r2 = math.hypot(d, hs + hm)
        k = int(round((r2 - r1) / SPEED_OF_SOUND * sr))
        g = float(ground["reflection"]) * r1 / r2
        if k >= 1 and g > 0:
            refl = np.zeros(k + 1)
            refl[k] = g
            lp = float(ground.get("lowpass_hz", 0.0))
            if 0 < lp < sr / 2:
                refl = signal.sosfilt(signal.butter(1, lp, fs=sr, output="sos"), refl)
    taps = np.zeros(1)
    if len(early):
        kk = [int(round(float(dl) * sr)) for dl, _ in early]
        taps = np.zeros(max(kk) + 1)
        for k, (_, g) in zip(kk, early):
            taps[k] += float(g)
        if 0 < early_lowpass_hz < sr / 2:
            taps = signal.sosfilt(signal.butter(2, early_lowpass_hz, fs=sr, output="sos"), taps)
    if refl.size > 1 or taps.size > 1:
        extra = np.zeros(max(refl.size, taps.size))
        extra[: refl.size] += refl
        extra[: taps.size] += taps
        extra[0] = 0.0
        out = out + signal.oaconvolve(out, extra)[: x.size]
    return out


def propagate(y, sr: int, distance_m: float, rng: np.random.Generator, *,
              reverb: dict[str, Any] | str | None = None, ref_distance_m: float = 1.0,
              ground: dict[str, Any] | None = None, temperature_c: float = 20.0,
              humidity_pct: float = 50.0) -> np.ndarray:
    """Carry a source signal to a microphone ``distance_m`` away.

    Spherical spreading (``ref_distance_m / distance_m``), ISO 9613-1 air absorption,
    an optional ground reflection and early reflections (:func:`direct_path`), and an
    optional diffuse tail (:func:`reverb_ir`) at a level set by the critical distance.

    The propagation delay (``distance_m / 343`` s) is **not** added: the first arrival stays
    at the sample where it was in ``y``, so truth onsets are unchanged. The output has the
    length of the input (the tail past the end is cut; pad ``y`` to keep it).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Source signal as heard at ``ref_distance_m`` (e.g. a real close recording).
    sr : int
        Sample rate (Hz).
    distance_m : float
        Distance to render (m), 0.05 or more.
    rng : np.random.Generator
        Randomness (reverberant tail, and the reverb spec if ``reverb="random"``).
    reverb : dict, "random" or None
        Spec from :func:`random_reverb`, ``"random"`` to draw one, or None for free field.
    ref_distance_m : float
        Distance at which ``y`` was recorded.
    ground : dict or None
        Ground reflection, see :func:`direct_path`.
    temperature_c, humidity_pct : float
        Air state.

    Returns
    -------
    np.ndarray, shape (n,)
        float32.
    """
    from scipy import signal

    if not distance_m > 0:
        raise ParameterError(f"distance_m must be > 0; got {distance_m}")
    if isinstance(reverb, str):
        if reverb != "random":
            raise ParameterError(f"reverb must be a dict, 'random' or None; got {reverb!r}")
        reverb = random_reverb(rng)
    x = _f64(y)
    rv = reverb or {}
    out = direct_path(x, sr, distance_m, ref_distance_m=ref_distance_m, ground=ground,
                      early=rv.get("early", ()), early_lowpass_hz=rv.get("early_lowpass_hz", 6000.0),
                      temperature_c=temperature_c, humidity_pct=humidity_pct)
    if reverb:
        send = reverb_send_gain(reverb, ref_distance_m=ref_distance_m)
        # the tail is heard from all around: absorbed as over the mean free path of ~20 m
        src = direct_path(x, sr, 20.0, ref_distance_m=20.0)
        out += send * signal.oaconvolve(src, reverb_ir(sr, rng, reverb))[: x.size]
    return out.astype(np.float32)


# ------------------------------------------------------------------------------ overload

def clip(y, kind: str = "hard", *, level_dbfs: float = 0.0,
         neg_level_dbfs: float | None = None) -> np.ndarray:
    """Converter or preamp overload.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Signal (full scale = 1).
    kind : {"none", "hard", "soft", "cubic", "asymmetric", "capsule"}
        ``hard``: flat tops at the level. ``soft``: ``c tanh(x / c)``. ``cubic``: the cubic
        soft clipper ``c (1.5 u - 0.5 u^3)``, ``u = x / (1.5 c)`` limited to [-1, 1] (unit
        gain for small signals, flat from ``1.5 c`` on).
        ``asymmetric``: tanh with a different threshold for each polarity (``neg_level_dbfs``,
        default 4 dB below the positive one). ``capsule`` behaves as ``hard`` here (the
        capsule itself is :func:`capsule_overload`). ``none`` returns a copy.
    level_dbfs : float
        Clip level (dBFS), the positive one for ``asymmetric``.
    neg_level_dbfs : float or None
        Negative clip level for ``asymmetric``.

    Returns
    -------
    np.ndarray, shape (n,)
        float32, bounded by the clip level(s).
    """
    if kind not in CLIP_KINDS:
        raise ParameterError(f"unknown clip kind {kind!r}; expected one of {CLIP_KINDS}")
    x = _f64(y)
    c = 10.0 ** (level_dbfs / 20.0)
    if kind == "none":
        out = x.copy()
    elif kind in ("hard", "capsule"):
        out = np.clip(x, -c, c)
    elif kind == "soft":
        out = c * np.tanh(x / c)
    elif kind == "cubic":
        u = np.clip(x / (1.5 * c), -1.0, 1.0)
        out = c * (1.5 * u - 0.5 * u ** 3)
    else:
        cn = 10.0 ** ((level_dbfs - 4.0 if neg_level_dbfs is None else neg_level_dbfs) / 20.0)
        out = np.where(x >= 0, c * np.tanh(x / c), cn * np.tanh(x / cn))
    return out.astype(np.float32)


def capsule_overload(y, sr: int, *, threshold_dbfs: float = 6.0, ring_hz: float = 4000.0,
                     ring_decay_s: float = 0.002, ring_gain: float = 0.3, sag_db: float = 8.0,
                     recovery_s: float = 0.08) -> np.ndarray:
    """A microphone capsule driven past its limit: limiting, ringing and a recovery sag.

    Above ``threshold_dbfs`` the diaphragm stops (the excess is cut); the cut-off excess
    excites a damped resonance at ``ring_hz`` (the diaphragm / port resonance) which is added
    back, scaled by ``ring_gain``; and after each overload the preamp's gain sags by
    ``sag_db`` and recovers exponentially over ``recovery_s`` while its bias settles. The
    sag starts when an overload ends; an overload passes at the gain in force when it began.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Pressure at the capsule in full-scale units (may far exceed 1).
    sr : int
        Sample rate (Hz).
    threshold_dbfs : float
        Where the diaphragm limits.
    ring_hz, ring_decay_s, ring_gain : float
        Resonance frequency (2 to 8 kHz), its 1/e decay time and level.
    sag_db, recovery_s : float
        Gain sag after an overload and its recovery time constant.

    Returns
    -------
    np.ndarray, shape (n,)
        float32; equal to ``y`` where nothing overloaded.
    """
    from scipy import signal

    sr = _check_sr(sr)
    x = _f64(y)
    thr = 10.0 ** (threshold_dbfs / 20.0)
    lim = np.clip(x, -thr, thr)
    excess = x - lim
    over = excess != 0
    if not over.any():
        return x.astype(np.float32)
    r = math.exp(-1.0 / (ring_decay_s * sr))
    w = 2 * math.pi * min(ring_hz, 0.45 * sr) / sr
    ring = signal.lfilter([1.0 - r], [1.0, -2.0 * r * math.cos(w), r * r], excess)
    # The sag follows an overload: it is triggered when a run of overloaded samples ends.
    # During a run the diaphragm is pinned at the limit and the preamp keeps the gain it had
    # when the run began, so a new blast arrives as a sharp overload even while an earlier
    # one's sag is still recovering (sagging the blast itself would flatten its onset to
    # the level of the preceding tail).
    n = np.arange(x.size)
    nxt = np.append(over[1:], False)
    prv = np.insert(over[:-1], 0, False)
    ends = np.maximum.accumulate(np.where(over & ~nxt, n, -(10 ** 12)))
    prev_end = np.insert(ends[:-1], 0, -(10 ** 12))  # last run end strictly before n
    starts = np.maximum.accumulate(np.where(over & ~prv, n, 0))
    since = np.where(over, starts, n) - prev_end
    sag = 1.0 - (1.0 - 10.0 ** (-sag_db / 20.0)) * np.exp(-since / (recovery_s * sr))
    return ((lim + ring_gain * thr * np.tanh(ring / thr)) * sag).astype(np.float32)


def agc(y, sr: int, *, target_dbfs: float = -20.0, max_gain_db: float = 20.0,
        min_gain_db: float = 0.0, attack_s: float = 0.002, release_s: float = 1.0,
        block_s: float = 0.00025, return_gain_db: bool = False):
    """A cheap camera AGC: block peak detector, dB gain computer, no look-ahead.

    Every ``block_s`` the gain the level asks for, ``target_dbfs - peak_dbfs`` limited to
    ``[min_gain_db, max_gain_db]``, is approached with time constant ``attack_s`` when it is
    lower than the current gain and ``release_s`` when higher. The gain decided after block
    ``k`` is applied from block ``k + 1`` on (ramped over that block), so a sudden onset passes
    its first block at the old gain -- what makes real body cams clip on gunfire.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Signal (full scale = 1).
    sr : int
        Sample rate (Hz).
    target_dbfs : float
        Peak level the AGC aims at.
    max_gain_db, min_gain_db : float
        Gain range (dB); the gain starts at ``max_gain_db``.
    attack_s : float
        Time constant (s) of gain reduction, 0 for an instant drop.
    release_s : float
        Time constant (s) of gain recovery.
    block_s : float
        Detector block (s).
    return_gain_db : bool
        Also return the per-sample gain (dB).

    Returns
    -------
    np.ndarray, shape (n,)
        float32 output; with ``return_gain_db`` a tuple ``(y, gain_db)``.
    """
    sr = _check_sr(sr)
    if attack_s < 0 or release_s <= 0 or max_gain_db < min_gain_db:
        raise ParameterError("agc needs attack_s >= 0, release_s > 0 and max_gain_db >= min_gain_db")
    x = _f64(y)
    hop = max(1, int(round(block_s * sr)))
    nb = -(-x.size // hop)
    pad = np.zeros(nb * hop)
    pad[: x.size] = np.abs(x)
    peak_db = 20.0 * np.log10(np.maximum(pad.reshape(nb, hop).max(axis=1), 1e-7))
    want = np.clip(target_dbfs - peak_db, min_gain_db, max_gain_db).tolist()
    a_att = math.exp(-hop / (attack_s * sr)) if attack_s > 0 else 0.0
    a_rel = math.exp(-hop / (release_s * sr))
    g = float(max_gain_db)
    after = [0.0] * nb
    for i, w in enumerate(want):  # ~4000 blocks per second of audio
        g = w + (g - w) * (a_att if w < g else a_rel)
        after[i] = g
    # gain in force at the start of block k: decided after block k - 1
    starts = np.concatenate([[max_gain_db, max_gain_db], after[:-1]])
    edges = np.arange(nb + 1) * hop
    gain_db = np.interp(np.arange(x.size), edges, starts)
    out = (x * 10.0 ** (gain_db / 20.0)).astype(np.float32)
    return (out, gain_db.astype(np.float32)) if return_gain_db else out


# ------------------------------------------------------------------------ rate and codec

def resample(y, sr: int, sr_out: int) -> np.ndarray:
    """Zero-phase polyphase resampling: sample ``k / sr_out`` s is the input at ``k / sr`` s.

    Returns
    -------
    np.ndarray, shape (round(n * sr_out / sr),)
        float32.
    """
    from scipy import signal

    sr, sr_out = _check_sr(sr), _check_sr(sr_out)
    x = _f64(y)
    if sr == sr_out:
        return x.astype(np.float32)
    g = math.gcd(sr, sr_out)
    out = signal.resample_poly(x, sr_out // g, sr // g)
    n = int(round(x.size * sr_out / sr))
    return out[:n].astype(np.float32)


def _encode_decode(x: np.ndarray, sr: int, codec: str, bitrate: int) -> tuple[np.ndarray, int]:
    """One FFmpeg round trip through PyAV; the raw decoded signal (with priming) and its rate."""
    import av

    enc, wfmt, rfmt = _FFMPEG[codec]
    buf = io.BytesIO()
    with av.open(buf, "w", format=wfmt) as cont:
        st = cont.add_stream(enc, rate=sr)
        cc = st.codec_context
        cc.layout = "mono"
        fmts = [f.name for f in (cc.codec.audio_formats or [])]
        fmt = "fltp" if "fltp" in fmts else ("flt" if "flt" in fmts else "s16")
        cc.format = fmt
        cc.bit_rate = int(bitrate)
        st.time_base = Fraction(1, sr)
        fs = cc.frame_size or 1152
        pcm = np.concatenate([x, np.zeros(fs * 2)]).astype(np.float32)
        pcm = np.clip(pcm, -1.0, 1.0)
        for i in range(0, pcm.size - fs + 1, fs):
            chunk = pcm[None, i:i + fs]
            if fmt == "s16":
                chunk = np.round(chunk * 32767.0).astype(np.int16)
            fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format=fmt, layout="mono")
            fr.sample_rate = sr
            fr.pts = i
            fr.time_base = Fraction(1, sr)
            for p in st.encode(fr):
                cont.mux(p)
        for p in st.encode(None):
            cont.mux(p)
    parts, rate = [], sr
    try:
        with av.open(io.BytesIO(buf.getvalue()), "r", format=rfmt) as cont:
            for fr in cont.decode(audio=0):
                a = fr.to_ndarray()
                if a.dtype == np.int16:
                    a = a / 32768.0
                parts.append(np.asarray(a, dtype=np.float64).reshape(a.shape[0], -1)[0]
                             if fr.format.is_planar else np.asarray(a, np.float64).reshape(-1))
                rate = fr.sample_rate
    except av.FFmpegError as e:  # pragma: no cover - our own encodes decode
        raise ParameterError(f"{codec} round trip at {sr} Hz failed: {e}") from e
    return (np.concatenate(parts) if parts else np.zeros(0)), rate


def _bitrate(codec: str, sr: int, bitrate: int | None) -> int:
    br = int(bitrate or {"aac": 64000, "opus": 32000, "mp3": 64000}[codec])
    if codec == "aac":
        br = min(br, 6 * sr)  # AAC: at most 6144 bits per 1024-sample frame and channel
    elif codec == "mp3":
        br = min(br, 64000 if sr < 16000 else 160000 if sr < 32000 else 320000)
        br = max(br, 8000 if sr < 32000 else 32000)
    return br


@functools.lru_cache(maxsize=512)
def _codec_lag(codec: str, sr: int, bitrate: int) -> int:
    """Samples by which the decoded signal lags the input, measured on a test burst."""
    from scipy import signal

    rng = np.random.default_rng(12345)
    n = sr
    x = np.zeros(n)
    k0 = n // 3
    m = sr // 20
    x[k0:k0 + m] = 0.3 * rng.standard_normal(m) * np.exp(-np.arange(m) / (0.3 * m))
    dec, rate = _encode_decode(x, sr, codec, bitrate)
    if rate != sr:
        dec = resample(dec, rate, sr).astype(np.float64)
    cc = signal.correlate(dec, x, mode="full", method="fft")
    return int(np.argmax(cc)) - (x.size - 1)


def codec_roundtrip(y, sr: int, codec: str, *, bitrate: int | None = None) -> np.ndarray:
    """Encode and decode through FFmpeg, aligned so output sample ``k`` is input sample ``k``.

    The encoder's priming (1024 samples for AAC; MP3 and Ogg/Opus signal theirs in the
    stream) is measured once per (codec, rate, bitrate) by cross-correlating a test burst and
    removed. Opus decodes at 48 kHz and is resampled back to ``sr``.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Signal at ``sr``; clipped to [-1, 1] before encoding, as a converter would.
    sr : int
        Sample rate (Hz); Opus accepts 8000, 12000, 16000, 24000 and 48000 only.
    codec : {"pcm16", "aac", "opus", "mp3"}
        Codec; ``pcm16`` only quantises.
    bitrate : int or None
        Bits per second (AAC is limited to ``6 * sr``, MP3 to its standard's range).

    Returns
    -------
    np.ndarray, shape (n,)
        float32 decoded signal.
    """
    sr = _check_sr(sr)
    x = _f64(y)
    if codec not in CODECS:
        raise ParameterError(f"unknown codec {codec!r}; expected one of {CODECS}")
    if codec == "pcm16":
        return (np.round(np.clip(x, -1.0, 1.0) * 32767.0) / 32767.0).astype(np.float32)
    if codec == "opus" and sr not in _OPUS_RATES:
        raise ParameterError(f"Opus cannot encode at {sr} Hz; use one of {_OPUS_RATES}")
    br = _bitrate(codec, sr, bitrate)
    lag = _codec_lag(codec, sr, br)
    dec, rate = _encode_decode(x, sr, codec, br)
    if rate != sr:
        dec = resample(dec, rate, sr).astype(np.float64)
    out = np.zeros(x.size)
    seg = dec[max(lag, 0):max(lag, 0) + x.size]
    if lag < 0:
        seg = np.concatenate([np.zeros(-lag), seg])[: x.size]
    out[: seg.size] = seg
    return out.astype(np.float32)


# ---------------------------------------------------------------------------------- chains

def random_chain(rng: np.random.Generator, *, close: bool | None = None) -> dict[str, Any]:
    """Draw a degradation chain spec (plain JSON types).

    Parameters
    ----------
    rng : np.random.Generator
        Randomness.
    close : bool or None
        True: the source is 0.2 to 3 m from the camera (the officer's own weapon, a
        partner's) and the capsule or converter overloads heavily. False: 3 to 150 m.
        None: either (one in three close).

    Returns
    -------
    dict
        ``distance_m``, ``reverb`` (or None), ``ground``, ``air``, ``mic_gain_db``,
        ``highpass_hz``, ``clip`` (``kind``, ``level_dbfs``, ``neg_level_dbfs`` and, for
        ``capsule``, the :func:`capsule_overload` parameters), ``agc`` (parameters of
        :func:`agc`, or None), ``sr_out``, ``codec`` and ``bitrate``.
    """
    if close is None:
        close = bool(rng.random() < 1 / 3)
    if close:
        dist = float(np.exp(rng.uniform(np.log(0.2), np.log(3.0))))
    else:
        dist = float(np.exp(rng.uniform(np.log(3.0), np.log(150.0))))
    reverb = random_reverb(rng) if rng.random() < 0.8 else None
    ground = None
    if rng.random() < 0.85:
        ground = {"source_height_m": float(rng.uniform(0.9, 1.7)),
                  "mic_height_m": float(rng.uniform(0.8, 1.5)),
                  "reflection": float(rng.uniform(0.3, 0.95)),
                  "lowpass_hz": float(rng.choice([0.0, rng.uniform(1500.0, 8000.0)]))}
    kinds = ["capsule", "hard", "soft", "cubic", "asymmetric"]
    p = [0.45, 0.25, 0.1, 0.1, 0.1] if close else [0.15, 0.35, 0.2, 0.15, 0.15]
    kind = str(rng.choice(kinds, p=p))
    level = float(rng.uniform(-6.0, 0.0)) if kind != "capsule" else 0.0
    cl: dict[str, Any] = {"kind": kind, "level_dbfs": level,
                          "neg_level_dbfs": float(level - rng.uniform(1.0, 6.0))}
    if kind == "capsule":
        cl.update({"threshold_dbfs": float(rng.uniform(0.0, 14.0)),
                   "ring_hz": float(rng.uniform(2000.0, 8000.0)),
                   "ring_decay_s": float(rng.uniform(0.0008, 0.005)),
                   "ring_gain": float(rng.uniform(0.1, 0.6)),
                   "sag_db": float(rng.uniform(2.0, 15.0)),
                   "recovery_s": float(rng.uniform(0.02, 0.3))})
    agc_spec = None
    if rng.random() < 0.75:
        agc_spec = {"target_dbfs": float(rng.uniform(-24.0, -8.0)),
                    "max_gain_db": float(rng.uniform(0.0, 30.0)),
                    "min_gain_db": float(rng.uniform(-12.0, 0.0)),
                    "attack_s": float(rng.choice([0.0, rng.uniform(0.0005, 0.010)])),
                    "release_s": float(np.exp(rng.uniform(np.log(0.2), np.log(3.0))))}
    sr_out = int(rng.choice(OUTPUT_RATES, p=[0.15, 0.25, 0.15, 0.1, 0.35]))
    codec = str(rng.choice(["aac", "opus", "mp3", "pcm16"], p=[0.55, 0.15, 0.2, 0.1]))
    if codec == "opus" and sr_out not in _OPUS_RATES:
        sr_out = 48000
    bitrate = {"aac": [24000, 32000, 48000, 64000, 96000, 128000],
               "opus": [12000, 16000, 24000, 32000, 64000],
               "mp3": [32000, 48000, 64000, 96000, 128000], "pcm16": [0]}[codec]
    return {"distance_m": dist, "reverb": reverb, "ground": ground,
            "air": {"temperature_c": float(rng.uniform(-5.0, 35.0)),
                    "humidity_pct": float(rng.uniform(20.0, 95.0))},
            "mic_gain_db": float(rng.uniform(-2.0, 10.0) if close else rng.uniform(-16.0, 4.0)),
            "highpass_hz": float(rng.uniform(40.0, 150.0)),
            "clip": cl, "agc": agc_spec, "sr_out": sr_out, "codec": codec,
            "bitrate": int(rng.choice(bitrate))}


def apply_chain(y, sr: int, spec: dict[str, Any], rng: np.random.Generator, *,
                stages: Sequence[str] = STAGES) -> tuple[np.ndarray, int]:
    """Run a chain spec on a mono signal; onset times in seconds are kept.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Source signal at 1 m (``propagate`` stage) or at the microphone (without it), full
        scale = 1.
    sr : int
        Its sample rate (Hz).
    spec : dict
        From :func:`random_chain`.
    rng : np.random.Generator
        Randomness of the reverberant tail.
    stages : sequence of str
        Subset of :data:`STAGES` to run (e.g. without ``"propagate"`` when the caller
        propagated each source itself).

    Returns
    -------
    y_out : np.ndarray, shape (round(n * sr_out / sr),)
        float32 at ``sr_out``.
    sr_out : int
        ``spec["sr_out"]``.
    """
    from scipy import signal

    sr = _check_sr(sr)
    bad = set(stages) - set(STAGES)
    if bad:
        raise ParameterError(f"unknown chain stages {sorted(bad)}; expected some of {STAGES}")
    x = _f64(y)
    if "propagate" in stages and spec.get("distance_m"):
        air = spec.get("air") or {}
        x = propagate(x, sr, float(spec["distance_m"]), rng, reverb=spec.get("reverb"),
                      ground=spec.get("ground"), **air).astype(np.float64)
    cl = spec.get("clip") or {"kind": "hard", "level_dbfs": 0.0}
    if "mic" in stages:
        x = x * 10.0 ** (float(spec.get("mic_gain_db", 0.0)) / 20.0)
        if cl["kind"] == "capsule":
            keys = ("threshold_dbfs", "ring_hz", "ring_decay_s", "ring_gain", "sag_db", "recovery_s")
            x = capsule_overload(x, sr, **{k: cl[k] for k in keys if k in cl}).astype(np.float64)
        hp = float(spec.get("highpass_hz", 0.0))
        if hp > 0:
            x = signal.sosfilt(signal.butter(1, hp, "high", fs=sr, output="sos"), x)
    if "agc" in stages and spec.get("agc"):
        x = agc(x, sr, **spec["agc"]).astype(np.float64)
    if "clip" in stages:
        x = clip(x, cl["kind"], level_dbfs=float(cl.get("level_dbfs", 0.0)),
                 neg_level_dbfs=cl.get("neg_level_dbfs"))
        x = np.clip(x, -1.0, 1.0)
    sr_out = int(spec.get("sr_out", sr))
    if "codec" in stages:
        x = resample(x, sr, sr_out)
        x = codec_roundtrip(x, sr_out, str(spec.get("codec", "pcm16")),
                            bitrate=int(spec.get("bitrate") or 0) or None)
    else:
        sr_out = sr
    return np.asarray(x, dtype=np.float32), sr_out
