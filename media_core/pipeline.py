"""Every case step, in one place: prepare, analyse, sync and count incident shots.

The CLI, the app and ``./run`` call these functions and nothing else (every GUI action is a core
call). Each step comes in two halves where the app needs to run the work off the GUI thread:

* a *compute* half that never touches the case (safe in a worker thread or a child process):
  :func:`compute_feed_analysis`, :func:`compute_preparation`, :func:`compute_sync`,
  :func:`compute_case_work`, :func:`compute_incident_shots`;
* a *store* half that writes the result into the case (on the thread that owns the case's views):
  :func:`store_feed_analysis`, :func:`store_preparation`, :func:`apply_sync_document`,
  :func:`store_incident_shots`.

The whole-case calls (:func:`prepare_feed`, :func:`analyze_feeds`, :func:`sync_case`,
:func:`incident_shots`) are the two halves in a row. Results are stored keyed by the file's
SHA-256, the algorithm version and the parameters, so a second run (or reopening the case, or
opening an ``analyze --case`` result in the app) decodes nothing.

Long calls follow :mod:`media_core.progress`: ``progress(fraction, message)`` and
``should_stop()``, which raises :class:`~media_core.errors.Cancelled`.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from media_core.case.store import Case, Feed
from media_core.clock import Clock
from media_core.errors import Cancelled, MediaCoreError, MediaError
from media_core.progress import Progress, ShouldStop, check_cancel, no_progress, sub_progress
from media_core.sync.features import StoredFeatures

ANALYSIS_ALGORITHM = "analysis"
SYNC_ALGORITHM = "sync"
ENVELOPE_ALGORITHM = "envelope"
INDEX_ALGORITHM = "video_index"
INCIDENT_ALGORITHM = "incident_shots"
FLASHES_ALGORITHM = "flashes"
ENVELOPE_PARAMS = {"step_s": 0.01}
CACHE_DIR = "cache"
# fields of an evidence-audit.sync/1 feed entry kept with the clock's evidence in the case
PLACEMENT_FIELDS = ("uncertainty_ms", "drift_ppm_uncertainty", "chain", "runner_up", "label")

__all__ = [
    "FeedAnalysis", "FeedPreparation", "analysis_params", "stored_analysis", "compute_feed_analysis",
    "store_feed_analysis", "preparation_needed", "compute_preparation", "store_preparation", "prepare_feed",
    "prepare_case", "analyze_feeds", "sync_inputs", "compute_sync", "apply_sync_document", "sync_case",
    "compute_case_work", "incident_inputs", "compute_incident_shots", "store_incident_shots",
    "stored_incident_shots", "incident_shots", "save_sync_features", "load_sync_features", "sub_progress",
]


# ============================================================================ analysis
def analysis_params(*, min_mute_s: float = 0.5, shots: bool = True) -> dict:
    """The parameters an analysis is stored under (the lookup key with the version)."""
    p: dict[str, Any] = {"min_mute_s": float(min_mute_s)}
    if not shots:
        p["shots"] = False
    return p


def analysis_version(*, shots: bool = True) -> str:
    """The version string of today's analysis algorithms (decode, mutes, shots with its model)."""
    from media_core.analysis.feed import analysis_version as _version

    return _version(mutes=True, shots=shots)


def stored_analysis(case: Case, feed_id: int, *, min_mute_s: float = 0.5, shots: bool = True) -> dict | None:
    """The analysis of this feed made by the current algorithms and parameters, if stored."""
    return case.get_analysis(feed_id, algorithm=ANALYSIS_ALGORITHM, version=analysis_version(shots=shots),
                             params=analysis_params(min_mute_s=min_mute_s, shots=shots))


@dataclass
class FeedAnalysis:
    """Everything one decode of a feed produced, before it is stored in the case.

    Made by :func:`compute_feed_analysis` (no case writes: safe in a worker) and stored by
    :func:`store_feed_analysis`.
    """

    feed_id: int
    result: dict
    version: str
    params: dict
    envelope: Any = None
    sync_features: Any = None


