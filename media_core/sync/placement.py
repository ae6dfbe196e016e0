"""Files on one shared clock: the ``evidence-audit.sync/1`` document from files or prepared feeds.

:func:`sync_files` decodes every file once (a small thread pool) and places it; :func:`sync_features`
places feeds whose features came from the shared analysis decode (or are read from a case's cache
when a match needs them). Both: audio first (every pair; for a release of more than
:data:`~media_core.sync.candidates.PLAN_ABOVE_PAIRS` candidate pairs only those
:mod:`~media_core.sync.candidates` plans, matched in worker processes when the features are
stored; then :func:`~media_core.sync.solve.solve_global`); feeds audio cannot place are tried by
visual flashes against the shots heard in placed feeds, every onset they heard and the flashes
placed videos saw, then by their tags (timecode / creation time).

Both follow :mod:`media_core.progress`: ``progress(fraction, message)`` is called from the calling
thread only, and ``should_stop()`` is polled between files, pairs and windows
(:class:`~media_core.errors.Cancelled`).
"""
from __future__ import annotations

import math
import os
from typing import Any, Callable, Iterable, Mapping, Sequence

from media_core.clock import Clock
from media_core.errors import Cancelled, MediaError, ParameterError
from media_core.progress import Progress, ShouldStop, check_cancel, no_progress, sub_progress

from .estimate import ALGORITHM_VERSION, SyncEstimate
from .features import SyncFeatureListener, SyncFeatures
from .heap import pin_mmap_threshold, release_freed_memory
from .metadata import metadata_offset
from .pairwise import MIN_OVERLAP_S, estimate_offset_features
from .solve import GlobalSync, solve_global
from .uncertainty import METADATA_UNCERTAINTY_S, ZERO, Uncertainty, confidence, frame_s_of

SCHEMA = "evidence-audit.sync/1"


def sync_files(paths: Sequence[str | os.PathLike], *, reference: str | os.PathLike | None = None,
               progress: Progress | None = None, should_stop: ShouldStop | None = None,
               workers: int = 2,
               exclude: Mapping[str, Iterable[tuple[float, float]]] | None = None) -> dict[str, Any]:
    """Place every file on one shared clock (the issue's JSON contract, ``evidence-audit.sync/1``).

    ``exclude`` maps a path to spans to ignore (e.g. stored mutes from
    :class:`media_core.analysis.mutes.MuteListener`); runs of exact zeros and decoder gaps are always
    excluded. Audio first (all pairs, global least squares); feeds audio cannot place are tried by visual
    flashes against shots heard in placed feeds (their onsets, the flashes placed videos saw), then by
    metadata (timecode / creation time).
    A feed that cannot be placed has ``offset_s: None`` and a ``reason``. A file that cannot be
    read does not stop the others; its entry names the problem.

    Parameters
    ----------
    progress : callable(fraction, message), optional
        Fraction 0..1 over the whole call (headers, decoding, matching, placing).
    should_stop : callable() -> bool, optional
        Polled between files and pairs and while decoding; True raises
        :class:`~media_core.errors.Cancelled`.

    Returns
    -------
    dict
        ``{"schema", "reference", "feeds": [{"path", "offset_s", "drift_ppm", "method",
        "confidence", "evidence"[, "reason"]}]}``; a feed's media time ``t``
        maps to ``offset_s + t * (1 + drift_ppm * 1e-6)`` on the reference's time line.
    """
    from media_core.io.probe import probe

    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ParameterError("sync needs at least one file")
    pin_mmap_threshold()
    n = len(paths)
    report = progress or no_progress
    probes: list[dict | None] = [None] * n
    errors: dict[int, str] = {}
    for i, p in enumerate(paths):
        check_cancel(should_stop, "sync")
        try:
            probes[i] = probe(p, scan_timing=False)
        except MediaError as exc:
            errors[i] = exc.problem
        report(0.05 * (i + 1) / n, f"read the header of {_name(p)} ({i + 1} of {n})")
    ok = [i for i in range(n) if i not in errors]
    has_audio = [i for i in ok if probes[i].get("audio") is not None]
    want_shots = any(probes[i].get("audio") is None for i in ok)
    feats: dict[int, SyncFeatures | None] = {}
    shots: dict[int, list] = {}

    def work(i):
        check_cancel(should_stop, "sync")
        try:
            return _decode_one(paths[i], want_shots, should_stop), None
        except MediaError as exc:
            return (None, []), exc.problem

    def done(k: int, i: int, result) -> None:
        (f, sh), err = result
        report(0.05 + 0.6 * (k + 1) / len(has_audio),
               f"read the audio of {_name(paths[i])} ({k + 1} of {len(has_audio)})")
        check_cancel(should_stop, "sync")
        if err:
            errors[i] = err
            return
        if f is not None and exclude and exclude.get(paths[i]):
            f = f.excluding(exclude[paths[i]])
        feats[i], shots[i] = f, sh

    _each_on_pool(work, has_audio, done, workers=workers)
    return _sync_prepared(paths, probes, feats, shots, errors, reference=reference,
                          progress=sub_progress(report, 0.65, 1.0), should_stop=should_stop,
                          workers=workers)


