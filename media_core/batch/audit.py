"""The department-wide mute audit: one plain record per file, made anywhere the file can be read.

:func:`audit_file` needs no case: it hashes, probes and analyses one file (one decode) and returns
a dict of plain values (the row :mod:`media_core.batch.store` keeps). :func:`run_audit` makes the
records of many files in parallel and appends them to the store as they arrive:

* on a local process pool (``concurrent.futures``, spawned workers, one per core by default);
* or, given ``scheduler="tcp://HOST:PORT"`` (or a ``distributed.Client``), on a Dask distributed
  cluster: ``client.map(audit_file, paths, retries=...)`` and ``as_completed``. Dask re-runs the
  tasks of a worker that dies; an exception in a task is retried ``retries`` times. Workers open
  the files **by path**: every worker must see the same storage at the same paths.

Only this process writes the store (one writer); a record is added once per SHA-256, so a task
that ran twice (a retry, a re-run of the same folder) is never counted twice. Files whose path,
size and mtime match a stored record are not read again.
"""
from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from media_core.errors import Cancelled, MediaError
from media_core.progress import Progress, ShouldStop, check_cancel, no_progress

__all__ = ["AFTER_SHOT_WINDOW_S", "audit_file", "record_fields", "AuditRun", "run_audit"]

#: A mute counts as "after a shot" when it starts within this many seconds after one (same file).
AFTER_SHOT_WINDOW_S = 600.0
#: How many records are gathered before they are written as one Parquet part (or FLUSH_S passes).
FLUSH_RECORDS = 256
FLUSH_S = 30.0


def record_fields(info: dict) -> dict[str, str]:
    """Every tag of a probe, flattened for grouping: the container's and streams' tags, and the
    ``key=value`` pairs cameras write into free-text tags (``comment: make=Axon; unit=14``).
    A real tag wins over a pair of the same name.
    """
    out: dict[str, str] = {}
    for s in info.get("streams") or []:
        for k, v in (s.get("tags") or {}).items():
            out.setdefault(str(k).lower(), str(v))
    for k, v in (info.get("tags") or {}).items():
        out[str(k).lower()] = str(v)
    for free in ("comment", "description", "title"):
        for part in out.get(free, "").split(";"):
            key, sep, value = part.partition("=")
            if sep and key.strip() and value.strip() and " " not in key.strip():
                out.setdefault(key.strip().lower(), value.strip())
    return out


def audit_file(path: str | os.PathLike, *, min_mute_s: float = 0.5) -> dict[str, Any]:
    """The audit record of one file (plain values only: it travels between processes).

    Returns
    -------
    dict
        ``{"sha256", "path", "name", "size", "mtime_ns", "make", "model", "serial", "creation_time",
        "recording_start" (datetime, UTC, or None), "duration_s", "has_audio", "tags" {name: text},
        "shot_count", "shot_times_s", "mutes": [{"kind", "start_s", "end_s", "duration_s",
        "confidence", "after_shot_s"}], "muted_s", "version", "audit_s"}``; times are the file's
        media time. ``after_shot_s`` is the time since the latest confident shot in the same file
        before the mute started (None when none came before). A file that cannot be read gives
        ``{"path", "error"}`` instead (not retried: it would fail again).
    """
    from media_core.analysis.feed import analyze_feed
    from media_core.analysis.shot_counts import is_confident
    from media_core.io.hashing import sha256_file
    from media_core.io.probe import probe
    from media_core.pipeline import analysis_version

    path = os.path.abspath(os.fspath(path))
    t0 = time.perf_counter()
    try:
        st = os.stat(path)
        digest = sha256_file(path)
        info = probe(path, scan_timing=False)
        res = analyze_feed(path, min_mute_s=min_mute_s, sha256=digest)
    except MediaError as exc:
        return {"path": path, "error": str(exc)}
    except OSError as exc:
        return {"path": path, "error": f"{path}: cannot be read ({exc.strerror or exc})"}
    shots = sorted(float(s.get("time_s", 0.0)) for s in res.get("shots", []) if is_confident(s))
    mutes = []
    for m in res.get("mutes", []):
        a, b = float(m["start_s"]), float(m["end_s"])
        before = [t for t in shots if t <= a]
        mutes.append({"kind": str(m["kind"]), "start_s": round(a, 6), "end_s": round(b, 6),
                      "duration_s": round(b - a, 6), "confidence": float(m.get("confidence") or 0.0),
                      "after_shot_s": round(a - before[-1], 6) if before else None})
    start = None
    if info.get("creation_time"):
        try:
            start = _dt.datetime.fromisoformat(info["creation_time"].replace("Z", "+00:00"))
            start = start.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        except ValueError:
            start = None
    return {
        "sha256": digest, "path": path, "name": os.path.basename(path), "size": int(st.st_size),
        "mtime_ns": int(st.st_mtime_ns), "make": info.get("make"), "model": info.get("model"),
        "serial": info.get("serial"), "creation_time": info.get("creation_time"), "recording_start": start,
        "duration_s": float(res.get("duration_s") or info.get("duration_s") or 0.0),
        "has_audio": bool(res.get("has_audio")), "tags": record_fields(info),
        "shot_count": int(res.get("shot_count") or 0), "shot_times_s": [round(t, 6) for t in shots],
        "mutes": mutes, "muted_s": round(sum(m["duration_s"] for m in mutes), 6),
        "version": analysis_version(), "audit_s": round(time.perf_counter() - t0, 4),
    }


