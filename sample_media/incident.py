"""The demo incident: four cameras of one synthetic police shooting, with exact ground truth.

:func:`build_incident` writes, into one folder,

=====================  ==========================================================================
``bodycam_A.mp4``      Officer A's body cam: H.264 + AAC 48 kHz mono. 30 s pre-event buffer
                       recorded *without audio* (the audio track starts 30 s after the video),
                       clock drift about +40 ppm, close to both shooters: clipping and AGC.
``bodycam_B.mp4``      Officer B's body cam, started 4.5-7.5 s after A, drift about -25 ppm, a few
                       metres from A; one audio packet gap and, later, the officer mutes the mic
                       (12.5 s of digital silence).
``dashcam.mp4``        The patrol car's dash cam: 16 kHz mono AAC, far from the shooters (quieter,
                       duller, no clipping); starts with a closed-car passage at about -70 dBFS
                       that is quiet live audio, *not* a mute.
``helicopter_ir.mp4``  The police helicopter's infrared camera: no audio stream; white-hot
                       aerial view with warm people and cars and a 1-2 frame muzzle flash at the
                       shooter's position at every shot (light arrives instantly).
``truth.json``         Ground truth, schema ``evidence-audit.truth/1`` (see the README, "The demo incident").
=====================  ==========================================================================

Everything happens on one *incident clock* ``T`` (seconds from 2026-11-21 21:13:30 UTC). A feed
whose camera started at ``start_T`` with a clock running ``drift_ppm`` fast shows media time
``t`` at ``T = start_T + t * (1 + drift_ppm * 1e-6)``. The sync truth is relative to the
reference feed (Officer A's body cam), matching :class:`media_core.clock.Clock`:
``A_media = offset_s + t * (1 + drift_ppm * 1e-6)``.

Sound reaches each microphone ``distance / 343 m/s`` after it was made; the truth lists every
shot's onset (first arrival of the direct blast) in each feed's media time with that travel
time, and the helicopter's flashes at the true firing instants.

The build is deterministic for a seed and idempotent: when ``truth.json`` already records the
same generator version, seed and parameters and every file still has its recorded SHA-256,
nothing is written.

Example
-------
>>> from sample_media.incident import build_incident  # doctest: +SKIP
>>> truth_path = build_incident("sample_media/generated", seed=7)  # doctest: +SKIP
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import pathlib
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from media_core.clock import Clock
from media_core.errors import ParameterError

from .audio import lowpass

__all__ = [
    "GENERATOR_VERSION",
    "TRUTH_SCHEMA",
    "TRUTH_FILE",
    "SPEED_OF_SOUND_M_S",
    "build_incident",
    "incident_up_to_date",
    "load_truth",
    "true_clock",
]

#: Bumped whenever the generator's output changes for a given seed.
GENERATOR_VERSION = "1.6.0"  # 1.6: drawn with Pillow (DejaVu Sans text), not OpenCV; 1.5: B says "Hey, mute"
TRUTH_SCHEMA = "evidence-audit.truth/1"
TRUTH_FILE = "truth.json"
SPEED_OF_SOUND_M_S = 343.0
#: Incident time 0 in UTC.
INCIDENT_EPOCH = _dt.datetime(2026, 11, 21, 21, 13, 30, tzinfo=_dt.timezone.utc)
MIN_DURATION_S = 80.0
MAX_DURATION_S = 1200.0

_FULL_VIDEO = {"size": (480, 270), "fps": 30.0}
_FAST_VIDEO = {"size": (320, 180), "fps": 15.0}


# --------------------------------------------------------------------------------------------
# Scene: who is where, when; what sounds and flashes happen
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Track:
    """Piecewise-linear path ``(T, x, y, yaw_deg)`` on the incident clock (metres, degrees
    clockwise from north; +y is north, +x east).
    """

    keys: np.ndarray  # (n, 4)

    def pos(self, T: float) -> np.ndarray:
        k = self.keys
        return np.array([np.interp(T, k[:, 0], k[:, 1]), np.interp(T, k[:, 0], k[:, 2])])

    def yaw(self, T: float) -> float:
        return float(np.interp(T, self.keys[:, 0], self.keys[:, 3]))

    def speed(self, T: float) -> float:
        return float(np.hypot(*(self.pos(T + 0.05) - self.pos(T - 0.05))) / 0.1)


@dataclass(frozen=True)
class _Feed:
    key: str
    file: str
    label: str
    kind: str
    start_T: float
    drift_ppm: float          # this camera's clock against the incident clock
    duration_s: float         # media duration
    sr: int | None            # None: no audio stream
    audio_start_s: float
    audio_bitrate: int
    wallclock_error_s: float  # the camera's clock minus true UTC at start
    owner: str | None         # actor wearing the camera (body cams)
    tags: dict = field(default_factory=dict)

    @property
    def clock(self) -> Clock:
        """Media time -> incident time T (the project's one Clock formula)."""
        return Clock(self.start_T, self.drift_ppm)

    @property
    def rate(self) -> float:
        return self.clock.rate

    def to_T(self, t):
        return self.clock.to_shared(t)

    def to_media(self, T):
        return self.clock.to_media(T)


@dataclass
class _Scene:
    seed: int
    duration_s: float
    tracks: dict[str, _Track]
    feeds: list[_Feed]
    shots: list[dict]
    events: list[dict]
    car_pass: dict
    door_open_T: float
    suspect_out_T: float
    suspect_down_T: float
    mute_B_T: tuple[float, float]
    gap_B_media: tuple[float, float]

    def feed(self, key: str) -> _Feed:
        return next(f for f in self.feeds if f.key == key)


_CAR_Y = 8.0  # the patrol car (with the dash cam) is parked 8 m north of the layout origin
_DASH_MIC = np.array([2.2, _CAR_Y + 1.0, 1.2])
_PATROL_CAR = {"x": 2.4, "y": _CAR_Y, "w": 1.9, "l": 4.9, "h": 1.45}


def _rng(seed: int, *tags: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *[int(t) for t in tags]])