def sync_features(feeds: Sequence[Mapping[str, Any]], *, reference: str | os.PathLike | None = None,
                  progress: Progress | None = None, should_stop: ShouldStop | None = None,
                  workers: int = 2, on_flashes: Callable[[int, list], None] | None = None) -> dict[str, Any]:
    """:func:`sync_files` from analyses already made in each feed's one shared decode.

    Parameters
    ----------
    feeds : sequence of dict
        Per feed: ``path``; ``probe`` (:func:`media_core.io.probe.probe`'s dict); ``features``
        (what :class:`~media_core.sync.features.SyncFeatureListener` returned, or a
        :class:`~media_core.sync.features.StoredFeatures` read when needed; None without audio);
        optionally ``shots`` (:class:`media_core.analysis.shots.ShotListener`'s result or its list,
        for flash sync of silent feeds), ``flashes`` (:func:`media_core.analysis.flashes.detect_flashes`'
        result, when already made) and ``error`` (why the file could not be read).
    progress : callable(fraction, message), optional
        Fraction 0..1 over matching the pairs and placing the feeds.
    should_stop : callable() -> bool, optional
        Polled between pairs, windows and feeds; True raises :class:`~media_core.errors.Cancelled`.
    on_flashes : callable(index, flashes), optional
        Hears the flashes detected here (feeds given without ``flashes``: unplaced ones, and placed
        videos a silent feed's flashes were matched against), so they can be kept.

    Returns
    -------
    dict
        The ``evidence-audit.sync/1`` document, as :func:`sync_files`.
    """
    paths = [os.fspath(f["path"]) for f in feeds]
    if not paths:
        raise ParameterError("sync needs at least one file")
    probes = [f.get("probe") for f in feeds]
    errors = {i: str(f["error"]) for i, f in enumerate(feeds) if f.get("error")}
    for i, pr in enumerate(probes):
        if pr is None and i not in errors:
            errors[i] = "was not probed"
    feats = {i: f["features"] for i, f in enumerate(feeds) if f.get("features") is not None}
    shots = {}
    for i, f in enumerate(feeds):
        sh = f.get("shots") or []
        shots[i] = list(sh.get("shots", []) if isinstance(sh, Mapping) else sh)
    flashes = {i: list(f["flashes"]) for i, f in enumerate(feeds) if f.get("flashes") is not None}
    return _sync_prepared(paths, probes, feats, shots, errors, reference=reference,
                          progress=progress or no_progress, should_stop=should_stop, workers=workers,
                          flashes=flashes, on_flashes=on_flashes)


# --------------------------------------------------------------------------------------------
# The steps
# --------------------------------------------------------------------------------------------
def _name(path: str) -> str:
    return os.path.basename(path)


def _each_on_pool(work: Callable[[Any], Any], items: Sequence[Any], done: Callable[[int, Any, Any], None], *,
                  workers: int, pool=None) -> None:
    """``work(item)`` for every item on a pool of ``workers`` threads (or on ``pool``, an executor
    of the caller's: then ``work`` and the items must pickle); ``done(k, item, result)`` in item
    order on the calling thread. When ``work`` or ``done`` raises, work not yet started is dropped
    and the running work is waited for before the exception goes on.
    """
    from concurrent.futures import ThreadPoolExecutor, wait

    own = pool is None
    ex = ThreadPoolExecutor(max_workers=max(1, workers)) if own else pool
    futures = [ex.submit(work, x) for x in items]
    try:
        for k, (x, fut) in enumerate(zip(items, futures)):
            done(k, x, fut.result())
    finally:
        for fut in futures:
            fut.cancel()
        if own:
            ex.shutdown(wait=True)
        else:
            wait(futures)


def _decode_one(path: str, want_shots: bool, should_stop: ShouldStop | None = None):
    """One decode of ``path`` for sync features (and shots, for flash sync of silent feeds)."""
    from media_core.analysis.shots import ShotListener
    from media_core.io.decode import run_listeners

    lis: list[Any] = [SyncFeatureListener()]
    if want_shots:
        lis.append(ShotListener())
    res = run_listeners(path, lis, should_stop=should_stop)
    if (res.get("_decode") or {}).get("stopped"):
        raise Cancelled(f"reading {_name(path)} for sync")
    shots = res.get("shots")
    if isinstance(shots, dict):
        shots = shots.get("shots", [])
    return res.get("sync"), shots or []


def _sync_prepared(paths, probes, feats, shots, errors, *, reference, progress: Progress,
                   should_stop: ShouldStop | None, workers: int, flashes: Mapping[int, list] | None = None,
                   on_flashes: Callable[[int, list], None] | None = None) -> dict[str, Any]:
    from .candidates import PLAN_ABOVE_PAIRS

    pin_mmap_threshold()
    n = len(paths)
    ok = [i for i in range(n) if i not in errors]
    has_audio = [i for i in ok if probes[i].get("audio") is not None]
    bank = _FeatureBank(feats, keep=2 * max(1, workers) + 2)
    with_feats = [i for i in has_audio if i in bank]
    # a feed with video and no audio is placed by its flashes against the others' onsets: find
    # those while every feed is read anyway
    silent_video = any(probes[i].get("audio") is None and probes[i].get("video") is not None for i in ok)
    bank.summarise(with_feats, screen=len(with_feats) * (len(with_feats) - 1) // 2 > PLAN_ABOVE_PAIRS,
                   onsets=silent_video, should_stop=should_stop)
    for i, why in bank.unreadable.items():
        errors[i] = why
    ok = [i for i in range(n) if i not in errors]
    has_audio = [i for i in ok if probes[i].get("audio") is not None]
    audio_ok = [i for i in has_audio if bank.active_s.get(i, 0.0) >= MIN_OVERLAP_S]
    durations = {i: float(probes[i]["duration_s"]) for i in ok if i not in errors}

    # reference: the user's, else the longest feed with usable audio, else the longest feed
    if reference is not None:
        rp = os.path.abspath(os.fspath(reference))
        match = [i for i in range(n) if os.path.abspath(paths[i]) == rp]
        if not match:
            raise ParameterError(f"{os.fspath(reference)}: the reference must be one of the files to sync")
        ref = match[0]
        if ref in errors:
            raise MediaError(paths[ref], f"cannot be the reference: {errors[ref]}")
    else:
        pool_ids = audio_ok or [i for i in ok if i not in errors]
        if not pool_ids:
            return {"schema": SCHEMA, "reference": None,
                    "feeds": [_unplaced(paths[i], errors.get(i, "no usable audio or video")) for i in range(n)]}
        ref = max(pool_ids, key=lambda i: durations.get(i, 0.0))

    matching: dict[str, Any] = {}
    pw = _match_pairs(paths, bank, audio_ok, reference=ref if ref in audio_ok else None,
                      progress=sub_progress(progress, 0.0, 0.7), should_stop=should_stop, workers=workers,
                      probes=probes, matching=matching)
    check_cancel(should_stop, "sync")
    g = solve_global(pw, reference=ref, durations=durations, feeds=sorted(set(audio_ok) | {ref}),
                     names={i: _name(paths[i]) for i in range(n)})
    out: list[dict[str, Any]] = [dict() for _ in range(n)]
    for i in range(n):
        if i in errors:
            out[i] = _unplaced(paths[i], errors[i])
        elif i in g.clocks:
            out[i] = _placed_by_audio(i, ref, g, pw, paths, probes)
            if i == ref:
                out[i]["evidence"]["measurements"]["matching"] = matching
    rest = [i for i in range(n) if not out[i]]
    # islands: feeds audio links to each other but not to the reference -- placed together, the
    # island anchored to the reference by its members' tags (labelled so)
    for island in _islands(rest, pw):
        placed = _place_island(island, ref, pw, paths, probes, durations)
        for i, entry in placed.items():
            out[i] = entry
    rest = [i for i in range(n) if not out[i]]
    if rest:
        # feeds audio could not place: flashes against shots heard in placed feeds, then metadata
        placed_shots = _shared_shots({i: shots.get(i, []) for i in g.clocks}, g.clocks, paths)
        placed_onsets = _shared_onsets(shots, bank, g.clocks)
        flashes = dict(flashes or {})
        # the placed videos: dash cams and body cams see muzzle flashes too
        seen = _PlacedFlashes(paths, probes, flashes, workers=workers, should_stop=should_stop,
                              on_flashes=on_flashes,
                              progress=lambda msg: progress(0.95, msg))
        for j, c in g.clocks.items():
            seen.add(j, c, g.uncertainty.get(j, ZERO), [paths[x] for x in g.chain.get(j, [j])])
        if len(placed_shots) >= 3 or len(placed_onsets) >= 3 or seen.sources:
            look = [i for i in rest if probes[i].get("video") is not None and i not in flashes]
            _look_for_flashes(look, paths, flashes, workers=workers, should_stop=should_stop, on_flashes=on_flashes,
                              heard=lambda k, i: progress(0.7 + 0.25 * (k + 1) / len(look),
                                                          f"looked for flashes in {_name(paths[i])}"))
        for k, i in enumerate(rest):
            check_cancel(should_stop, "sync")
            progress(0.95 + 0.05 * k / len(rest), f"placing {_name(paths[i])} without audio")
            out[i] = _placed_otherwise(i, ref, g, paths, probes, has_audio, audio_ok, placed_shots, placed_onsets,
                                       flashes=flashes.get(i), seen=seen)
            if out[i].get("method") == "visual-flash":   # its flashes can place the next silent feed
                seen.add(i, Clock(out[i]["offset_s"], out[i]["drift_ppm"]),
                         Uncertainty.from_dict(out[i]["evidence"]["uncertainty"]),
                         out[i].get("chain") or [paths[ref], paths[i]])
    progress(1.0, "sync finished")
    return {"schema": SCHEMA, "reference": paths[ref], "feeds": out}


