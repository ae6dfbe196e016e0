"""Release ingest at scale (issue 16 targets).

A generated release of 53 feeds, about 15 hours (body cams H.264 320x180 + AAC 48 kHz, dash cams
AAC 16 kHz, helicopters without audio; ``sample_media.release``, cached in benchmarks/_work):

1. ingested, analysed and synced with 2 workers: wall time (target <= 180 s) and peak memory of
   the whole process tree (this process and its workers, sampled every 0.2 s; target < 1.5 GB);
   bytes hashed per second; placement against the truth;
2. the files phase (no sync) with 1 and with 2 workers on the same feeds (target >= 1.7x);
3. distributed overhead for 30-minute files: ``audit_file`` of a 30-min body cam in this process
   against the same call through a Dask LocalCluster (target < 10 % of the analysis time).

``--sync-only`` re-syncs the case a previous full run left (``_work/ingest53.evcase``, opened
read-only, nothing stored): wall and CPU time (this process and its worker processes), peak memory
of the process tree, the pairs screened and matched, and every placement against the truth
(error over the feed's whole length beside its stated uncertainty). ``--all-pairs`` also runs the
old way (every candidate pair matched in full) in the same process, as the baseline.

    python benchmarks/bench_ingest.py [--scaling-feeds 12] [--skip-dask] [--sync-only [--all-pairs]]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORK = Path(__file__).resolve().parent / "_work"


class TreeRss:
    """Peak resident memory of this process plus all its descendants (Linux /proc), sampled."""

    def __init__(self, every_s: float = 0.2):
        self.every_s, self.peak, self._stop = every_s, 0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _tree(self, pid: int) -> list[int]:
        out, todo = [], [pid]
        while todo:
            p = todo.pop()
            out.append(p)
            try:
                for task in os.listdir(f"/proc/{p}/task"):
                    with open(f"/proc/{p}/task/{task}/children") as f:
                        todo += [int(x) for x in f.read().split()]
            except OSError:
                pass
        return out

    def _rss(self, pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(self._rss(p) for p in self._tree(os.getpid())))
            self._stop.wait(self.every_s)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def placement_errors(case, truth) -> dict:
    """Per placed feed: |estimated - true| shared time at the feed's middle (ms), by method."""
    from media_core.clock import Clock

    by_file = {f["file"]: f for f in truth["feeds"]}
    ref = case.feed(case.reference_feed_id) if case.reference_feed_id else None
    if ref is None:
        return {}
    tr = by_file[ref.name]
    out: dict[str, list[float]] = {}
    for f in case.feeds:
        info = case.sync_info(f.id)
        if f.id != ref.id and info is None:
            out.setdefault("unplaced", []).append(0.0)
            continue
        t = by_file[f.name]
        mid = t["duration_s"] / 2
        true_T = Clock(t["start_incident_s"], t["drift_ppm"]).to_shared(mid)
        true_ref = Clock(tr["start_incident_s"], tr["drift_ppm"]).to_media(true_T)
        est = case.clock(f.id).to_shared(mid)
        method = "reference" if f.id == ref.id else info["method"]
        out.setdefault(f"{method} (truth: {t['placed_by']})", []).append(abs(est - true_ref) * 1000)
    return out


def doc_errors(doc: dict, truth: dict) -> list[dict]:
    """Per feed of a sync document: method, the truth's method, and the largest |placed - true| over
    the feed (start, middle, end; ms) beside the stated uncertainty."""
    from media_core.clock import Clock

    by_file = {f["file"]: f for f in truth["feeds"]}
    tr = by_file[Path(doc["reference"]).name]
    ref_clock = Clock(tr["start_incident_s"], tr["drift_ppm"])
    out = []
    for e in doc["feeds"]:
        t = by_file[Path(e["path"]).name]
        row = {"feed": Path(e["path"]).name, "method": e.get("method") or "unplaced", "truth": t["placed_by"],
               "uncertainty_ms": e.get("uncertainty_ms"), "confidence": e.get("confidence"), "error_ms": None,
               "links": max(0, len(e.get("chain") or []) - 1)}
        if e.get("offset_s") is not None:
            true_c, est = Clock(t["start_incident_s"], t["drift_ppm"]), Clock(e["offset_s"], e["drift_ppm"] or 0.0)
            row["error_ms"] = max(abs(est.to_shared(u) - ref_clock.to_media(true_c.to_shared(u))) * 1e3
                                  for u in (0.0, t["duration_s"] / 2, t["duration_s"]))
        out.append(row)
    return out


