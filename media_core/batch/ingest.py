"""Release-scale ingest: every media file under some folders into a case, analysed and synced.

:func:`ingest` runs in three overlapping parts:

1. **Fingerprint** (this process, the case's one writer): each file, in path order, is probed,
   hashed and added with :meth:`Case.add_feed` (same bytes at a new path become an alias). Feed
   ids therefore follow the sorted paths, whatever the order the work finishes in, so a resumed
   run numbers the feeds as an uninterrupted one does. A file whose path and identity (device,
   inode, size, mtime) match a feed already in the case is not hashed again.
2. **Prepare** (child processes, one per core by default): the video index and the one analysis
   decode per feed (:func:`media_core.pipeline.compute_preparation`: mutes, shots, sync features,
   waveform). Children never open the case: they get a :class:`~media_core.case.store.Feed` and
   return plain data; this process stores each result as it arrives
   (:func:`~media_core.pipeline.store_preparation`). The longest waiting feed goes first, and
   only as many feeds are handed out as there are workers, so a kill loses at most the feeds in
   the workers' hands.
3. **Sync**: one :func:`media_core.pipeline.sync_case` over the whole case at the end, which also
   recounts incident shots.

Resuming is the same call: what is stored under the file's SHA-256 and today's algorithm
versions (:func:`~media_core.pipeline.preparation_needed`) is not redone. A file that cannot be
read is reported (``IngestReport.failures``) and skipped; the others go on.

Why the fingerprint is not in the children: :meth:`Case.add_feed` probes and hashes the file
itself (its insert and duplicate check are one transaction), so a child's digest would be read
and hashed a second time in this process. Fingerprinting here overlaps with the children's
analysis instead (its cost is in ``IngestReport.fingerprint_s``).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from media_core.case.store import Case, Feed, file_identity
from media_core.errors import Cancelled, MediaCoreError, MediaError
from media_core.progress import Progress, ShouldStop, check_cancel, no_progress, sub_progress

__all__ = ["IngestStatus", "IngestReport", "ingest", "ingest_summary", "guess_kind", "default_workers"]

#: Share of the progress bar given to the files; the rest is the final sync.
FILES_SHARE = 0.9


def default_workers() -> int:
    """One worker process per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def guess_kind(path: str) -> str:
    """The feed kind a file name suggests (``bodycam_03.mp4`` -> ``bodycam``), else ``other``."""
    n = os.path.basename(path).lower()
    for kind, words in (("bodycam", ("body", "bwc", "axon")), ("dashcam", ("dash", "car", "icv")),
                        ("helicopter", ("heli", "air", "flir", "ir_"))):
        if any(w in n for w in words):
            return kind
    return "other"


@dataclass
class IngestStatus:
    """What the progress display shows: files and bytes done of all, failures, time left."""

    files_total: int = 0
    files_done: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    failures: int = 0
    elapsed_s: float = 0.0
    eta_s: float | None = None
    phase: str = "files"   # "files", "sync", "done"
    last: str = ""         # the file just finished

    def line(self) -> str:
        from media_core.timefmt import format_time

        eta = "-" if self.eta_s is None else format_time(self.eta_s, hours=True).split(".")[0]
        digits = 0 if self.bytes_total >= 100e6 else 1 if self.bytes_total >= 1e6 else 3
        return (f"{self.files_done}/{self.files_total} files, {self.bytes_done / 1e6:,.{digits}f}/"
                f"{self.bytes_total / 1e6:,.{digits}f} MB, ETA {eta}, {self.failures} failed"
                + (", syncing" if self.phase == "sync" else ""))


