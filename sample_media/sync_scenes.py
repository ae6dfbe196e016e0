"""Generated scenes for sync: sparse shared events, drift, releases of many feeds, silent helicopters.

Every scene is a set of sound sources at positions in incident time and cameras at positions,
each camera with its own clock (media time -> incident time, a :class:`~media_core.clock.Clock`),
its own microphone colour, gain and background. What the cameras share is only what they both
hear: sound from a source ``d`` metres nearer one camera arrives ``d / 343`` s earlier there.
Background noise and handling sounds are each camera's own (``only_cam``).

* :func:`sparse_pair` -- two cameras sharing only a door, a knock or a sentence every 15-45 s;
* :func:`calibration_case` -- one random incident of a family (2-4 cameras 1-10 m apart, dense or
  sparse sound, drift up to +-150 ppm, 1-15 minutes), for calibrating the stated uncertainty;
* :func:`release` -- a dozen feeds from officers arriving over 20 minutes;
* :func:`helicopter_scene` -- a volley heard far away (shots the detector is not sure of) and the
  muzzle flashes a silent helicopter camera sees.

All return plain dicts: ``feeds`` (``name``, ``audio`` float32 at ``sr``, ``sr``, ``clock`` (media ->
incident), ``duration_s``, ``fps``, ``cam``), ``cams`` (positions, m) and scene-specific truth.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from media_core.clock import Clock

SPEED_OF_SOUND_M_S = 343.0


@dataclass
class Source:
    """One sound: emitted at incident ``time_s`` from ``pos`` (m); ``only_cam`` heard by one camera."""

    time_s: float
    pos: np.ndarray
    wave: np.ndarray
    kind: str
    only_cam: int | None = None


def _bandpass(y, sr, lo, hi):
    from scipy.signal import butter, sosfilt

    hi = min(hi, 0.45 * sr)
    return sosfilt(butter(2, [lo, hi], btype="band", fs=sr, output="sos"), y)


def event_wave(kind: str, *, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A shared sound of ``kind`` (door, knock, speech, shot, step, clap, radio), RMS-normalised."""
    from sample_media import distractors as dz
    from sample_media.audio import speech_like

    if kind == "speech":
        return _speech(float(rng.uniform(0.8, 3.0)), sr, rng)
    if kind == "door":
        y = dz.render_door_slam(sr=sr, rng=rng)
    elif kind == "knock":
        y = dz.render_knock(sr=sr, rng=rng)
    elif kind == "speech":
        y = speech_like(float(rng.uniform(0.8, 3.0)), sr, level_dbfs=-14, rng=rng)
    elif kind == "shot":
        from sample_media.gunshot import render_gunshot

        y = render_gunshot(sr=sr, rng=rng, distance_m=5.0) * 0.25
    elif kind == "step":
        y = dz.render_footsteps(sr=sr, rng=rng)
    elif kind == "clap":
        y = dz.render_hand_clap(sr=sr, rng=rng)
    else:  # radio chatter: band-limited speech
        y = _bandpass(speech_like(float(rng.uniform(1.0, 3.0)), sr, level_dbfs=-14, rng=rng), sr, 300, 3000)
    y = np.asarray(y, np.float64)
    return (y / max(1e-9, float(np.sqrt(np.mean(y ** 2)))) * 0.05).astype(np.float32)