def _islands(rest: Sequence[int], pw) -> list[list[int]]:
    """Groups of at least two of ``rest`` that confident audio matches connect."""
    rs = set(rest)
    adj: dict[int, set] = {i: set() for i in rest}
    for (a, b), e in pw.items():
        if a in rs and b in rs and e is not None and not e.uncertain:
            adj[a].add(b)
            adj[b].add(a)
    seen: set = set()
    out = []
    for i in rest:
        if i in seen or not adj[i]:
            continue
        comp, todo = [], [i]
        seen.add(i)
        while todo:
            x = todo.pop()
            comp.append(x)
            for y in adj[x] - seen:
                seen.add(y)
                todo.append(y)
        out.append(sorted(comp))
    return out


def _place_island(island: list[int], ref: int, pw, paths, probes, durations) -> dict[int, dict[str, Any]]:
    """Clocks of an island from its own audio matches, anchored by the median of its members' tags."""
    import numpy as np

    sub = {k: e for k, e in pw.items() if k[0] in island and k[1] in island}
    local = max(island, key=lambda i: durations.get(i, 0.0))
    g = solve_global(sub, reference=local, durations={i: durations.get(i, 0.0) for i in island}, feeds=island,
                     names={i: _name(paths[i]) for i in island})
    anchors = []
    for i in g.clocks:
        md = metadata_offset(probes[ref], probes[i]) if probes[ref] else None
        if md is not None and md.offset_s is not None:
            # local clock of i at its media 0 is g.clocks[i].offset_s; its tags say md.offset_s on ref
            anchors.append(md.offset_s - g.clocks[i].offset_s)
    if not anchors:
        return {}
    shift = float(np.median(anchors))
    md_u = Uncertainty(0.0, METADATA_UNCERTAINTY_S / 1.645 / math.sqrt(len(anchors)), 0.0, 0.0, False)
    out = {}
    for i, c in g.clocks.items():
        u = md_u if i == local else md_u.compound(g.uncertainty.get(i, md_u))
        cl = Clock(shift, 0.0).compose(c)
        out[i] = {"path": paths[i], "offset_s": round(cl.offset_s, 6), "drift_ppm": round(cl.drift_ppm, 3),
                  "method": "metadata", "confidence": confidence(u, frame_s=frame_s_of(probes[ref], probes[i])),
                  "uncertainty_ms": round(u.bound_s * 1e3, 1), "drift_ppm_uncertainty": None,
                  "chain": [paths[x] for x in g.chain.get(i, [])],
                  "label": (f"placed by audio within a group of {len(g.clocks)} feeds that no audio links to the "
                            f"reference; the group placed by its tags ({len(anchors)} creation times)"),
                  "evidence": {"method": "metadata", "algorithm_version": ALGORITHM_VERSION,
                               "measurements": {"island": [paths[x] for x in sorted(g.clocks)],
                                                "island_reference": paths[local],
                                                "tag_anchors_s": [round(a, 3) for a in anchors]},
                               "warnings": list(g.warnings)}}
    return out


#: pairs whose creation-time tags put them further apart than this are not matched (camera
#: clocks are seconds off, rarely minutes; a release of dozens of feeds has hundreds of pairs)
TAG_SPAN_MARGIN_S = 120.0


def _tag_span(pr) -> tuple[float, float] | None:
    from .metadata import _iso_seconds

    t = _iso_seconds((pr or {}).get("creation_time"))
    d = (pr or {}).get("duration_s")
    return None if t is None or d is None else (t, t + float(d))


