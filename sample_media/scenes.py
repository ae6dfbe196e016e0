"""Generated scenes that combine gunfire with distractors (kept apart from ``gunshot`` and
``distractors`` so that neither imports the other's scenes).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from sample_media.distractors import render_distractor
from sample_media.gunshot import random_wall_echoes, render_incident_audio, two_shooter_times

__all__ = ["two_shooter_incident"]


def two_shooter_incident(rng: np.random.Generator, *, sr: int = 48000, rounds: tuple[int, int] = (10, 10),
                         distractor_kinds: tuple[str, ...] = (), duration_s: float | None = None,
                         near_m: tuple[float, float] = (3.0, 12.0), far_m: tuple[float, float] = (6.0, 25.0),
                         **incident_kwargs: Any) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """A body-cam feed of two shooters' volleys (issue 4's accuracy scenario) with known truth.

    Shooter 0 stands ``near_m`` (3-12 m) from the camera, shooter 1 ``far_m`` (6-25 m): two
    officers near the camera wearer. Each keeps its place, caliber and scene echoes for all its
    rounds. (A shot 25 dB weaker than a shot 60 ms before it is buried in that shot's echoes
    and cannot be counted from one microphone; such feeds are outside this scenario.) ``distractor_kinds`` are placed before and after the
    volley (after it). Clipping, AGC and the background follow
    :func:`render_incident_audio`; the AGC's attack and release are drawn per feed.
    """
    times = two_shooter_times(rng, rounds=rounds)
    d0 = float(rng.uniform(near_m[0], near_m[1]))
    d1 = float(rng.uniform(far_m[0], far_m[1]))
    cal = [str(rng.choice(["pistol", "pistol", "rifle"])) for _ in range(2)]
    echoes = [random_wall_echoes(rng), random_wall_echoes(rng)]
    shots = []
    for t, who in times:
        d = (d0, d1)[who] * float(rng.uniform(0.95, 1.05))
        shots.append({"time_s": t, "distance_m": d, "caliber": cal[who],
                      "wall_echoes": tuple((dl * float(rng.uniform(0.97, 1.03)), g) for dl, g in echoes[who])})
    last = times[-1][0]
    if duration_s is None:
        duration_s = last + 3.0 + 2.5 * len(distractor_kinds)
    distr = []
    for i, kind in enumerate(distractor_kinds):
        t = last + 1.5 + 2.5 * i
        distr.append((t, render_distractor(kind, sr=sr, rng=rng), {"kind": kind}))
    agc = incident_kwargs.pop("agc", {"attack_s": float(rng.uniform(0.004, 0.03)),
                                      "release_s": float(rng.uniform(0.3, 2.0))})
    y, truth = render_incident_audio(duration_s, sr, shots, rng, distractors=distr, agc=agc,
                                     noise_dbfs=float(rng.uniform(-60.0, -42.0)), **incident_kwargs)
    for e in truth:
        if e["kind"] == "gunshot":
            e["shooter"] = 0 if abs(e["distance_m"] - d0) < abs(e["distance_m"] - d1) else 1
    return y, truth
