"""Benchmark: full analysis (mutes + shots in one decode) vs plain PyAV audio decoding.

Uses the 30-minute 48 kHz mono AAC feed that ``benchmarks/bench_mutes.py`` caches in
``benchmarks/_work/`` (generating it with that script's own generator when it is missing).
Then, in the same run and interleaved, each in its own subprocess, ``--repeat`` times:

* ``decode``: plain PyAV decoding of the audio to numpy (``frame.to_ndarray()`` per frame);
* ``mutes``: :func:`media_core.io.decode.run_listeners` with a :class:`MuteListener` only;
* ``shots``: the same with a :class:`ShotListener` only;
* ``analysis``: :func:`media_core.analysis.feed.analyze_feed` -- mutes and shots in one decode pass
  (the file's SHA-256 is passed in, so hashing is not timed).

Prints wall and CPU times, the ratios to ``decode`` (target for ``analysis``: <= 1.5) and the
shot candidates per minute seen on the feed (speech and room tone, no gunfire: the detector must
report no confident shots there).

Usage::

    python benchmarks/bench_analysis.py [--minutes 30] [--repeat 3]

The machine is shared by several developers; timings are noisy. Compare ratios from one run.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_mutes  # noqa: E402  (the 30-min feed's generator and cache location)


def task_decode(path: str) -> dict:
    return bench_mutes.task_decode(path)


def task_mutes(path: str) -> dict:
    from media_core.analysis.mutes import MuteListener
    from media_core.io.decode import run_listeners

    res = run_listeners(path, [MuteListener()])
    return {"mutes": len(res["mutes"]["mutes"])}


def task_shots(path: str) -> dict:
    from media_core.analysis.shots import ShotListener
    from media_core.io.decode import run_listeners

    res = run_listeners(path, [ShotListener()])
    s = res["shots"]
    return {"shot_count": s["shot_count"], "reported": len(s["shots"])}


def task_analysis(path: str) -> dict:
    from media_core.analysis.feed import analyze_feed

    feed = analyze_feed(path, sha256="not-timed")
    return {"mutes": len(feed["mutes"]), "shot_count": feed["shot_count"], "reported": len(feed["shots"]),
            "duration_s": feed["duration_s"]}


TASKS = {"decode": task_decode, "mutes": task_mutes, "shots": task_shots, "analysis": task_analysis}


def child(task: str, path: str) -> None:
    import resource

    import av  # noqa: F401  (imports are not what we time)
    import numpy  # noqa: F401
    import scipy.signal  # noqa: F401

    from media_core.analysis import feed, mutes, shots  # noqa: F401
    from media_core.io import decode  # noqa: F401

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    out = TASKS[task](path)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "maxrss_mb": bench_mutes._vmhwm_mb(), "out": out}))


def run_child(task: str, path: Path) -> dict:
    return bench_mutes.run_child(task, path, script=__file__)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=2, metavar=("TASK", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0
    path = bench_mutes.WORK / f"feed_{args.minutes:g}min_48k_aac.m4a"
    if not path.exists():
        print(f"generating {path} with bench_mutes.make_feed (cached for later runs) ...", file=sys.stderr)
        bench_mutes.make_feed(path, args.minutes)
    runs: dict[str, list[dict]] = {k: [] for k in TASKS}
    for _ in range(args.repeat):
        for task in TASKS:  # interleaved, so load changes on the shared machine hit all alike
            runs[task].append(run_child(task, path))
    base = min(r["wall_s"] for r in runs["decode"])
    base_cpu = min(r["cpu_s"] for r in runs["decode"])
    print(f"\nfeed: {path.name} ({args.minutes:g} min, 48 kHz mono AAC 64 kb/s, {path.stat().st_size / 1e6:.1f} MB);"
          f" {args.repeat} interleaved runs each, in subprocesses\n")
    print(f"{'task':<10}{'wall min s':>11}{'median s':>10}{'x decode':>10}{'CPU min s':>11}{'x decode':>10}"
          f"{'peak RSS MB':>13}")
    for task, rs in runs.items():
        w = sorted(r["wall_s"] for r in rs)
        c = min(r["cpu_s"] for r in rs)
        print(f"{task:<10}{w[0]:>11.3f}{w[len(w) // 2]:>10.3f}{w[0] / base:>10.2f}{c:>11.3f}{c / base_cpu:>10.2f}"
              f"{max(r['maxrss_mb'] for r in rs):>13.0f}")
    a = min(r["wall_s"] for r in runs["analysis"])
    ac = min(r["cpu_s"] for r in runs["analysis"])
    out = runs["analysis"][0]["out"]
    print(f"\nfull analysis / plain decode: wall {a / base:.2f}, CPU {ac / base_cpu:.2f} (target <= 1.5)")
    print(f"analysis found {out['mutes']} mutes, {out['shot_count']} confident shots, "
          f"{out['reported']} reported transients on a feed with no gunfire")
    return 0


if __name__ == "__main__":
    sys.exit(main())