def _match_pairs(paths, bank: "_FeatureBank", ids, *, reference: int | None, progress: Progress,
                 should_stop: ShouldStop | None, workers: int, probes=None,
                 matching: dict | None = None) -> dict[tuple[int, int], SyncEstimate]:
    """The audio estimates of the pairs of ``ids`` that placing them needs, a few at a time on a
    thread pool. Pairs whose tags say they cannot overlap (by more than
    :data:`TAG_SPAN_MARGIN_S`) are never matched. Up to
    :data:`~media_core.sync.candidates.PLAN_ABOVE_PAIRS` candidate pairs are all matched in full;
    more (a release) are screened and only the planned ones matched
    (:mod:`~media_core.sync.candidates`). ``matching`` hears what was done.
    """
    from .candidates import PLAN_ABOVE_PAIRS, first_pairs, more_pairs, screen_pairs

    pairs = [(a, b) for ii, a in enumerate(ids) for b in ids[ii + 1:]]
    n_all = len(pairs)
    if probes is not None:
        spans = {i: _tag_span(probes[i]) for i in ids}

        def may_overlap(a, b):
            sa, sb = spans[a], spans[b]
            return sa is None or sb is None or (sa[0] - TAG_SPAN_MARGIN_S < sb[1] and sb[0] - TAG_SPAN_MARGIN_S < sa[1])

        pairs = [p for p in pairs if may_overlap(*p)]
    info = matching if matching is not None else {}
    info.update(feeds=len(ids), pairs=n_all, candidate_pairs=len(pairs))
    if not pairs:
        info.update(screened=0, matched=0)
        return {}
    pw: dict[tuple[int, int], SyncEstimate] = {}
    screens: dict = {}

    def work(pair):
        check_cancel(should_stop, "sync")
        a, b = pair
        return estimate_offset_features(bank.get(a), bank.get(b), should_stop=should_stop)

    expected = [len(pairs)]

    def done(k: int, pair, e: SyncEstimate) -> None:
        a, b = pair
        if pair in screens:
            e.evidence.setdefault("measurements", {})["screen"] = screens[pair].as_dict()
        if probes is not None:
            _check_against_tags(e, probes[a], probes[b])
        pw[pair] = e
        release_freed_memory()      # a match's transients, held by its thread's heap otherwise
        n = len(pw)
        progress(0.1 + 0.9 * min(1.0, n / max(expected[0], n + 1)),
                 f"matched {_name(paths[a])} with {_name(paths[b])} ({n} so far)")
        check_cancel(should_stop, "sync")

    if len(pairs) <= PLAN_ABOVE_PAIRS:
        _each_on_pool(work, pairs, done, workers=workers)
        info.update(screened=0, matched=len(pw))
        return pw
    progress(0.0, f"screening {len(pairs)} pairs")
    screens.update(screen_pairs({i: bank.screen(i) for i in ids}, pairs, should_stop=should_stop))
    todo = first_pairs(screens, ids, reference=reference)
    expected[0] = int(len(todo) * 1.15) + 2
    extra: dict[int, int] = {}
    rounds = 0
    # features read from disk are matched in worker processes that read them themselves (the
    # match is numpy with Python between: threads would share one interpreter lock)
    pool = _process_pool(workers) if workers > 1 and all(bank.stored(i) for i in ids) else None
    try:
        while todo:
            rounds += 1
            todo.sort()                 # neighbours share a feed: each worker keeps a few loaded
            if pool is not None:
                from concurrent.futures.process import BrokenProcessPool

                try:
                    _each_on_pool(_estimate_stored, [(p, bank.stored(p[0]), bank.stored(p[1])) for p in todo],
                                  lambda k, item, e: done(k, item[0], e), workers=workers, pool=pool)
                except BrokenProcessPool:   # e.g. a script without a __main__ guard: threads instead
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = None
                    info["processes_failed"] = True
                    todo = [p for p in todo if p not in pw]
            if pool is None:
                _each_on_pool(work, todo, done, workers=workers)
            accepted = [p for p, e in pw.items() if not e.uncertain]
            todo = more_pairs(screens, ids, reference, pw, accepted, extra)
            expected[0] = max(expected[0], len(pw) + len(todo))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    info.update(screened=len(screens), strong=sum(1 for s in screens.values() if s.strong),
                matched=len(pw), rounds=rounds, processes=workers if pool is not None else 0)
    return pw


def _process_pool(workers: int):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # spawn, never fork: the caller may hold SQLite connections and threads
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))


_WORKER_FEATURES: dict[str, SyncFeatures] = {}
_WORKER_KEEP = 4


def _worker_features(src) -> SyncFeatures | None:
    """In a worker process: the stored features, the last few kept loaded."""
    key = src.path
    f = _WORKER_FEATURES.pop(key, None)
    if f is None:
        f = src.load()
    if f is not None:
        _WORKER_FEATURES[key] = f
        while len(_WORKER_FEATURES) > _WORKER_KEEP:
            _WORKER_FEATURES.pop(next(iter(_WORKER_FEATURES)))
    return f


def _estimate_stored(item) -> SyncEstimate:
    """In a worker process: ``estimate_offset_features`` of a pair given as stored features."""
    from .estimate import uncertain

    _, a, b = item
    fa, fb = _worker_features(a), _worker_features(b)
    if fa is None or fb is None:
        return uncertain("stored sync features cannot be read", {"method": "audio",
                                                                 "algorithm_version": ALGORITHM_VERSION,
                                                                 "measurements": {}})
    return estimate_offset_features(fa, fb)


#: a weak audio match (no distinct whole-feed peak, no dense window line) further than this from
#: where both files' tags put the feed is refused: three times the tags' stated 90 % bound
TAGS_AGREE_S = 3 * METADATA_UNCERTAINTY_S
#: a whole-feed correlation peak this many times its runner-up is distinct on its own
DISTINCT_PEAK_RATIO = 1.5


