"""Case-level work: analyse every feed, put every feed on the shared clock, count incident shots.

These are the calls the CLI, the app and ``./run`` share (every GUI action is a core call).
Results are stored in the case keyed by the file's SHA-256, the algorithm version and the
parameters, so a second run (or reopening the case) does no decoding at all.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from media_core.case.store import Case
from media_core.clock import Clock
from media_core.errors import MediaCoreError, MediaError

ANALYSIS_ALGORITHM = "analysis"
SYNC_ALGORITHM = "sync"
ENVELOPE_ALGORITHM = "envelope"
ENVELOPE_PARAMS = {"step_s": 0.01}
CACHE_DIR = "cache"

Progress = Callable[[float, str], None]


def _noop(frac: float, msg: str) -> None:
    pass


def analysis_params(*, min_mute_s: float = 0.5) -> dict:
    return {"min_mute_s": float(min_mute_s)}


def stored_analysis(case: Case, feed_id: int, *, min_mute_s: float = 0.5) -> dict | None:
    """The analysis of this feed made by the current algorithms and parameters, if stored."""
    from media_core.analysis.feed import analysis_version

    return case.get_analysis(feed_id, algorithm=ANALYSIS_ALGORITHM, version=analysis_version(),
                             params=analysis_params(min_mute_s=min_mute_s))


@dataclass
class FeedAnalysis:
    """Everything one decode of a feed produced, before it is stored in the case.

    Made by :func:`compute_feed_analysis` (pure: no case writes, safe in a worker thread) and
    stored by :func:`store_feed_analysis` (on the thread that owns the case's views).
    """

    feed_id: int
    result: dict
    version: str
    params: dict
    envelope: Any = None
    sync_features: Any = None


def compute_feed_analysis(feed, *, min_mute_s: float = 0.5, progress: Callable[[float], None] | None = None,
                          should_stop: Callable[[], bool] | None = None) -> FeedAnalysis:
    """One decode of ``feed``: mutes and shots, plus what sync and the timeline need later."""
    from media_core.analysis.feed import analysis_version, analyze_feed
    from media_core.analysis.envelope import EnvelopeListener
    from media_core.sync import SyncFeatureListener

    extras: dict[str, Any] = {}
    res = analyze_feed(feed.path, min_mute_s=min_mute_s, progress=progress, should_stop=should_stop,
                       sha256=feed.sha256, extras=extras,
                       extra_listeners=[SyncFeatureListener(), EnvelopeListener(**ENVELOPE_PARAMS)])
    return FeedAnalysis(feed_id=feed.id, result=res, version=analysis_version(),
                        params=analysis_params(min_mute_s=min_mute_s), envelope=extras.get("envelope"),
                        sync_features=extras.get("sync"))


def store_feed_analysis(case: Case, fa: FeedAnalysis) -> None:
    """Keep a :class:`FeedAnalysis` in the case (results in SQLite, sync features in its cache)."""
    from media_core.analysis.envelope import ALGORITHM_VERSION as ENVELOPE_VERSION

    case.store_analysis(fa.feed_id, algorithm=ANALYSIS_ALGORITHM, version=fa.version, params=fa.params,
                        result=fa.result)
    if fa.envelope is not None:
        case.store_analysis(fa.feed_id, algorithm=ENVELOPE_ALGORITHM, version=ENVELOPE_VERSION,
                            params=ENVELOPE_PARAMS, result=fa.envelope.to_dict())
    if fa.sync_features is not None:
        save_sync_features(case, case.feed(fa.feed_id), fa.sync_features)


def analyze_case(
    case: Case,
    *,
    feed_ids: Sequence[int] | None = None,
    min_mute_s: float = 0.5,
    force: bool = False,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[dict[int, dict], list[str]]:
    """Mute and gunshot analysis of the case's feeds (one decode per feed), stored in the case.

    Returns ``(results by feed id, error lines)``; a feed that fails is reported and skipped,
    the others are analysed. Feeds already analysed with the current version are not decoded.
    """
    report = progress or _noop
    feeds = [f for f in case.feeds if feed_ids is None or f.id in feed_ids]
    results: dict[int, dict] = {}
    errors: list[str] = []
    for k, f in enumerate(feeds):
        if should_stop is not None and should_stop():
            raise InterruptedError("analysis cancelled")
        cached = None if force else stored_analysis(case, f.id, min_mute_s=min_mute_s)
        if cached is not None:
            results[f.id] = cached
            report((k + 1) / len(feeds), f"{f.label}: analysis already in the case")
            continue

        def prog(x: float, k=k, f=f) -> None:
            report((k + min(max(x, 0.0), 1.0)) / len(feeds), f"analysing {f.label}")

        try:
            fa = compute_feed_analysis(f, min_mute_s=min_mute_s, progress=prog, should_stop=should_stop)
        except MediaError as exc:
            errors.append(str(exc))
            continue
        store_feed_analysis(case, fa)
        results[f.id] = fa.result
    report(1.0, "analysis done")
    return results, errors


def sync_case(
    case: Case,
    *,
    reference_feed_id: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Place every feed on the shared clock and store each feed's clock with its evidence.

    The reference is the given feed, else the case's reference, else the sync's own choice (the
    longest feed with usable audio). Manual nudges already in the case are kept on top.
    Returns the ``evidence-audit.sync/1`` document.
    """
    from media_core.sync import features_from_file, sync_features

    report = progress or _noop
    feeds = case.feeds
    if not feeds:
        raise MediaCoreError(f"{case.path}: the case has no feeds to sync")
    ref_id = reference_feed_id if reference_feed_id is not None else case.reference_feed_id
    ref_path = case.feed(ref_id).path if ref_id is not None else None
    prepared = []
    for k, f in enumerate(feeds):
        entry: dict[str, Any] = {"path": f.path, "probe": f.probe, "features": None}
        res = case.get_analysis(f.id, algorithm=ANALYSIS_ALGORITHM)
        if res is not None:
            entry["shots"] = res.get("shots", [])
        if f.has_audio:
            feats = load_sync_features(case, f)
            if feats is None:  # analysed elsewhere (or before the cache existed): decode once now
                report(0.5 * k / len(feeds), f"reading {f.label} for sync")
                try:
                    feats = features_from_file(f.path)
                    if feats is not None:
                        save_sync_features(case, f, feats)
                except MediaError as exc:
                    entry["error"] = exc.problem
            entry["features"] = feats
        prepared.append(entry)
    doc = sync_features(prepared, reference=ref_path, progress=lambda x: report(0.5 + 0.5 * x, "synchronising feeds"))
    by_path = {os.path.abspath(f.path): f for f in feeds}
    ref_feed = by_path.get(os.path.abspath(doc["reference"])) if doc.get("reference") else None
    if ref_feed is not None and case.reference_feed_id != ref_feed.id:
        case.reference_feed_id = ref_feed.id
    for entry in doc["feeds"]:
        f = by_path.get(os.path.abspath(entry["path"]))
        if f is None or entry.get("offset_s") is None:
            continue
        ev = dict(entry.get("evidence") or {})
        case.set_clock(f.id, Clock(entry["offset_s"], entry.get("drift_ppm") or 0.0), method=entry["method"],
                       confidence=float(entry.get("confidence") or 0.0), evidence=ev)
    if ref_feed is not None:
        case.store_analysis(ref_feed.id, algorithm=SYNC_ALGORITHM, version=doc["schema"], params={}, result=doc)
    report(1.0, "sync done")
    return doc


def incident_shots(case: Case, *, min_confidence: float = 0.0) -> dict[str, Any]:
    """Shots heard by several feeds matched into incident-level shots on the shared clock.

    Uses the stored analyses and clocks (run :func:`analyze_case` and :func:`sync_case` first).
    Only feeds that were placed on the shared clock take part. Every stored shot with
    ``confidence >= min_confidence`` is passed, possible ones too (they can support a shot heard
    confidently elsewhere), with each feed's live-audio coverage (its duration) and its stored
    mutes, so a feed that was muted or not recording is never expected to have heard a shot.
    See :func:`media_core.analysis.incident_shots.match_incident_shots`.
    """
    from media_core.analysis.incident_shots import match_incident_shots

    shots_by_feed, clocks, coverage, muted = {}, {}, {}, {}
    for f in case.feeds:
        res = case.get_analysis(f.id, algorithm=ANALYSIS_ALGORITHM)
        if not res or not f.has_audio:
            continue
        if case.sync_info(f.id) is None and f.id != case.reference_feed_id:
            continue
        shots_by_feed[f.label] = [s for s in res.get("shots", []) if s.get("confidence", 1.0) >= min_confidence]
        clocks[f.label] = case.clock(f.id)
        duration = float(res.get("duration_s") or f.duration_s or 0.0)
        if duration > 0:
            coverage[f.label] = [(0.0, duration)]
        muted[f.label] = [(float(m["start_s"]), float(m["end_s"])) for m in res.get("mutes", [])]
    return match_incident_shots(shots_by_feed, clocks, coverage=coverage, muted=muted)


# ---------------------------------------------------------------------------- derived-data cache
def _features_path(case: Case, feed) -> "os.PathLike":
    from pathlib import Path

    from media_core.sync import ALGORITHM_VERSION

    tag = ALGORITHM_VERSION.replace("/", "-")
    return Path(case.path) / CACHE_DIR / f"{feed.sha256}.{tag}.npz"


def save_sync_features(case: Case, feed, feats) -> None:
    """Keep a feed's sync features next to the case (derived data, keyed by the file's SHA-256)."""
    import numpy as np

    p = _features_path(case, feed)
    p.parent.mkdir(exist_ok=True)
    tmp = p.with_suffix(".tmp.npz")
    np.savez(tmp, audio=feats.audio, feat=feats.feat, muted=feats.muted,
             meta=np.array([feats.sr, feats.start_s, feats.native_sr], dtype=np.float64))
    os.replace(tmp, p)


def load_sync_features(case: Case, feed):
    """The cached :class:`~media_core.sync.SyncFeatures` of a feed, or None."""
    import numpy as np

    from media_core.sync import SyncFeatures

    p = _features_path(case, feed)
    if not p.is_file():
        return None
    try:
        with np.load(p) as z:
            sr, start_s, native_sr = z["meta"].tolist()
            return SyncFeatures(path=feed.path, sr=sr, audio=z["audio"], start_s=start_s, feat=z["feat"],
                                muted=z["muted"], native_sr=int(native_sr))
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache is recomputed, never trusted
