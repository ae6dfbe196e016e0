"""Throughput of the department-wide mute audit (issue 16).

200 short generated feeds (AAC 48 kHz, audio only, 12-30 s, a third with a mute), audited
into a fresh store with 1 and 2 workers on the local process pool and on a Dask LocalCluster.
Prints files per hour, audio-hours per core-second, the per-file overhead against the analysis
alone (audit_file run in this process, sequentially), and a projection (stated as such) for
10,000 hours of footage on N workers.

    python benchmarks/bench_audit.py [--files 200] [--skip-dask]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORK = Path(__file__).resolve().parent / "_work" / "audit200"


def make_feeds(n: int) -> Path:
    import numpy as np

    from sample_media.audio import speech_like
    from sample_media.encode import write_media

    d = WORK / f"feeds{n}"
    if d.is_dir() and len(list(d.rglob("*.m4a"))) == n:
        return d
    shutil.rmtree(d, ignore_errors=True)
    rng = np.random.default_rng(16)
    base = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    for k in range(n):
        dur = float(rng.uniform(12, 30))
        sr = 48000
        y = np.zeros(int(dur * sr), np.float32)
        t = 0.0
        while t < dur - 2.5:
            seg = speech_like(float(rng.uniform(0.8, 2.0)), sr, rng=int(rng.integers(1 << 30)), level_dbfs=-22)
            i = int(t * sr)
            y[i:i + seg.size] += seg[: y.size - i]
            t += float(rng.uniform(1.5, 4.0))
        y += rng.normal(0, 0.002, y.size).astype(np.float32)
        if k % 3 == 0:
            a = int(rng.uniform(0.2, 0.6) * y.size)
            y[a:a + int(rng.uniform(1.5, 5.0) * sr)] = 0.0
        write_media(d / f"cam{k % 10:02d}" / f"clip_{k:04d}.m4a", audio=y, sr=sr, video=False,
                    creation_time=base + dt.timedelta(days=int(k % 90), minutes=k),
                    metadata={"comment": f"make=Axon; model=Body 3; serial=X{k % 10:07d}; unit=u{k % 4}"})
    return d


def analysis_alone(paths) -> tuple[float, float]:
    """Sum of audit_file times in this process (sequential, warm), and the audio seconds."""
    from media_core.batch.audit import audit_file

    audit_file(paths[0])  # warm: imports, the shot model
    t0 = time.perf_counter()
    audio = 0.0
    for p in paths:
        audio += audit_file(p)["duration_s"]
    return time.perf_counter() - t0, audio


def run_mode(src: Path, mode: str, workers: int) -> dict:
    from media_core.batch.audit import run_audit

    store = WORK / f"store-{mode}-{workers}"
    shutil.rmtree(store, ignore_errors=True)
    t0 = time.perf_counter()
    if mode == "local":
        run = run_audit([src], store, workers=workers)
        wall = time.perf_counter() - t0
        startup = 0.0
    else:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=50) as cl, Client(cl) as client:
            startup = time.perf_counter() - t0
            t1 = time.perf_counter()
            run = run_audit([src], store, scheduler=client)
            wall = time.perf_counter() - t1
    return {"mode": mode, "workers": workers, "wall_s": wall, "startup_s": startup, "files": run.audited,
            "audio_s": run.audio_s, "added": run.added, "errors": len(run.errors)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--skip-dask", action="store_true")
    a = ap.parse_args()
    t0 = time.perf_counter()
    src = make_feeds(a.files)
    from media_core.batch.sources import media_files

    paths = media_files([src])
    print(f"{len(paths)} feeds in {src} (made/checked in {time.perf_counter() - t0:.1f} s); "
          f"load average {os.getloadavg()[0]:.1f}")
    alone, audio = analysis_alone(paths)
    per_file = alone / len(paths)
    print(f"analysis alone (audit_file in this process, sequential): {alone:.1f} s for {audio / 3600:.2f} audio-h, "
          f"{per_file * 1000:.0f} ms per file")
    modes = [("local", 1), ("local", 2)]
    try:
        import distributed  # noqa: F401

        if not a.skip_dask:
            modes += [("dask", 1), ("dask", 2)]
    except ImportError:
        print("(distributed not installed: LocalCluster rows skipped; pip install '.[cluster]')")
    rows = [run_mode(src, m, w) for m, w in modes]
    print()
    print("| pool | workers | wall s | files/hour | audio-h per core-s | overhead per file (ms) | overhead vs analysis |"
          " cluster start s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        core_s = r["wall_s"] * r["workers"]
        over = (core_s - alone) / len(paths)
        print(f"| {r['mode']} | {r['workers']} | {r['wall_s']:.1f} | {r['files'] / r['wall_s'] * 3600:,.0f} | "
              f"{r['audio_s'] / 3600 / core_s:.5f} | {over * 1000:+.0f} | {over / per_file * 100:+.0f} % | "
              f"{r['startup_s']:.1f} |")
        assert r["added"] == len(paths) and not r["errors"], r
    speed = {(r["mode"], r["workers"]): r["wall_s"] for r in rows}
    print(f"\n1 -> 2 workers: local {speed[('local', 1)] / speed[('local', 2)]:.2f}x"
          + (f", LocalCluster {speed[('dask', 1)] / speed[('dask', 2)]:.2f}x" if ("dask", 2) in speed else ""))
    best = max(rows, key=lambda r: r["audio_s"] / (r["wall_s"] * r["workers"]))
    rate = best["audio_s"] / 3600 / (best["wall_s"] * best["workers"])  # audio-hours per core-second
    print(f"\nPROJECTION (not a measurement): 10,000 h of footage at {rate:.5f} audio-h per core-second "
          f"(the best row above, {best['mode']} x{best['workers']}, short files on this shared machine), assuming "
          "linear scaling, one core per worker and storage that keeps up:")
    for n in (2, 16, 64, 256):
        s = 10_000 / (rate * n)
        print(f"  {n:>4} workers: {s / 3600:,.1f} h ({s / 86400:.2f} days)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