def _check_against_tags(e: SyncEstimate, probe_ref, probe_other) -> None:
    """Refuse a weak match that its files' tags contradict (look-elsewhere: a release tries many
    pairs, and a line through a few chance coincidences of unrelated sounds is found somewhere).

    A match is weak when its whole-feed peak is under :data:`DISTINCT_PEAK_RATIO` times the
    runner-up and its windows do not agree on dense sound: it rests on an event line alone. Strong
    matches stand against the tags (camera clocks can be minutes off); the difference is kept.
    """
    if e.uncertain or not probe_ref or not probe_other:
        return
    md = metadata_offset(probe_ref, probe_other)
    if md.offset_s is None:
        return
    m = e.evidence.setdefault("measurements", {})
    gap = float(e.offset_s) - float(md.offset_s)
    m["audio_minus_tags_s"] = round(gap, 3)
    ratio = float(m.get("coarse_peak_ratio") or 0.0)
    if ratio >= DISTINCT_PEAK_RATIO or m.get("dense_sound") or abs(gap) <= TAGS_AGREE_S:
        return
    e.uncertain_reason = (f"the audio match is weak (whole-feed peak {ratio:.2f}x the runner-up; "
                          f"{m.get('events_used') or 0} shared events) and puts the feed {gap:+.0f} s from where "
                          f"both files' {md.evidence['measurements'].get('source', 'tags')} put it")
    e.p_correct = 0.0
    e.confidence = 0.0


class _FeatureBank:
    """Every feed's sync features, read when a match needs them: :class:`SyncFeatures` given as such
    are used as they are; :class:`~media_core.sync.features.StoredFeatures` are loaded on demand
    and at most ``keep`` of them stay loaded (a release's full-rate features never all sit in
    memory). What the screen and placement need of every feed is summarised on the first read.
    """

    def __init__(self, feats: Mapping[int, Any], *, keep: int = 6):
        import threading
        from collections import OrderedDict

        self._src = {i: f for i, f in feats.items() if f is not None}
        self._lru: "OrderedDict[int, SyncFeatures]" = OrderedDict()
        self._lock = threading.Lock()
        self._keep = max(2, int(keep))
        self.active_s: dict[int, float] = {}
        self._screen: dict[int, Any] = {}
        self._onsets: dict[int, Any] = {}
        self.unreadable: dict[int, str] = {}

    def __contains__(self, i) -> bool:
        return i in self._src and i not in self.unreadable

    def stored(self, i: int):
        """The feed's features as stored on disk (they pickle as paths), or None when given in memory."""
        src = self._src.get(i)
        return None if src is None or isinstance(src, SyncFeatures) else src

    def get(self, i: int) -> SyncFeatures | None:
        src = self._src.get(i)
        if src is None or isinstance(src, SyncFeatures):
            return src
        with self._lock:
            f = self._lru.get(i)
            if f is not None:
                self._lru.move_to_end(i)
                return f
            try:
                f = src.load()
            except MediaError as exc:
                self.unreadable[i] = exc.problem
                return None
            if f is None:
                self.unreadable[i] = "its stored sync features cannot be read (analyse it again)"
                return None
            self._lru[i] = f
            while len(self._lru) > self._keep:
                self._lru.popitem(last=False)
            return f

    def summarise(self, ids: Iterable[int], *, screen: bool, onsets: bool = False,
                  should_stop: ShouldStop | None = None) -> None:
        """Read every feed once: its live audio length (its screen envelope when ``screen``, its
        strong onsets when ``onsets``).
        """
        from .candidates import ScreenFeed

        for i in ids:
            check_cancel(should_stop, "sync")
            if i in self.active_s:
                continue
            f = self.get(i)
            if f is None:
                continue
            self.active_s[i] = f.active_fraction * f.duration_s
            if screen:
                self._screen[i] = ScreenFeed.of(f)
            if onsets:
                self.onsets(i)

    def onsets(self, i: int):
        """The feed's onsets strong enough to stand for a shot (media times), kept once found."""
        import numpy as np

        from .events import onset_times

        if i not in self._onsets:
            f = self.get(i)
            self._onsets[i] = (onset_times(f, z_min=ONSET_Z_FOR_FLASHES, min_gap_s=0.1, max_events=4000)[0]
                               if f is not None else np.zeros(0))
        return self._onsets[i]

    def screen(self, i: int):
        from .candidates import ScreenFeed

        if i not in self._screen:
            self._screen[i] = ScreenFeed.of(self.get(i))
        return self._screen[i]


def _placed_by_audio(i: int, ref: int, g: GlobalSync, pw, paths, probes) -> dict[str, Any]:
    c = g.clocks[i]
    pairs_i = [_pair_summary(e, paths[b if a == i else a]) for (a, b), e in pw.items() if i in (a, b)]
    res_i = {f"{paths[a]} | {paths[b]}": r for (a, b), r in g.residuals_ms.items() if i in (a, b)}
    md_guess = metadata_offset(probes[ref], probes[i]) if i != ref else None
    meas_i = {"pairs": pairs_i, "loop_residuals_ms": res_i}
    if md_guess is not None and md_guess.offset_s is not None:   # the tags' first guess
        meas_i["metadata_guess"] = {"offset_s": round(md_guess.offset_s, 3),
                                    "source": md_guess.evidence["measurements"].get("source"),
                                    "audio_minus_metadata_s": round(c.offset_s - md_guess.offset_s, 3)}
    method = "reference" if i == ref else "audio"
    out = {"path": paths[i], "offset_s": round(c.offset_s, 6), "drift_ppm": round(c.drift_ppm, 3),
           "method": method, "confidence": 1.0,
           "evidence": {"method": method, "algorithm_version": ALGORITHM_VERSION,
                        "measurements": meas_i, "warnings": list(g.warnings)}}
    if i == ref:
        return out | {"uncertainty_ms": 0.0, "drift_ppm_uncertainty": 0.0, "chain": [paths[i]]}
    u = g.uncertainty[i]
    frame = frame_s_of(probes[ref], probes[i])
    chain = [paths[x] for x in g.chain.get(i, [])]
    meas_i["uncertainty"] = u.as_dict() | {"frame_ms": round(frame * 1e3, 2)}
    meas_i["p_match_right"] = round(g.p_correct.get(i, 1.0), 4)
    ru = [p["runner_up"] | {"with": p["with"]} for p in pairs_i if p.get("runner_up")]
    dsd = _chain_drift_sigma(g, pw, i)
    out.update(confidence=confidence(u, frame_s=frame, p_correct=g.p_correct.get(i, 1.0)),
               uncertainty_ms=round(u.bound_s * 1e3, 2),
               drift_ppm_uncertainty=None if dsd is None else round(dsd, 2), chain=chain)
    if ru:
        out["runner_up"] = ru[0]
    return out


