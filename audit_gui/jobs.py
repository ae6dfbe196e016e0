"""Background jobs the app runs, written as plain functions over core calls (Qt-free).

Each job takes ``progress(fraction, message)``, ``should_stop()`` and ``emit_partial(obj)``
and returns plain data; the GUI thread stores it in the case. The same functions run
synchronously in tests (to check threaded == synchronous) and from scripts.
"""
from __future__ import annotations

import importlib

from media_core.analysis.envelope import ALGORITHM_VERSION as ENVELOPE_VERSION
from media_core.analysis.envelope import compute_envelope
from media_core.io.video import ALGORITHM_VERSION as INDEX_VERSION
from media_core.io.video import build_index

INDEX_ALGO = "video_index"
ENVELOPE_ALGO = "envelope"
ENVELOPE_PARAMS = {"step_s": 0.01}


def _noop(*_a, **_k):
    return False


def prepare_feed(path: str, *, want_index: bool = True, want_envelope: bool = True, progress=_noop,
                 should_stop=_noop, emit_partial=_noop) -> dict:
    """What the viewer needs of a feed: its video index and waveform envelope (as dicts)."""
    out: dict = {"path": path}
    if want_index:
        progress(0.1, "indexing video")
        try:
            out["video_index"] = build_index(path, should_stop=should_stop).to_dict()
        except Exception as exc:  # no video stream is fine for an audio-only feed
            out["video_index_error"] = str(exc)
    if should_stop():
        raise InterruptedError("cancelled")
    if want_envelope:
        progress(0.5, "waveform overview")
        env = compute_envelope(path, step_s=ENVELOPE_PARAMS["step_s"], should_stop=should_stop)
        out["envelope"] = env.to_dict() if env is not None else None
    progress(1.0, "ready")
    return out


def analysis_available() -> tuple[bool, bool]:
    """Whether the worker-safe analysis step and feature-based sync exist in this build."""
    def has(mod, fn):
        try:
            return hasattr(importlib.import_module(mod), fn)
        except ImportError:
            return False

    return has("media_core.pipeline", "compute_feed_analysis"), has("media_core.sync", "sync_features")


def analyze_feeds(feeds: list, *, sync_inputs: list[dict] | None = None, reference: str | None = None,
                  min_mute_s: float = 0.5, progress=_noop, should_stop=_noop, emit_partial=_noop) -> dict:
    """The compute half of :func:`media_core.pipeline.analyze_case` and ``sync_case``.

    Runs off the GUI thread (in the app: a child process) and never touches the case; the GUI
    thread stores what comes back with ``pipeline.store_feed_analysis`` / ``save_sync_features``
    and applies the sync document, so the CLI and the app keep identical results.

    Parameters
    ----------
    feeds : list of media_core.case.store.Feed
        Feeds to analyse (one decode each: mutes, shots, sync features, waveform envelope).
    sync_inputs : list of dict, optional
        Every feed of the case for sync: ``feed_id``, ``path``, ``probe``, ``has_audio``,
        ``features`` (cached SyncFeatures or None), ``shots``. None or fewer than two: no sync.

    Returns
    -------
    dict
        ``{"analysis": {feed_id: FeedAnalysis}, "sync": document or None, "errors": [str]}``.
        Pieces also go out as they finish through ``emit_partial``: ``("analysis", feed_id,
        FeedAnalysis)``, ``("features", feed_id, SyncFeatures)``, ``("sync", None, document)``,
        so a cancel keeps what was done.
    """
    from media_core.errors import MediaError
    from media_core.pipeline import compute_feed_analysis

    out: dict = {"analysis": {}, "sync": None, "errors": []}
    do_sync = bool(sync_inputs) and len(sync_inputs) > 1
    steps = max(1, len(feeds) + (1 if do_sync else 0))
    for k, feed in enumerate(feeds):
        if should_stop():
            raise InterruptedError("cancelled")

        def prog(x, k=k, name=feed.label):
            progress((k + min(max(float(x), 0.0), 1.0)) / steps, f"analysing {name}")

        try:
            fa = compute_feed_analysis(feed, min_mute_s=min_mute_s, progress=prog, should_stop=should_stop)
        except InterruptedError:
            raise
        except MediaError as exc:  # one bad feed never stops the others
            out["errors"].append(str(exc))
            continue
        except Exception as exc:  # an analysis bug on one feed: report it, go on with the others
            out["errors"].append(f"{feed.path}: analysis failed ({type(exc).__name__}: {exc})")
            continue
        if should_stop():
            raise InterruptedError("cancelled")
        out["analysis"][feed.id] = fa
        emit_partial(("analysis", feed.id, fa))
    if do_sync:
        from media_core.sync import features_from_file, sync_features

        n = len(feeds)
        prepared = []
        for entry in sync_inputs:
            if should_stop():
                raise InterruptedError("cancelled")
            e = {"path": entry["path"], "probe": entry["probe"], "features": entry.get("features")}
            fa = out["analysis"].get(entry["feed_id"])
            if fa is not None:
                e["features"] = fa.sync_features
                e["shots"] = fa.result.get("shots", [])
            elif entry.get("shots") is not None:
                e["shots"] = entry["shots"]
            if e["features"] is None and entry.get("has_audio"):
                progress(n / steps, f"reading {entry['path'].rsplit('/', 1)[-1]} for sync")
                try:
                    e["features"] = features_from_file(entry["path"])
                except MediaError as exc:
                    e["error"] = exc.problem
                else:
                    if e["features"] is not None:
                        emit_partial(("features", entry["feed_id"], e["features"]))
            prepared.append(e)
        progress(n / steps, "synchronising feeds")
        try:
            doc = sync_features(prepared, reference=reference,
                                progress=lambda x: progress((n + min(max(float(x), 0.0), 1.0)) / steps,
                                                            "synchronising feeds"))
        except Exception as exc:
            out["errors"].append(f"sync failed ({exc})")
        else:
            out["sync"] = doc
            emit_partial(("sync", None, doc))
    progress(1.0, "analysis finished")
    return out


def _fraction(args) -> float | None:
    """Accept the progress shapes the core uses: (fraction), (done, total) or (stage, done, total)."""
    nums = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
    if len(nums) >= 2 and nums[-1]:
        return max(0.0, min(1.0, float(nums[-2]) / float(nums[-1])))
    if len(nums) == 1 and 0.0 <= nums[0] <= 1.0:
        return float(nums[0])
    return None


def incident_shots_job(shots_by_feed: dict, clocks: dict, *, progress=_noop, should_stop=_noop,
                       emit_partial=_noop) -> dict:
    """Incident-level shots (shots heard by several feeds counted once) from inputs gathered on
    the GUI thread (the same inputs :func:`media_core.pipeline.incident_shots` reads from the case)."""
    from media_core.analysis.incident_shots import match_incident_shots

    return match_incident_shots(shots_by_feed, clocks)