def _make_scene(seed: int, duration_s: float) -> _Scene:
    """Lay out the incident for ``seed``: tracks, feeds, shots and other sound events."""
    D = float(duration_s)
    rng = _rng(seed, 1)

    # --- cameras ---------------------------------------------------------------------------
    start_A = 2.0
    start_B = start_A + float(rng.uniform(4.5, 7.5))
    drift = {"A": float(rng.uniform(32, 48)), "B": float(rng.uniform(-32, -18)),
             "dash": float(rng.uniform(60, 90)), "heli": float(rng.uniform(-15, 5))}
    drift = {k: round(v, 2) for k, v in drift.items()}
    feeds = [
        _Feed("bodycam_A", "bodycam_A.mp4", "Officer A body cam", "bodycam", start_A, drift["A"],
              round(D - 4.0, 3), 48000, 30.0, 64000, round(float(rng.uniform(0.5, 2.5)), 3), "officer_A",
              {"make": "Axon", "model": "Axon Body 3", "serial": "X6039AB3F"}),
        _Feed("bodycam_B", "bodycam_B.mp4", "Officer B body cam", "bodycam", round(start_B, 4), drift["B"],
              round(D - 1.0 - start_B, 3), 48000, 0.0, 64000, round(float(rng.uniform(-2.5, -0.5)), 3),
              "officer_B", {"make": "Axon", "model": "Axon Body 3", "serial": "X6041C7D2"}),
        _Feed("dashcam", "dashcam.mp4", "Patrol car 14 dash cam", "dashcam", 0.0, drift["dash"],
              round(D, 3), 16000, 0.0, 32000, round(float(rng.uniform(-4.0, 4.0)), 3), None,
              {"make": "WatchGuard", "model": "4RE", "serial": "WG4RE-20417"}),
        _Feed("helicopter", "helicopter_ir.mp4", "Air 1 helicopter infrared", "helicopter", 21.0, drift["heli"],
              round(D - 26.0, 3), None, 0.0, 0, round(float(rng.uniform(-1.0, 1.0)), 3), None,
              {"make": "Teledyne FLIR", "model": "Star SAFIRE 380-HDc", "serial": "SS380-7731"}),
    ]

    # --- people and cars -------------------------------------------------------------------
    A_pos = (4.6, 17.5)
    B_pos = (-0.8, 18.8)
    S_pos = (6.6, 23.5)
    yaw_A = math.degrees(math.atan2(S_pos[0] - A_pos[0], S_pos[1] - A_pos[1]))
    yaw_B = math.degrees(math.atan2(S_pos[0] - B_pos[0], S_pos[1] - B_pos[1]))
    door_open_T = 26.0
    tracks = {
        "officer_A": _Track(np.array([
            [0.0, 2.0, _CAR_Y + 0.3, 0.0], [door_open_T, 2.0, _CAR_Y + 0.3, 0.0],
            [door_open_T + 1.2, 3.6, _CAR_Y + 0.8, 60.0], [door_open_T + 2.5, 4.5, _CAR_Y + 1.6, 10.0],
            [36.0, 4.6, _CAR_Y + 2.2, 20.0], [42.0, 4.8, 15.5, 15.0], [43.5, *A_pos, yaw_A],
            [61.5, *A_pos, yaw_A], [65.5, 6.0, 22.0, 15.0], [70.0, 6.0, 22.0, 60.0],
            [max(D, 71.0), 5.5, 21.0, 200.0]])),
        "officer_B": _Track(np.array([
            [0.0, -6.0, -16.0, 10.0], [start_B, -6.0, -14.0, 10.0], [30.0, -5.5, 5.0, 0.0],
            [41.0, -5.2, 14.0, 20.0], [42.5, -5.0, 15.5, 70.0], [45.0, *B_pos, yaw_B],
            [61.5, *B_pos, yaw_B], [66.0, 4.0, 22.5, 90.0], [72.0, 4.0, 22.5, 180.0],
            [80.0, 0.5, 8.0, 200.0], [max(D, 81.0), 0.0, 6.0, 180.0]])),
        "suspect": _Track(np.array([
            [0.0, 7.6, 26.0, 250.0], [44.0, 7.4, 26.0, 250.0], [47.0, *S_pos, 200.0],
            [max(D, 48.0), *S_pos, 200.0]])),
    }
    car_pass = {"T0": 34.0, "x": -2.0, "y0": -70.0, "speed": 11.0, "T1": 46.0}
    tracks["passing_car"] = _Track(np.array([
        [0.0, car_pass["x"], car_pass["y0"], 0.0], [car_pass["T0"], car_pass["x"], car_pass["y0"], 0.0],
        [car_pass["T1"], car_pass["x"], car_pass["y0"] + car_pass["speed"] * (car_pass["T1"] - car_pass["T0"]), 0.0],
        [max(D, 47.0), car_pass["x"], car_pass["y0"] + car_pass["speed"] * (car_pass["T1"] - car_pass["T0"]), 0.0]]))

    # --- shots -----------------------------------------------------------------------------
    audio_feeds = [f for f in feeds if f.sr]

    def muzzle(who: str, T: float) -> np.ndarray:
        tr = tracks[who]
        p = tr.pos(T)
        a = math.radians(tr.yaw(T))
        return np.array([p[0] + 0.45 * math.sin(a), p[1] + 0.45 * math.cos(a), 1.4])

    for attempt in range(500):
        r = _rng(seed, 2, attempt)
        a0 = 49.6 + float(r.uniform(0.0, 0.4))
        tA = list(a0 + np.concatenate([[0.0], np.cumsum(r.uniform(0.24, 0.42, 4))]))
        b0 = tA[1] + float(r.uniform(0.08, 0.15))
        tB = list(b0 + np.concatenate([[0.0], np.cumsum(r.uniform(0.28, 0.45, 3))]))
        v2 = 56.0 + float(r.uniform(0.0, 0.5))
        tA2 = [v2, v2 + float(r.uniform(0.3, 0.5))]
        shots = ([{"shooter": "officer_A", "T": t, "volley": 1} for t in tA]
                 + [{"shooter": "officer_B", "T": t, "volley": 1} for t in tB]
                 + [{"shooter": "officer_A", "T": t, "volley": 2} for t in tA2])
        shots.sort(key=lambda s: s["T"])
        ok = all(b["T"] - a["T"] >= 0.06 for a, b in zip(shots, shots[1:]))
        if ok:  # every microphone must hear shots at least 60 ms apart too
            for f in audio_feeds:
                arr = sorted(s["T"] + np.linalg.norm(muzzle(s["shooter"], s["T"]) - _mic_pos(tracks, f, s["T"]))
                             / SPEED_OF_SOUND_M_S for s in shots)
                if np.min(np.diff(arr)) < 0.06:
                    ok = False
                    break
        if ok:
            break
    else:  # pragma: no cover - the ranges above always allow a layout
        raise ParameterError(f"could not lay out shots at least 60 ms apart for seed {seed}")
    for i, s in enumerate(shots):
        s["id"] = i + 1
        s["pos"] = muzzle(s["shooter"], s["T"])
    suspect_down_T = max(s["T"] for s in shots if s["volley"] == 1) + 0.4

    # --- other sound events ----------------------------------------------------------------
    er = _rng(seed, 3)
    events: list[dict] = []

    def ev(kind, T, source, render, level_1m_db, *, audible=None, interior=False, pos=None, **extra):
        if pos is None:
            p = tracks[source].pos(T)
            pos = np.array([p[0], p[1], 1.65])
        events.append({"kind": kind, "T": float(T), "source": source, "render": render,
                       "level_1m_db": float(level_1m_db), "audible": audible, "interior": interior,
                       "pos": np.asarray(pos, float), **extra})

    car_int = np.array([2.4, _CAR_Y + 0.6, 1.0])
    ev("radio", 6.0, "patrol_car_radio", ("radio", 2.6), -52.0, audible={"dashcam"}, interior=True, pos=car_int)
    ev("car_door_open", door_open_T, "patrol_car_door", ("distractor", "door_slam"), -18.0, interior=True,
       pos=np.array([1.5, _CAR_Y + 0.4, 1.0]))
    # footsteps: heard by the walking officer's own camera only
    for who, cam, spans in (("officer_A", "bodycam_A", [(door_open_T + 1.5, 43.0), (61.8, 65.5), (70.2, D - 2)]),
                            ("officer_B", "bodycam_B", [(start_B + 0.8, 44.5), (61.8, 66.0), (72.2, 80.0)])):
        for a, b in spans:
            T = a
            while T < b - 1.0:
                if tracks[who].speed(T + 0.5) > 0.3:
                    ev("footsteps", T, who, ("distractor", "footsteps"), -22.0, audible={cam}, fixed_level=True)
                T += float(er.uniform(3.0, 4.5))
    ev("mic_bump", 36.4, "officer_A", ("distractor", "mic_bump"), 4.0, audible={"bodycam_A"}, fixed_level=True)
    ev("door_slam", 38.0, "neighbour_door", ("distractor", "door_slam"), 4.0, pos=np.array([-7.0, 31.0, 1.2]))
    ev("door_slam", 44.0, "suspect_house_door", ("distractor", "door_slam"), 6.0, pos=np.array([7.2, 26.0, 1.2]))
    ev("knock", 40.2, "officer_B", ("distractor", "knock"), -4.0, pos=np.array([-7.0, 14.0, 1.3]))
    speech = [  # (T, who, kind, seconds)
        (33.4, "officer_A", "shouting", None), (34.3, "officer_A", "speech", 1.6),
        (39.0, "officer_B", "speech", 2.2), (45.0, "officer_A", "shouting", None),
        (46.1, "officer_A", "shouting", None), (46.9, "officer_B", "shouting", None),
        (47.9, "suspect", "shouting", None), (48.6, "officer_A", "shouting", None),
    ]
    t_after_v1 = max(s["T"] for s in shots if s["volley"] == 1) + 0.9
    t_after_v2 = max(s["T"] for s in shots) + 0.8
    speech += [(t_after_v1, "officer_B", "shouting", None), (t_after_v1 + 1.0, "officer_A", "speech", 1.8),
               (t_after_v1 + 3.1, "officer_B", "shouting", None),
               (t_after_v2, "officer_A", "shouting", None), (t_after_v2 + 1.2, "officer_B", "speech", 2.5),
               (t_after_v2 + 4.4, "officer_A", "speech", 2.0)]
    T = t_after_v2 + 7.5
    who = 0
    while T < D - 3.0:  # aftermath: both officers talk, radio traffic
        speaker = ("officer_A", "officer_B")[who % 2]
        dur = float(er.uniform(1.2, 3.0))
        speech.append((T, speaker, "speech" if er.random() < 0.7 else "shouting", dur))
        who += 1
        T += dur + float(er.uniform(0.8, 2.5))
    # a spoken reason (the Stephon Clark recording): B says "Hey, mute" 3 s before he mutes. Other
    # talk that would overlap it is left out so that the phrase is heard alone. Needs espeak-ng
    # (scripts/setup.sh installs it); without it the phrase is skipped and truth.json says so.
    phrase_T = (D - 22.0) - 3.0
    if _spoken_phrase_engine() is not None:
        speech = [s for s in speech if not (s[0] < phrase_T + 1.6 and s[0] + (s[3] or 1.5) > phrase_T - 0.4)]
        ev("spoken_phrase", phrase_T, "officer_B", ("tts", _PHRASE), -20.0, text=_PHRASE)
    for T, speaker, kind, dur in speech:
        if kind == "shouting":
            ev("shouting", T, speaker, ("distractor", "shouting"), -6.0)
        else:
            ev("speech", T, speaker, ("speech", dur), -20.0)
    ev("door_slam", min(71.0, D - 5.0), "backup_car_door", ("distractor", "door_slam"), 4.0,
       pos=np.array([-3.0, -9.0, 1.0]))
    ev("radio", D - 12.0, "patrol_car_radio", ("radio", 3.0), -44.0, audible={"dashcam"}, interior=True, pos=car_int)
    events.sort(key=lambda e: e["T"])

    mute_B_T = (D - 22.0, D - 9.5)
    fB = next(f for f in feeds if f.key == "bodycam_B")
    g0 = round(float(fB.to_media(24.0)), 3)
    return _Scene(seed, D, tracks, feeds, shots, events, car_pass, door_open_T, 44.0, suspect_down_T,
                  mute_B_T, (g0, g0 + 0.6))


def _mic_pos(tracks: dict[str, _Track], feed: _Feed, T: float) -> np.ndarray:
    if feed.owner is not None:
        tr = tracks[feed.owner]
        p = tr.pos(T)
        a = math.radians(tr.yaw(T))
        return np.array([p[0] + 0.12 * math.sin(a), p[1] + 0.12 * math.cos(a), 1.35])
    return _DASH_MIC


def _arrival(scene: _Scene, feed: _Feed, T_emit: float, pos: np.ndarray) -> tuple[float, float]:
    """(distance_m, arrival time on the incident clock) of a sound made at ``pos`` at ``T_emit``."""
    d = float(np.linalg.norm(pos - _mic_pos(scene.tracks, feed, T_emit)))
    # one fixed-point step for a moving microphone (walking speed: well under 0.1 ms error)
    d = float(np.linalg.norm(pos - _mic_pos(scene.tracks, feed, T_emit + d / SPEED_OF_SOUND_M_S)))
    return d, T_emit + d / SPEED_OF_SOUND_M_S


# --------------------------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------------------------

def _bandpass(y: np.ndarray, sr: int, lo: float, hi: float) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    return sosfilt(butter(2, [lo, min(hi, 0.45 * sr)], btype="band", fs=sr, output="sos"), y)


def _add(buf: np.ndarray, sig: np.ndarray, k: int) -> None:
    n = buf.size
    if k >= n or k + sig.size <= 0:
        return
    lo = max(k, 0)
    hi = min(n, k + sig.size)
    buf[lo:hi] += sig[lo - k:hi - k]


_PHRASE = "Hey, mute."


def _spoken_phrase_engine() -> str | None:
    """The synthesizer of the demo's spoken phrase (``"espeak-ng"``), or None where it is not installed."""
    from .speech import available

    return "espeak-ng" if available("espeak-ng") else None


def _render_event(ev: dict, *, sr: int, rng: np.random.Generator, level_db: float) -> np.ndarray:
    from .audio import speech_like
    from .distractors import render_distractor

    kind, arg = ev["render"]
    if kind == "tts":  # a real spoken phrase (espeak-ng, voice en-us, normal speed), RMS at level_db
        from .speech import Voice, active_power, synthesize

        y = synthesize(arg, Voice("espeak-ng", "en-us", 1.0), sr=sr).astype(np.float64)
        return y * 10 ** (level_db / 20) / np.sqrt(max(active_power(y), 1e-20))
    if kind == "distractor":
        return render_distractor(arg, sr=sr, rng=rng, peak_dbfs=level_db).astype(np.float64)
    y = speech_like(arg, sr, level_dbfs=level_db, rng=rng).astype(np.float64)
    if kind == "radio":  # a police radio speaker: narrow band, a squelch tail
        y = _bandpass(y, sr, 350.0, 3000.0) * 2.0
        y = np.concatenate([y, rng.standard_normal(int(0.12 * sr)) * 10 ** (level_db / 20) * 0.5])
    return y