def compute_feed_analysis(feed: Feed, *, min_mute_s: float = 0.5, shots: bool = True,
                          progress: Progress | None = None, should_stop: ShouldStop | None = None) -> FeedAnalysis:
    """One decode of ``feed``: mutes and shots, plus its sync features and waveform envelope."""
    from media_core.analysis.envelope import EnvelopeListener
    from media_core.analysis.feed import analyze_feed
    from media_core.sync import SyncFeatureListener

    extras: dict[str, Any] = {}
    before = _identity_or_none(feed.path)
    res = analyze_feed(feed.path, shots=shots, min_mute_s=min_mute_s, progress=progress,
                       should_stop=should_stop, sha256=feed.sha256, extras=extras,
                       extra_listeners=[SyncFeatureListener(), EnvelopeListener(**ENVELOPE_PARAMS)])
    _same_bytes(feed, before, _identity_or_none(feed.path))
    return FeedAnalysis(feed_id=feed.id, result=res, version=analysis_version(shots=shots),
                        params=analysis_params(min_mute_s=min_mute_s, shots=shots),
                        envelope=extras.get("envelope") if res["has_audio"] else None,
                        sync_features=extras.get("sync"))


def _identity_or_none(path: str) -> dict | None:
    from media_core.case.store import file_identity

    try:
        return file_identity(path)
    except OSError:
        return None


def _same_bytes(feed: Feed, before: dict | None, after: dict | None) -> None:
    """Refuse a result when the file that was decoded may not be the one the case fingerprinted:
    its identity changed during the decode, or differs from when it was added (then re-hash).
    """
    if before is None or after is None or before != after:
        raise MediaError(feed.path, "changed while it was being analysed (still being copied, or replaced); "
                                    "nothing was stored -- analyse it again when it is complete")
    if feed.identity is not None and after != feed.identity:
        from media_core.io.hashing import sha256_file

        if sha256_file(feed.path) != feed.sha256:
            raise MediaError(feed.path, f"is not the file the case fingerprinted as feed {feed.id} (its SHA-256 "
                                        "changed); nothing was stored")


def store_feed_analysis(case: Case, fa: FeedAnalysis) -> None:
    """Keep a :class:`FeedAnalysis` in the case (results in SQLite, sync features in its cache).

    The feed's original is re-checked first (:meth:`Case.check_identity`): nothing is stored
    about a file whose bytes are no longer the ones fingerprinted.
    """
    from media_core.analysis.envelope import ALGORITHM_VERSION as ENVELOPE_VERSION

    case.check_identity(fa.feed_id)
    if fa.envelope is not None or case.feed(fa.feed_id).has_audio is False:
        env = fa.envelope.to_dict() if fa.envelope is not None else {"schema": None, "error": "no audio"}
        case.store_analysis(fa.feed_id, algorithm=ENVELOPE_ALGORITHM, version=ENVELOPE_VERSION,
                            params=ENVELOPE_PARAMS, result=env)
    if fa.sync_features is not None:
        save_sync_features(case, case.feed(fa.feed_id), fa.sync_features)
    # last: a stored analysis means the feed's whole decode is kept (a killed ingest resumes right)
    case.store_analysis(fa.feed_id, algorithm=ANALYSIS_ALGORITHM, version=fa.version, params=fa.params,
                        result=fa.result)