def print_doc_errors(rows: list[dict], label: str) -> None:
    print(f"\nplacement against the truth ({label}): method (truth's method): n, error over the feed median / max "
          "(ms), stated uncertainty median (ms), longest chain (links), outside the stated uncertainty")
    groups: dict[str, list] = {}
    for r in rows:
        groups.setdefault(f"{r['method']} (truth: {r['truth']})", []).append(r)
    for k, rs in sorted(groups.items()):
        errs = sorted(r["error_ms"] for r in rs if r["error_ms"] is not None)
        outside = [r["feed"] for r in rs if r["error_ms"] is not None and r["uncertainty_ms"] is not None
                   and r["error_ms"] > r["uncertainty_ms"]]
        stat = f"{errs[len(errs) // 2]:.1f} / {errs[-1]:.1f}" if errs else "-"
        unc = sorted(r["uncertainty_ms"] for r in rs if r["uncertainty_ms"] is not None)
        stat += f"  stated {unc[len(unc) // 2]:.1f}" if unc else ""
        stat += f"  chain <= {max(r['links'] for r in rs)}"
        print(f"  {k}: n={len(rs)}  {stat}  outside: {len(outside)} {' '.join(outside)}")
        for r in rs:
            if r["error_ms"] is not None and r["error_ms"] > 1000:
                print(f"    {r['feed']}: {r['error_ms'] / 1e3:.1f} s off, stated {r['uncertainty_ms']} ms, "
                      f"confidence {r['confidence']}")


def sync_only(truth: dict, all_pairs: bool) -> None:
    """Sync the stored case again (read-only) and time it; optionally the all-pairs way too."""
    import resource

    from media_core import pipeline
    from media_core.case.store import Case

    case_dir = WORK / "ingest53.evcase"
    if not (case_dir / "case.sqlite").is_file():
        raise SystemExit(f"{case_dir}: run the full benchmark once first (it leaves this case)")
    with Case.open_readonly(case_dir) as case:
        ref = case.feed(case.reference_feed_id)
        stored = case.get_analysis(ref.id, algorithm=pipeline.SYNC_ALGORITHM)
        inputs = pipeline.sync_inputs(case)
    print(f"\nsync of the stored case again: {len(inputs)} feeds, reference {ref.name}; "
          f"flashes already stored for {sum('flashes' in e for e in inputs)} feeds")
    runs = [("planned (this version)", None)] + ([("every candidate pair (before)", 10 ** 9)] if all_pairs else [])
    for label, plan_above in runs:
        import media_core.sync.candidates as cand

        keep = cand.PLAN_ABOVE_PAIRS
        if plan_above is not None:
            cand.PLAN_ABOVE_PAIRS = plan_above
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c0, t0 = time.process_time(), time.perf_counter()
        load0 = os.getloadavg()[0]
        try:
            with TreeRss() as mem:
                doc = pipeline.compute_sync(inputs, reference=ref.path)
        finally:
            cand.PLAN_ABOVE_PAIRS = keep
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_children = (ch.ru_utime + ch.ru_stime) - (ch0.ru_utime + ch0.ru_stime)
        m = next(e for e in doc["feeds"] if e["path"] == doc["reference"])["evidence"]["measurements"]
        print(f"\n{label}: wall **{wall:.1f} s**, CPU {cpu:.1f} s here + {cpu_children:.1f} s in worker processes, "
              f"peak memory of the process tree {mem.peak / 1e6:.0f} MB; load average {load0:.1f} -> "
              f"{os.getloadavg()[0]:.1f} (2 cores)")
        print(f"  pairs: {m.get('matching')}")
        print_doc_errors(doc_errors(doc, truth), label)
    if stored is not None:
        print_doc_errors(doc_errors(stored, truth), "the sync stored in the case by the run that made it")