@dataclass
class IngestReport:
    """What one :func:`ingest` call did, with its timings (seconds)."""

    files: list[str] = field(default_factory=list)
    feed_ids: dict[str, int] = field(default_factory=dict)   # path -> feed id
    added: int = 0            # new feeds
    aliases: int = 0          # same bytes as a feed already in the case, at a new path
    known: int = 0            # path and identity already in the case: not hashed again
    prepared: int = 0         # feeds analysed and stored by this call
    already_prepared: int = 0  # feeds whose preparation was already stored
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, problem)
    workers: int = 0
    bytes_total: int = 0
    bytes_hashed: int = 0
    fingerprint_s: float = 0.0   # this process: probing, hashing and adding feeds
    store_s: float = 0.0         # this process: storing preparations
    child_s: float = 0.0         # summed wall time of the children's preparations
    files_s: float = 0.0         # wall time until every file was done
    sync_s: float = 0.0
    elapsed_s: float = 0.0
    sync: dict | None = None

    @property
    def hash_rate_b_s(self) -> float | None:
        return self.bytes_hashed / self.fingerprint_s if self.fingerprint_s > 0 and self.bytes_hashed else None


# ---------------------------------------------------------------------------- the child's half
def _prepare(feed: Feed, need_index: bool, need_analysis: bool, min_mute_s: float) -> dict[str, Any]:
    """Run in a child: one feed's preparation, as plain data (never raises for a bad file)."""
    from media_core import pipeline

    t0 = time.perf_counter()
    try:
        prep = pipeline.compute_preparation(feed, video_index=need_index, analysis=need_analysis,
                                            min_mute_s=min_mute_s)
    except MediaError as exc:
        return {"feed_id": feed.id, "error": str(exc), "wall_s": time.perf_counter() - t0}
    except Exception as exc:  # an analysis bug on one file: report it, never stop the release
        return {"feed_id": feed.id, "error": f"{feed.path}: analysis failed ({type(exc).__name__}: {exc})",
                "wall_s": time.perf_counter() - t0}
    return {"feed_id": feed.id, "prep": prep, "wall_s": time.perf_counter() - t0}


class _Inline:
    """``workers=0``: the same protocol as a pool, run in this process (debugging, tiny cases)."""

    def submit(self, fn, *args):
        from concurrent.futures import Future

        fut: Future = Future()
        fut.set_result(fn(*args))
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def _make_pool(workers: int):
    if workers <= 0:
        return _Inline()
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # spawn, never fork: this process holds SQLite connections and threads
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))


def _stop_pool(pool) -> None:
    """Cancel what has not started and end the children now (a cancel must not wait for them)."""
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            proc.terminate()
        except Exception:  # pragma: no cover - already gone
            pass