def analyze_feeds(case: Case, *, feed_ids: Sequence[int] | None = None, min_mute_s: float = 0.5,
                  shots: bool = True, force: bool = False, progress: Progress | None = None,
                  should_stop: ShouldStop | None = None) -> tuple[dict[int, dict], list[str]]:
    """Mute and gunshot analysis of the case's feeds (one decode per feed), stored in the case.

    Returns ``(results by feed id, error lines)``; a feed that fails is reported and skipped,
    the others are analysed. Feeds already analysed with the current version are not decoded.
    A cancel keeps the feeds already stored and raises :class:`Cancelled`.
    """
    report = progress or no_progress
    feeds = [f for f in case.feeds if feed_ids is None or f.id in feed_ids]
    results: dict[int, dict] = {}
    errors: list[str] = []
    for k, f in enumerate(feeds):
        check_cancel(should_stop, "analysis")
        cached = None if force else stored_analysis(case, f.id, min_mute_s=min_mute_s, shots=shots)
        if cached is not None:
            results[f.id] = cached
            report((k + 1) / len(feeds), f"{f.label}: analysis already in the case")
            continue
        try:
            fa = compute_feed_analysis(f, min_mute_s=min_mute_s, shots=shots, should_stop=should_stop,
                                       progress=sub_progress(report, k / len(feeds), (k + 1) / len(feeds),
                                                             f"analysing {f.label}"))
        except MediaError as exc:
            errors.append(str(exc))
            continue
        store_feed_analysis(case, fa)
        results[f.id] = fa.result
    report(1.0, "analysis done")
    return results, errors


# ============================================================================ preparation
@dataclass
class FeedPreparation:
    """What the viewer needs of a feed: its video index and its one analysis decode.

    ``video_index`` is the index as a dict (``{"schema": None, "error": ...}`` for a feed without
    video); ``analysis`` is None when the stored one was current.
    """

    feed_id: int
    video_index: dict | None = None
    analysis: FeedAnalysis | None = None
    #: a feed with video and no audio: its flashes (what sync places it by), or None
    flashes: dict | None = None


def stored_video_index(case: Case, feed_id: int) -> dict | None:
    """The stored video index of a feed made by today's indexer (or its "no video" record)."""
    from media_core.io.video import ALGORITHM_VERSION as INDEX_VERSION

    return case.get_analysis(feed_id, algorithm=INDEX_ALGORITHM, version=INDEX_VERSION)


def stored_envelope(case: Case, feed_id: int) -> dict | None:
    """The stored waveform envelope of a feed (or its "no audio" record)."""
    from media_core.analysis.envelope import ALGORITHM_VERSION as ENVELOPE_VERSION

    return case.get_analysis(feed_id, algorithm=ENVELOPE_ALGORITHM, version=ENVELOPE_VERSION)


def stored_flashes(case: Case, feed_id: int) -> dict | None:
    """The stored flashes of a feed made by today's detector (``{"flashes": [...]}`` or its error)."""
    from media_core.analysis.flashes import ALGORITHM_VERSION as FLASHES_VERSION

    return case.get_analysis(feed_id, algorithm=FLASHES_ALGORITHM, version=FLASHES_VERSION)


def _wants_flashes(feed: Feed) -> bool:
    """A feed with video and no audio is placed by its flashes: they are found while preparing it."""
    return bool(feed.has_video) and feed.has_audio is False


def preparation_needed(case: Case, feed: Feed, *, min_mute_s: float = 0.5) -> tuple[bool, bool]:
    """``(needs a video index, needs the analysis decode)`` for this feed (for a feed with video
    and no audio the analysis includes looking for its flashes).
    """
    need_index = stored_video_index(case, feed.id) is None
    need_analysis = (stored_analysis(case, feed.id, min_mute_s=min_mute_s) is None
                     or stored_envelope(case, feed.id) is None
                     or (_wants_flashes(feed) and stored_flashes(case, feed.id) is None))
    return need_index, need_analysis


