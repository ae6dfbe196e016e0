"""Benchmark: mute analysis vs plain PyAV decoding vs FFmpeg ``silencedetect`` on a 30-min feed.

Generates (once, cached in ``benchmarks/_work/``) a 30-minute 48 kHz mono AAC feed (.m4a) of
speech-like sound over room tone, with known mutes: digital silence, a dead floor, quiet room
tone and a closed-car passage that must *not* count. Then, in the same run and interleaved:

* ``decode``: plain PyAV decoding of the audio to numpy (``frame.to_ndarray()`` per frame),
  the baseline every audio analysis pays;
* ``mutes``: :func:`media_core.io.decode.run_listeners` with a :class:`MuteListener`;
* ``silencedetect``: ``ffmpeg -af silencedetect=n=-60dB:d=0.5 -f null -`` (imageio-ffmpeg binary).

Each is timed ``--repeat`` times (min and median wall time reported) in its own subprocess, which
also reports its peak resident memory (ru_maxrss). Prints a table, the ratios to ``decode``, and
the accuracy of the mutes found against the known truth.

Usage::

    python benchmarks/bench_mutes.py [--minutes 30] [--repeat 3]

The machine is shared; timings are noisy. Compare ratios from the same run only.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
SR = 48000


def truth_spans(minutes: float) -> dict:
    """Known events on a 150 s schedule, so any length works and nothing overlaps.

    Every period starts with a digital mute (0.6-20 s) in its first 50 s; period 1 then holds
    60 s of -70 dBFS room tone, period 2 60 s of a -72 dBFS closed car (both live, not mutes),
    period 3 30 s of a -90 dBFS dead floor (near-silence).
    """
    dur = minutes * 60.0
    rng = np.random.default_rng(7)
    mutes, quiet, near = [(0.0, 4.0)], [], []
    t, k = 60.0, 0
    while t + 150.0 <= dur - 10:
        a = t + float(rng.uniform(0, 30))
        mutes.append((round(a, 4), round(a + float(rng.uniform(0.6, 20.0)), 4)))
        if k == 1:
            quiet.append((t + 60.0, t + 120.0, "room", -70.0))
        elif k == 2:
            quiet.append((t + 60.0, t + 120.0, "car", -72.0))
        elif k == 3:
            near.append((t + 70.0, t + 100.0))
        t += 150.0
        k += 1
    mutes.append((dur - 3.0, dur))  # silent end
    return {"duration_s": dur, "digital": mutes, "near": near, "quiet": quiet}


def make_feed(path: Path, minutes: float) -> dict:
    """Stream-encode the feed minute by minute (memory flat) and write its truth next to it."""
    import av

    from sample_media import car_rumble, dead_floor, room_tone, speech_like

    truth = truth_spans(minutes)
    dur = truth["duration_s"]
    n_total = int(dur * SR)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.m4a")
    with av.open(str(tmp), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=SR)
        s.codec_context.layout = "mono"
        s.codec_context.format = "fltp"
        s.codec_context.bit_rate = 64000
        s.time_base = Fraction(1, SR)
        fs = 1024
        chunk_s = 60
        pos = 0
        k = 0
        while pos < n_total:
            n = min(chunk_s * SR, n_total - pos)
            t0 = pos / SR
            y = speech_like(n / SR, SR, level_dbfs=-22, rng=k) + room_tone(n / SR, SR, -58, 1000 + k)
            for a, b, kind, level in truth["quiet"]:
                i0, i1 = max(0, int(a * SR) - pos), min(n, int(b * SR) - pos)
                if i1 > i0:
                    gen = room_tone if kind == "room" else car_rumble
                    y[i0:i1] = gen((i1 - i0) / SR, SR, level, 2000 + k)
            for a, b in truth["near"]:
                i0, i1 = max(0, int(a * SR) - pos), min(n, int(b * SR) - pos)
                if i1 > i0:
                    y[i0:i1] = dead_floor((i1 - i0) / SR, SR, -90.0, 3000 + k)
            for a, b in truth["digital"]:
                i0, i1 = max(0, int(round(a * SR)) - pos), min(n, int(round(b * SR)) - pos)
                if i1 > i0:
                    y[i0:i1] = 0.0
            y = np.clip(y, -1, 1).astype(np.float32)
            for i in range(0, n, fs):
                fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(y[None, i:i + fs]), format="fltp",
                                                layout="mono")
                fr.sample_rate = SR
                fr.pts = pos + i
                fr.time_base = Fraction(1, SR)
                for p in s.encode(fr):
                    c.mux(p)
            pos += n
            k += 1
            print(f"  generating: {t0 / 60 + chunk_s / 60:.0f}/{minutes:.0f} min", end="\r", file=sys.stderr)
        for p in s.encode(None):
            c.mux(p)
    os.replace(tmp, path)
    path.with_suffix(".truth.json").write_text(json.dumps(truth))
    print(file=sys.stderr)
    return truth


# --------------------------------------------------------------------- the measured tasks (child)

def task_decode(path: str) -> dict:
    import av

    n = 0
    with av.open(path) as c:
        for f in c.decode(audio=0):
            n += f.to_ndarray().shape[-1]
    return {"samples": n}


def task_mutes(path: str) -> dict:
    from media_core.analysis.mutes import MuteListener
    from media_core.io.decode import run_listeners

    res = run_listeners(path, [MuteListener()])
    return {"mutes": res["mutes"]["mutes"], "quiet": res["mutes"]["quiet"], "samples": res["_decode"]["samples"]}


def task_silencedetect(path: str) -> dict:
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    r = subprocess.run([exe, "-hide_banner", "-nostats", "-i", path, "-af", "silencedetect=n=-60dB:d=0.5",
                        "-f", "null", "-"], capture_output=True, text=True, check=True)
    spans, start = [], None
    for line in r.stderr.splitlines():
        if "silence_start:" in line:
            start = float(line.split("silence_start:")[1].split()[0])
        elif "silence_end:" in line and start is not None:
            spans.append((start, float(line.split("silence_end:")[1].split()[0])))
            start = None
    return {"spans": spans}


TASKS = {"decode": task_decode, "mutes": task_mutes, "silencedetect": task_silencedetect}


def _vmhwm_mb() -> float:
    """Peak resident memory of this process image (VmHWM resets at exec, ru_maxrss does not)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(task: str, path: str) -> None:
    import resource

    import av  # noqa: F401  (imports are not what we time)
    import imageio_ffmpeg  # noqa: F401

    from media_core.analysis import mutes  # noqa: F401
    from media_core.io import decode  # noqa: F401

    r0, k0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = TASKS[task](path)
    wall = time.perf_counter() - t
    r1, k1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
           + k1.ru_utime + k1.ru_stime - k0.ru_utime - k0.ru_stime)
    ru_kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "maxrss_mb": ru_kids if task == "silencedetect" else _vmhwm_mb(),
                      "out": out}))