@dataclass
class AuditRun:
    """What one :func:`run_audit` call did."""

    files: int = 0            # media files found under the sources
    skipped: int = 0          # already in the store (path, size and mtime unchanged)
    audited: int = 0          # records made by this call
    added: int = 0            # of those, new to the store (by SHA-256)
    duplicates: int = 0       # same SHA-256 as a stored record (another path, or a retried task)
    errors: list[tuple[str, str]] = field(default_factory=list)
    where: str = "local"
    workers: int = 0
    elapsed_s: float = 0.0
    audio_s: float = 0.0      # media seconds audited
    task_s: float = 0.0       # summed time inside audit_file


def _local_map(paths: Sequence[str], workers: int, min_mute_s: float, should_stop: ShouldStop | None):
    """Records of ``paths`` from a spawned process pool, as they finish (at most 2 per worker queued)."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from functools import partial

    fn = partial(audit_file, min_mute_s=min_mute_s)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
    todo = list(reversed(paths))
    running: dict = {}
    try:
        while todo or running:
            check_cancel(should_stop, "audit")
            while todo and len(running) < 2 * workers:
                p = todo.pop()
                running[pool.submit(fn, p)] = p
            done, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                p = running.pop(fut)
                try:
                    yield fut.result()
                except Exception as exc:  # the worker died: say so for this file
                    yield {"path": p, "error": f"{p}: its worker process failed ({type(exc).__name__}: {exc})"}
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()
        raise
    pool.shutdown(wait=True)


def _dask_map(paths: Sequence[str], client, min_mute_s: float, retries: int, should_stop: ShouldStop | None):
    """Records of ``paths`` from a Dask cluster (``client.map`` + ``as_completed``), as they finish."""
    import hashlib

    from distributed import as_completed

    # one key per path (and analysis setting): a task that is re-run after a worker died is the same task
    keys = [f"evidence-audit-{hashlib.sha1(f'{p}|{min_mute_s}'.encode()).hexdigest()}" for p in paths]
    futures = client.map(audit_file, list(paths), key=keys, min_mute_s=min_mute_s, retries=retries, pure=False)
    by_key = dict(zip(keys, paths))
    try:
        for fut in as_completed(futures):
            check_cancel(should_stop, "audit")
            p = by_key.get(fut.key, "?")
            try:
                rec = fut.result()
            except Exception as exc:  # retries used up, or the task killed its workers too often
                rec = {"path": p, "error": f"{p}: failed on the cluster ({type(exc).__name__}: {exc})"}
            fut.release()
            yield rec
    except BaseException:
        client.cancel(futures)
        raise


def run_audit(sources: Iterable[str | os.PathLike], store, *, workers: int | None = None,
              scheduler: str | Any | None = None, retries: int = 2, min_mute_s: float = 0.5,
              progress: Progress | None = None, should_stop: ShouldStop | None = None,
              on_record: Callable[[dict], None] | None = None,
              on_error: Callable[[str, str], None] | None = None) -> AuditRun:
    """Audit every media file under ``sources`` into ``store`` (an :class:`~media_core.batch.store.AuditStore`
    or its folder).

    Parameters
    ----------
    workers : int, optional
        Local pool size (default: one per core). Ignored with ``scheduler``.
    scheduler : str or distributed.Client, optional
        ``tcp://HOST:PORT`` of a Dask scheduler (needs the ``cluster`` extra), or a connected client.
    retries : int
        Dask retries per task after an exception (worker deaths are re-run by the scheduler itself).
    on_record, on_error : callable, optional
        Hear each record as it arrives, and each file that failed.
    """
    from media_core.batch.ingest import default_workers
    from media_core.batch.sources import media_files
    from media_core.batch.store import AuditStore

    t0 = time.perf_counter()
    st = store if isinstance(store, AuditStore) else AuditStore(store)
    report = progress or no_progress
    paths = media_files(sources)
    run = AuditRun(files=len(paths))
    known = st.known_files()
    todo = []
    for p in paths:
        try:
            s = os.stat(p)
        except OSError:
            todo.append(p)
            continue
        if known.get(p) == (s.st_size, s.st_mtime_ns):
            run.skipped += 1
        else:
            todo.append(p)
    client, own_client = None, False
    if scheduler is not None:
        try:
            import distributed
        except ImportError:
            from media_core.errors import ParameterError

            raise ParameterError("--scheduler needs Dask: install the 'cluster' extra "
                                 "(pip install 'evidence-audit[cluster]')") from None
        if isinstance(scheduler, str):
            client, own_client = distributed.Client(scheduler, timeout="30s"), True
        else:
            client = scheduler
        run.where = f"dask {client.scheduler.address}"
        run.workers = len(client.scheduler_info().get("workers", {}))
        records = _dask_map(todo, client, min_mute_s, retries, should_stop)
    else:
        run.workers = default_workers() if workers is None else max(1, int(workers))
        records = _local_map(todo, run.workers, min_mute_s, should_stop)
    batch: list[dict] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        if batch:
            added = st.append(batch)
            run.added += added
            run.duplicates += len(batch) - added
            batch.clear()
        last_flush = time.monotonic()

    done = 0
    try:
        for rec in records:
            done += 1
            if "error" in rec:
                run.errors.append((rec["path"], rec["error"]))
                if on_error is not None:
                    on_error(rec["path"], rec["error"])
            else:
                run.audited += 1
                run.audio_s += rec["duration_s"]
                run.task_s += rec.get("audit_s") or 0.0
                batch.append(rec)
                if on_record is not None:
                    on_record(rec)
            if len(batch) >= FLUSH_RECORDS or time.monotonic() - last_flush >= FLUSH_S:
                flush()
            report(done / max(1, len(todo)), f"{done}/{len(todo)} files audited, {len(run.errors)} failed")
    except (Cancelled, KeyboardInterrupt):
        flush()  # keep what was made
        raise
    finally:
        if own_client:
            client.close()
    flush()
    run.elapsed_s = time.perf_counter() - t0
    return run