def full_ingest(rel: Path, truth: dict, workers: int) -> None:
    from media_core.batch.ingest import ingest, ingest_summary
    from media_core.case.store import Case

    case_dir = WORK / "ingest53.evcase"
    shutil.rmtree(case_dir, ignore_errors=True)
    total_bytes = sum(f["size_bytes"] for f in truth["feeds"])
    print(f"release: {len(truth['feeds'])} feeds, {truth['total_s'] / 3600:.2f} h, {total_bytes / 1e6:,.0f} MB; "
          f"load average {os.getloadavg()[0]:.1f}")
    with TreeRss() as mem, Case.create(case_dir) as case:
        t0 = time.perf_counter()
        rep = ingest(case, [rel], workers=workers)
        wall = time.perf_counter() - t0
        s = ingest_summary(case, rep)
        errs = placement_errors(case, truth)
    matching = next(e for e in rep.sync["feeds"] if e["path"] == rep.sync["reference"])["evidence"][
        "measurements"].get("matching") if rep.sync else None
    print("\n| step | seconds |\n|---|---|")
    print(f"| whole ingest ({workers} workers) | **{wall:.1f}** (target <= 180) |")
    print(f"| files phase (fingerprint + analysis + store) | {rep.files_s:.1f} |")
    print(f"| sync of the whole case | {rep.sync_s:.1f} |")
    print(f"\nsync pairs: {matching}")
    print(f"| fingerprinting in the writer (probe + SHA-256 + add) | {rep.fingerprint_s:.1f} |")
    print(f"| storing preparations in the writer | {rep.store_s:.1f} |")
    print(f"| children's preparations (sum) | {rep.child_s:.1f} |")
    print(f"\npeak memory, process tree: **{mem.peak / 1e9:.2f} GB** (target < 1.5)")
    print(f"bytes hashed: {rep.bytes_hashed / 1e6:,.0f} MB in {rep.fingerprint_s:.1f} s of fingerprinting "
          f"(hash + probe + add): {rep.bytes_hashed / 1e6 / max(rep.fingerprint_s, 1e-9):.0f} MB/s")
    from media_core.io.hashing import sha256_file

    biggest = max(rel.glob("*.mp4"), key=lambda p: p.stat().st_size)
    t1 = time.perf_counter()
    sha256_file(biggest)
    dt = time.perf_counter() - t1
    print(f"SHA-256 alone on {biggest.name} ({biggest.stat().st_size / 1e6:.0f} MB, page-cached): "
          f"{biggest.stat().st_size / 1e6 / dt:.0f} MB/s")
    print(f"failures: {len(rep.failures)}; feeds with mutes {len(s['feeds_with_mutes'])}, mutes {len(s['mutes'])}, "
          f"incident shots: {s['shot_text']}")
    print(f"placement: {s['placement']}; metadata only: {len(s['metadata_only'])}, unplaced: {len(s['unplaced'])}")
    print("placement error at each feed's middle vs truth (ms): method (truth) n median max")
    for k, v in sorted(errs.items()):
        v = sorted(v)
        print(f"  {k}: n={len(v)} median={v[len(v) // 2]:.1f} max={v[-1]:.1f}")
    if rep.sync:
        print_doc_errors(doc_errors(rep.sync, truth), "this ingest")
    designed = {f["file"] for f in truth["feeds"] if any(m["kind"] == "digital-silence" for m in f["mutes"])}
    found = {m["feed"].split(" ")[0] + ".mp4" for m in s["mutes"] if m["kind"] == "digital-silence"}
    print(f"designed digital-silence mutes found: {len(designed & found)} of {len(designed)}; "
          f"reported on other feeds: {len(found - designed)}")