def run_child(task: str, path: Path, *, script: str = __file__) -> dict:
    """Run ``script --child TASK PATH`` in a fresh process; return the JSON it prints last."""
    r = subprocess.run([sys.executable, script, "--child", task, str(path)], capture_output=True, text=True,
                       cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)})
    if r.returncode != 0:
        raise RuntimeError(f"{task} failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------- accuracy

def match(found: list[tuple[float, float]], truth: list[tuple[float, float]]):
    errs, missed = [], 0
    for a, b in truth:
        best = min(found, key=lambda f: abs(f[0] - a) + abs(f[1] - b), default=None)
        if best is None or best[1] < a or best[0] > b:
            missed += 1
            continue
        errs += [best[0] - a, best[1] - b]
    return np.abs(errs), missed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=2, metavar=("TASK", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0
    path = WORK / f"feed_{args.minutes:g}min_48k_aac.m4a"
    if not path.exists():
        print(f"generating {path} (cached for later runs) ...", file=sys.stderr)
        t = time.perf_counter()
        make_feed(path, args.minutes)
        print(f"generated in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    truth = json.loads(path.with_suffix(".truth.json").read_text())
    runs: dict[str, list[dict]] = {k: [] for k in TASKS}
    for _ in range(args.repeat):
        for task in TASKS:  # interleaved, so load changes hit all three alike
            runs[task].append(run_child(task, path))
    base = min(r["wall_s"] for r in runs["decode"])
    base_cpu = min(r["cpu_s"] for r in runs["decode"])
    print(f"\nfeed: {path.name}  ({truth['duration_s'] / 60:.0f} min, 48 kHz mono AAC 64 kb/s, "
          f"{path.stat().st_size / 1e6:.1f} MB); {args.repeat} interleaved runs each, in subprocesses\n")
    print(f"{'task':<16}{'wall min s':>11}{'median s':>10}{'x decode':>10}{'CPU min s':>11}{'x decode':>10}"
          f"{'peak RSS MB':>13}")
    print("(peak RSS: the Python process for decode/mutes, includes ~60 MB of interpreter and libraries;"
          " the ffmpeg process for silencedetect)")
    for task, rs in runs.items():
        w = sorted(r["wall_s"] for r in rs)
        c = min(r["cpu_s"] for r in rs)
        print(f"{task:<16}{w[0]:>11.3f}{w[len(w) // 2]:>10.3f}{w[0] / base:>10.2f}{c:>11.3f}{c / base_cpu:>10.2f}"
              f"{max(r['maxrss_mb'] for r in rs):>13.0f}")
    m = runs["mutes"][0]["out"]
    sd = runs["silencedetect"][0]["out"]["spans"]
    mt = min(r["wall_s"] for r in runs["mutes"])
    st = min(r["wall_s"] for r in runs["silencedetect"])
    mc = min(r["cpu_s"] for r in runs["mutes"])
    sc = min(r["cpu_s"] for r in runs["silencedetect"])
    print(f"\nratios (wall, best of {args.repeat}): mutes/decode = {mt / base:.2f} (target <= 1.2), "
          f"mutes/silencedetect = {mt / st:.2f} (target < 1)")
    print(f"ratios (CPU time, less hurt by a busy machine): mutes/decode = {mc / base_cpu:.2f}, "
          f"mutes/silencedetect = {mc / sc:.2f}")
    found_d = [(x["start_s"], x["end_s"]) for x in m["mutes"] if x["kind"] == "digital-silence"]
    found_n = [(x["start_s"], x["end_s"]) for x in m["mutes"] if x["kind"] == "near-silence"]
    e_d, miss_d = match(found_d, truth["digital"])
    e_n, miss_n = match(found_n, truth["near"])
    false_s = 0.0
    for x in m["mutes"]:
        for a, b, *_ in truth["quiet"]:
            false_s += max(0.0, min(b, x["end_s"]) - max(a, x["start_s"]))
    print(f"\naccuracy (mutes): digital-silence {len(truth['digital']) - miss_d}/{len(truth['digital'])} found, "
          f"edge error max {e_d.max() * 1000:.1f} ms, median {np.median(e_d) * 1000:.2f} ms; "
          f"near-silence {len(truth['near']) - miss_n}/{len(truth['near'])} found"
          + (f", edge error max {e_n.max() * 1000:.1f} ms" if e_n.size else ""))
    print(f"reported mutes: {len(m['mutes'])} (truth {len(truth['digital']) + len(truth['near'])}); "
          f"seconds of quiet live audio (-70 dBFS room, -72 dBFS car) reported muted: {false_s:.3f}")
    e_s, miss_s = match(sd, truth["digital"])
    qs = sum(max(0.0, min(b, y) - max(a, x)) for x, y in sd for a, b, *_ in truth["quiet"])
    print(f"silencedetect (-60 dB, 0.5 s) for comparison: {len(sd)} spans; "
          f"digital mutes edge error max {e_s.max() * 1000:.1f} ms; quiet live seconds called silent: {qs:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