def compute_preparation(feed: Feed, *, video_index: bool = True, analysis: bool = True,
                        min_mute_s: float = 0.5, progress: Progress | None = None,
                        should_stop: ShouldStop | None = None) -> FeedPreparation:
    """Index the video (packets only, no decoding) and run the feed's one analysis decode."""
    from media_core.io.video import build_index

    out = FeedPreparation(feed.id)
    split = 0.1 if analysis else 1.0
    if video_index:
        if feed.has_video:
            try:
                out.video_index = build_index(feed.path, should_stop=should_stop,
                                              progress=sub_progress(progress, 0.0, split, f"indexing {feed.label}")
                                              ).to_dict()
            except MediaError as exc:
                out.video_index = {"schema": None, "error": exc.problem}
        else:
            out.video_index = {"schema": None, "error": "no video"}
    if analysis:
        out.analysis = compute_feed_analysis(feed, min_mute_s=min_mute_s, should_stop=should_stop,
                                             progress=sub_progress(progress, split, 1.0, f"analysing {feed.label}"))
        if _wants_flashes(feed):
            out.flashes = compute_flashes(feed, should_stop=should_stop)
    return out


def compute_flashes(feed: Feed, *, should_stop: ShouldStop | None = None) -> dict:
    """The feed's flashes (:func:`media_core.analysis.flashes.detect_flashes`) as a storable record:
    ``{"flashes": [...]}``, or ``{"flashes": None, "error": ...}`` when its video cannot be read.
    """
    from media_core.analysis.flashes import detect_flashes

    try:
        return {"flashes": detect_flashes(feed.path, should_stop=should_stop)}
    except MediaError as exc:
        return {"flashes": None, "error": exc.problem}


def store_flashes(case: Case, feed_id: int, record: Mapping[str, Any]) -> None:
    """Keep a feed's flashes (:func:`compute_flashes`) in the case."""
    from media_core.analysis.flashes import ALGORITHM_VERSION as FLASHES_VERSION

    case.store_analysis(feed_id, algorithm=FLASHES_ALGORITHM, version=FLASHES_VERSION, params={},
                        result=dict(record))


def store_preparation(case: Case, prep: FeedPreparation) -> None:
    """Keep a :class:`FeedPreparation` in the case."""
    from media_core.io.video import ALGORITHM_VERSION as INDEX_VERSION

    if prep.video_index is not None:
        case.store_analysis(prep.feed_id, algorithm=INDEX_ALGORITHM, version=INDEX_VERSION, params={},
                            result=prep.video_index)
    if prep.flashes is not None:   # before the analysis, whose record marks the feed as prepared
        store_flashes(case, prep.feed_id, prep.flashes)
    if prep.analysis is not None:
        store_feed_analysis(case, prep.analysis)


def prepare_feed(case: Case, feed_id: int, *, min_mute_s: float = 0.5, force: bool = False,
                 progress: Progress | None = None, should_stop: ShouldStop | None = None) -> FeedPreparation:
    """Everything the app needs of one feed, computed once and stored: video index, analysis,
    waveform envelope and sync features (one decode). Does nothing that is already stored.
    """
    feed = case.feed(feed_id)
    need_index, need_analysis = (True, True) if force else preparation_needed(case, feed, min_mute_s=min_mute_s)
    prep = compute_preparation(feed, video_index=need_index, analysis=need_analysis, min_mute_s=min_mute_s,
                               progress=progress, should_stop=should_stop)
    store_preparation(case, prep)
    (progress or no_progress)(1.0, f"{feed.label} ready")
    return prep


def prepare_case(case: Case, *, feed_ids: Sequence[int] | None = None, min_mute_s: float = 0.5,
                 force: bool = False, progress: Progress | None = None,
                 should_stop: ShouldStop | None = None) -> list[str]:
    """:func:`prepare_feed` for every feed; returns the error lines of feeds that failed."""
    feeds = [f for f in case.feeds if feed_ids is None or f.id in feed_ids]
    errors: list[str] = []
    for k, f in enumerate(feeds):
        check_cancel(should_stop, "preparation")
        try:
            prepare_feed(case, f.id, min_mute_s=min_mute_s, force=force, should_stop=should_stop,
                         progress=sub_progress(progress, k / len(feeds), (k + 1) / len(feeds)))
        except MediaError as exc:
            errors.append(str(exc))
    (progress or no_progress)(1.0, "preparation done")
    return errors