def _chain_drift_sigma(g: GlobalSync, pw, i: int) -> float | None:
    """The drift uncertainty (ppm) of feed ``i`` along its chain (quadrature), None if unfitted."""
    path = g.chain.get(i, [])
    tot = 0.0
    for a, b in zip(path, path[1:]):
        e = pw.get((a, b)) or pw.get((b, a))
        if e is None or not math.isfinite(e.drift_sigma_ppm):
            return None
        tot += e.drift_sigma_ppm ** 2
    return math.sqrt(tot)


def _placed_otherwise(i: int, ref: int, g: GlobalSync, paths, probes, has_audio, audio_ok, placed_shots,
                      placed_onsets=(), *, flashes: list | MediaError | None = None,
                      seen: "_PlacedFlashes | None" = None) -> dict[str, Any]:
    """A feed audio could not place: by its flashes (``flashes``: what
    :func:`~media_core.analysis.flashes.detect_flashes` found, or the error it raised) against shots
    heard in placed feeds, then against every onset they heard, then against the flashes placed
    videos saw (``seen``); else by tags.
    """
    why = []
    if i in has_audio and i not in audio_ok:
        why.append("its audio is muted (digital silence) or shorter than "
                   f"{MIN_OVERLAP_S:g} s throughout")
    elif i in has_audio:
        why.append(g.unplaced.get(i) or "no confident audio match links it to the reference")
    else:
        why.append("no audio stream")
    pr = probes[i]
    videos = seen is not None and any(j != i for j in seen.sources)
    if pr.get("video") is not None and (len(placed_shots) >= 3 or len(placed_onsets) >= 3 or videos):
        from media_core.analysis.flashes import match_flashes

        fl = flashes
        if isinstance(fl, MediaError):
            why.append(f"flashes: {fl.problem}")
        elif fl is None:
            why.append("flashes: not looked for")
        else:
            fps = float(pr["video"].get("avg_fps") or 30.0)
            ft = [f["time_s"] for f in fl]
            m = match_flashes(ft, placed_shots, fps=fps) if len(placed_shots) >= 3 else None
            if (m is None or m["uncertain_reason"] is not None) and len(placed_onsets) >= 3:
                # every impulsive onset the placed feeds heard (possible shots included)
                m2 = match_flashes(ft, placed_onsets, fps=fps, tolerance_s=0.5 / fps + ONSET_SPREAD_S)
                mm = m2["evidence"]["measurements"]
                mm["matched_against"] = "audio onsets of placed feeds"
                # onsets are dense (speech, steps): judge by the margin over the runner-up and chance
                _judge_dense(m2, ONSET_MIN_MATCHED, "onsets of placed feeds")
                if m is not None:
                    m2["evidence"]["measurements"]["against_shots"] = m["uncertain_reason"]
                if m is None or m2["uncertain_reason"] is None or m["offset_s"] is None:
                    m = m2
            elif m is not None:
                m["evidence"]["measurements"]["matched_against"] = "shots heard in placed feeds"
            flash_link = None
            if (m is None or m["uncertain_reason"] is not None) and videos and len(ft) >= FLASH_ON_FLASH_MIN:
                # the flashes placed videos saw (light: no sound travel), on the shared clock
                m3, flash_link = _match_placed_flashes(i, ft, fps, seen, pr.get("duration_s"))
                if m3 is not None:
                    if m is not None and m["uncertain_reason"] is not None:
                        why.append(f"flashes on audio: {m['uncertain_reason']}")
                    m = m3
            if m is None:
                why.append(f"flashes: {len(ft)} found, too few to match" if len(ft) < FLASH_ON_FLASH_MIN
                           else "flashes: no placed feed heard or saw enough to match them against")
            elif m["offset_s"] is not None and m["uncertain_reason"] is None:
                u = flash_link[0] if flash_link else _flash_uncertainty(m, fps, g, pr.get("duration_s"))
                out = {"path": paths[i], "offset_s": round(m["offset_s"], 6),
                       "drift_ppm": round(m["drift_ppm"], 3), "method": "visual-flash",
                       "confidence": round(min(m["confidence"] / 0.5, 1.0)
                                           * confidence(u, frame_s=frame_s_of(probes[ref], pr)), 3),
                       "uncertainty_ms": round(u.bound_s * 1e3, 2), "drift_ppm_uncertainty": None,
                       "evidence": m["evidence"] | {"audio": "; ".join(why),
                                                    "uncertainty": u.as_dict()}}
                if m.get("runner_up"):
                    out["runner_up"] = m["runner_up"]
                if flash_link:
                    out["chain"] = flash_link[1] + [paths[i]]
                return out
            else:
                why.append(f"flashes: {m['uncertain_reason']}")
    elif pr.get("video") is not None:
        why.append("flashes: fewer than 3 shots heard in placed feeds and no placed video")
    md = metadata_offset(probes[ref], pr) if probes[ref] else None
    if md is not None and md.offset_s is not None:
        u = Uncertainty(0.0, METADATA_UNCERTAINTY_S / 1.645, 0.0, 0.0, False)
        return {"path": paths[i], "offset_s": round(md.offset_s, 6), "drift_ppm": 0.0,
                "method": "metadata", "confidence": confidence(u, frame_s=frame_s_of(probes[ref], pr)),
                "uncertainty_ms": round(METADATA_UNCERTAINTY_S * 1e3, 1), "drift_ppm_uncertainty": None,
                "label": "placed by its tags only (camera clocks are often seconds off)",
                "evidence": md.evidence | {"why_not_better": "; ".join(why)}}
    why.append("metadata: " + (md.uncertain_reason if md else "no tags"))
    return _unplaced(paths[i], "; ".join(why))