def _car_source(scene: _Scene) -> tuple[np.ndarray, int, float]:
    """The passing car's emitted sound on the incident clock at 48 kHz (engine + tyres),
    unit-RMS; returns (signal, sr, T of sample 0).
    """
    sr = 48000
    r = _rng(scene.seed, 4)
    T0 = scene.car_pass["T0"] - 0.5
    n = int((scene.car_pass["T1"] - scene.car_pass["T0"] + 1.0) * sr)
    t = np.arange(n) / sr
    f0 = 32.0 + 3.0 * np.sin(2 * np.pi * 0.2 * t)
    ph = 2 * np.pi * np.cumsum(f0) / sr
    eng = sum((0.8 / h) * np.sin(h * ph + r.uniform(0, 6.28)) for h in range(1, 8))
    tyre = _bandpass(r.standard_normal(n), sr, 250.0, 2500.0) * 1.2
    y = lowpass(eng + tyre, sr, 6000.0)
    y /= np.sqrt(np.mean(y ** 2))
    return y, sr, T0


#: A body-cam microphone capsule saturates: however close the gun, the blast reaching the
#: converter is at most this far over full scale (the converter then clips it to 0 dBFS).
_MIC_SATURATION_DBFS = 24.0
#: Reflecting surfaces of the street: (name, axis, plane coordinate, reflection coefficient).
#: (The building closing the street 100 m north would return a slap-back 0.5 s late; it is left
#: out so that every echo falls 1-90 ms after its shot.)
_SURFACES = (("ground", 2, 0.0, 0.8), ("east facades", 0, 7.0, 0.7), ("west facades", 0, -7.0, 0.7))


def _default_peak_dbfs(distance_m: float) -> float:
    """The gunshot model's level for a pistol at ``distance_m`` (+20 dBFS at 10 m, -6 dB per
    doubling), as :func:`sample_media.gunshot.render_gunshot` draws it.
    """
    return 20.0 - 20.0 * math.log10(max(distance_m, 0.5) / 10.0)


def _image_paths(src: np.ndarray, mic: np.ndarray):
    direct = float(np.linalg.norm(src - mic))
    for name, axis, plane, coef in _SURFACES:
        img = np.array(src, float)
        img[axis] = 2 * plane - img[axis]
        if (src[axis] - plane) * (mic[axis] - plane) <= 0:
            continue  # source and microphone on different sides: no reflection
        path = float(np.linalg.norm(img - mic))
        yield name, (path - direct) / SPEED_OF_SOUND_M_S, coef * direct / path


def _image_echoes(src: np.ndarray, mic: np.ndarray) -> tuple[tuple[float, float], ...]:
    """First-order reflections (image sources) off the ground and the street's walls, as
    ``(delay_s, gain)`` relative to the direct blast: spreading over the longer path and the
    surface's reflection coefficient set the gain, so a microphone next to the gun hears
    faint echoes and a distant one strong ones.
    """
    return tuple((d, g) for _n, d, g in _image_paths(src, mic) if 0 < d < 0.1)


def _image_echo_names(src: np.ndarray, mic: np.ndarray) -> list[str]:
    return [n for n, d, _g in _image_paths(src, mic) if 0 < d < 0.1]


def _noise(fn: Callable, n: int, sr: int, level_dbfs: float, rng: np.random.Generator,
           chunk_s: float = 60.0) -> np.ndarray:
    """``n`` samples of a noise generator from :mod:`sample_media.audio`, made a minute at
    a time so that memory stays small for long incidents; float32.
    """
    out = np.empty(n, np.float32)
    step = int(chunk_s * sr)
    for k in range(0, n, step):
        m = min(step, n - k)
        out[k:k + m] = fn(m / sr, sr, level_dbfs=level_dbfs, rng=int(rng.integers(2 ** 62)))[:m]
    return out