# ============================================================================ sync
def sync_inputs(case: Case, *, fresh: Mapping[int, FeedAnalysis] | None = None,
                with_cached_features: bool = True) -> list[dict[str, Any]]:
    """What :func:`compute_sync` needs of every feed, read from the case (no decoding).

    Each entry: ``feed_id``, ``path``, ``probe``, ``has_audio``, ``features`` (the cached
    :class:`~media_core.sync.SyncFeatures` or None) and ``shots`` (stored, or None). ``fresh``
    analyses (not yet stored) take precedence.
    """
    fresh = fresh or {}
    out = []
    for f in case.feeds:
        fa = fresh.get(f.id)
        if fa is not None:
            feats, shots = fa.sync_features, fa.result.get("shots", [])
        else:
            res = case.get_analysis(f.id, algorithm=ANALYSIS_ALGORITHM)
            shots = res.get("shots", []) if res is not None else None
            feats = cached_sync_features(case, f) if f.has_audio and with_cached_features else None
        entry = {"feed_id": f.id, "path": f.path, "probe": f.probe, "has_audio": f.has_audio,
                 "features": feats, "shots": shots}
        fl = stored_flashes(case, f.id) if f.has_video else None
        if fl is not None and fl.get("flashes") is not None:
            entry["flashes"] = fl["flashes"]
        out.append(entry)
    return out


def compute_sync(inputs: Sequence[Mapping[str, Any]], *, reference: str | os.PathLike | None = None,
                 progress: Progress | None = None, should_stop: ShouldStop | None = None,
                 on_features: Callable[[int, Any], None] | None = None,
                 on_flashes: Callable[[int, dict], None] | None = None) -> dict[str, Any]:
    """The ``evidence-audit.sync/1`` document for :func:`sync_inputs` (no case writes).

    A feed with audio whose features are not cached is decoded once here; ``on_features(feed_id,
    features)`` hears of it so the caller can cache them. Flashes looked for here (feeds that
    audio could not place) are heard by ``on_flashes(feed_id, record)`` (see :func:`store_flashes`).
    """
    from media_core.sync import features_from_file, sync_features

    report = progress or no_progress
    prepared = []
    for k, entry in enumerate(inputs):
        check_cancel(should_stop, "sync")
        e: dict[str, Any] = {"path": entry["path"], "probe": entry["probe"], "features": entry.get("features")}
        if entry.get("shots") is not None:
            e["shots"] = entry["shots"]
        if entry.get("flashes") is not None:
            e["flashes"] = entry["flashes"]
        if e["features"] is None and entry.get("has_audio"):
            report(0.5 * k / len(inputs), f"reading {os.path.basename(entry['path'])} for sync")
            try:
                e["features"] = features_from_file(entry["path"], should_stop=should_stop)
            except MediaError as exc:
                e["error"] = exc.problem
            else:
                if e["features"] is not None and on_features is not None:
                    on_features(entry["feed_id"], e["features"])
        prepared.append(e)
    heard = None
    if on_flashes is not None:
        def heard(k: int, flashes: list) -> None:
            if inputs[k].get("feed_id") is not None:
                on_flashes(inputs[k]["feed_id"], {"flashes": flashes})
    doc = sync_features(prepared, reference=reference, should_stop=should_stop, on_flashes=heard,
                        progress=sub_progress(report, 0.5, 1.0, "synchronising feeds"))
    report(1.0, "sync done")
    return doc


