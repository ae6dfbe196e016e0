"""Shots where audio resumes from a digital-silence mute (issue 9): the cost and the gain of the rule.

``media_core.analysis.shots`` reports a candidate whose 100 ms before its onset are digital silence
after earlier sound (:func:`~media_core.analysis.shots.resumes_from_silence`) as a possible shot,
never a confident one. This benchmark runs the detector on the clips' audio (the rule needs the
samples, which the candidate tables of ``shots_accuracy.py`` do not keep) and prints, per source:

* true shots the rule touches (their onset follows digital silence after earlier sound);
* exact counts, detection of "one or more shots" clips and confident false shots with the rule, and without it (``rule off``:
  :func:`~media_core.analysis.shots.resumes_from_silence` replaced by one that is never true);
* confident shots at mute ends (within 50 ms after one) in the scenes cut by mutes.

The scenes cut by mutes (``a_muted*``, ``b_muted*``) were never fitted on by the shipped model.

Usage::

    .venv/bin/python benchmarks/shots_mute_ends.py [--sources a_muted,b_muted,...] [--workers 2]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

import shot_data as sd  # noqa: E402

DEFAULT = ["a_muted", "b_muted", "a_muted_shots", "b_muted_shots", "a_shots", "b_shots", "a_incidents",
           "p229_fire", "multi_device", "sesa_gun", "freesound", "range_gpl"]


def _clip_result(c: sd.Clip) -> dict:
    from media_core.analysis import shots

    out = {"id": c.id, "label": c.label, "count": c.count}
    for rule in (True, False):
        saved = shots.resumes_from_silence
        if not rule:  # the rule off: no onset resumes from silence
            shots.resumes_from_silence = lambda x, sr, onsets, **kw: np.zeros(len(onsets), dtype=bool)
        try:
            det = shots.detect_shots(c.y, c.sr)
        finally:
            shots.resumes_from_silence = saved
        conf = [s["time_s"] for s in det if s["confident"]]
        out["n_on" if rule else "n_off"] = len(conf)
        ends = [m["end_s"] for m in (c.meta or {}).get("mutes", [])]
        at = [t for t in conf if any(0.0 <= t - e <= 0.05 for e in ends)]
        out["at_ends_on" if rule else "at_ends_off"] = len(at)
    if c.onsets:
        s = np.round(np.asarray(c.onsets) * c.sr).astype(np.int64)
        out["touched"] = int(shots.resumes_from_silence(c.y, c.sr, s).sum())
        out["shots"] = len(c.onsets)
    out["mute_ends"] = len((c.meta or {}).get("mutes", []))
    return out


def _worker(args: tuple[str, int, int]) -> list[dict]:
    name, lo, hi = args
    src = sd.SOURCES[name]
    if src.one is not None:
        return [_clip_result(c) for i in range(lo, hi) for c in src.clips_at(i)]
    return [_clip_result(c) for k, c in enumerate(src.clips()) if lo <= k < hi]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sources", default=",".join(DEFAULT))
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    print("| source | clips | shots | shots the rule touches | exact counts (rule / off) "
          "| detected, \"one or more\" clips (rule / off) | confident in distractor clips (rule / off) "
          "| confident at mute ends (rule / off) | mute ends |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in [s for s in a.sources.split(",") if s]:
        src = sd.SOURCES[name]
        n = src.n_default if src.one is not None else src.count()
        if n == 0:
            print(f"| {name} | (absent) |")
            continue
        step = max(1, -(-n // (a.workers * 3)))
        jobs = [(name, lo, min(n, lo + step)) for lo in range(0, n, step)]
        t0 = time.time()
        with mp.get_context("fork").Pool(a.workers) as pool:
            rs = [r for part in pool.map(_worker, jobs) for r in part]
        counted = [r for r in rs if r["label"] in ("onsets", "count") and isinstance(r["count"], int)]
        ex_on = sum(r["n_on"] == r["count"] for r in counted)
        ex_off = sum(r["n_off"] == r["count"] for r in counted)
        anys = [r for r in rs if r["label"] == "any"]
        d_on, d_off = sum(r["n_on"] > 0 for r in anys), sum(r["n_off"] > 0 for r in anys)
        none = [r for r in rs if r["label"] == "none"]
        f_on, f_off = sum(r["n_on"] for r in none), sum(r["n_off"] for r in none)
        print(f"| {name} | {len(rs)} | {sum(r.get('shots', 0) for r in rs)} | {sum(r.get('touched', 0) for r in rs)} "
              f"| {f'{ex_on} / {ex_off} of {len(counted)}' if counted else '-'} "
              f"| {f'{d_on} / {d_off} of {len(anys)}' if anys else '-'} "
              f"| {f'{f_on} / {f_off} in {len(none)}' if none else '-'} "
              f"| {sum(r['at_ends_on'] for r in rs)} / {sum(r['at_ends_off'] for r in rs)} "
              f"| {sum(r['mute_ends'] for r in rs)} |", flush=True)
        print(f"  ({name}: {time.time() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