# ---------------------------------------------------------------------------- the parent's half
def ingest(case: Case, sources: Iterable[str | os.PathLike], *, workers: int | None = None,
           min_mute_s: float = 0.5, sync: bool = True, progress: Progress | None = None,
           should_stop: ShouldStop | None = None, on_status: Callable[[IngestStatus], None] | None = None,
           on_failure: Callable[[str, str], None] | None = None) -> IngestReport:
    """Add every media file under ``sources`` to ``case``, prepare each feed and sync them all.

    Parameters
    ----------
    case : Case
        The open case; this process is its only writer during the call.
    sources : iterable of path-like
        Folders (searched recursively, see :func:`media_core.batch.sources.media_files`) and files.
    workers : int, optional
        Child processes for the preparations (default :func:`default_workers`); 0 runs them here.
    sync : bool
        Sync the whole case at the end (when it has two feeds or more).
    progress, should_stop
        See :mod:`media_core.progress`; a cancel keeps everything already stored.
    on_status : callable(IngestStatus), optional
        Hears the counts after every file (what a progress display shows).
    on_failure : callable(path, problem), optional
        Hears each file that failed, when it fails.

    Returns
    -------
    IngestReport
    """
    from media_core import pipeline
    from media_core.batch.sources import media_files

    t_start = time.perf_counter()
    report = IngestReport(workers=default_workers() if workers is None else max(0, int(workers)))
    prog = progress or no_progress
    paths = media_files(sources)
    report.files = paths
    sizes = {}
    for p in paths:
        try:
            sizes[p] = os.stat(p).st_size
        except OSError:
            sizes[p] = 0
    report.bytes_total = sum(sizes.values())
    status = IngestStatus(files_total=len(paths), bytes_total=report.bytes_total)
    work_bytes = {"total": 0, "done": 0}  # bytes this call has to work on (not already stored)

    def finished(path: str, *, worked: bool, error: str | None = None) -> None:
        status.files_done += 1
        status.bytes_done += sizes.get(path, 0)
        status.last = path
        if worked:
            work_bytes["done"] += sizes.get(path, 0)
        if error is not None:
            status.failures += 1
            report.failures.append((path, error))
            if on_failure is not None:
                on_failure(path, error)
        status.elapsed_s = time.perf_counter() - t_start
        left = work_bytes["total"] - work_bytes["done"]
        if work_bytes["done"] > 0:
            status.eta_s = status.elapsed_s * left / work_bytes["done"] if left > 0 else 0.0
        frac = status.bytes_done / report.bytes_total if report.bytes_total else 1.0
        prog(FILES_SHARE * frac, status.line())
        if on_status is not None:
            on_status(status)

    by_path = {f.path: f for f in case.feeds}
    waiting: list[tuple[Feed, bool, bool, str]] = []   # (feed, need index, need analysis, path)
    running: dict[Any, tuple[Feed, str]] = {}
    handed: set[int] = set()
    n_workers = report.workers
    pool = _make_pool(n_workers)

    def hand_out() -> None:
        while waiting and len(running) < max(1, n_workers):
            waiting.sort(key=lambda w: w[0].duration_s)
            feed, need_index, need_analysis, path = waiting.pop()  # the longest first
            running[pool.submit(_prepare, feed, need_index, need_analysis, min_mute_s)] = (feed, path)

    def collect(block: bool) -> None:
        from concurrent.futures import FIRST_COMPLETED, wait

        if not running:
            return
        done = [f for f in running if f.done()]
        if not done and block:
            done, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
        for fut in done:
            feed, path = running.pop(fut)
            try:
                res = fut.result()
            except Exception as exc:  # the child died (killed, out of memory): report this feed
                finished(path, worked=True, error=f"{path}: its worker process failed ({type(exc).__name__}: {exc})")
                continue
            report.child_s += float(res.get("wall_s") or 0.0)
            if "error" in res:
                finished(path, worked=True, error=res["error"])
                continue
            t0 = time.perf_counter()
            try:
                pipeline.store_preparation(case, res["prep"])
            except MediaCoreError as exc:
                finished(path, worked=True, error=str(exc))
                continue
            finally:
                report.store_s += time.perf_counter() - t0
            report.prepared += 1
            finished(path, worked=True)

    try:
        for path in paths:
            check_cancel(should_stop, "ingest")
            feed = by_path.get(path)
            t0 = time.perf_counter()
            if feed is not None and feed.identity is not None and _identity(path) == feed.identity:
                report.known += 1
            else:
                try:
                    case.last_alias = None
                    feed = case.add_feed(path, kind=guess_kind(path), should_stop=should_stop)
                except Cancelled:
                    raise
                except MediaError as exc:
                    report.fingerprint_s += time.perf_counter() - t0
                    finished(path, worked=True, error=str(exc))
                    collect(False)
                    continue
                except Exception as exc:  # PyAV or anything unforeseen on one file
                    report.fingerprint_s += time.perf_counter() - t0
                    finished(path, worked=True, error=f"{path}: cannot be added ({type(exc).__name__}: {exc})")
                    collect(False)
                    continue
                report.bytes_hashed += sizes.get(path, 0)
                if case.last_alias is not None:
                    report.aliases += 1
                elif feed.path == path and feed.path not in by_path:
                    report.added += 1
                by_path.setdefault(feed.path, feed)
            report.fingerprint_s += time.perf_counter() - t0
            report.feed_ids[path] = feed.id
            need_index, need_analysis = pipeline.preparation_needed(case, feed, min_mute_s=min_mute_s)
            if feed.id in handed or not (need_index or need_analysis):
                report.already_prepared += feed.id not in handed
                finished(path, worked=False)
            else:
                handed.add(feed.id)
                work_bytes["total"] += sizes.get(path, 0)
                waiting.append((feed, need_index, need_analysis, path))
            hand_out()
            collect(False)
            hand_out()
        while waiting or running:
            check_cancel(should_stop, "ingest")
            hand_out()
            collect(True)
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)
    report.files_s = time.perf_counter() - t_start

    if sync and len(case.feeds) > 1:
        status.phase = "sync"
        prog(FILES_SHARE, status.line())
        if on_status is not None:
            on_status(status)
        t0 = time.perf_counter()
        try:
            report.sync = pipeline.sync_case(case, progress=sub_progress(prog, FILES_SHARE, 1.0, "syncing the release"),
                                             should_stop=should_stop)
        except Cancelled:
            raise
        except MediaCoreError as exc:
            report.failures.append(("(sync)", str(exc)))
            if on_failure is not None:
                on_failure("(sync)", str(exc))
        report.sync_s = time.perf_counter() - t0
    elif len(case.feeds) == 1:
        pipeline.incident_shots(case)
    status.phase = "done"
    report.elapsed_s = time.perf_counter() - t_start
    status.elapsed_s, status.eta_s = report.elapsed_s, 0.0
    prog(1.0, status.line())
    if on_status is not None:
        on_status(status)
    return report


