"""A generated release: many feeds of one incident with known truth, for ingest and audit tests.

Body cams (H.264 + AAC 48 kHz), dash cams (AAC 16 kHz) and helicopter feeds (no audio) from
officers arriving over ``span_s`` seconds at one scene. Every feed at the scene hears the same
shared sounds (doors, knocks, speech, claps) after its own travel time, plus its own noise;
a volley of shots is fired at ``shots_at_s``. Some body cams mute (digital zeros) or start their
audio late. ``far`` feeds record somewhere else (their own sounds only): nothing links them to the
others, so they can only be placed by their ``creation_time`` (off by up to ``wallclock_error_s``,
as every camera's clock is).

:func:`build_release` writes the files and ``truth.json`` (schema ``evidence-audit.release/1``)::

    {"schema", "generator": {...params...}, "epoch_utc", "shots_incident_s": [...],
     "feeds": [{"file", "kind", "start_incident_s", "drift_ppm", "duration_s", "has_audio", "sr",
                "creation_time", "make", "model", "serial", "unit", "size_bytes",
                "mutes": [{"start_s", "end_s", "kind"}],          # feed media time
                "placed_by": "audio" | "flashes" | "metadata"}]}

It is deterministic (same parameters, same bytes) and idempotent (an up-to-date truth file with
every file at its recorded size: nothing is rewritten). ``size`` and ``fps`` make it cheap for
tests (64x36, a few seconds per feed) or release-like for benchmarks (320x180, 15 hours).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

VERSION = "1.0.0"
SCHEMA = "evidence-audit.release/1"
SPEED_OF_SOUND_M_S = 343.0
MAKES = {"bodycam": ("Axon", "Body 3"), "dashcam": ("WatchGuard", "4RE"), "helicopter": ("FLIR", "Star SAFIRE")}


def _plan(seed: int, n_feeds: int, total_s: float, span_s: float, n_far: int, n_heli: int,
          mute_share: float, wallclock_error_s: float) -> dict[str, Any]:
    """Who records what, when, with which clock: every random draw of the release, in one place."""
    rng = np.random.default_rng(seed)
    kinds = []
    for k in range(n_feeds):
        if k < n_heli:
            kinds.append("helicopter")
        else:
            kinds.append("dashcam" if rng.random() < 0.3 else "bodycam")
    if n_feeds > n_heli and "bodycam" not in kinds:
        kinds[n_heli] = "bodycam"
    w = rng.uniform(0.5, 1.5, n_feeds)
    durs = w / w.sum() * total_s
    feeds = []
    for k, kind in enumerate(kinds):
        dur = float(durs[k])
        # the first helicopter and the first car on the ground cover the incident; later officers
        # arrive over the span
        start = 0.0 if k in (0, n_heli) else float(rng.uniform(-0.1, 0.9) * max(span_s - dur, 0.0))
        far = n_far > 0 and k >= n_feeds - n_far and kind != "helicopter"
        pos = ([5000.0 + 100 * k, 0.0] if far else
               [float(x) for x in rng.uniform(-12, 12, 2)])
        mutes, audio_start = [], 0.0
        if kind == "bodycam" and rng.random() < mute_share:
            a = float(rng.uniform(0.2, 0.7) * dur)
            mutes.append({"start_s": round(a, 3), "end_s": round(a + float(rng.uniform(0.02, 0.08) * dur) + 1.5, 3),
                          "kind": "digital-silence"})
        if kind == "bodycam" and rng.random() < 0.2:
            audio_start = round(float(rng.uniform(0.02, 0.06) * dur) + 1.0, 3)
            mutes.insert(0, {"start_s": 0.0, "end_s": audio_start, "kind": "late-audio-start"})
        serial = f"X{int(rng.integers(0x10000000, 0xFFFFFFFF)):08X}"
        feeds.append({
            "key": f"{kind}_{k:02d}", "kind": kind, "start_incident_s": round(start, 3),
            "drift_ppm": round(float(rng.uniform(-60, 60)), 2), "duration_s": round(dur, 3),
            "pos_m": pos, "far": far, "audio_start_s": audio_start, "mutes": mutes, "serial": serial,
            "unit": f"unit{int(rng.integers(10, 20))}",
            "wallclock_error_s": round(float(rng.uniform(-wallclock_error_s, wallclock_error_s)), 3),
            "noise_dbfs": round(float(rng.uniform(-56, -46)), 1), "seed": int(rng.integers(1 << 31)),
        })
    return {"feeds": feeds}


def _events(seed: int, t0: float, t1: float, gap_s: tuple[float, float]) -> list[dict]:
    rng = np.random.default_rng(seed + 1)
    out, t = [], t0 + float(rng.uniform(0, gap_s[1]))
    kinds = ["door", "knock", "speech", "clap", "speech", "door"]
    while t < t1:
        out.append({"t": round(t, 4), "kind": kinds[int(rng.integers(len(kinds)))],
                    "pos": [float(x) for x in rng.uniform(-20, 20, 2)], "seed": int(rng.integers(1 << 31)),
                    "gain": float(rng.uniform(0.3, 1.0))})
        t += float(rng.uniform(*gap_s))
    return out


def _wave(kind: str, sr: int, seed: int) -> np.ndarray:
    from sample_media import distractors as dz
    from sample_media.audio import speech_like
    from sample_media.gunshot import render_gunshot

    rng = np.random.default_rng(seed)
    if kind == "speech":
        return speech_like(float(rng.uniform(0.6, 2.0)), sr, level_dbfs=-14.0, rng=rng)
    if kind == "door":
        return dz.render_door_slam(sr=sr, rng=rng)
    if kind == "knock":
        return dz.render_knock(sr=sr, rng=rng)
    if kind == "clap":
        return dz.render_hand_clap(sr=sr, rng=rng)
    if kind == "shot":
        return np.asarray(render_gunshot(sr=sr, rng=rng, distance_m=8.0), np.float32)
    raise ValueError(kind)


def _render_audio(feed: dict, events: list[dict], sr: int) -> np.ndarray:
    """The feed's audio, sample 0 = media time 0: shared sounds after their travel time, its own
    noise (one-pole coloured), digital zeros where it mutes.
    """
    from scipy.signal import lfilter

    from media_core.clock import Clock

    g = np.random.default_rng(feed["seed"])
    n = int(round(feed["duration_s"] * sr))
    clock = Clock(feed["start_incident_s"], feed["drift_ppm"])
    y = g.standard_normal(n, dtype=np.float32)
    a = float(np.exp(-2 * np.pi * g.uniform(800, 3000) / sr))
    y = lfilter([1 - a], [1, -a], y).astype(np.float32)
    y *= np.float32(10 ** (feed["noise_dbfs"] / 20) / max(1e-9, float(np.std(y[: min(n, sr * 10)]))))
    pos = np.asarray(feed["pos_m"])
    cache: dict[tuple, np.ndarray] = {}
    for e in events:
        own = e.get("only") is not None
        if own and e["only"] != feed["key"]:
            continue
        d = 1.0 if own else max(1.0, float(np.linalg.norm(np.asarray(e["pos"]) - pos)))
        if d > 300:
            continue
        u = clock.to_media(e["t"] + d / SPEED_OF_SOUND_M_S)
        i0 = int(round(u * sr))
        key = (e["kind"], e["seed"])
        if key not in cache:
            cache[key] = _wave(e["kind"], sr, e["seed"])
        w = cache[key]
        if i0 >= n or i0 + w.size <= 0:
            continue
        lo, hi = max(0, i0), min(n, i0 + w.size)
        y[lo:hi] += w[lo - i0:hi - i0] * np.float32(e["gain"] * (1.0 if e["kind"] == "shot" else 4.0) / d)
    y = np.clip(y, -1, 1)
    for m in feed["mutes"]:
        if m["kind"] == "digital-silence":
            y[int(m["start_s"] * sr):int(m["end_s"] * sr)] = 0.0
    if feed["audio_start_s"] > 0:
        y = y[int(round(feed["audio_start_s"] * sr)):]
    return y


def _frame_fn(size: tuple[int, int], flashes_media_s: list[float], fps: float):
    w, h = size
    base = np.empty((h, w, 3), np.uint8)
    base[..., 0] = (np.arange(w)[None, :] * 255 // max(1, w - 1)).astype(np.uint8)
    base[..., 1] = (np.arange(h)[:, None] * 255 // max(1, h - 1)).astype(np.uint8)
    base[..., 2] = 60
    flash_frames = {int(np.floor(t * fps)) for t in flashes_media_s}

    def frame(i: int, t: float) -> np.ndarray:
        img = base.copy()
        x = (i * 2) % max(1, w - 8)
        img[h // 2: h // 2 + max(2, h // 10), x:x + max(2, w // 20)] = 255 - img[h // 2, x]
        if i in flash_frames:
            r = max(2, h // 12)
            img[h // 3 - r:h // 3 + r, w // 3 - r:w // 3 + r] = 255
        return img

    return frame


def _write_feed(job: dict) -> dict:
    """Render and encode one feed (runs in a child process); return its truth entry."""
    from media_core.clock import Clock
    from sample_media.encode import write_media

    feed, events, out, epoch = job["feed"], job["events"], Path(job["out"]), job["epoch"]
    kind = feed["kind"]
    make, model = MAKES[kind]
    sr = {"bodycam": 48000, "dashcam": 16000}.get(kind)
    clock = Clock(feed["start_incident_s"], feed["drift_ppm"])
    flashes = []
    if kind == "helicopter" and not feed["far"]:
        flashes = [clock.to_media(t) for t in job["shots"] if 0 < clock.to_media(t) < feed["duration_s"] - 0.5]
    audio = _render_audio(feed, events, sr) if sr else None
    start_utc = epoch + _dt.timedelta(seconds=feed["start_incident_s"] + feed["wallclock_error_s"])
    start_utc = start_utc.replace(microsecond=0)
    path = out / f"{feed['key']}.mp4"
    tmp = path.with_name(path.stem + ".part.mp4")
    write_media(tmp, audio=audio, sr=sr or 48000, audio_start_s=feed["audio_start_s"],
                audio_bitrate={"bodycam": 64000, "dashcam": 32000}.get(kind), fps=job["fps"], size=job["size"],
                duration_s=feed["duration_s"], frame_fn=_frame_fn(job["size"], flashes, job["fps"]),
                creation_time=start_utc, seed=feed["seed"] % 1000,
                metadata={"title": f"{make} {model} {feed['serial']}",
                          "comment": f"make={make}; model={model}; serial={feed['serial']}; unit={feed['unit']}"})
    os.replace(tmp, path)
    placed = ("metadata" if feed["far"] else "flashes" if kind == "helicopter" and len(flashes) >= 3
              else "metadata" if kind == "helicopter" else "audio")
    return {"file": path.name, "key": feed["key"], "kind": kind, "start_incident_s": feed["start_incident_s"],
            "drift_ppm": feed["drift_ppm"], "duration_s": feed["duration_s"], "has_audio": sr is not None, "sr": sr,
            "creation_time": start_utc.isoformat().replace("+00:00", "Z"), "make": make, "model": model,
            "serial": feed["serial"], "unit": feed["unit"], "size_bytes": path.stat().st_size,
            "mutes": ([{"start_s": 0.0, "end_s": feed["duration_s"], "kind": "no-audio-track"}] if sr is None
                      else feed["mutes"]),
            "flashes_media_s": [round(t, 4) for t in flashes], "placed_by": placed}


def build_release(out_dir: str | os.PathLike, *, seed: int = 16, n_feeds: int = 53, total_hours: float = 15.0,
                  span_s: float | None = None, n_far: int = 2, n_heli: int = 3, mute_share: float = 0.35,
                  size: tuple[int, int] = (320, 180), fps: float = 10.0, shots_at_s: float | None = None,
                  event_gap_s: tuple[float, float] = (4.0, 14.0), wallclock_error_s: float = 3.0,
                  workers: int | None = None, force: bool = False) -> dict[str, Any]:
    """Write a release into ``out_dir`` (one MP4 per feed and ``truth.json``); return the truth.

    Parameters
    ----------
    n_feeds, total_hours : int, float
        How many feeds and their summed length.
    span_s : float, optional
        Officers arrive over this many seconds (default: twice the mean feed length).
    n_far, n_heli : int
        Feeds recorded far from the scene (placeable only by metadata) and helicopter feeds (no
        audio; the first one sees the shots' flashes when it is recording then).
    size, fps : (int, int), float
        Video frame size and rate.
    shots_at_s : float, optional
        Incident time of the volley (default: a third into the first feed).
    workers : int, optional
        Child processes that encode feeds (default: one per core).
    """
    out = Path(out_dir)
    total_s = float(total_hours) * 3600.0
    mean = total_s / n_feeds
    span = float(span_s if span_s is not None else 2.0 * mean)
    params = {"name": "sample_media.release", "version": VERSION, "seed": seed, "n_feeds": n_feeds,
              "total_hours": total_hours, "span_s": span, "n_far": n_far, "n_heli": n_heli, "mute_share": mute_share,
              "size": list(size), "fps": fps, "shots_at_s": shots_at_s, "event_gap_s": list(event_gap_s),
              "wallclock_error_s": wallclock_error_s}
    truth_path = out / "truth.json"
    if not force and truth_path.is_file():
        try:
            old = json.loads(truth_path.read_text())
            if old.get("generator") == params and all(
                    (out / f["file"]).is_file() and (out / f["file"]).stat().st_size == f["size_bytes"]
                    for f in old["feeds"]):
                return old
        except (OSError, ValueError, KeyError):
            pass
    plan = _plan(seed, n_feeds, total_s, span, n_far, n_heli, mute_share, wallclock_error_s)
    scene = [f for f in plan["feeds"] if f["start_incident_s"] == 0.0 and not f["far"]]
    first_s = min(f["duration_s"] for f in scene)
    t_shots = float(shots_at_s if shots_at_s is not None else first_s / 3)
    shots = [round(t_shots + 0.35 * k + 0.05 * (k % 3), 4) for k in range(6)]
    t_end = max(f["start_incident_s"] + f["duration_s"] for f in plan["feeds"]) + 5
    events = _events(seed, -5.0, t_end, tuple(event_gap_s))
    events += [{"t": t, "kind": "shot", "pos": [0.0, 0.0], "seed": seed * 100 + k, "gain": 1.0}
               for k, t in enumerate(shots)]
    for f in plan["feeds"]:  # far feeds hear only their own scene
        if f["far"]:
            g = np.random.default_rng(f["seed"] + 7)
            t = f["start_incident_s"]
            while t < f["start_incident_s"] + f["duration_s"]:
                events.append({"t": round(t, 4), "kind": "speech", "pos": f["pos_m"], "only": f["key"],
                               "seed": int(g.integers(1 << 31)), "gain": 0.25})
                t += float(g.uniform(*event_gap_s))
    epoch = _dt.datetime(2026, 11, 21, 21, 0, 0, tzinfo=_dt.timezone.utc)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [{"feed": f, "events": events, "out": str(out), "epoch": epoch, "shots": shots, "size": tuple(size),
             "fps": fps} for f in plan["feeds"]]
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    if n_workers <= 1 or len(jobs) == 1:
        entries = [_write_feed(j) for j in jobs]
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(n_workers, mp_context=mp.get_context("spawn")) as pool:
            entries = list(pool.map(_write_feed, jobs))
    truth = {"schema": SCHEMA, "generator": params, "epoch_utc": epoch.isoformat().replace("+00:00", "Z"),
             "shots_incident_s": shots, "feeds": sorted(entries, key=lambda e: e["file"]),
             "total_s": round(sum(e["duration_s"] for e in entries), 3)}
    tmp = truth_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(truth, indent=1))
    os.replace(tmp, truth_path)
    return truth


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Generate a release of many feeds with known truth.")
    ap.add_argument("--out", default="benchmarks/_work/release53")
    ap.add_argument("--feeds", type=int, default=53)
    ap.add_argument("--hours", type=float, default=15.0)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args(argv)
    t = build_release(a.out, n_feeds=a.feeds, total_hours=a.hours, seed=a.seed, workers=a.workers, force=a.force)
    print(f"{len(t['feeds'])} feeds, {t['total_s'] / 3600:.2f} h in {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