def _speech(duration_s: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A sentence: a voice of its own pitch and intonation through moving formants, in syllables."""
    from scipy.signal import lfilter

    n = int(duration_s * sr)
    t = np.arange(n) / sr
    f0 = rng.uniform(85, 230) * (1 + rng.uniform(0.05, 0.2) * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t
                                                                     + rng.uniform(0, 2 * np.pi)))
    ph = np.cumsum(f0 / sr)
    exc = (np.diff(np.floor(ph), prepend=0) > 0) * 4.0 + 0.3 * rng.standard_normal(n)
    y = np.zeros(n)
    s0 = 0
    while s0 < n:
        seg = int(sr / rng.uniform(3.0, 6.0))
        s1 = min(n, s0 + seg)
        if rng.random() > 0.15:
            out = np.zeros(s1 - s0)
            for fc in (rng.uniform(300, 900), rng.uniform(1000, 2500)):
                r = 0.97
                out += lfilter([1.0 - r], [1.0, -2 * r * np.cos(2 * np.pi * fc / sr), r * r], exc[s0:s1])
            y[s0:s1] = out * np.sin(np.pi * np.linspace(0, 1, s1 - s0)) ** 2
        s0 = s1
    return (y / max(1e-9, float(np.sqrt(np.mean(y ** 2)))) * 0.05).astype(np.float32)


def _handling(sr: int, rng: np.random.Generator) -> np.ndarray:
    """A private sound at one microphone: cloth rustle, a strap tap, breathing."""
    n = int(rng.uniform(0.05, 0.4) * sr)
    t = np.arange(n) / sr
    y = rng.standard_normal(n) * np.exp(-t / rng.uniform(0.01, 0.1))
    y = _bandpass(y, sr, rng.uniform(100, 600), rng.uniform(2000, 6000))
    return (y / max(1e-9, float(np.sqrt(np.mean(y ** 2)))) * 0.05).astype(np.float32)


def render_feed(cams: np.ndarray, sources: Sequence[Source], idx: int, *, clock: Clock, duration_s: float,
                sr: int, rng=0, noise_dbfs: float = -50.0, mute_spans: Sequence[tuple[float, float]] = (),
                ) -> np.ndarray:
    """Camera ``idx``'s audio (sample 0 = media time 0) under ``clock`` (media -> incident time).

    Each source arrives after ``distance / 343`` s at ``3 / distance`` of its level (private
    sources at 0.3 m); the microphone adds its own coloured noise, band limits and gain.
    ``mute_spans`` (media time) are digital zeros.
    """
    from scipy.signal import butter, sosfilt

    g = np.random.default_rng(rng)
    n = int(round(duration_s * sr))
    y = np.zeros(n, np.float32)
    for s in sources:
        if s.only_cam is not None and s.only_cam != idx:
            continue
        d = 0.3 if s.only_cam is not None else max(0.5, float(np.linalg.norm(s.pos - cams[idx])))
        u = clock.to_media(s.time_s + d / SPEED_OF_SOUND_M_S)
        i0 = int(round(u * sr))
        w = s.wave
        if i0 >= n or i0 + w.size <= 0:
            continue
        a, b = max(0, i0), min(n, i0 + w.size)
        y[a:b] += w[a - i0:b - i0] * np.float32(3.0 / max(d, 1.0))
    # the camera's own background: coloured noise (wind, traffic hum) that no other camera hears
    noise = g.standard_normal(n).astype(np.float32)
    noise = sosfilt(butter(1, g.uniform(400, 3000), fs=sr, output="sos").astype(np.float32), noise)
    noise *= np.float32(10 ** (noise_dbfs / 20) / max(1e-9, float(np.std(noise))))
    y += noise.astype(np.float32)
    lo = g.uniform(80, 300)
    hi = min(g.uniform(3500, 7000), 0.45 * sr)
    y = sosfilt(butter(2, [lo, hi], btype="band", fs=sr, output="sos").astype(np.float32), y)
    y *= np.float32(10 ** (g.uniform(-6, 6) / 20))
    y = np.clip(y, -1, 1).astype(np.float32)
    for a, b in mute_spans:
        y[max(0, int(a * sr)):max(0, int(b * sr))] = 0.0
    return y


def _cams(rng: np.random.Generator, n: int, spacing_m: tuple[float, float]) -> np.ndarray:
    lo, hi = spacing_m
    cams = [np.zeros(2)]
    while len(cams) < n:
        ang = rng.uniform(0, 2 * np.pi)
        c = cams[int(rng.integers(len(cams)))] + rng.uniform(lo, hi) * np.array([np.cos(ang), np.sin(ang)])
        if all(lo - 1e-9 <= np.linalg.norm(c - x) <= hi + 1e-9 for x in cams):
            cams.append(c)
    return np.array(cams)


def _shared_events(rng, sr, cams, t0, t1, gap_s, kinds, *, at_cam_share=0.35, near=(3.0, 25.0)):
    """Shared sources between incident ``t0`` and ``t1``, ``gap_s`` (lo, hi) apart."""
    out = []
    centre = cams.mean(axis=0)
    t = t0 + float(rng.uniform(0, gap_s[1]))
    while t < t1:
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == "speech" and rng.random() < at_cam_share:      # an officer talking
            pos = cams[int(rng.integers(len(cams)))] + rng.normal(0, 0.3, 2)
        else:
            r, a = rng.uniform(*near), rng.uniform(0, 2 * np.pi)
            pos = centre + r * np.array([np.cos(a), np.sin(a)])
        out.append(Source(t, pos, event_wave(kind, sr=sr, rng=rng), kind))
        t += float(rng.uniform(*gap_s))
    return out


def _private(rng, sr, n_cams, t0, t1, per_s):
    out = []
    for c in range(n_cams):
        k = int(rng.poisson(per_s * (t1 - t0)))
        for t in np.sort(rng.uniform(t0, t1, k)):
            out.append(Source(float(t), np.zeros(2), _handling(sr, rng), "handling", only_cam=c))
    return out


def _feed(name, audio, sr, clock, duration_s, cam, fps=30.0, **extra):
    return {"name": name, "audio": audio, "sr": sr, "clock": clock, "duration_s": float(duration_s),
            "fps": fps, "cam": cam, **extra}


def travel_allowance_s(cams: np.ndarray, i: int, j: int) -> float:
    """The largest travel-time difference two cameras can see for one source: distance / 343."""
    return float(np.linalg.norm(cams[i] - cams[j])) / SPEED_OF_SOUND_M_S


def sparse_pair(seed: int = 0, *, duration_s: float = 900.0, drift_ppm: float = 110.0,
                distance_m: float = 3.0, gap_s: tuple[float, float] = (15.0, 45.0), sr: int = 16000,
                noise_dbfs: float = -50.0, private_per_s: float = 0.4) -> dict[str, Any]:
    """Two cameras ``distance_m`` apart whose clocks run ``drift_ppm`` apart, sharing only a door,
    a knock, a clap or a sentence every ``gap_s`` seconds; everything else each hears is its own.
    """
    rng = np.random.default_rng(seed)
    cams = np.array([[0.0, 0.0], [distance_m, 0.0]])
    off = float(rng.uniform(-20, 20))
    clocks = [Clock(0.0, 0.0), Clock(off, drift_ppm)]
    t1 = duration_s + abs(off) + 5
    src = _shared_events(rng, sr, cams, -abs(off) - 5, t1, gap_s, ["door", "knock", "speech", "clap", "speech"])
    src += _private(rng, sr, 2, -abs(off) - 5, t1, private_per_s)
    feeds = [_feed(f"cam{i}", render_feed(cams, src, i, clock=clocks[i], duration_s=duration_s, sr=sr,
                                          rng=seed * 10 + i, noise_dbfs=noise_dbfs), sr, clocks[i], duration_s, i)
             for i in range(2)]
    return {"feeds": feeds, "cams": cams, "shared_events": sum(s.only_cam is None for s in src)}


def calibration_case(seed: int) -> dict[str, Any]:
    """One incident of the calibration family: 2-4 cameras 1-10 m apart, 1-15 minutes, dense or
    sparse shared sound, private handling noise, drift up to +-150 ppm, sometimes a mute.

    The scene parameters are drawn from ``seed`` (record them from ``params``).
    """
    rng = np.random.default_rng(100_000 + seed)
    n = int(rng.integers(2, 5))
    dur = float(rng.choice([60.0, 120.0, 300.0, 600.0, 900.0], p=[0.25, 0.25, 0.2, 0.15, 0.15]))
    sparse = bool(rng.random() < 0.5)
    gap = (15.0, 45.0) if sparse else (0.4, 2.5)
    cams = _cams(rng, n, (1.0, 10.0))
    sr = 16000
    clocks = [Clock(0.0, 0.0)] + [Clock(float(rng.uniform(-15, 15)), float(rng.uniform(-150, 150)))
                                  for _ in range(n - 1)]
    durs = [dur] + [dur * float(rng.uniform(0.6, 1.0)) for _ in range(n - 1)]
    t0, t1 = -20.0, dur + 20.0
    kinds = ["door", "knock", "speech", "clap", "speech", "step", "radio"] + ([] if sparse else ["shot"])
    src = _shared_events(rng, sr, cams, t0, t1, gap, kinds)
    src += _private(rng, sr, n, t0, t1, float(rng.uniform(0.0, 0.6)))
    noise = float(rng.uniform(-60, -42))
    feeds = []
    for i in range(n):
        mute = []
        if i and rng.random() < 0.2:
            a = float(rng.uniform(0, 0.5 * durs[i]))
            mute = [(a, a + float(rng.uniform(5, 0.3 * durs[i])))]
        y = render_feed(cams, src, i, clock=clocks[i], duration_s=durs[i], sr=sr, rng=seed * 7 + i,
                        noise_dbfs=noise, mute_spans=mute)
        feeds.append(_feed(f"cam{i}", y, sr, clocks[i], durs[i], i, fps=float(rng.choice([30.0, 25.0, 30.0]))))
    return {"feeds": feeds, "cams": cams,
            "params": {"n_cams": n, "duration_s": dur, "sparse": sparse, "noise_dbfs": round(noise, 1)}}


def release(seed: int = 0, *, n_feeds: int = 12, span_s: float = 1200.0, feed_s: tuple[float, float] = (170.0, 220.0),
            sr: int = 8000, wallclock_error_s: float = 4.0, isolated: bool = True) -> dict[str, Any]:
    """A release of ``n_feeds`` body cams from officers arriving over ``span_s`` seconds.

    Officers arrive one after another (feed ``k`` starts about ``k * span_s / n_feeds`` in; the
    first two record from 0 for 3 steps) and stand 2-15 m from the scene centre, so later feeds
    never overlap the first two and are placed only through a chain of others. With ``isolated``, the last feed is recorded far away (its own
    sounds only): no audio link exists and it can be placed only by its ``creation_time``, which
    (like every camera's) is off by up to ``wallclock_error_s``.

    Extra truth: ``epoch`` (the incident's t = 0 as a datetime); per feed ``creation_time`` and
    ``start_incident_s``.
    """
    import datetime as _dt

    rng = np.random.default_rng(seed)
    epoch = _dt.datetime(2026, 11, 21, 21, 0, 0, tzinfo=_dt.timezone.utc)
    step = span_s / n_feeds
    starts, durs, cams = [], [], []
    for k in range(n_feeds):
        starts.append(0.0 if k < 2 else k * step + float(rng.uniform(-0.1, 0.1)) * step)
        durs.append(float(rng.uniform(*feed_s)) if k >= 2 else 3.0 * step)
        r, a = rng.uniform(2, 15), rng.uniform(0, 2 * np.pi)
        cams.append([r * np.cos(a), r * np.sin(a)])
    if isolated:
        cams[-1] = [2000.0, 0.0]
    cams = np.array(cams)
    t1 = max(s + d for s, d in zip(starts, durs)) + 10
    src = _shared_events(rng, sr, cams[:-1] if isolated else cams, -10, t1, (1.0, 4.0),
                         ["door", "knock", "speech", "clap", "speech", "step", "radio"], at_cam_share=0.2)
    src += _private(rng, sr, n_feeds, -10, t1, 0.2)
    if isolated:   # the far officer hears his own scene
        far = cams[-1] + np.array([5.0, 3.0])
        t = starts[-1]
        while t < starts[-1] + durs[-1]:
            src.append(Source(t, far + rng.normal(0, 2, 2), event_wave("speech", sr=sr, rng=rng), "speech"))
            t += float(rng.uniform(1.0, 4.0))
    feeds = []
    for k in range(n_feeds):
        drift = float(rng.uniform(-60, 60))
        clock = Clock(starts[k], drift)
        y = render_feed(cams, src, k, clock=clock, duration_s=durs[k], sr=sr, rng=1000 + k, noise_dbfs=-52.0)
        err = float(rng.uniform(-wallclock_error_s, wallclock_error_s))
        ct = epoch + _dt.timedelta(seconds=round(starts[k] + err))
        feeds.append(_feed(f"officer{k:02d}", y, sr, clock, durs[k], k, creation_time=ct,
                           start_incident_s=starts[k]))
    return {"feeds": feeds, "cams": cams, "epoch": epoch, "isolated": n_feeds - 1 if isolated else None}


def helicopter_scene(seed: int = 0, *, n_shots: int = 10, duration_s: float = 60.0, shooter_m: float = 6.0,
                     sr: int = 16000, heli_fps: float = 30.0, heli_offset_s: float = 4.3,
                     shot_level: float = 1.0, shot_gap_s: tuple[float, float] = (0.15, 1.2)) -> dict[str, Any]:
    """A volley of ``n_shots`` fired about ``shooter_m`` metres from two body cams (heard faint, so the
    detector is unsure of most), ``shot_gap_s`` apart, plus the muzzle flashes a silent helicopter
    camera sees.

    Extra truth: ``shots_incident_s``, ``heli_clock`` (media -> incident), ``flash_media_s`` (the
    flashes on the helicopter's media time), ``heli_fps``.
    """
    rng = np.random.default_rng(seed)
    cams = np.array([[0.0, 0.0], [4.0, 1.0]])
    clocks = [Clock(0.0, 0.0), Clock(float(rng.uniform(-5, 5)), float(rng.uniform(-50, 50)))]
    src = _shared_events(rng, sr, cams, -10, duration_s + 10, (1.0, 3.0), ["speech", "step", "speech", "radio"])
    src += _private(rng, sr, 2, -10, duration_s + 10, 0.5)
    t = float(rng.uniform(0.3, 0.5)) * duration_s
    shots = []
    shooter = np.array([2.0, -shooter_m])
    from sample_media.gunshot import render_gunshot

    for _ in range(n_shots):
        shots.append(t)
        w = render_gunshot(sr=sr, rng=rng, distance_m=shooter_m).astype(np.float32)
        w = w / max(1e-9, float(np.max(np.abs(w)))) * np.float32(shot_level)
        src.append(Source(t, shooter + rng.normal(0, 0.3, 2), w, "shot"))
        t += float(rng.uniform(*shot_gap_s))
    feeds = [_feed(f"cam{i}", render_feed(cams, src, i, clock=clocks[i], duration_s=duration_s, sr=sr,
                                          rng=seed * 3 + i, noise_dbfs=-45.0), sr, clocks[i], duration_s, i)
             for i in range(2)]
    heli = Clock(heli_offset_s, float(rng.uniform(-20, 20)))
    return {"feeds": feeds, "cams": cams, "shots_incident_s": shots, "heli_clock": heli,
            "flash_media_s": [heli.to_media(s) for s in shots], "heli_fps": heli_fps, "shooter": shooter}


def flash_frame_fn(flash_media_s: Sequence[float], *, fps: float = 30.0, size: tuple[int, int] = (96, 64),
                   seed: int = 0, one_spot: bool = False):
    """``frame_fn(i, t)`` for :func:`sample_media.encode.write_media`: a grey IR scene with a
    one-frame muzzle flash (and a fainter afterglow on the next frame) at each of ``flash_media_s``,
    each at its own place, or all at one (``one_spot``: one shooter firing a volley).
    """
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 40 + 10 * rng.random((h, w)).astype(np.float32)
    pos = [(float(rng.uniform(10, w - 10)), float(rng.uniform(10, h - 10)))
           for _ in (flash_media_s[:1] if one_spot else flash_media_s)]
    pos = pos * len(flash_media_s) if one_spot else pos

    def frame(i, t):
        img = base.copy()
        img += np.random.default_rng(i).normal(0, 2, img.shape).astype(np.float32)
        for (fx, fy), tm in zip(pos, flash_media_s):
            if t <= tm < t + 1 / fps:
                img += 200 * np.exp(-((xx - fx) ** 2 + (yy - fy) ** 2) / (2 * 1.6 ** 2))
            elif t - 1 / fps <= tm < t:
                img += 60 * np.exp(-((xx - fx) ** 2 + (yy - fy) ** 2) / (2 * 1.6 ** 2))
        g = np.clip(img, 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2)

    return frame


def true_relative(feed: dict, ref: dict) -> Clock:
    """The true clock of ``feed`` on ``ref``'s media time (what sync should find)."""
    return feed["clock"].relative_to(ref["clock"])


def placement_error_s(est: Clock, feed: dict, ref: dict, n: int = 200) -> float:
    """The largest |estimated - true| placement over the whole of ``feed`` (seconds)."""
    u = np.linspace(0.0, feed["duration_s"], n)
    truth = true_relative(feed, ref).to_shared(u)
    return float(np.max(np.abs(est.to_shared(u) - truth)))