def _identity(path: str) -> dict | None:
    try:
        return file_identity(path)
    except OSError:
        return None


# ---------------------------------------------------------------------------- the end summary
def ingest_summary(case: Case, report: IngestReport | None = None, *,
                   feed_ids: Sequence[int] | None = None) -> dict[str, Any]:
    """What the analyst reads at the end: files, hours, feeds with mutes, the mutes on the shared
    clock (and wall clock), the incident shots and the feeds placed only by their metadata.

    ``feed_ids`` limits the feeds listed (default: every feed of the case).
    """
    from media_core.case.timeline import build_timeline

    tl = build_timeline(case)
    keep = set(feed_ids) if feed_ids is not None else {f.id for f in tl.feeds}
    feeds = [f for f in tl.feeds if f.id in keep]
    mutes = [m for m in tl.mutes if m.feed_id in keep]
    muted_feeds = sorted({m.feed_id for m in mutes})
    out: dict[str, Any] = {
        "case": str(case.path),
        "files": len(report.files) if report is not None else len(feeds),
        "feeds": len(feeds),
        "hours": round(sum(f.duration_s for f in feeds) / 3600.0, 4),
        "failures": [{"path": p, "problem": e} for p, e in (report.failures if report else [])],
        "feeds_with_mutes": [{"id": fid, "label": tl.feed(fid).label} for fid in muted_feeds],
        "reference": next((f.label for f in feeds if f.is_reference), None),
        "wall_clock": tl.wall_clock.source if tl.wall_clock is not None else None,
        "mutes": [{"feed_id": m.feed_id, "feed": m.feed_label, "kind": m.kind, "start_s": round(m.start_s, 3),
                   "end_s": round(m.end_s, 3), "duration_s": round(m.duration_s, 3), "wall_start": m.wall_start,
                   "placed": tl.feed(m.feed_id).placed} for m in mutes],
        "shots": [{"number": s.number, "time_s": round(s.time_s, 3), "wall": s.wall, "feeds": list(s.feeds),
                   "status": s.status} for s in tl.incident_shots if s.confident],
        "shot_text": (tl.incident or {}).get("text"),
        "metadata_only": [{"id": f.id, "label": f.label, "confidence": f.sync_confidence} for f in feeds
                          if f.sync_method == "metadata"],
        "unplaced": [{"id": f.id, "label": f.label} for f in feeds if not f.placed],
        "placement": {m: sum(1 for f in feeds if (f.sync_method or ("reference" if f.is_reference else "none")) == m)
                      for m in sorted({f.sync_method or ("reference" if f.is_reference else "none") for f in feeds})},
    }
    if report is not None:
        out["timing"] = {"workers": report.workers, "elapsed_s": round(report.elapsed_s, 2),
                         "files_s": round(report.files_s, 2), "sync_s": round(report.sync_s, 2),
                         "fingerprint_s": round(report.fingerprint_s, 2), "child_s": round(report.child_s, 2),
                         "store_s": round(report.store_s, 2), "bytes_hashed": report.bytes_hashed,
                         "hash_rate_mb_s": (round(report.hash_rate_b_s / 1e6, 1) if report.hash_rate_b_s else None)}
        out["counts"] = {"added": report.added, "aliases": report.aliases, "known": report.known,
                         "prepared": report.prepared, "already_prepared": report.already_prepared}
    return out