def _pair_summary(e: SyncEstimate, other: str) -> dict[str, Any]:
    m = e.evidence.get("measurements", {})
    return {"with": other, "offset_s": None if e.offset_s is None else round(e.offset_s, 6),
            "drift_ppm": round(e.drift_ppm, 3), "confidence": e.confidence,
            "uncertain_reason": e.uncertain_reason,
            **{k: m.get(k) for k in ("overlap_s", "coarse_peak_ratio", "coarse_peak_z", "inlier_fraction",
                                     "fine_windows_with_peak", "source_lag_spread_ms", "drift_fitted",
                                     "line_from", "events_used", "event_sources", "events_span_s",
                                     "drift_ppm_uncertainty", "runner_up", "screen", "audio_minus_tags_s")
               if k in m},
            "uncertainty_ms": (m.get("uncertainty") or {}).get("uncertainty_ms")}


def _unplaced(path: str, reason: str) -> dict[str, Any]:
    return {"path": path, "offset_s": None, "drift_ppm": None, "method": None, "confidence": 0.0,
            "evidence": {"method": "none", "algorithm_version": ALGORITHM_VERSION, "measurements": {}},
            "reason": reason}


def _flash_uncertainty(m: Mapping[str, Any], fps: float, g: GlobalSync, duration_s: float | None = None) -> Uncertainty:
    """A flash placement's uncertainty: frame quantisation, the matches' scatter, and the audio
    placements the shot times came from (the worst placed feed's); muzzle-to-microphone travel is
    the sound-travel part (bounded by the scatter of the matches). Drift a volley cannot fit is
    bounded as audio's is (:data:`~media_core.sync.uncertainty.DRIFT_BOUND_PPM` from the matches
    to the feed's farther end, ``duration_s``).
    """
    n = max(1, int(m["evidence"]["measurements"].get("matched") or 1))
    rms = float(m["evidence"]["measurements"].get("residual_rms_ms") or 0.0) * 1e-3
    worst = max((u.sigma_s for u in g.uncertainty.values()), default=0.0)
    return Uncertainty(peak_s=(1.0 / fps) / math.sqrt(12.0) / math.sqrt(n), scatter_s=rms / math.sqrt(n),
                       drift_s=math.hypot(worst, _flash_drift_s(m, duration_s)), acoustic_s=rms,
                       drift_fitted=False)


def _flash_drift_s(m: Mapping[str, Any], duration_s: float | None) -> float:
    """The standard error a flash placement's unfitted drift adds at the feed's farther end."""
    from .uncertainty import DRIFT_BOUND_PPM, Z90

    pf = [p[0] for p in m.get("matches") or []]
    if not pf or not duration_s or m["evidence"]["measurements"].get("drift_fitted"):
        return 0.0   # drift fitted over matches spanning minutes: their scatter bounds it
    mid = 0.5 * (min(pf) + max(pf))
    return DRIFT_BOUND_PPM * 1e-6 / Z90 * max(abs(mid), abs(float(duration_s) - mid))


def _look_for_flashes(ids: Sequence[int], paths, flashes: dict, *, workers: int, should_stop: ShouldStop | None,
                      on_flashes: Callable[[int, list], None] | None, heard: Callable[[int, int], None]) -> None:
    """Detect the flashes of feeds ``ids`` into ``flashes`` (a list, or the MediaError that stopped
    it), several at a time (the decoder runs without the GIL); ``on_flashes`` hears found lists,
    ``heard(k, i)`` each finished feed.
    """
    def find(i):
        from media_core.analysis.flashes import detect_flashes

        check_cancel(should_stop, "sync")
        try:
            return detect_flashes(paths[i], should_stop=should_stop)
        except MediaError as exc:
            return exc

    def found(k: int, i: int, fl) -> None:
        heard(k, i)
        flashes[i] = fl
        if on_flashes is not None and isinstance(fl, list):
            on_flashes(i, fl)

    if ids:
        _each_on_pool(find, list(ids), found, workers=workers)


#: placed videos whose flashes a silent feed may have looked for (each is a decode of its video)
FLASH_SOURCES_LOOKED_AT = 4


class _PlacedFlashes:
    """The flashes of placed feeds with video, on the shared clock, for placing silent feeds.

    A source's flashes are looked for only when a silent feed needs them (and its tags, if both
    have them, do not say they cannot overlap), several at a time; found ones go to
    ``flashes`` and are heard by ``on_flashes`` (kept in the case: a re-sync decodes no video).
    """

    def __init__(self, paths, probes, flashes: dict, *, workers: int, should_stop: ShouldStop | None,
                 on_flashes: Callable[[int, list], None] | None, progress: Callable[[str], None]):
        self.paths, self.probes, self.flashes = paths, probes, flashes
        self.workers, self.should_stop, self.on_flashes, self.progress = workers, should_stop, on_flashes, progress
        self.sources: dict[int, tuple[Clock, Uncertainty, list]] = {}

    def add(self, j: int, clock: Clock, u: Uncertainty, chain: list) -> None:
        if self.probes[j].get("video") is not None:
            self.sources[j] = (clock, u, chain)

    def fps(self, j: int) -> float:
        return float((self.probes[j].get("video") or {}).get("avg_fps") or 30.0)

    def events(self, i: int, ft: Sequence[float], *, look: bool) -> tuple[list[float], list[int]]:
        """Shared-clock flash times of the sources that may overlap feed ``i`` (whose flashes are
        ``ft``, media time), with their source: those already known, and with ``look`` up to
        :data:`FLASH_SOURCES_LOOKED_AT` more looked for among those whose tags put them recording
        (within :data:`TAG_SPAN_MARGIN_S`) when ``i``'s tags put its flashes, the shortest first
        (least to decode).
        """
        span_i = _tag_span(self.probes[i])
        when = None if span_i is None or not len(ft) else (span_i[0] + min(ft), span_i[0] + max(ft))

        def may_overlap(j):
            sj = _tag_span(self.probes[j])
            return (span_i is None or sj is None
                    or (span_i[0] - TAG_SPAN_MARGIN_S < sj[1] and sj[0] - TAG_SPAN_MARGIN_S < span_i[1]))

        def covers(j):
            sj = _tag_span(self.probes[j])
            return (when is None or sj is None
                    or (sj[0] - TAG_SPAN_MARGIN_S < when[1] and when[0] < sj[1] + TAG_SPAN_MARGIN_S))

        use = [j for j in self.sources if j != i and may_overlap(j)]
        if look:
            unknown = sorted((j for j in use if j not in self.flashes and covers(j)),
                             key=lambda j: float(self.probes[j].get("duration_s") or 0.0))
            _look_for_flashes(unknown[:FLASH_SOURCES_LOOKED_AT], self.paths, self.flashes, workers=self.workers,
                              should_stop=self.should_stop, on_flashes=self.on_flashes,
                              heard=lambda k, j: self.progress(f"looked for flashes in {_name(self.paths[j])} "
                                                               f"(placed) for {_name(self.paths[i])}"))
        ev: list[tuple[float, int]] = []
        for j in use:
            fl = self.flashes.get(j)
            if isinstance(fl, list):
                c = self.sources[j][0]
                ev.extend((float(c.to_shared(float(f["time_s"]))), j) for f in fl)
        ev.sort()
        return [t for t, _ in ev], [j for _, j in ev]