def scaling(rel: Path, truth: dict, n_feeds: int) -> None:
    from media_core.batch.ingest import ingest
    from media_core.case.store import Case

    feeds = sorted(truth["feeds"], key=lambda f: f["file"])[:n_feeds]
    sub = WORK / f"release_sub{n_feeds}"
    if sub.is_dir():
        shutil.rmtree(sub)
    sub.mkdir(parents=True)
    for f in feeds:
        os.link(rel / f["file"], sub / f["file"])
    hours = sum(f["duration_s"] for f in feeds) / 3600
    times: dict[int, list[float]] = {1: [], 2: []}
    for w in (1, 2):
        case_dir = WORK / f"scale{w}.evcase"
        shutil.rmtree(case_dir, ignore_errors=True)
        with Case.create(case_dir) as case:
            rep = ingest(case, [sub], workers=w, sync=False)
        times[w].append(rep.files_s)
        shutil.rmtree(case_dir, ignore_errors=True)
    t1, t2 = times[1][0], times[2][0]
    print(f"\nscaling, files phase without sync, {n_feeds} feeds ({hours:.2f} h), load average "
          f"{os.getloadavg()[0]:.1f}: 1 worker {t1:.1f} s, 2 workers {t2:.1f} s: **{t1 / t2:.2f}x** (target >= 1.7)")


def dask_overhead() -> None:
    from distributed import Client, LocalCluster

    from media_core.batch.audit import audit_file
    from sample_media.release import build_release

    d = WORK / "release_30min"
    truth = build_release(d, seed=3, n_feeds=1, total_hours=0.5, n_far=0, n_heli=0, mute_share=1.0)
    path = str(d / truth["feeds"][0]["file"])
    audit_file(path)  # warm the page cache and this process
    t0 = time.perf_counter()
    local = audit_file(path)
    alone = time.perf_counter() - t0
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=50) as cl, Client(cl) as client:
        client.submit(audit_file, path, pure=False).result()  # warm the worker
        t0 = time.perf_counter()
        remote = client.submit(audit_file, path, pure=False).result()
        via = time.perf_counter() - t0
    assert {k: v for k, v in remote.items() if k != "audit_s"} == {k: v for k, v in local.items() if k != "audit_s"}
    print(f"\n30-min body cam ({truth['feeds'][0]['duration_s'] / 60:.1f} min): audit_file in this process "
          f"{alone:.2f} s; through a LocalCluster worker {via:.2f} s round trip, of which the task itself "
          f"{remote['audit_s']:.2f} s: distributed overhead (scheduling, transfer, result) "
          f"{(via - remote['audit_s']) * 1000:.0f} ms = **{(via - remote['audit_s']) / remote['audit_s'] * 100:.2f} %** "
          f"of the analysis (target < 10 %); round trip vs in-process analysis {(via - alone) / alone * 100:+.0f} % "
          f"(includes the worker process being slower on this shared machine, load {os.getloadavg()[0]:.1f})")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scaling-feeds", type=int, default=12)
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--sync-only", action="store_true", help="re-sync the stored case only (see above)")
    ap.add_argument("--all-pairs", action="store_true", help="with --sync-only: the all-pairs baseline too")
    a = ap.parse_args()
    from sample_media.release import build_release

    rel = WORK / "release53"
    t0 = time.perf_counter()
    truth = build_release(rel)
    print(f"release ready in {time.perf_counter() - t0:.1f} s (cached after the first run)")
    if a.sync_only:
        sync_only(truth, a.all_pairs)
        return 0
    if not a.skip_full:
        full_ingest(rel, truth, a.workers)
    if a.scaling_feeds:
        scaling(rel, truth, a.scaling_feeds)
    if not a.skip_dask:
        try:
            dask_overhead()
        except ImportError:
            print("(distributed not installed: the Dask overhead row is skipped)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