def apply_sync_document(case: Case, doc: Mapping[str, Any]) -> None:
    """Put the case's feeds on the clocks of an ``evidence-audit.sync/1`` document.

    Sets the reference, stores each placed feed's clock with its method, confidence and evidence
    (manual nudges already in the case stay on top) and keeps the document with the reference.
    Feeds are matched by path; feeds the document could not place keep their clock. Each
    placed feed's original is re-checked first (:meth:`Case.check_identity`); a changed one
    raises :class:`~media_core.errors.IntegrityError` and nothing is stored.
    """
    by_path = {os.path.abspath(f.path): f for f in case.feeds}
    ref = by_path.get(os.path.abspath(doc["reference"])) if doc.get("reference") else None
    for entry in doc.get("feeds", []):  # every original re-checked before anything is stored
        f = by_path.get(os.path.abspath(entry["path"]))
        if f is not None and entry.get("offset_s") is not None:
            case.check_identity(f.id)
    if ref is not None and case.reference_feed_id != ref.id:
        case.reference_feed_id = ref.id
    for entry in doc.get("feeds", []):
        f = by_path.get(os.path.abspath(entry["path"]))
        if f is None or entry.get("offset_s") is None:
            continue
        evidence = dict(entry.get("evidence") or {})
        for k in PLACEMENT_FIELDS:  # the placement's own uncertainty travels with its evidence
            if entry.get(k) is not None:
                evidence[k] = entry[k]
        case.set_clock(f.id, Clock(entry["offset_s"], entry.get("drift_ppm") or 0.0),
                       method=entry.get("method") or "sync", confidence=float(entry.get("confidence") or 0.0),
                       evidence=evidence)
    if ref is not None:
        case.store_analysis(ref.id, algorithm=SYNC_ALGORITHM, version=doc.get("schema", ""), params={},
                            result=dict(doc))


def _reference_path(case: Case, reference_feed_id: int | None) -> str | None:
    ref_id = reference_feed_id if reference_feed_id is not None else case.reference_feed_id
    return case.feed(ref_id).path if ref_id is not None else None


def sync_case(case: Case, *, reference_feed_id: int | None = None, progress: Progress | None = None,
              should_stop: ShouldStop | None = None) -> dict[str, Any]:
    """Place every feed on the shared clock and store each feed's clock with its evidence.

    The reference is the given feed, else the case's reference, else the sync's own choice (the
    longest feed with usable audio). Manual nudges already in the case are kept on top. Incident
    shots are recounted on the new clocks. Returns the ``evidence-audit.sync/1`` document.
    """
    if not case.feeds:
        raise MediaCoreError(f"{case.path}: the case has no feeds to sync")
    doc = compute_sync(sync_inputs(case), reference=_reference_path(case, reference_feed_id),
                       progress=progress, should_stop=should_stop,
                       on_features=lambda fid, feats: save_sync_features(case, case.feed(fid), feats),
                       on_flashes=lambda fid, rec: store_flashes(case, fid, rec))
    apply_sync_document(case, doc)
    incident_shots(case)
    return doc