#: a match on dense events (every onset of the placed feeds; the flashes of placed videos) needs
#: so many flashes on them (onsets: 6; flashes, sparser: 4), DENSE_MARGIN more than the runner-up
#: offset, and chance alone must be expected to match as many at no more than DENSE_CHANCE_OFFSETS
#: offsets of the whole search
ONSET_MIN_MATCHED = 6
FLASH_ON_FLASH_MIN = 4
DENSE_MARGIN = 2
DENSE_CHANCE_OFFSETS = 0.05


def _judge_dense(m: dict[str, Any], min_matched: int, what: str) -> bool:
    """Accept (or refuse, with the reason) a flash match against dense events by its margin."""
    mm = m["evidence"]["measurements"]
    if m["offset_s"] is None:
        return False
    best, second = int(mm.get("matched") or 0), int(mm.get("runner_up_matched") or 0)
    luck = float(mm.get("chance_offsets_as_good", 1.0))
    if best >= min_matched and best >= second + DENSE_MARGIN and luck <= DENSE_CHANCE_OFFSETS:
        m["uncertain_reason"] = None
        m["confidence"] = round(0.5 * (1.0 - 0.5 ** (best - second)), 3)
        return True
    m["uncertain_reason"] = (f"{best} of {mm.get('flashes')} flashes on {what}, runner-up {second}, chance "
                             f"would match as many at {luck:.3g} offsets (need {min_matched}, {DENSE_MARGIN} more "
                             f"than the runner-up, chance at <= {DENSE_CHANCE_OFFSETS:g})")
    return False


def _match_placed_flashes(i: int, ft: Sequence[float], fps: float, seen: _PlacedFlashes,
                          duration_s: float | None):
    """Feed ``i``'s flashes (media time) on the flashes placed videos saw: the match (or None when
    there are too few), and for a usable one (its :class:`Uncertainty`, the chain to the source).

    Both feeds quantise a flash to their frames (its time is the centre of the first frame showing
    it): the tolerance is half a frame of each (plus 2 ms). The
    uncertainty compounds the worst source's placement with the match's own: both frames'
    quantisation over the matches, their scatter, drift a volley cannot fit; light has no travel.
    """
    from media_core.analysis.flashes import match_flashes

    m = None
    for look in (False, True):   # the flashes already known first; looked for only if they fail
        ev_t, src = seen.events(i, ft, look=look)
        if len(ev_t) < 3:
            continue
        srcs = sorted(set(src))
        src_fps = min(seen.fps(j) for j in srcs)
        # a placement error shifts all the source's flashes alike: only quantisation spreads them
        m = match_flashes(ft, ev_t, fps=fps, tolerance_s=0.5 / fps + 0.5 / src_fps + 0.002)
        mm = m["evidence"]["measurements"]
        mm["matched_against"] = "flashes seen by placed videos"
        of_time = dict(zip(ev_t, src))
        used = sorted({of_time[b] for _, b in m["matches"] if b in of_time})
        mm["flash_sources"] = [_name(seen.paths[j]) for j in used]
        mm["videos_looked_at"] = len(srcs)
        if _judge_dense(m, FLASH_ON_FLASH_MIN, "flashes of placed videos"):
            break
    if m is None or m["uncertain_reason"] is not None:
        return m, None
    n = max(1, int(mm["matched"]))
    worst = max(used or srcs, key=lambda j: seen.sources[j][1].sigma_s)
    rms = float(mm.get("residual_rms_ms") or 0.0) * 1e-3
    own = Uncertainty(peak_s=math.hypot(1.0 / fps, 1.0 / seen.fps(worst)) / math.sqrt(12.0) / math.sqrt(n),
                      scatter_s=rms / math.sqrt(n), drift_s=_flash_drift_s(m, duration_s), acoustic_s=0.0,
                      drift_fitted=False)
    return m, (seen.sources[worst][1].compound(own), list(seen.sources[worst][2]))


#: beyond half a frame of quantisation, how far an onset may sit from its flash (onset timing,
#: travel differences within a volley)
ONSET_SPREAD_S = 0.015
#: onsets strong enough to stand for a shot the detector was unsure of (robust z of the envelope)
ONSET_Z_FOR_FLASHES = 12.0


def _shared_onsets(shots: Mapping[int, list], feats: "_FeatureBank",
                   clocks: Mapping[int, Clock]) -> list[float]:
    """Every impulsive onset of the placed feeds on the shared clock: all their shots (possible
    ones too) and the strong onsets of their sync features.
    """
    out: list[float] = []
    for i, c in clocks.items():
        for s_ in shots.get(i, []) or []:
            out.append(float(c.to_shared(float(s_["time_s"]))))
        if i in feats:
            out.extend(float(x) for x in c.to_shared(feats.onsets(i)))
    return sorted(out)


def _shared_shots(shots: Mapping[int, list], clocks: Mapping[int, Clock], paths) -> list[float]:
    """Incident-level shot times (shared clock) from the placed feeds' shots."""
    from media_core.analysis.incident_shots import match_incident_shots

    per_feed = {paths[i]: [dict(s) for s in shots.get(i, []) if s.get("confident", True)]
                for i in clocks}
    if not any(per_feed.values()):
        return []
    inc = match_incident_shots(per_feed, {paths[i]: clocks[i] for i in clocks})
    return [s["time_s"] for s in inc["shots"]]
