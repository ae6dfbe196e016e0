"""Scenes whose audio is cut by digital-silence mutes: the sound resumes at once at a mute's end.

A body cam's mute button, a privacy gate or a department's redaction replaces audio with
digital zero (or a converter's last few bits). Where the mute ends, the sound comes back in one
sample: to an onset detector that is a rise of 150 dB or more out of nothing, mid-word or
mid-engine, and nothing in a gunshot detector's other training data looks like it. These scenes
test it (issue 9): the end of a mute is not a shot, and a shot right after a mute still is.
They are scored, not fitted on: fitting on them cost held-out accuracy elsewhere (README,
"Scenes cut by mutes"); the detector's mute-end rule handles what they show.

:func:`insert_mutes` is the operation, on any signal; :func:`render_muted_scene_b` places it in
family b's chain (:mod:`sample_media.gunfire_b`, :mod:`sample_media.chains`) at one of three
points: before the gain control (which then ramps to its maximum gain during the silence and
hits the resumed sound with it), after the gain control and before the codec (a camera's mute),
or after the whole chain (a redaction in editing, sometimes encoded once more).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sample_media import chains

#: Where in the chain a mute is applied, and how often (family b).
STAGES_MUTE: dict[str, float] = {"pre_agc": 0.3, "pre_codec": 0.4, "post": 0.3}


def insert_mutes(y: np.ndarray, sr: int, rng: np.random.Generator, *, n: int | None = None,
                 keep: Sequence[float] = (), before: float | None = None,
                 length_s: tuple[float, float] = (0.2, 4.0)) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Replace spans of ``y`` with digital silence (or a converter floor) that ends abruptly.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Signal (float, full scale 1); not modified.
    sr : int
        Its sample rate (Hz).
    rng : np.random.Generator
        Randomness.
    n : int or None
        Number of mutes (default 1 to 3; fewer if the signal is short).
    keep : sequence of float
        Times (s) no mute may cover, nor end within 5 ms before (the shots of a scene).
    before : float or None
        If given, the first mute ends 5 ms to 1 s before this time (a shot right after the mute);
        when that leaves under 0.15 s it starts at 0 (a clip whose first sound is the shot).
    length_s : (low, high)
        Range of a mute's length (s).

    Returns
    -------
    y_out : np.ndarray
        float32 copy with the mutes.
    mutes : list of dict
        ``{"start_s", "end_s", "floor_dbfs" (None for exact zero), "fade_ms"}``, sorted.
    """
    x = np.array(y, dtype=np.float64)
    dur = x.size / float(sr)
    keep_t = np.asarray(sorted(keep), dtype=float)
    frame = max(1, int(0.02 * sr))
    rms = np.sqrt(np.convolve(x * x, np.ones(frame) / frame, mode="same") + 1e-20)
    loud = np.flatnonzero(rms >= np.quantile(rms, 0.6)) if x.size else np.zeros(0, int)
    if n is None:
        n = int(rng.integers(1, 4))
    spans: list[tuple[float, float]] = []
    if before is not None:
        gap_hi = min(1.0, float(before) - 0.003)
        if gap_hi > 0.005:
            end = float(before) - float(rng.uniform(0.005, gap_hi))
            start = end - float(rng.uniform(*length_s))
            spans.append((0.0 if start < 0.15 else start, end))
    for _ in range(20 * n):
        if len(spans) >= n + (before is not None):
            break
        if loud.size and rng.random() < 0.7:
            end = float(loud[int(rng.integers(loud.size))]) / sr  # resumes mid-sound
        else:
            end = float(rng.uniform(0.3, max(0.31, dur - 0.2)))
        start = end - float(rng.uniform(*length_s))
        if start < 0.2 and rng.random() < 0.8:  # most mutes begin inside the clip, some open it
            continue
        start = max(0.0, start)
        if end >= dur - 0.05 or end - start < 0.1:
            continue
        if keep_t.size and np.any((keep_t >= start - 0.01) & (keep_t <= end + 0.005)):
            continue
        if any(s < end + 0.3 and start < e + 0.3 for s, e in spans):
            continue
        spans.append((start, end))
    out = []
    for start, end in sorted(spans):
        k0, k1 = int(round(start * sr)), int(round(end * sr))
        floor = None if rng.random() < 0.75 else float(rng.uniform(-100.0, -80.0))
        x[k0:k1] = 0.0 if floor is None else rng.standard_normal(k1 - k0) * 10 ** (floor / 20)
        fade_ms = 0.0 if rng.random() < 0.6 else float(rng.uniform(1.0, 20.0))
        m = min(int(fade_ms * 1e-3 * sr), x.size - k1)
        if m > 1:
            x[k1:k1 + m] *= np.linspace(0.0, 1.0, m)
        out.append({"start_s": k0 / sr, "end_s": k1 / sr, "floor_dbfs": floor, "fade_ms": fade_ms})
    return x.astype(np.float32), out


def render_muted_scene_b(rng: np.random.Generator, *, shots: bool, sr: int = 48000
                         ) -> tuple[np.ndarray, int, dict[str, Any]]:
    """A family-b scene (:func:`sample_media.gunfire_b.render_scene_b`) with mutes in its chain.

    Parameters
    ----------
    rng : np.random.Generator
        Randomness.
    shots : bool
        False: talk, background and distractors only (voice-like babble in half the scenes),
        4 to 10 s. True: a usual family-b shot scene whose first shot comes 5 ms to 1 s after a
        mute ends (or opens a clip that starts in digital silence).
    sr : int
        Rendering rate (Hz).

    Returns
    -------
    y : np.ndarray
        float32 at ``sr_out``.
    sr_out : int
        Output rate.
    truth : dict
        render_scene_b's truth plus ``mutes`` and ``mute_stage``.
    """
    from sample_media.gunfire_b import BACKGROUNDS_B, render_scene_b

    stage = str(rng.choice(list(STAGES_MUTE), p=list(STAGES_MUTE.values())))
    spec = chains.random_chain(rng)
    kw: dict[str, Any] = {"sr": sr}
    if not shots:
        kw.update(n_shots=0, duration_s=float(rng.uniform(4.0, 10.0)),
                  background="babble" if rng.random() < 0.5 else str(rng.choice(BACKGROUNDS_B[1:])),
                  distractors=None)
    if stage == "pre_agc":
        y, _, truth = render_scene_b(rng, chain=False, **kw)
    elif stage == "pre_codec":
        y, _, truth = render_scene_b(rng, chain={**spec, "codec": "pcm16", "sr_out": sr, "bitrate": None}, **kw)
    else:
        y, sr, truth = render_scene_b(rng, chain=spec, **kw)
    times = [s["time_s"] for s in truth["shots"]]
    y, mutes = insert_mutes(y, sr, rng, keep=times, before=min(times) if times else None)
    if stage == "pre_agc":
        y, sr = chains.apply_chain(y, sr, spec, rng, stages=("mic", "agc", "clip", "codec"))
    elif stage == "pre_codec":
        y, sr = chains.apply_chain(y, sr, spec, rng, stages=("codec",))
    elif rng.random() < 0.5:
        y = chains.codec_roundtrip(y, sr, "aac")
    truth = {**truth, "chain": spec, "mutes": mutes, "mute_stage": stage}
    return np.asarray(y, np.float32), int(sr), truth