def compute_case_work(feeds: Sequence[Feed], *, sync: Sequence[Mapping[str, Any]] | None = None,
                      reference: str | None = None, video_index: Sequence[int] = (),
                      min_mute_s: float = 0.5, progress: Progress | None = None,
                      should_stop: ShouldStop | None = None,
                      emit: Callable[[tuple], None] | None = None) -> dict[str, Any]:
    """The compute half of :func:`prepare_feed`, :func:`analyze_feeds` and :func:`sync_case` for a
    worker (the app runs it in a child process). Never touches the case.

    Parameters
    ----------
    feeds : sequence of Feed
        Feeds to analyse (one decode each). Feeds whose id is in ``video_index`` are indexed too.
    sync : list of dict, optional
        :func:`sync_inputs` of the whole case; None or fewer than two feeds: no sync.
    emit : callable(item), optional
        Hears each piece as it finishes, so a cancel keeps what was done:
        ``("preparation", feed_id, FeedPreparation)``, ``("features", feed_id, SyncFeatures)``,
        ``("sync", None, document)``. Store them with :func:`store_preparation`,
        :func:`save_sync_features` and :func:`apply_sync_document`.

    Returns
    -------
    dict
        ``{"preparation": {feed_id: FeedPreparation}, "sync": document or None, "errors": [str]}``.
    """
    emit = emit or (lambda item: None)
    out: dict[str, Any] = {"preparation": {}, "sync": None, "errors": []}
    do_sync = sync is not None and len(sync) > 1
    steps = max(1, len(feeds) + (1 if do_sync else 0))
    want_index = set(video_index)
    for k, feed in enumerate(feeds):
        check_cancel(should_stop, "analysis")
        try:
            prep = compute_preparation(feed, video_index=feed.id in want_index, min_mute_s=min_mute_s,
                                       should_stop=should_stop,
                                       progress=sub_progress(progress, k / steps, (k + 1) / steps,
                                                             f"analysing {feed.label}"))
        except Cancelled:
            raise
        except MediaError as exc:  # one bad feed never stops the others
            out["errors"].append(str(exc))
            continue
        except Exception as exc:  # an analysis bug on one feed: report it, go on with the others
            out["errors"].append(f"{feed.path}: analysis failed ({type(exc).__name__}: {exc})")
            continue
        out["preparation"][feed.id] = prep
        emit(("preparation", feed.id, prep))
    if do_sync:
        fresh = {fid: p.analysis for fid, p in out["preparation"].items() if p.analysis is not None}
        inputs = []
        for entry in sync:
            fa = fresh.get(entry["feed_id"])
            if fa is not None:
                entry = {**entry, "features": fa.sync_features, "shots": fa.result.get("shots", [])}
            fl = (out["preparation"].get(entry["feed_id"]) or FeedPreparation(0)).flashes
            if fl is not None and fl.get("flashes") is not None:
                entry = {**entry, "flashes": fl["flashes"]}
            inputs.append(entry)
        try:
            doc = compute_sync(inputs, reference=reference, should_stop=should_stop,
                               progress=sub_progress(progress, len(feeds) / steps, 1.0),
                               on_features=lambda fid, feats: emit(("features", fid, feats)))
        except (Cancelled, MediaCoreError):
            raise
        except Exception as exc:
            out["errors"].append(f"sync failed ({type(exc).__name__}: {exc})")
        else:
            out["sync"] = doc
            emit(("sync", None, doc))
    (progress or no_progress)(1.0, "analysis finished")
    return out


# ============================================================================ incident shots
def incident_inputs(case: Case) -> dict[str, Any]:
    """What :func:`compute_incident_shots` needs, read from the case.

    Only feeds with audio that were placed on the shared clock (or are the reference) take part.
    Every stored shot is passed, possible ones too (they can support a shot heard confidently
    elsewhere), with each feed's live-audio coverage (its duration) and its stored mutes, so a
    feed that was muted or not recording is never expected to have heard a shot.
    """
    shots_by_feed, clocks, coverage, muted = {}, {}, {}, {}
    for f in case.feeds:
        res = case.get_analysis(f.id, algorithm=ANALYSIS_ALGORITHM)
        if not res or not f.has_audio:
            continue
        if case.sync_info(f.id) is None and f.id != case.reference_feed_id:
            continue
        shots_by_feed[f.label] = list(res.get("shots", []))
        clocks[f.label] = case.clock(f.id)
        duration = float(res.get("duration_s") or f.duration_s or 0.0)
        if duration > 0:
            coverage[f.label] = [(0.0, duration)]
        muted[f.label] = [(float(m["start_s"]), float(m["end_s"])) for m in res.get("mutes", [])]
    return {"shots_by_feed": shots_by_feed, "clocks": clocks, "coverage": coverage, "muted": muted}


def incident_key(inputs: Mapping[str, Any]) -> str:
    """A digest of :func:`incident_inputs` and the matcher's version: a stored count is current
    only while it matches.
    """
    from media_core.analysis.incident_shots import ALGORITHM_VERSION

    canon = {
        "version": ALGORITHM_VERSION,
        "shots": {k: [[s.get("time_s"), s.get("confidence")] for s in v] for k, v in inputs["shots_by_feed"].items()},
        "clocks": {k: [c.offset_s, c.drift_ppm] for k, c in inputs["clocks"].items()},
        "coverage": inputs["coverage"], "muted": inputs["muted"],
    }
    return hashlib.sha256(json.dumps(canon, sort_keys=True, default=float).encode()).hexdigest()