def _render_audio(scene: _Scene, feed: _Feed) -> tuple[np.ndarray, list[dict], list[dict], list[dict]]:
    """Mix one feed's audio on its media timeline from ``feed.audio_start_s`` to the end.

    Returns ``(y, shots, events, quiet)``: float32 mono and the truth entries (media times).
    """
    from .audio import car_rumble, db_to_amp, room_tone
    from .gunshot import apply_agc, apply_clipping, render_gunshot

    sr = feed.sr
    fi = [f.key for f in scene.feeds].index(feed.key)
    a0 = feed.audio_start_s
    n = int(round((feed.duration_s - a0) * sr))
    near = np.zeros(n, np.float32)          # what reaches the microphone directly
    inside = np.zeros(n, np.float32)        # dash cam: sound made inside the car
    is_dash = feed.kind == "dashcam"

    def k_of(t_media: float) -> int:
        return int(round((t_media - a0) * sr))

    # --- gunshots ---
    shots_truth = []
    for s in scene.shots:
        d, T_arr = _arrival(scene, feed, s["T"], s["pos"])
        t_on = feed.to_media(T_arr)
        if not a0 <= t_on < feed.duration_s:
            continue
        r = _rng(scene.seed, 6, s["id"], fi)
        mic = _mic_pos(scene.tracks, feed, s["T"])
        echoes = _image_echoes(s["pos"], mic)
        # the direct-to-reverberant ratio grows as the microphone gets closer to the gun
        reverb_db = float(np.clip(-18.0 + 20 * math.log10(max(d, 0.3) / 10.0), -45.0, -12.0))
        peak = min(_default_peak_dbfs(d), _MIC_SATURATION_DBFS)
        y = render_gunshot(sr=sr, rng=r, distance_m=max(d, 0.3), peak_dbfs=peak, ground_reflection=False,
                           wall_echoes=echoes, reverb_level_db=reverb_db).astype(np.float64)
        _add(near, y, k_of(t_on))
        shots_truth.append({"shot_id": s["id"], "shooter": s["shooter"], "volley": s["volley"],
                            "onset_s": round(float(t_on), 6), "distance_m": round(d, 3),
                            "travel_s": round(d / SPEED_OF_SOUND_M_S, 6),
                            "peak_dbfs_at_mic": round(peak, 2),
                            "echoes": [{"delay_s": round(dl, 5), "gain": round(g, 4), "surface": name}
                                       for (dl, g), name in zip(echoes, _image_echo_names(s["pos"], mic))]})

    # --- other sounds ---
    events_truth = []
    for j, e in enumerate(scene.events):
        if e["audible"] is not None and feed.key not in e["audible"]:
            continue
        if e.get("fixed_level"):
            d, T_arr = 0.3, e["T"]
            level = e["level_1m_db"]
        else:
            d, T_arr = _arrival(scene, feed, e["T"], e["pos"])
            level = e["level_1m_db"] - 20 * math.log10(max(d, 0.25))
        t_on = feed.to_media(T_arr)
        if not a0 <= t_on < feed.duration_s:
            continue
        y = _render_event(e, sr=sr, rng=_rng(scene.seed, 7, j, fi), level_db=level)
        _add(inside if (is_dash and e["interior"]) else near, y, k_of(t_on))
        events_truth.append({"kind": e["kind"], "source": e["source"], "emitted_incident_s": round(e["T"], 6),
                             "onset_s": round(float(t_on), 6),
                             "duration_s": round(y.size / sr, 3), "distance_m": round(d, 3)})

    # --- the passing car (continuous, moving: Doppler and level follow the geometry) ---
    src, ssr, sT0 = _car_source(scene)
    cp = scene.car_pass
    k_lo = max(0, k_of(feed.to_media(cp["T0"] - 0.3)))
    k_hi = min(n, k_of(feed.to_media(cp["T1"] + 0.3)))
    sel = np.arange(k_lo, max(k_lo, k_hi))
    if sel.size:
        tm_sel = a0 + sel / sr                    # media and incident time of those samples
        Ts = feed.to_T(tm_sel)
        cy = cp["y0"] + cp["speed"] * np.clip(Ts - cp["T0"], 0, None)
        if feed.owner is not None:
            mic = np.array([_mic_pos(scene.tracks, feed, T) for T in Ts[::max(1, sr // 50)]])
            mx = np.interp(Ts, Ts[::max(1, sr // 50)], mic[:, 0])
            my = np.interp(Ts, Ts[::max(1, sr // 50)], mic[:, 1])
        else:
            mx, my = _DASH_MIC[0], _DASH_MIC[1]
        dist = np.sqrt((cp["x"] - mx) ** 2 + (cy - my) ** 2 + 0.6 ** 2)
        tau = Ts - dist / SPEED_OF_SOUND_M_S
        s = np.interp((tau - sT0) * ssr, np.arange(src.size), src, left=0.0, right=0.0)
        fade = np.clip((Ts - cp["T0"]) / 0.5, 0, 1) * np.clip((cp["T1"] - Ts) / 0.5, 0, 1)
        near[sel] += s * fade * db_to_amp(-8.0) / np.maximum(dist, 3.0)
        d_min = float(np.min(dist))
        i_min = int(np.argmin(dist))
        events_truth.append({"kind": "passing_car", "source": "passing_car",
                             "onset_s": round(float(tm_sel[0]), 3),
                             "duration_s": round(float(tm_sel[-1] - tm_sel[0]), 3),
                             "closest_s": round(float(tm_sel[i_min]), 3), "distance_m": round(d_min, 2)})

    # --- noise floors and the microphone chain ---
    quiet = []
    if is_dash:
        rr = _rng(scene.seed, 8, fi)
        street = _noise(room_tone, n, sr, -38.0, rr)
        # closed: -40 dB through glass; the driver's door open: -25 dB (the cabin mic is far
        # from the door and the camera's fixed gain is set for voices inside the car)
        closed, opened = db_to_amp(-40.0), db_to_amp(-25.0)
        cabin = np.full(n, opened, np.float32)
        k_open = k_of(feed.to_media(scene.door_open_T))
        k_ramp = int(0.4 * sr)
        cabin[:max(0, k_open)] = closed
        if 0 <= k_open < n:  # the door swings open over 0.4 s
            m = min(k_ramp, n - k_open)
            cabin[k_open:k_open + m] = closed + np.arange(m) / k_ramp * (opened - closed)
        ext = lowpass(near + street, sr, 4500.0).astype(np.float32) * cabin
        del street, cabin
        y = ext + inside + _noise(car_rumble, n, sr, -72.0, rr) + _noise(room_tone, n, sr, -78.0, rr)
        del ext
        for st in shots_truth:
            k = k_of(st["onset_s"])
            st["clipped"] = bool(np.max(np.abs(y[k:k + int(0.005 * sr)])) >= 1.0)
        y = np.clip(y, -1.0, 1.0)
        # the closed-car passage, minus the radio bursts, is quiet live audio (never a mute)
        t_open = feed.to_media(scene.door_open_T)
        spans = [(0.0, t_open)]
        for e in events_truth:
            if e["kind"] in ("radio", "car_door_open") and e["onset_s"] < t_open + 1:
                e0, e1 = e["onset_s"], e["onset_s"] + e["duration_s"]
                spans = [p for a, b in spans for p in ((a, min(b, e0)), (max(a, e1), b)) if p[1] - p[0] > 0.5]
        for a, b in spans:
            seg = y[max(0, k_of(a)):k_of(b)]
            quiet.append({"start_s": round(a, 3), "end_s": round(b, 3), "kind": "closed-car",
                          "rms_dbfs": round(float(20 * np.log10(np.sqrt(np.mean(seg ** 2)))), 1)})
    else:
        rr = _rng(scene.seed, 8, fi)
        y = near + _noise(room_tone, n, sr, -54.0, rr)
        for st in shots_truth:
            k = k_of(st["onset_s"])
            st["clipped"] = bool(np.max(np.abs(y[k:k + int(0.005 * sr)])) > db_to_amp(-0.1))
        y = apply_clipping(y, clip_dbfs=-0.1)
        y = apply_agc(y, sr, max_gain_db=12.0, release_s=1.2)
        y = np.clip(y, -1.0, 1.0)
    for st in shots_truth:
        st.setdefault("clipped", False)
    if feed.key == "bodycam_B":
        m0, m1 = (feed.to_media(T) for T in scene.mute_B_T)
        y[max(0, k_of(m0)):k_of(m1)] = 0.0
    return y.astype(np.float32), shots_truth, events_truth, quiet


# --------------------------------------------------------------------------------------------
# Video: a tiny 3-D street for body and dash cams, an infrared map for the helicopter
# --------------------------------------------------------------------------------------------

def _box_faces(x0, x1, y0, y1, z0, z1):
    """Four vertical faces and the top of an axis-aligned box, as (4, 3) arrays with names."""
    return {
        "west": np.array([[x0, y1, z0], [x0, y0, z0], [x0, y0, z1], [x0, y1, z1]], float),
        "east": np.array([[x1, y0, z0], [x1, y1, z0], [x1, y1, z1], [x1, y0, z1]], float),
        "south": np.array([[x0, y0, z0], [x1, y0, z0], [x1, y0, z1], [x0, y0, z1]], float),
        "north": np.array([[x1, y1, z0], [x0, y1, z0], [x0, y1, z1], [x1, y1, z1]], float),
        "top": np.array([[x0, y0, z1], [x1, y0, z1], [x1, y1, z1], [x0, y1, z1]], float),
    }


# (x0, x1, y0, y1, height, colour RGB)
_BUILDINGS = [
    (7.0, 16.0, -30.0, -12.0, 9.0, (58, 46, 42)), (7.0, 16.0, -10.0, 6.0, 7.0, (50, 52, 60)),
    (7.0, 16.0, 8.0, 18.0, 11.0, (62, 55, 48)), (7.0, 16.0, 20.0, 32.0, 6.0, (78, 74, 66)),
    (7.0, 16.0, 34.0, 50.0, 12.0, (48, 44, 52)), (7.0, 16.0, 52.0, 75.0, 8.0, (60, 50, 44)),
    (-16.0, -7.0, -30.0, -8.0, 8.0, (52, 50, 46)), (-16.0, -7.0, -6.0, 10.0, 10.0, (60, 48, 44)),
    (-16.0, -7.0, 12.0, 28.0, 7.0, (46, 50, 58)), (-16.0, -7.0, 30.0, 46.0, 9.0, (62, 58, 50)),
    (-16.0, -7.0, 48.0, 70.0, 12.0, (50, 46, 44)), (-30.0, 30.0, 110.0, 120.0, 16.0, (40, 40, 48)),
]
_LAMPS = [(s * 5.6, y) for y in (-40.0, -15.0, 10.0, 35.0, 60.0, 85.0) for s in (-1, 1)]
_PARKED = [(-3.1, 22.0, (40, 44, 52)), (-3.1, -20.0, (70, 20, 20)), (-3.1, 45.0, (90, 90, 96))]


class _Street:
    """Static street geometry and a painter's-algorithm renderer (RGB, night)."""

    def __init__(self, size: tuple[int, int], hfov_deg: float, seed: int):
        W, H = size
        self.W, self.H = W, H
        self.f = (W / 2) / math.tan(math.radians(hfov_deg) / 2)
        r = _rng(seed, 9)
        polys: list[tuple[np.ndarray, tuple, int]] = []  # (verts, colour, layer) layer 0 = ground

        def ground(x0, x1, y0, y1, col):
            polys.append((np.array([[x0, y0, 0], [x1, y0, 0], [x1, y1, 0], [x0, y1, 0]], float), col, 0))

        ground(-400, 400, -400, 600, (34, 33, 30))
        ground(-4.0, 4.0, -200, 300, (44, 44, 46))
        ground(4.0, 7.0, -200, 300, (64, 62, 58))
        ground(-7.0, -4.0, -200, 300, (64, 62, 58))
        for y in np.arange(-100, 120, 8.0):
            ground(-0.09, 0.09, y, y + 3.0, (150, 140, 90))
        for y0 in (19.0,):  # a crosswalk
            for x in np.arange(-3.6, 3.6, 0.9):
                ground(x, x + 0.45, y0, y0 + 2.5, (120, 120, 116))
        for (x0, x1, y0, y1, h, col) in _BUILDINGS:
            faces = _box_faces(x0, x1, y0, y1, 0.0, h)
            for name, v in faces.items():
                if name == "top":
                    continue
                shade = {"west": 1.0, "east": 1.0, "south": 0.8, "north": 0.7}[name]
                polys.append((v, tuple(int(c * shade) for c in col), 1))
            street_x = x0 if x0 > 0 else x1
            for wy in np.arange(y0 + 1.5, y1 - 1.0, 3.6):
                for wz in np.arange(2.0, h - 1.0, 3.2):
                    lit = r.random() < 0.3
                    col_w = (200, 170, 90) if lit else (22, 24, 30)
                    polys.append((np.array([[street_x, wy, wz], [street_x, wy + 1.2, wz],
                                            [street_x, wy + 1.2, wz + 1.3], [street_x, wy, wz + 1.3]]), col_w, 2))
        # the suspect's front door
        polys.append((np.array([[7.0, 25.4, 0], [7.0, 26.6, 0], [7.0, 26.6, 2.1], [7.0, 25.4, 2.1]]), (70, 40, 25), 2))
        for (x, y, col) in _PARKED:
            for name, v in _box_faces(x - 0.9, x + 0.9, y - 2.3, y + 2.3, 0.2, 1.4).items():
                polys.append((v, col, 1))
        self.V = np.stack([p[0] for p in polys])     # every static polygon is a quad
        self.colours = [p[1] for p in polys]
        self.layer = np.array([p[2] for p in polys])
        sky = np.zeros((H, W, 3), np.uint8)
        g = np.linspace(0, 1, H)[:, None]
        for c, (top, bot) in enumerate(((8, 40), (10, 38), (22, 52))):
            sky[..., c] = (top + (bot - top) * g).astype(np.uint8)
        self.sky = sky

    def camera(self, pos, yaw_deg, pitch_deg):
        ya, pa = math.radians(yaw_deg), math.radians(pitch_deg)
        cy_, sy_ = math.cos(ya), math.sin(ya)
        cp_, sp_ = math.cos(pa), math.sin(pa)
        # rows: right, forward, up (world -> camera)
        right = np.array([cy_, -sy_, 0.0])
        fwd = np.array([sy_ * cp_, cy_ * cp_, sp_])
        up = np.array([-sy_ * sp_, -cy_ * sp_, cp_])
        return np.asarray(pos, float), np.stack([right, fwd, up])

    def render(self, cam, roll_deg: float, dynamic: list, *, hide_patrol: bool = False,
               patrol_lights: tuple = ((200, 20, 20), (20, 40, 220)), seen: list | None = None) -> np.ndarray:
        """Draw one frame. ``seen`` (optional) collects ``(shot_id, x, y)`` of every full-strength
        muzzle flash drawn inside the picture.
        """
        from PIL import Image, ImageDraw

        pos, R = cam
        W, H, f = self.W, self.H, self.f
        cr, sr_ = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
        items = []  # (layer, depth, kind, payload)

        def proj(c):  # camera coords (k,3) -> screen (k,2) with roll
            x = c[:, 0] / c[:, 1] * f
            y = -c[:, 2] / c[:, 1] * f
            return np.stack([W / 2 + cr * x - sr_ * y, H / 2 + sr_ * x + cr * y], axis=1)

        def add_poly(c, col, layer):
            if np.all(c[:, 1] < 0.15):
                return
            if np.any(c[:, 1] < 0.15):
                c = _clip_near(c, 0.15)
                if len(c) < 3:
                    return
            p = proj(c)
            if p[:, 0].max() < 0 or p[:, 0].min() > W or p[:, 1].max() < 0 or p[:, 1].min() > H:
                return
            items.append((layer, float(np.mean(c[:, 1])) if layer else float(np.max(c[:, 1])), "poly", (p, col)))

        # static quads, vectorised: transform, near-plane test, projection, screen test
        C = (self.V - pos) @ R.T                      # (P, 4, 3)
        fw = C[..., 1]
        whole = fw.min(axis=1) >= 0.15
        part = ~whole & (fw.max(axis=1) >= 0.15)
        if whole.any():
            Cw = C[whole]
            x = Cw[..., 0] / Cw[..., 1] * f
            y = -Cw[..., 2] / Cw[..., 1] * f
            P = np.stack([W / 2 + cr * x - sr_ * y, H / 2 + sr_ * x + cr * y], axis=-1)
            on = ((P[..., 0].max(1) >= 0) & (P[..., 0].min(1) <= W) & (P[..., 1].max(1) >= 0)
                  & (P[..., 1].min(1) <= H))
            ids = np.nonzero(whole)[0][on]
            depth = np.where(self.layer[ids] == 0, Cw[on][..., 1].max(1), Cw[on][..., 1].mean(1))
            for j, p, d in zip(ids, P[on], depth):
                items.append((self.layer[j], float(d), "poly", (p, self.colours[j])))
        for j in np.nonzero(part)[0]:
            add_poly(C[j], self.colours[j], self.layer[j])
        # lamps: pole (line) and glowing head (circles)
        for (x, y) in _LAMPS:
            c = (np.array([[x, y, 0.0], [x, y, 5.6]]) - pos) @ R.T
            if c[1, 1] > 0.5 and c[0, 1] > 0.5:
                p = proj(c)
                items.append((1, float(c[1, 1]) - 0.01, "line", (p, (70, 70, 74), max(1, int(0.15 * f / c[0, 1])))))
                items.append((1, float(c[1, 1]) - 0.02, "glow", (p[1], max(1, int(0.3 * f / c[1, 1])))))
        if not hide_patrol:
            pc = _PATROL_CAR
            for name, v in _box_faces(pc["x"] - pc["w"] / 2, pc["x"] + pc["w"] / 2, pc["y"] - pc["l"] / 2,
                                      pc["y"] + pc["l"] / 2, 0.25, pc["h"]).items():
                col = (200, 200, 205) if name in ("east", "west") else (30, 30, 34)
                add_poly((v - pos) @ R.T, col, 1)
            for k, col in enumerate(patrol_lights):
                xx = pc["x"] - 0.5 + k * 0.5
                v = _box_faces(xx, xx + 0.5, -0.3, 0.0, pc["h"], pc["h"] + 0.15)
                for name in ("south", "north", "east", "west"):
                    add_poly((v[name] - pos) @ R.T, col, 1)
        for d in dynamic:
            kind = d[0]
            if kind == "box":
                _, (x0, x1, y0, y1, z0, z1), col, lights = d
                for name, v in _box_faces(x0, x1, y0, y1, z0, z1).items():
                    add_poly((v - pos) @ R.T, col if name != "top" else tuple(int(c * 0.8) for c in col), 1)
                for (lx, ly, lz, lcol) in lights:
                    c = (np.array([[lx, ly, lz]]) - pos) @ R.T
                    if c[0, 1] > 0.3:
                        items.append((1, float(c[0, 1]) - 0.05, "dot", (proj(c)[0], max(2, int(0.25 * f / c[0, 1])), lcol)))
            elif kind == "person":
                _, (x, y), torso, lying = d
                c = (np.array([[x, y, 0.0], [x, y, 1.75]]) - pos) @ R.T
                if c[0, 1] < 0.4:
                    continue
                p = proj(c)
                w = 0.5 * f / c[0, 1]
                items.append((1, float(c[0, 1]), "person", (p, w, torso, lying)))
            elif kind == "flash":
                _, xyz, strength, sid = d
                c = (np.array([xyz]) - pos) @ R.T
                if c[0, 1] > 0.3:
                    q = proj(c)[0]
                    items.append((1, 0.0, "flash", (q, max(3, int(0.35 * f / c[0, 1] * strength)))))
                    if seen is not None and strength == 1.0 and 0 <= q[0] < W and 0 <= q[1] < H:
                        seen.append((sid, float(q[0]), float(q[1])))
        items.sort(key=lambda it: (it[0] > 0, -it[1]))
        im = Image.fromarray(self.sky)
        d = ImageDraw.Draw(im)
        for layer, depth, kind, pay in items:
            if kind == "poly":
                p, col = pay
                _poly(d, p, col)
            elif kind == "line":
                p, col, th = pay
                _line(d, p[0], p[1], col, th)
            elif kind == "glow":
                q, rad = pay
                _disc(d, q, rad * 3, (70, 58, 40))
                _disc(d, q, rad * 2, (150, 120, 80))
                _disc(d, q, rad, (255, 226, 170))
            elif kind == "dot":
                q, rad, col = pay
                _disc(d, q, rad, col)
            elif kind == "person":
                p, w, torso, lying = pay
                (bx, by), (tx, ty) = p
                hgt = by - ty
                if lying:
                    _oval(d, (bx, by - 0.05 * hgt), (int(0.5 * hgt), max(1, int(0.08 * hgt))), 0.0, torso)
                    continue
                legs = np.array([[bx - w * 0.35, by], [bx + w * 0.35, by], [bx + w * 0.4, by - 0.48 * hgt],
                                 [bx - w * 0.4, by - 0.48 * hgt]])
                body = np.array([[bx - w * 0.5, by - 0.47 * hgt], [bx + w * 0.5, by - 0.47 * hgt],
                                 [bx + w * 0.45, by - 0.85 * hgt], [bx - w * 0.45, by - 0.85 * hgt]])
                _poly(d, legs, (20, 20, 24))
                _poly(d, body, torso)
                if torso[2] > torso[0]:  # officers: a reflective stripe
                    yy = int(by - 0.7 * hgt)
                    _line(d, (bx - w * 0.45, yy), (bx + w * 0.45, yy), (190, 200, 90), max(1, int(hgt * 0.03)))
                _disc(d, (bx, by - 0.92 * hgt), max(1, int(0.08 * hgt)), (150, 115, 95))
            elif kind == "flash":
                q, rad = pay
                _disc(d, q, rad * 2, (255, 170, 80))
                _disc(d, q, rad, (255, 250, 225))
        return np.asarray(im).copy()


def _clip_near(c: np.ndarray, near: float) -> np.ndarray:
    """Sutherland-Hodgman clip of a polygon (k,3) in camera coordinates to forward >= near."""
    out = []
    k = len(c)
    for i in range(k):
        a, b = c[i], c[(i + 1) % k]
        ina, inb = a[1] >= near, b[1] >= near
        if ina:
            out.append(a)
        if ina != inb:
            s = (near - a[1]) / (b[1] - a[1])
            out.append(a + s * (b - a))
    return np.array(out)


def _shake(ph: np.ndarray, T: float, moving: float) -> tuple[float, float, float]:
    """(yaw, pitch, roll) jitter in degrees: a walking sway and bob plus a small tremor;
    ``ph`` holds 8 seeded phases.
    """
    sway = moving * (2.2 * math.sin(2 * math.pi * 0.95 * T + ph[0]) + 0.6 * math.sin(2 * math.pi * 2.7 * T + ph[1]))
    bob = moving * 1.4 * math.sin(2 * math.pi * 1.9 * T + ph[2])
    trem = [0.35 * math.sin(2 * math.pi * fq * T + p) for fq, p in ((0.43, ph[3]), (1.31, ph[4]), (0.77, ph[5]))]
    return sway + trem[0], bob + trem[1], moving * 1.2 * math.sin(2 * math.pi * 0.95 * T + ph[6]) + trem[2]


# Drawing with Pillow's ImageDraw (on RGB or grey images): shapes are not anti-aliased, text is.
_FAR_PX = 1e5  # projected points are clamped here (a vertex just past the near plane lands far off)


def _pt(q) -> tuple[int, int]:
    return (int(round(min(_FAR_PX, max(-_FAR_PX, float(q[0]))))),
            int(round(min(_FAR_PX, max(-_FAR_PX, float(q[1]))))))


def _poly(d, pts, col) -> None:
    """A filled polygon through the (k, 2) points ``pts`` (pixels, sub-pixel positions rounded)."""
    d.polygon(np.rint(np.clip(pts, -_FAR_PX, _FAR_PX)).astype(int).ravel().tolist(), fill=col)


def _line(d, a, b, col, width: int = 1) -> None:
    d.line([_pt(a), _pt(b)], fill=col, width=int(width))


def _disc(d, q, rad: int, col) -> None:
    """A filled circle of radius ``rad`` pixels around ``q`` (2 * rad + 1 pixels across)."""
    x, y = _pt(q)
    d.ellipse((x - rad, y - rad, x + rad, y + rad), fill=col)


def _oval(d, c, axes, angle_deg: float, col) -> None:
    """A filled ellipse with half-axes ``axes`` (pixels) turned by ``angle_deg`` (clockwise on screen)."""
    a = np.linspace(0.0, 2 * np.pi, 36, endpoint=False)
    t = math.radians(angle_deg)
    ex, ey = axes[0] * np.cos(a), axes[1] * np.sin(a)
    pts = np.stack([c[0] + ex * math.cos(t) - ey * math.sin(t), c[1] + ex * math.sin(t) + ey * math.cos(t)], axis=1)
    _poly(d, pts, col)


#: Cap height in pixels per unit of a text ``scale`` (scale 0.42 at 480 px wide: 8 px capitals).
_CAP_PER_SCALE = 20.0


def _text(img: np.ndarray, s, org, scale, col=(255, 255, 255)) -> None:
    """A camera's burned-in text into ``img`` (RGB, in place): DejaVu Sans with a 1 px dark outline;
    ``org`` is the left end of the baseline.
    """
    from media_core.export.raster_text import draw_text

    draw_text(img, s, org, cap_px=_CAP_PER_SCALE * scale, colour=col, outline=1)


def _flash_frames(scene: _Scene, feed: _Feed, fps: float) -> dict[int, list[tuple[dict, float]]]:
    """Frame index -> [(shot, strength)]: full strength on the frame exposing the shot, an
    afterglow on the next one.
    """
    out: dict[int, list] = {}
    for s in scene.shots:
        t = feed.to_media(s["T"])
        if not 0 <= t < feed.duration_s:
            continue
        k = int(math.floor(t * fps + 1e-9))
        out.setdefault(k, []).append((s, 1.0))
        out.setdefault(k + 1, []).append((s, 0.4))
    return out


def _dynamic_objects(scene: _Scene, T: float, flashes, *, skip: str | None = None) -> list:
    dyn = []
    for who, torso in (("officer_A", (24, 30, 62)), ("officer_B", (26, 32, 66)), ("suspect", (104, 98, 92))):
        if who == skip:
            continue
        if who == "suspect" and T < scene.suspect_out_T:
            continue
        if who == "officer_A" and T < scene.door_open_T + 0.8:
            continue  # still in the car
        dyn.append(("person", tuple(scene.tracks[who].pos(T)), torso, who == "suspect" and T > scene.suspect_down_T))
    cp = scene.car_pass
    if cp["T0"] <= T <= cp["T1"]:
        x, y = scene.tracks["passing_car"].pos(T)
        dyn.append(("box", (x - 0.9, x + 0.9, y - 2.3, y + 2.3, 0.25, 1.45), (96, 30, 28),
                    [(x - 0.6, y + 2.35, 0.7, (255, 250, 220)), (x + 0.6, y + 2.35, 0.7, (255, 250, 220)),
                     (x - 0.6, y - 2.35, 0.8, (220, 30, 30)), (x + 0.6, y - 2.35, 0.8, (220, 30, 30))]))
    for s, strength in flashes:
        if s["shooter"] != skip:
            dyn.append(("flash", tuple(s["pos"]), strength, s["id"]))
    return dyn


def _frame_fn_street(scene: _Scene, feed: _Feed, size, fps) -> Callable[[int, float], np.ndarray]:
    from PIL import Image, ImageDraw

    W, H = size
    dash = feed.kind == "dashcam"
    street = _Street(size, 105.0 if dash else 98.0, scene.seed)
    flashes = _flash_frames(scene, feed, fps)
    key = [f.key for f in scene.feeds].index(feed.key)
    phases = _rng(scene.seed, 10, key).uniform(0, 2 * np.pi, 8)
    sc = W / 480.0
    # screen-space masks: the dash cam's hood; body cam A's dashboard while in the car
    hood = np.array([[0, H], [0, int(H * 0.86)], [int(W * 0.25), int(H * 0.80)], [int(W * 0.75), int(H * 0.80)],
                     [W, int(H * 0.86)], [W, H]])
    dashb = np.array([[0, H], [0, int(H * 0.70)], [int(W * 0.3), int(H * 0.64)], [int(W * 0.7), int(H * 0.64)],
                      [W, int(H * 0.70)], [W, H]])

    visible: list[dict] = []

    def log(i: int, seen: list, own: set = frozenset()) -> None:
        for sid, x, y in seen:
            shot = next(s for s in scene.shots if s["id"] == sid)
            visible.append({"shot_id": sid, "shooter": shot["shooter"],
                            "time_s": round(float(feed.to_media(shot["T"])), 6), "frame": i,
                            "frame_time_s": round(i / fps, 6), "x_px": round(x, 1), "y_px": round(y, 1),
                            "own_weapon": sid in own})

    def frame(i: int, t: float) -> np.ndarray:
        T = float(feed.to_T(t))
        fl = flashes.get(i, [])
        blink = int(T * 2.5) % 2
        lights = ((230, 20, 20), (20, 30, 90)) if blink else ((90, 20, 20), (30, 60, 240))
        if dash:
            cam = street.camera((_DASH_MIC[0], _DASH_MIC[1] + 0.3, 1.3), 0.0, -2.0)
            roll = 0.0
            seen: list = []
            img = street.render(cam, roll, _dynamic_objects(scene, T, fl), hide_patrol=True, seen=seen)
            log(i, seen)
            # the lights' glow on the windscreen (above the hood's top edge, so before drawing it)
            img[: int(H * 0.8)] = np.maximum(img[: int(H * 0.8)], (np.array(lights[blink]) * 0.12).astype(np.uint8))
            im = Image.fromarray(img)
            d = ImageDraw.Draw(im)
            _poly(d, hood, (18, 18, 22))
            _line(d, (int(W * 0.25), int(H * 0.80)), (int(W * 0.75), int(H * 0.80)), (70, 70, 78))
            if int(t * 2) % 2 == 0:
                _disc(d, (W - int(40 * sc), int(12 * sc)), max(2, int(5 * sc)), (230, 20, 20))
            img = np.array(im)
            wall = INCIDENT_EPOCH + _dt.timedelta(seconds=feed.start_T + feed.wallclock_error_s + t)
            loc = wall.astimezone(_dt.timezone(_dt.timedelta(hours=-8)))
            _text(img, f"{loc:%m/%d/%Y %H:%M:%S}  UNIT 14  0 MPH", (int(6 * sc), H - int(8 * sc)), 0.42 * sc)
            _text(img, "WATCHGUARD 4RE  FRONT", (int(6 * sc), int(16 * sc)), 0.4 * sc)
            _text(img, "REC", (W - int(32 * sc), int(16 * sc)), 0.4 * sc)
            return img
        who = feed.owner
        tr = scene.tracks[who]
        in_car = who == "officer_A" and T < scene.door_open_T + 0.8
        p = tr.pos(T)
        moving = min(1.0, tr.speed(T) / 1.2)
        dy, dp, dr = _shake(phases, T, moving)
        cam = street.camera((p[0], p[1], 1.1 if in_car else 1.35), tr.yaw(T) + dy, -4.0 + dp)
        own = [s for s, st in fl if s["shooter"] == who and st == 1.0]
        seen = []
        img = street.render(cam, dr, _dynamic_objects(scene, T, fl, skip=who), hide_patrol=in_car,
                            patrol_lights=lights, seen=seen)
        log(i, seen + [(s["id"], W * 0.56, H * 0.82) for s in own], own={s["id"] for s in own})
        im = Image.fromarray(img)
        d = ImageDraw.Draw(im)
        if in_car:
            _poly(d, dashb, (16, 16, 18))
            _line(d, (int(W * 0.08), 0), (int(W * 0.16), int(H * 0.66)), (10, 10, 12), max(2, int(18 * sc)))
            _line(d, (int(W * 0.92), 0), (int(W * 0.84), int(H * 0.66)), (10, 10, 12), max(2, int(18 * sc)))
        if own:  # the officer's own muzzle flash overexposes the frame
            a = np.asarray(im)
            im = Image.fromarray(a + np.minimum(255 - a, 70).astype(np.uint8))  # + 70, saturating
            d = ImageDraw.Draw(im)
            c = (int(W * 0.56), int(H * 0.82))
            _disc(d, c, int(H * 0.22), (255, 190, 90))
            _disc(d, c, int(H * 0.11), (255, 255, 235))
        img = np.array(im)
        wall = INCIDENT_EPOCH + _dt.timedelta(seconds=feed.start_T + feed.wallclock_error_s + t)
        _text(img, f"{wall:%Y-%m-%d T%H:%M:%S}Z", (W - int(212 * sc), int(16 * sc)), 0.42 * sc)
        _text(img, f"AXON BODY 3 {feed.tags['serial']}", (W - int(212 * sc), int(32 * sc)), 0.42 * sc)
        return img

    frame.visible_flashes = visible  # filled as frames are drawn
    return frame


class _IRMap:
    """The helicopter's view: a static white-hot map of the block, rotated and zoomed per frame."""

    PPM = 6.0  # map pixels per metre
    X0, X1, Y0, Y1 = -45.0, 55.0, -60.0, 100.0

    def __init__(self, seed: int):
        from PIL import Image, ImageDraw
        from scipy.ndimage import gaussian_filter

        P = self.PPM
        w, h = int((self.X1 - self.X0) * P), int((self.Y1 - self.Y0) * P)
        im = Image.new("L", (w, h), 62)
        d = ImageDraw.Draw(im)
        r = _rng(seed, 11)

        def rect(x0, x1, y0, y1, val):
            a, b = self.to_px(x0, y1), self.to_px(x1, y0)   # top left, bottom right (corners included)
            d.rectangle((int(a[0]), int(a[1]), int(b[0]), int(b[1])), fill=int(val))

        rect(-7, 7, -200, 300, 78)      # sidewalks
        rect(-4, 4, -200, 300, 92)      # asphalt keeps the day's heat
        for (x0, x1, y0, y1, hgt, _c) in _BUILDINGS:
            rect(x0, x1, y0, y1, 40)
            rect(x0 + 0.5, x1 - 0.5, y0 + 0.5, y1 - 0.5, 48)
            for _ in range(2):  # rooftop units run warm
                x, y = r.uniform(x0 + 1, x1 - 2), r.uniform(y0 + 1, y1 - 2)
                rect(x, x + 1.2, y, y + 1.0, 150)
        for _ in range(25):  # trees and lawns: cool
            x, y = r.uniform(-40, 50), r.uniform(-55, 95)
            if abs(x) < 8:
                continue
            _disc(d, self.to_px(x, y), int(r.uniform(1.5, 3.5) * P), 34)
        for (x, y) in _LAMPS:
            _disc(d, self.to_px(x, y), 2, 190)
        for (x, y, _c) in _PARKED:
            rect(x - 0.9, x + 0.9, y - 2.3, y + 2.3, 58)
        pc = _PATROL_CAR
        rect(pc["x"] - pc["w"] / 2, pc["x"] + pc["w"] / 2, pc["y"] - pc["l"] / 2, pc["y"] + pc["l"] / 2, 120)
        rect(pc["x"] - pc["w"] / 2, pc["x"] + pc["w"] / 2, pc["y"] + 1.2, pc["y"] + pc["l"] / 2, 185)  # hot engine
        blurred = gaussian_filter(np.asarray(im, np.float32), 1.2, mode="mirror", truncate=3.0)
        self.map = Image.fromarray(np.clip(np.rint(blurred), 0, 255).astype(np.uint8))  # grey ("L")

    def to_px(self, x, y):
        return np.array([(x - self.X0) * self.PPM, (self.Y1 - y) * self.PPM])

    def view(self, T: float, size) -> np.ndarray:
        """2x3 affine from world (x, y) metres to output pixels for incident time ``T``."""
        W, H = size
        ang = math.radians(-12.0 + 0.9 * (T - 21.0))        # the aircraft orbits: the image turns
        zoom = (W / 480.0) * (6.4 + 0.6 * math.sin(0.05 * T))  # px per metre
        cx = 1.5 + 2.0 * math.sin(0.11 * T)
        cy = 17.0 + 2.0 * math.cos(0.07 * T)
        c, s = math.cos(ang), math.sin(ang)
        # world -> (east, north) relative -> image (right, down) rotated
        A = zoom * np.array([[c, s], [s, -c]])
        b = np.array([W / 2, H / 2]) - A @ np.array([cx, cy])
        return np.hstack([A, b[:, None]])


def _frame_fn_ir(scene: _Scene, feed: _Feed, size, fps) -> tuple[Callable[[int, float], np.ndarray], _IRMap]:
    from PIL import Image, ImageDraw

    W, H = size
    irm = _IRMap(scene.seed)
    P = irm.PPM
    # map pixel -> world: x = X0 + u/P, y = Y1 - v/P
    Mw = np.array([[1 / P, 0, irm.X0], [0, -1 / P, irm.Y1], [0, 0, 1]])
    flashes = _flash_frames(scene, feed, fps)
    r = _rng(scene.seed, 12)
    fpn = r.normal(0, 3.0, (H, W)).astype(np.float32)
    yy, xx = np.mgrid[0:H, 0:W]
    vign = (1.0 - 0.25 * (((xx - W / 2) / (W / 2)) ** 2 + ((yy - H / 2) / (H / 2)) ** 2)).astype(np.float32)
    sc = W / 480.0

    def frame(i: int, t: float) -> np.ndarray:
        T = float(feed.to_T(t))
        A = irm.view(T, size)
        # map pixel -> output pixel (pixel centres at whole numbers); Pillow wants output -> map,
        # in coordinates whose pixel centres are at +0.5
        Minv = np.linalg.inv(np.vstack([A, [0, 0, 1]]) @ Mw)
        off = Minv[:2, 2] + 0.5 - Minv[:2, :2] @ np.array([0.5, 0.5])
        coeffs = (Minv[0, 0], Minv[0, 1], off[0], Minv[1, 0], Minv[1, 1], off[1])
        gi = irm.map.transform((W, H), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR,
                               fillcolor=50)
        d = ImageDraw.Draw(gi)

        def px(x, y):
            q = A @ np.array([x, y, 1.0])
            return int(round(q[0])), int(round(q[1]))

        zoom = math.hypot(A[0, 0], A[0, 1])
        for who in ("officer_A", "officer_B", "suspect"):
            if who == "suspect" and T < scene.suspect_out_T:
                continue
            if who == "officer_A" and T < scene.door_open_T + 0.8:
                continue
            q = px(*scene.tracks[who].pos(T))
            if who == "suspect" and T > scene.suspect_down_T:
                ang = math.degrees(math.atan2(A[1, 0], A[0, 0]))
                _oval(d, q, (max(2, int(0.9 * zoom)), max(1, int(0.3 * zoom))), ang + 30, 200)
                continue
            _disc(d, q, max(2, int(0.6 * zoom)), 160)
            _disc(d, q, max(1, int(0.35 * zoom)), 228)
        cp = scene.car_pass
        if cp["T0"] <= T <= cp["T1"]:
            x, y = scene.tracks["passing_car"].pos(T)
            _poly(d, np.array([px(x - 0.9, y - 2.3), px(x + 0.9, y - 2.3), px(x + 0.9, y + 2.3), px(x - 0.9, y + 2.3)]), 130)
            _poly(d, np.array([px(x - 0.9, y + 1.0), px(x + 0.9, y + 1.0), px(x + 0.9, y + 2.3), px(x - 0.9, y + 2.3)]), 215)
        for s, strength in flashes.get(i, []):
            q = px(s["pos"][0], s["pos"][1])
            rad = max(2, int(0.8 * zoom * strength))
            _disc(d, q, rad * 2, int(170 + 60 * strength))
            _disc(d, q, rad, 255)
        f = np.asarray(gi, np.float32) * vign + fpn
        gi = Image.fromarray(np.clip(f, 0, 255).astype(np.uint8))
        d = ImageDraw.Draw(gi)
        # reticle and telemetry
        cx, cy = W // 2, H // 2
        L, gap = int(22 * sc), int(7 * sc)
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            _line(d, (cx + dx * gap, cy + dy * gap), (cx + dx * L, cy + dy * L), 255)
        for sx in (-1, 1):
            for sy in (-1, 1):
                x0, y0 = cx + sx * int(60 * sc), cy + sy * int(40 * sc)
                _line(d, (x0, y0), (x0 - sx * int(12 * sc), y0), 230)
                _line(d, (x0, y0), (x0, y0 - sy * int(12 * sc)), 230)
        wall = INCIDENT_EPOCH + _dt.timedelta(seconds=feed.start_T + feed.wallclock_error_s + t)
        hdg = (212.0 + 0.9 * (T - 21.0)) % 360
        img = np.repeat(np.asarray(gi)[:, :, None], 3, axis=2)  # grey to RGB
        fs = 0.38 * sc
        _text(img, "AIR 1  FLIR 380-HDc  WHT  NFOV", (int(6 * sc), int(14 * sc)), fs)
        _text(img, f"ALT 1450FT  HDG {hdg:05.1f}  SLR {410 + 20 * math.sin(0.05 * T):.0f}M", (int(6 * sc), int(28 * sc)), fs)
        _text(img, "TGT N47 36.371 W122 19.934", (int(6 * sc), H - int(10 * sc)), fs)
        _text(img, f"{wall:%H:%M:%S}.{wall.microsecond // 1000:03d}Z", (W - int(110 * sc), H - int(10 * sc)), fs)
        _text(img, f"{wall:%d%b%y}".upper(), (W - int(80 * sc), int(14 * sc)), fs)
        return img

    return frame, irm


def _helicopter_flashes(scene: _Scene, feed: _Feed, fps: float, size, irm: _IRMap) -> list[dict]:
    out = []
    for s in scene.shots:
        t = feed.to_media(s["T"])
        if not 0 <= t < feed.duration_s:
            continue
        k = int(math.floor(t * fps + 1e-9))
        A = irm.view(float(feed.to_T(k / fps)), size)
        q = A @ np.array([s["pos"][0], s["pos"][1], 1.0])
        out.append({"shot_id": s["id"], "shooter": s["shooter"], "time_s": round(float(t), 6), "frame": k,
                    "frame_time_s": round(k / fps, 6), "afterglow_frames": 1,
                    "x_px": round(float(q[0]), 1), "y_px": round(float(q[1]), 1)})
    return out


# --------------------------------------------------------------------------------------------
# Writing one feed, the truth, and the idempotent build
# --------------------------------------------------------------------------------------------

def _audio_gaps_in_file(path: pathlib.Path) -> tuple[float | None, float | None, list[tuple[float, float]]]:
    """First audio packet time, audio end and the packet gaps actually in the written file."""
    import av

    with av.open(os.fspath(path)) as c:
        if not c.streams.audio:
            return None, None, []
        a = c.streams.audio[0]
        nominal = a.codec_context.frame_size or 1024
        pk = [(p.pts, p.duration) for p in c.demux(a) if p.pts is not None]
        tb = float(a.time_base)
    gaps = []
    for (p0, d0), (p1, _d1) in zip(pk, pk[1:]):
        if p1 - p0 > nominal + 1:
            gaps.append((round((p0 + nominal) * tb, 6), round(p1 * tb, 6)))
    return round(pk[0][0] * tb, 6), round((pk[-1][0] + pk[-1][1]) * tb, 6), gaps


def _render_feed(seed: int, duration_s: float, fast: bool, key: str, out_dir: str) -> dict:
    """Write one feed's file and return its truth entry (without the hash). Runs in a worker."""
    import av

    from .encode import write_media

    scene = _make_scene(seed, duration_s)
    feed = scene.feed(key)
    vid = _FAST_VIDEO if fast else _FULL_VIDEO
    size, fps = vid["size"], vid["fps"]
    path = pathlib.Path(out_dir) / feed.file
    entry: dict[str, Any] = {
        "file": feed.file, "key": feed.key, "label": feed.label, "kind": feed.kind,
        "duration_s": feed.duration_s, "has_audio": feed.sr is not None,
        "video": {"codec": "h264", "width": size[0], "height": size[1], "fps": fps,
                  "frames": int(math.ceil(feed.duration_s * fps - 1e-9))},
        "tags": dict(feed.tags),
    }
    shots, events, quiet, flashes, mutes = [], [], [], [], []
    gaps = [scene.gap_B_media] if key == "bodycam_B" else []
    if feed.kind == "helicopter":
        frame_fn, irm = _frame_fn_ir(scene, feed, size, fps)
        flashes = _helicopter_flashes(scene, feed, fps, size, irm)
        audio = None
    else:
        frame_fn = _frame_fn_street(scene, feed, size, fps)
        audio, shots, events, quiet = _render_audio(scene, feed)
    creation = INCIDENT_EPOCH + _dt.timedelta(seconds=feed.start_T + feed.wallclock_error_s)
    write_media(path, audio=audio, sr=feed.sr or 48000, audio_codec="aac" if audio is not None else None,
                audio_bitrate=feed.audio_bitrate or None, audio_start_s=feed.audio_start_s, audio_gaps=gaps,
                video=True, fps=fps, size=size, duration_s=feed.duration_s, frame_fn=frame_fn,
                # MP4 keeps only standard tags: the camera's identity goes into title and comment
                metadata={"title": f"{feed.tags['model']} {feed.tags['serial']}",
                          "comment": f"make={feed.tags['make']}; model={feed.tags['model']}; "
                                     f"serial={feed.tags['serial']}; evidence-audit demo incident, seed {seed}"},
                creation_time=creation, seed=seed)
    if feed.kind != "helicopter":
        flashes = list(frame_fn.visible_flashes)
    first_pts, a_end, file_gaps = _audio_gaps_in_file(path)
    with av.open(os.fspath(path)) as c:
        entry["tags"] = {k: v for k, v in c.metadata.items() if k in ("title", "comment", "creation_time")}
    if feed.sr is None:
        mutes.append({"start_s": 0.0, "end_s": feed.duration_s, "kind": "no-audio-track"})
    else:
        entry["audio"] = {"codec": "aac", "sr": feed.sr, "channels": 1, "bitrate": feed.audio_bitrate,
                          "start_s": feed.audio_start_s, "end_s": feed.duration_s,
                          "first_packet_pts_s": first_pts, "last_packet_end_s": a_end}
        if feed.audio_start_s > 0:
            mutes.append({"start_s": 0.0, "end_s": feed.audio_start_s, "kind": "late-audio-start"})
        for g0, g1 in file_gaps:
            mutes.append({"start_s": g0, "end_s": g1, "kind": "packet-gap",
                          "designed_s": list(scene.gap_B_media) if gaps else None})
        if key == "bodycam_B":
            m0, m1 = (round(float(feed.to_media(T)), 6) for T in scene.mute_B_T)
            mutes.append({"start_s": m0, "end_s": m1, "kind": "digital-silence",
                          "cause": "officer muted the microphone"})
        # AAC may end the stream a fraction of a frame after the video; never a mute
    mutes.sort(key=lambda m: m["start_s"])
    entry.update({"mutes": mutes, "quiet": quiet, "shots": shots, "shot_count": len(shots),
                  "events": events, "flashes": flashes})
    return entry


def _sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_truth(out_dir) -> dict:
    """Read ``truth.json`` from ``out_dir`` (or a path to the file itself)."""
    p = pathlib.Path(out_dir)
    if p.is_dir():
        p = p / TRUTH_FILE
    with open(p, encoding="utf-8") as fh:
        truth = json.load(fh)
    if truth.get("schema") != TRUTH_SCHEMA:
        raise ParameterError(f"{p}: not a demo-incident truth file "
                             f"(schema {truth.get('schema')!r}, expected {TRUTH_SCHEMA!r})")
    return truth


def true_clock(truth: dict, file: str, *, reference: str | None = None):
    """The true :class:`media_core.clock.Clock` of feed ``file`` on the time line of ``reference``
    (default: the truth's reference feed), from the feeds' clocks in ``truth``.

    Lets a test pick any reference, e.g. the longest feed as ``sync`` does by default.

    Examples
    --------
    >>> truth = load_truth("sample_media/generated")  # doctest: +SKIP
    >>> true_clock(truth, "bodycam_B.mp4", reference="dashcam.mp4").offset_s  # doctest: +SKIP
    8.8098...
    """
    feeds = {f["file"]: f for f in truth["feeds"]}
    ref_name = reference or truth["incident"]["reference_feed"]
    for name in (file, ref_name):
        if name not in feeds:
            raise ParameterError(f"{name!r} is not a feed of this incident; feeds: {sorted(feeds)}")

    def incident_clock(name: str) -> Clock:
        c = feeds[name]["clock"]
        return Clock(c["start_incident_s"], c["drift_ppm_vs_incident"])

    return incident_clock(file).relative_to(incident_clock(ref_name))


def _generator_block(seed: int, duration_s: float, fast: bool) -> dict:
    return {"name": "sample_media.incident", "version": GENERATOR_VERSION, "seed": int(seed),
            "duration_s": float(duration_s), "fast": bool(fast)}


def incident_up_to_date(out_dir, *, seed: int = 7, duration_s: float = 90.0, fast: bool = False) -> bool:
    """Whether ``out_dir`` already holds this exact incident: the truth records the same generator
    version, seed and parameters, and every file is present with its recorded size and SHA-256.
    """
    p = pathlib.Path(out_dir) / TRUTH_FILE
    try:
        truth = load_truth(p)
    except (OSError, ValueError):
        return False
    if truth.get("generator") != _generator_block(seed, duration_s, fast):
        return False
    if not (truth.get("incident") or {}).get("spoken_phrases") and _spoken_phrase_engine() is not None:
        return False  # espeak-ng was installed since: the spoken phrase can be added now
    # (an incident that has the phrase stays valid where espeak-ng is missing, e.g. in the bundle)
    for f in truth.get("feeds", []):
        fp = pathlib.Path(out_dir) / f["file"]
        try:
            if fp.stat().st_size != f["size_bytes"] or _sha256(fp) != f["sha256"]:
                return False
        except OSError:
            return False
    return bool(truth.get("feeds"))


def _check_args(seed, duration_s):
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer (got {seed!r})")
    if not MIN_DURATION_S <= float(duration_s) <= MAX_DURATION_S:
        raise ParameterError(f"duration_s must be between {MIN_DURATION_S:g} and {MAX_DURATION_S:g} s "
                             f"(the story needs the first 80 s; got {duration_s!r})")


def build_incident(out_dir, *, seed: int = 7, duration_s: float = 90.0, fast: bool = False,
                   force: bool = False, workers: int | None = None,
                   progress: Callable[[str], None] | None = None) -> pathlib.Path:
    """Generate the demo incident (four feeds and ``truth.json``) into ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Folder for the files; created if missing.
    seed : int
        Seeds every random choice (shot times, clock drifts, echoes, noise, scenery).
    duration_s : float
        Length of the incident (80 to 1200 s). The story (pre-event buffer, shots, mute) fills
        the first 80-90 s; longer incidents add an aftermath of talk and radio traffic.
    fast : bool
        Smaller, lower-rate video (320x180 at 15 fps) for tests; the audio, the timeline and the
        code path are the same.
    force : bool
        Rebuild even when the folder already holds this incident.
    workers : int, optional
        Processes to render feeds in parallel (default: up to 2, one per core).
    progress : callable(str), optional
        Called with a short message as each feed is written.

    Returns
    -------
    pathlib.Path
        The ground-truth JSON file.
    """
    _check_args(seed, duration_s)
    out = pathlib.Path(out_dir)
    truth_path = out / TRUTH_FILE
    if not force and incident_up_to_date(out, seed=seed, duration_s=duration_s, fast=fast):
        return truth_path
    out.mkdir(parents=True, exist_ok=True)
    if truth_path.exists():
        truth_path.unlink()  # an interrupted rebuild must never look complete
    scene = _make_scene(int(seed), float(duration_s))
    keys = [f.key for f in scene.feeds]
    if workers is None:
        workers = max(1, min(2, os.cpu_count() or 1))
    if getattr(sys, "frozen", False):
        workers = 1  # a frozen bundle has no `python -m` to run child renderers: render here
    args = [(int(seed), float(duration_s), bool(fast), k, os.fspath(out)) for k in keys]
    entries: dict[str, dict] = {}
    if workers > 1:
        entries = _render_in_subprocesses(args, workers, progress,
                                          order=sorted(keys, key=lambda k: -scene.feed(k).duration_s))
    else:
        for a in args:
            entries[a[3]] = _render_feed(*a)
            if progress:
                progress(f"wrote {entries[a[3]]['file']}")
    truth = _assemble_truth(scene, [entries[k] for k in keys], out, fast)
    tmp = truth_path.with_suffix(".json.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(truth, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, truth_path)
    return truth_path


def _render_in_subprocesses(args: list[tuple], workers: int, progress, *, order: list[str]) -> dict[str, dict]:
    """Render feeds in ``workers`` child Pythons (``python -m sample_media.incident``).

    Child interpreters rather than :mod:`multiprocessing`, so that callers need no
    ``if __name__ == "__main__"`` guard and no process is forked from a threaded parent.
    """
    import subprocess
    import sys
    import tempfile
    import time

    by_key = {a[3]: a for a in args}
    queue = list(order)
    running: dict[str, tuple[subprocess.Popen, str]] = {}
    entries: dict[str, dict] = {}
    root = str(pathlib.Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with tempfile.TemporaryDirectory(prefix="incident-") as tmp:
        try:
            while queue or running:
                while queue and len(running) < workers:
                    key = queue.pop(0)
                    seed, dur, fast, _k, out_dir = by_key[key]
                    res = os.path.join(tmp, key + ".json")
                    cmd = [sys.executable, "-m", "sample_media.incident", "--worker", str(seed),
                           repr(dur), "1" if fast else "0", key, out_dir, res]
                    running[key] = (subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                                     stderr=subprocess.PIPE), res)
                time.sleep(0.05)
                for key, (proc, res) in list(running.items()):
                    if proc.poll() is None:
                        continue
                    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    if proc.stderr:
                        proc.stderr.close()
                    del running[key]
                    if proc.returncode != 0:
                        raise ParameterError(f"rendering {key} failed (exit {proc.returncode}): {err.strip()[-2000:]}")
                    with open(res, encoding="utf-8") as fh:
                        entries[key] = json.load(fh)
                    if progress:
                        progress(f"wrote {entries[key]['file']}")
        finally:
            for proc, _res in running.values():
                proc.kill()
                proc.wait()
    return entries


def _acoustic_bias(e: dict, ref: dict) -> dict:
    """How far an audio-only match may sit from the clock truth: sound reaches this feed's
    microphone ``travel`` later than the reference's, by a different amount for each source.
    Median and range over the sounds both feeds heard, in seconds (positive: this feed hears
    them later). None when the feeds share no sound (no audio).
    """
    if not e.get("has_audio") or not ref.get("has_audio"):
        return {"acoustic_bias_s": None, "acoustic_bias_range_s": None}
    mine = {("shot", s["shot_id"]): s["distance_m"] for s in e["shots"]}
    mine.update({(v["source"], v["emitted_incident_s"]): v["distance_m"] for v in e["events"]
                 if "emitted_incident_s" in v and v["kind"] not in ("footsteps", "mic_bump")})
    theirs = {("shot", s["shot_id"]): s["distance_m"] for s in ref["shots"]}
    theirs.update({(v["source"], v["emitted_incident_s"]): v["distance_m"] for v in ref["events"]
                   if "emitted_incident_s" in v})
    diffs = [(mine[k] - theirs[k]) / SPEED_OF_SOUND_M_S for k in mine if k in theirs]
    if not diffs:
        return {"acoustic_bias_s": None, "acoustic_bias_range_s": None}
    return {"acoustic_bias_s": round(float(np.median(diffs)), 6),
            "acoustic_bias_range_s": [round(float(min(diffs)), 6), round(float(max(diffs)), 6)]}


def _assemble_truth(scene: _Scene, entries: list[dict], out: pathlib.Path, fast: bool) -> dict:
    ref = scene.feed("bodycam_A")
    ref_entry = next(x for x in entries if x["key"] == ref.key)
    for e in entries:
        f = scene.feed(e["key"])
        fp = out / e["file"]
        e["sha256"] = _sha256(fp)
        e["size_bytes"] = fp.stat().st_size
        rel = f.clock.relative_to(ref.clock)    # this feed's media time on the reference's
        e["clock"] = {"start_incident_s": f.start_T, "drift_ppm_vs_incident": f.drift_ppm,
                      "wallclock_error_s": f.wallclock_error_s,
                      "camera_identity": dict(f.tags),
                      "start_by_camera_clock_utc": (INCIDENT_EPOCH + _dt.timedelta(seconds=f.start_T + f.wallclock_error_s))
                      .strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}
        e["sync"] = {"offset_s": round(rel.offset_s, 9), "drift_ppm": round(rel.drift_ppm, 6),
                     "reference": ref.file}
        e["sync"].update(_acoustic_bias(e, ref_entry))
    shots = []
    for s in scene.shots:
        shots.append({"id": s["id"], "shooter": s["shooter"], "volley": s["volley"],
                      "time_s": round(s["T"], 6),
                      "reference_time_s": round(float(ref.to_media(s["T"])), 6),
                      "utc": (INCIDENT_EPOCH + _dt.timedelta(seconds=s["T"])).strftime("%H:%M:%S.%f")[:-3] + "Z",
                      "position_m": [round(float(v), 3) for v in s["pos"]]})
    volleys = []
    for v in sorted({s["volley"] for s in scene.shots}):
        ts = [s["T"] for s in scene.shots if s["volley"] == v]
        volleys.append({"id": v, "start_s": round(min(ts), 6), "end_s": round(max(ts), 6), "count": len(ts),
                        "shooters": sorted({s["shooter"] for s in scene.shots if s["volley"] == v})})
    events = [{"kind": e["kind"], "time_s": round(e["T"], 6), "source": e["source"],
               "position_m": [round(float(v), 3) for v in e["pos"]]}
              for e in scene.events if e["kind"] not in ("footsteps",)]
    events.append({"kind": "passing_car", "time_s": scene.car_pass["T0"], "end_s": scene.car_pass["T1"],
                   "source": "passing_car", "path": "northbound along x = -2 m at 11 m/s"})
    events.sort(key=lambda e: e["time_s"])
    by_shooter: dict[str, int] = {}
    for s in scene.shots:
        by_shooter[s["shooter"]] = by_shooter.get(s["shooter"], 0) + 1
    return {
        "schema": TRUTH_SCHEMA,
        "generator": _generator_block(scene.seed, scene.duration_s, fast),
        "conventions": {
            "feed_times": "seconds on the file's own presentation timeline, zero at the container's start",
            "incident_clock": "T = clock.start_incident_s + t * (1 + clock.drift_ppm_vs_incident * 1e-6)",
            "sync": "reference media time = sync.offset_s + t * (1 + sync.drift_ppm * 1e-6)",
            "shot_onset": "first arrival of the direct muzzle blast at the microphone (includes travel_s)",
            "flash_time": "true firing instant on the feed's timeline; frame = the frame whose exposure contains it",
        },
        "incident": {
            "epoch_utc": INCIDENT_EPOCH.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration_s": scene.duration_s,
            "speed_of_sound_m_s": SPEED_OF_SOUND_M_S,
            "reference_feed": ref.file,
            "shots": shots, "shot_count": len(shots), "shots_by_shooter": by_shooter, "volleys": volleys,
            "min_shot_spacing_s": round(float(np.min(np.diff(sorted(s["T"] for s in scene.shots)))), 6),
            "events": events,
            "mic_muted_incident_s": [round(v, 6) for v in scene.mute_B_T],
            "spoken_phrases": [{"text": e["text"], "speaker": e["source"], "time_s": round(e["T"], 6),
                                "engine": "espeak-ng", "voice": "en-us"}
                               for e in scene.events if e["kind"] == "spoken_phrase"],
            "spoken_phrases_note": ("" if _spoken_phrase_engine() else
                                    "espeak-ng is not installed: the phrase \"Hey, mute\" before B's mute was skipped"),
            "actors": {k: [[round(float(v), 3) for v in row] for row in tr.keys]
                       for k, tr in scene.tracks.items()},
            "layout": ("metres: x east, y north; the road runs north-south along x = 0; "
                       "the patrol car is parked at x = 2.4, y = 8 facing north"),
        },
        "feeds": entries,
    }


def _worker_main(argv: list[str]) -> int:
    seed, dur, fast, key, out_dir, res = argv
    entry = _render_feed(int(seed), float(dur), fast == "1", key, out_dir)
    with open(res, "w", encoding="utf-8") as fh:
        json.dump(entry, fh)
    return 0


if __name__ == "__main__":  # pragma: no cover - the worker entry used by build_incident
    import sys

    if len(sys.argv) == 8 and sys.argv[1] == "--worker":
        sys.exit(_worker_main(sys.argv[2:]))
    sys.exit("usage: python sample_media/generate.py (this module's entry point is internal)")
