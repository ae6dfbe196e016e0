"""Synthetic gunfire as a body-worn camera hears it, with known truth.

The model follows the physics that make real gunshot recordings hard to count:

* **Muzzle blast** -- a Friedlander pulse ``p(t) = P (1 - t/T) exp(-b t/T)`` with a positive
  phase ``T`` of 0.4 to 1.5 ms (pistol shorter, rifle longer), followed by its negative phase,
  plus broadband turbulent-jet noise over the first few ms and, for rifles, an optional
  supersonic N-wave ("crack") that arrives *before* the blast when the microphone is down
  range.
* **Propagation** -- spherical spreading sets the level (``peak_dbfs`` defaults to +20 dBFS at
  10 m for a pistol: close gunfire always clips a body-cam microphone; -6 dB per doubling of
  distance) and air absorption a distance low-pass.
* **Ground reflection** -- a second copy of the blast a fraction of a millisecond later (path
  difference for a shooter at 1.5 m and a microphone at 1.2 m), slightly weaker and duller.
* **Wall echoes** -- discrete, decaying, low-passed copies 3 to 90 ms after the direct blast.
* **Reverberant tail** -- exponentially decaying filtered noise.
* **Microphone saturation, automatic gain control and converter clipping**
  (:func:`apply_clipping`, :func:`apply_agc` with fast attack and slow release: the gain pumps
  down after each shot and recovers over about a second) are applied to the whole incident by
  :func:`render_incident_audio`, in that order; AAC is applied by encoding the result (see
  :mod:`sample_media.encode`).

The truth onset of a shot is the first arrival of its direct blast (the first sample of the
Friedlander pulse), never the peak.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y, truth = render_incident_audio(5.0, 48000, [1.0, 1.25, 3.0], rng)
>>> [round(t["time_s"], 3) for t in truth]
[1.0, 1.25, 3.0]
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from media_core.errors import ParameterError
from sample_media.audio import lowpass

__all__ = [
    "CALIBERS",
    "friedlander",
    "render_gunshot",
    "render_incident_audio",
    "apply_clipping",
    "apply_agc",
    "random_wall_echoes",
    "background_noise",
    "two_shooter_times",
]

#: Default parameters per kind of weapon: positive-phase range (ms), level offset at 10 m (dB),
#: whether the bullet is supersonic (rifle crack).
CALIBERS: dict[str, dict[str, Any]] = {
    "pistol": {"positive_phase_ms": (0.4, 0.9), "level_db": 0.0, "supersonic": False},
    "rifle": {"positive_phase_ms": (0.8, 1.5), "level_db": 6.0, "supersonic": True},
}


def _highpass(y: np.ndarray, sr: int, fc: float, order: int = 2) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    sos = butter(order, fc, btype="high", fs=sr, output="sos")
    return sosfilt(sos, y)


def friedlander(t: np.ndarray, positive_phase_s: float, *, b: float = 1.8) -> np.ndarray:
    """Friedlander waveform ``(1 - t/T) exp(-b t/T)`` for ``t >= 0`` (zero before).

    Parameters
    ----------
    t : np.ndarray
        Times in seconds relative to the arrival of the shock front.
    positive_phase_s : float
        Duration ``T`` of the positive phase in seconds.
    b : float
        Decay constant (dimensionless); 1 to 3 for small arms.

    Returns
    -------
    np.ndarray
        Overpressure normalised to a peak of 1 at ``t = 0``.
    """
    x = np.asarray(t, dtype=np.float64) / positive_phase_s
    out = (1.0 - x) * np.exp(-b * x)
    return np.where(x >= 0, out, 0.0)


def air_lowpass_hz(distance_m: float) -> float:
    """Cut-off of the distance low-pass (air absorption plus obstacles), in Hz."""
    d = max(float(distance_m), 1.0)
    return float(np.clip(16000.0 * (10.0 / d) ** 0.4, 2500.0, 20000.0))


def random_wall_echoes(rng: np.random.Generator, *, n: int | None = None,
                       min_delay_s: float = 0.003, max_delay_s: float = 0.090
                       ) -> tuple[tuple[float, float], ...]:
    """Draw 1-4 discrete wall echoes ``(delay_s, gain)`` with gains decaying with delay.

    Gains are relative to the direct blast's amplitude: 0.15-0.6 for a near wall, falling for
    later echoes (longer paths), so an echo is always weaker than the shot that caused it.
    """
    if n is None:
        n = int(rng.integers(1, 5))
    delays = np.sort(rng.uniform(min_delay_s, max_delay_s, size=n))
    gains = rng.uniform(0.15, 0.6, size=n) * (min_delay_s / np.maximum(delays, min_delay_s)) ** 0.35
    return tuple((float(d), float(g)) for d, g in zip(delays, gains))


def render_gunshot(*, sr: int, rng: np.random.Generator, distance_m: float = 10.0,
                   caliber: str = "pistol", positive_phase_ms: float | None = None,
                   peak_dbfs: float | None = None, ground_reflection: bool = True,
                   wall_echoes: Sequence[tuple[float, float]] | str | None = "random",
                   reverb_tail_s: float | None = None, reverb_level_db: float | None = None,
                   crack: bool | None = None, mic_highpass_hz: float = 80.0) -> np.ndarray:
    """Render one gunshot as heard by a microphone, before clipping and AGC.

    Sample 0 of the result is the first arrival of the direct muzzle blast (the truth onset)
    unless ``crack`` is on: then a supersonic crack leads by 1-3 ms and the blast follows
    (:func:`render_incident_audio` keeps the blast onset as the truth time).

    Parameters
    ----------
    sr : int
        Sample rate in Hz.
    rng : np.random.Generator
        Source of all randomness (seed it for reproducible media).
    distance_m : float
        Shooter-to-microphone distance in metres (sets level and the air low-pass).
    caliber : {"pistol", "rifle"}
        Sets the default positive phase, level and whether a crack is possible.
    positive_phase_ms : float, optional
        Friedlander positive phase in ms (0.4-1.5); drawn from the caliber's range if omitted.
    peak_dbfs : float, optional
        Peak of the direct blast in dBFS before clipping (may exceed 0: the mic then clips).
        Default: ``+20 dBFS`` for a pistol at 10 m (about 140 dB SPL against a body-cam mic
        that clips near 120 dB SPL), falling 6 dB per doubling of distance; rifles +6 dB.
    ground_reflection : bool
        Add the ground-reflected copy.
    wall_echoes : sequence of (delay_s, gain), "random" or None
        Discrete echoes after the direct blast; ``"random"`` draws 1-4 between 3 and 90 ms.
    reverb_tail_s : float, optional
        Time for the reverberant tail to fall by 60 dB (default 0.3-1.2 s drawn).
    reverb_level_db : float, optional
        Level of the tail's start relative to the blast peak (default -32 to -20 dB drawn;
        the tail is dark: most of its energy is below 2 kHz).
    crack : bool, optional
        Add a rifle's supersonic N-wave before the blast (default: no).
    mic_highpass_hz : float
        The microphone's low cut.

    Returns
    -------
    np.ndarray
        float32, shape ``(n,)``; values may exceed 1 (clipping happens later).
    """
    if sr <= 0:
        raise ParameterError(f"sample rate must be positive, got {sr}")
    if distance_m <= 0:
        raise ParameterError(f"distance_m must be positive, got {distance_m}")
    if caliber not in CALIBERS:
        raise ParameterError(f"unknown caliber {caliber!r}; expected one of {sorted(CALIBERS)}")
    spec = CALIBERS[caliber]
    if positive_phase_ms is None:
        lo, hi = spec["positive_phase_ms"]
        positive_phase_ms = float(rng.uniform(lo, hi))
    if not 0.05 <= positive_phase_ms <= 10.0:
        raise ParameterError(f"positive_phase_ms {positive_phase_ms} is outside 0.05-10 ms")
    if peak_dbfs is None:
        peak_dbfs = 20.0 + spec["level_db"] - 20.0 * np.log10(max(distance_m, 0.5) / 10.0)
    if reverb_tail_s is None:
        reverb_tail_s = float(rng.uniform(0.3, 1.2))
    if reverb_level_db is None:
        reverb_level_db = float(rng.uniform(-32.0, -20.0))
    if isinstance(wall_echoes, str):
        if wall_echoes != "random":
            raise ParameterError(f"wall_echoes must be a sequence, 'random' or None, got {wall_echoes!r}")
        wall_echoes = random_wall_echoes(rng)
    wall_echoes = tuple(wall_echoes or ())

    T = positive_phase_ms * 1e-3
    max_echo = max((d for d, _ in wall_echoes), default=0.0)
    n = int(sr * (max_echo + 0.02 + min(reverb_tail_s, 1.5)))
    t = np.arange(n) / sr

    # Direct blast: Friedlander pulse plus turbulence noise riding on its envelope.
    b = float(rng.uniform(1.4, 2.6))
    blast = friedlander(t, T, b=b)
    # turbulent jet / combustion noise: broadband, strongest in the first few ms (this is what
    # makes close gunfire sound like a crack rather than a thud)
    tau = float(rng.uniform(0.001, 0.004))
    jet = _highpass(rng.standard_normal(n), sr, 1000.0, order=1) * np.exp(-t / tau)
    blast = blast + float(rng.uniform(0.3, 0.6)) * jet
    # Muzzle gases / mechanism ring: a few ms of decaying low-mid resonance.
    f_ring = float(rng.uniform(250.0, 700.0))
    blast += 0.12 * np.sin(2 * np.pi * f_ring * t) * np.exp(-t / 0.004) * (t > 0)

    direct = lowpass(blast, sr, air_lowpass_hz(distance_m))
    out = direct.copy()

    if ground_reflection:
        hs, hm = 1.5, 1.2
        d = max(distance_m, 0.5)
        delay = (np.hypot(d, hs + hm) - np.hypot(d, hs - hm)) / 343.0
        k = int(round(delay * sr))
        g = float(rng.uniform(0.5, 0.8))
        refl = lowpass(direct, sr, 6000.0, order=1) * g
        if k < n:
            out[k:] += refl[: n - k]

    for delay_s, gain in wall_echoes:
        if not 0.0 < delay_s < 2.0:
            raise ParameterError(f"echo delay {delay_s} s is outside (0, 2) s")
        k = int(round(delay_s * sr))
        if k >= n:
            continue
        # longer paths lose more highs; wall absorption dulls the echo
        echo = lowpass(direct, sr, max(1500.0, 9000.0 * (0.01 / max(delay_s, 0.003)) ** 0.5))
        # diffuse scattering smears an echo over a few ms
        smear = np.exp(-np.arange(int(0.003 * sr)) / (0.0008 * sr))
        smear /= smear.sum()
        echo = np.convolve(echo, smear)[:n]
        out[k:] += gain * echo[: n - k] / max(np.max(np.abs(echo)), 1e-9) * np.max(np.abs(direct))

    # Reverberant tail: decaying noise, darker as it decays, starting a few ms after the blast.
    start = int(0.002 * sr)
    tail_t = t[: n - start]
    tail = rng.standard_normal(n - start) * np.exp(-6.91 * tail_t / reverb_tail_s)
    tail = lowpass(tail, sr, 1500.0, order=1) * 0.6 + lowpass(tail, sr, 4000.0, order=2) * 0.4
    onset_ramp = 1.0 - np.exp(-tail_t / 0.004)
    tail *= onset_ramp
    tail *= 10 ** (reverb_level_db / 20) * np.max(np.abs(direct)) / max(np.std(tail[: int(0.05 * sr)]) * 3, 1e-12)
    out[start:] += tail

    if crack and spec["supersonic"]:
        # N-wave of ~0.3 ms, 1-3 ms before the blast: prepend it.
        lead = int(float(rng.uniform(0.001, 0.003)) * sr)
        m = max(int(0.0003 * sr), 4)
        nwave = np.linspace(1.0, -1.0, m) * 0.6
        pre = np.zeros(lead)
        pre[: min(m, lead)] = nwave[: min(m, lead)]
        out = np.concatenate([pre, out])

    out = _highpass(out, sr, mic_highpass_hz)
    out *= 10 ** (peak_dbfs / 20) / max(np.max(np.abs(out[: int(0.003 * sr) + 1])), 1e-12)
    return out.astype(np.float32)


def apply_clipping(y: np.ndarray, *, clip_dbfs: float = 0.0, soft_knee_db: float = 3.0) -> np.ndarray:
    """Microphone / converter overload: soft saturation near ``clip_dbfs`` then a hard clip.

    Returns a new float32 array; ``y`` is not changed.
    """
    c = 10 ** (clip_dbfs / 20)
    knee = c * 10 ** (-soft_knee_db / 20)
    x = np.asarray(y, dtype=np.float64)
    a = np.abs(x)
    over = a > knee
    out = x.copy()
    if soft_knee_db > 0 and np.any(over):
        span = c - knee
        out[over] = np.sign(x[over]) * (knee + span * np.tanh((a[over] - knee) / span))
    return np.clip(out, -c, c).astype(np.float32)


def apply_agc(y: np.ndarray, sr: int, *, target_dbfs: float = -12.0, max_gain_db: float = 18.0,
              min_gain_db: float = -12.0, attack_s: float = 0.010, release_s: float = 1.0,
              block_s: float = 0.0005) -> np.ndarray:
    """Automatic gain control as in cameras and phones: fast attack, slow release.

    The gain follows a peak envelope detector run over ``block_s`` blocks: it drops within
    ``attack_s`` (default 10 ms, as camcorder and phone AGCs that must not distort speech) when
    a loud sound starts (so the first milliseconds of a shot pass at the old
    gain, as in real AGCs without look-ahead) and recovers over ``release_s``, so the level
    pumps after each shot. The gain is ``target / envelope`` limited to
    ``[min_gain_db, max_gain_db]``.

    Returns a new float32 array; ``y`` is not changed.
    """
    x = np.asarray(y, dtype=np.float32)
    hop = max(1, int(round(block_s * sr)))
    nb = -(-x.size // hop)
    pad = np.zeros(nb * hop, dtype=np.float32)
    pad[: x.size] = np.abs(x)
    peaks = pad.reshape(nb, hop).max(axis=1).astype(np.float64)
    a_att = np.exp(-hop / (attack_s * sr))
    a_rel = np.exp(-hop / (release_s * sr))
    env = np.empty(nb)
    e = 10 ** (target_dbfs / 20)
    for i, p in enumerate(peaks):  # nb is sr*duration/hop: ~2000 per second of audio
        e = a_att * e + (1 - a_att) * p if p > e else a_rel * e + (1 - a_rel) * p
        env[i] = e
    gain = 10 ** (target_dbfs / 20) / np.maximum(env, 1e-9)
    gain = np.clip(gain, 10 ** (min_gain_db / 20), 10 ** (max_gain_db / 20))
    centres = (np.arange(nb) + 0.5) * hop
    g = np.interp(np.arange(x.size), centres, gain)
    return (x * g).astype(np.float32)


def background_noise(n: int, sr: int, rng: np.random.Generator, *, level_dbfs: float = -50.0) -> np.ndarray:
    """Pinkish background (wind, traffic, handling) at ``level_dbfs`` RMS, float32."""
    from scipy.signal import lfilter

    w = rng.standard_normal(n)
    # Paul Kellet's economy pink filter
    b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
    a = [1, -2.494956002, 2.017265875, -0.522189400]
    p = lfilter(b, a, w)
    p = _highpass(p, sr, 40.0)
    p *= 10 ** (level_dbfs / 20) / max(np.std(p), 1e-12)
    return p.astype(np.float32)


def render_incident_audio(duration_s: float, sr: int, shots: Iterable[float | dict[str, Any]],
                          rng: np.random.Generator, *, clip_dbfs: float = -0.1,
                          mic_clip_dbfs: float | None = 20.0,
                          agc: bool | dict[str, Any] = True, noise_dbfs: float = -50.0,
                          distance_m: float | tuple[float, float] = (5.0, 40.0),
                          caliber: str = "pistol", wall_echoes: Any = "random",
                          distractors: Iterable[tuple[float, np.ndarray, dict[str, Any]]] = (),
                          pre_gain_db: float = 0.0) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Mix shots (and optional distractors) into a body-cam style feed with known truth.

    Parameters
    ----------
    duration_s : float
        Length of the feed in seconds.
    sr : int
        Sample rate in Hz.
    shots : iterable of float or dict
        Onset times in seconds (first arrival of the direct blast), or dicts with ``time_s`` and
        any :func:`render_gunshot` keyword (``distance_m``, ``caliber``, ``wall_echoes``...).
    rng : np.random.Generator
        Seeded source of randomness.
    clip_dbfs : float
        Level at which the converter clips, after the gain control (None: no clipping).
    mic_clip_dbfs : float
        Level (relative to the converter's full scale at unity gain) at which the capsule and
        preamp saturate, before the gain control (None: never).
    agc : bool or dict
        Apply :func:`apply_agc` between the mic and the converter (a dict passes its options).
        The order matters: an analog/pre-converter AGC with a few ms of attack lets the first
        milliseconds of a shot hit the converter at full scale, then pumps the tail down.
    noise_dbfs : float
        RMS of the background noise.
    distance_m : float or (low, high)
        Default distance per shot, or a range drawn per shot.
    caliber, wall_echoes
        Defaults for shots that do not set them. With ``"random"`` wall echoes, one set of
        echoes is drawn per incident (one scene) and jittered slightly per shot.
    distractors : iterable of (time_s, samples, info)
        Pre-rendered non-gunshot sounds (see :mod:`sample_media.distractors`) placed at
        ``time_s``; they appear in the truth with ``kind = info["kind"]``.
    pre_gain_db : float
        Gain applied to the mix before clipping.

    Returns
    -------
    y : np.ndarray
        float32 mono, shape ``(round(duration_s * sr),)``.
    truth : list of dict
        One per event, sorted by time: ``time_s`` (onset, first arrival), ``kind``
        ("gunshot" or the distractor's kind) and the parameters used.
    """
    if duration_s <= 0:
        raise ParameterError(f"duration_s must be positive, got {duration_s}")
    n = int(round(duration_s * sr))
    mix = background_noise(n, sr, rng, level_dbfs=noise_dbfs).astype(np.float64)
    truth: list[dict[str, Any]] = []
    scene_echoes = random_wall_echoes(rng) if isinstance(wall_echoes, str) and wall_echoes == "random" else wall_echoes

    for s in shots:
        opts: dict[str, Any] = dict(s) if isinstance(s, dict) else {"time_s": float(s)}
        t0 = float(opts.pop("time_s"))
        d = opts.pop("distance_m", distance_m)
        if isinstance(d, (tuple, list)):
            d = float(rng.uniform(d[0], d[1]))
        opts.setdefault("caliber", caliber)
        if "wall_echoes" not in opts:
            if scene_echoes and not isinstance(scene_echoes, str):
                opts["wall_echoes"] = tuple(
                    (dl * float(rng.uniform(0.97, 1.03)), g * float(rng.uniform(0.8, 1.2)))
                    for dl, g in scene_echoes)
            else:
                opts["wall_echoes"] = scene_echoes
        shot = render_gunshot(sr=sr, rng=rng, distance_m=d, **opts).astype(np.float64)
        lead = 0
        if opts.get("crack"):
            # blast onset is where the direct pulse begins after the crack's lead-in
            lead = int(np.argmax(np.abs(shot) > 0.5 * np.max(np.abs(shot))))
        k = int(round(t0 * sr)) - lead
        if k >= n:
            continue
        lo = max(k, 0)
        mix[lo: min(n, k + shot.size)] += shot[lo - k: min(n, k + shot.size) - k]
        truth.append({"time_s": round(t0 * sr) / sr, "kind": "gunshot", "distance_m": float(d),
                      **{key: v for key, v in opts.items() if key != "wall_echoes"},
                      "wall_echoes": [list(e) for e in (opts.get("wall_echoes") or ())],
                      "peak_dbfs_before_clip": float(20 * np.log10(max(np.max(np.abs(shot)), 1e-12)))})

    for t0, samples, info in distractors:
        k = int(round(float(t0) * sr))
        if k >= n:
            continue
        m = min(n - k, samples.size)
        mix[k: k + m] += samples[:m]
        truth.append({"time_s": k / sr, **info})

    if pre_gain_db:
        mix *= 10 ** (pre_gain_db / 20)
    y = mix.astype(np.float32)
    # capsule / preamp overload first (a very close blast saturates the mic before any gain),
    # then the gain control ahead of the converter, then the converter's hard clip
    if mic_clip_dbfs is not None and np.isfinite(mic_clip_dbfs):
        y = apply_clipping(y, clip_dbfs=mic_clip_dbfs, soft_knee_db=6.0)
    if agc:
        y = apply_agc(y, sr, **(agc if isinstance(agc, dict) else {}))
    if clip_dbfs is not None and np.isfinite(clip_dbfs):
        y = apply_clipping(y, clip_dbfs=clip_dbfs, soft_knee_db=0.0)
    truth.sort(key=lambda e: e["time_s"])
    return y.astype(np.float32), truth


def two_shooter_times(rng: np.random.Generator, *, rounds: tuple[int, int] = (10, 10),
                      start_s: float = 2.0, interval_s: tuple[float, float] = (0.12, 0.45),
                      min_spacing_s: float = 0.060) -> list[tuple[float, int]]:
    """Onset times of two shooters firing together: ``[(time_s, shooter), ...]`` sorted.

    Each shooter fires ``rounds[i]`` rounds at intervals drawn from ``interval_s``; shooter 1
    starts within 0.5 s of shooter 0. Any two shots (of either shooter) are at least
    ``min_spacing_s`` apart (a too-close shot is pushed later).
    """
    shots: list[tuple[float, int]] = []
    for who, count in enumerate(rounds):
        t = start_s + (float(rng.uniform(0.0, 0.5)) if who else 0.0)
        for _ in range(count):
            shots.append((t, who))
            t += float(rng.uniform(*interval_s))
    shots.sort()
    out: list[tuple[float, int]] = []
    for t, who in shots:
        if out and t - out[-1][0] < min_spacing_s:
            t = out[-1][0] + min_spacing_s + float(rng.uniform(0.0, 0.02))
        out.append((t, who))
    return out