def compute_incident_shots(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Shots heard by several feeds matched into incident-level shots (no case writes).

    See :func:`media_core.analysis.incident_shots.match_incident_shots`; the result also carries
    ``inputs_sha256`` (:func:`incident_key`).
    """
    from media_core.analysis.incident_shots import match_incident_shots

    doc = match_incident_shots(inputs["shots_by_feed"], inputs["clocks"], coverage=inputs["coverage"],
                               muted=inputs["muted"])
    return {**doc, "inputs_sha256": incident_key(inputs)}


def _incident_owner(case: Case) -> int | None:
    ref = case.reference_feed_id
    if ref is not None:
        return ref
    feeds = case.feeds
    return feeds[0].id if feeds else None


def store_incident_shots(case: Case, doc: Mapping[str, Any]) -> None:
    """Keep an incident count in the case (with the reference feed, keyed by its inputs)."""
    from media_core.analysis.incident_shots import ALGORITHM_VERSION

    owner = _incident_owner(case)
    if owner is None:
        return
    case.store_analysis(owner, algorithm=INCIDENT_ALGORITHM, version=ALGORITHM_VERSION,
                        params={"inputs_sha256": doc.get("inputs_sha256")}, result=dict(doc))


def stored_incident_shots(case: Case, *, inputs: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The stored incident count, if it was made from the case's present shots and clocks."""
    from media_core.analysis.incident_shots import ALGORITHM_VERSION

    owner = _incident_owner(case)
    if owner is None:
        return None
    key = incident_key(inputs if inputs is not None else incident_inputs(case))
    return case.get_analysis(owner, algorithm=INCIDENT_ALGORITHM, version=ALGORITHM_VERSION,
                             params={"inputs_sha256": key})


def incident_shots(case: Case, *, store: bool = True) -> dict[str, Any]:
    """The incident-level shots of the case on its present clocks: the stored count when it is
    current, else computed now (and stored, unless ``store`` is False).
    """
    inputs = incident_inputs(case)
    doc = stored_incident_shots(case, inputs=inputs)
    if doc is None:
        doc = compute_incident_shots(inputs)
        if store and inputs["shots_by_feed"]:
            store_incident_shots(case, doc)
    return doc


# ============================================================================ derived-data cache
def _features_path(case: Case, feed: Feed) -> Path:
    from media_core.sync import ALGORITHM_VERSION

    tag = ALGORITHM_VERSION.replace("/", "-")
    return Path(case.path) / CACHE_DIR / f"{feed.sha256}.{tag}.npz"


def save_sync_features(case: Case, feed: Feed, feats) -> None:
    """Keep a feed's sync features next to the case (derived data, keyed by the file's SHA-256)."""
    from media_core.sync.features import save_features

    p = _features_path(case, feed)
    p.parent.mkdir(exist_ok=True)
    save_features(p, feats)


def load_sync_features(case: Case, feed: Feed):
    """The cached :class:`~media_core.sync.SyncFeatures` of a feed, or None (a damaged cache is
    recomputed, never trusted).
    """
    from media_core.sync.features import load_features

    return load_features(_features_path(case, feed), feed_path=feed.path)


class CachedSyncFeatures(StoredFeatures):
    """A feed's cached sync features, read only when sync needs them (a release's features never
    all sit in memory); a cache that cannot be read is replaced by decoding the feed again.
    Pickles as two paths (the app sends :func:`sync_inputs` to a child process).
    """

    def load(self):
        from media_core.sync import features_from_file

        f = super().load()
        return f if f is not None or not self.feed_path else features_from_file(self.feed_path)


def cached_sync_features(case: Case, feed: Feed) -> CachedSyncFeatures | None:
    """A :class:`CachedSyncFeatures` for the feed when its sync features are cached, else None."""
    p = _features_path(case, feed)
    return CachedSyncFeatures(str(p), feed.path) if p.is_file() else None
