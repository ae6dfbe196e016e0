"""Background jobs the app runs, written as plain functions over core calls (Qt-free).

Each job takes ``progress(fraction, message)``, ``should_stop()`` and ``emit_partial(obj)``
and returns plain data; the GUI thread stores it in the case. The same functions run
synchronously in tests (to check threaded == synchronous) and from scripts.
"""
from __future__ import annotations

import importlib

from media_core.envelope import ALGORITHM_VERSION as ENVELOPE_VERSION
from media_core.envelope import compute_envelope
from media_core.video import ALGORITHM_VERSION as INDEX_VERSION
from media_core.video import build_index

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
    """Whether media_core.analysis / media_core.sync exist in this build."""
    def has(mod, fn):
        try:
            return hasattr(importlib.import_module(mod), fn)
        except ImportError:
            return False

    return has("media_core.analysis", "analyze_feed"), has("media_core.sync", "sync_files")


def analyze_feeds(feeds: list[tuple[int, str, str | None]], *, sync_paths: list[str] | None = None,
                  reference: str | None = None, min_mute_s: float = 0.5,
                  progress=_noop, should_stop=_noop, emit_partial=_noop) -> dict:
    """Mute/shot analysis of the given feeds, then cross-camera sync of ``sync_paths``.

    The same core calls as :func:`media_core.pipeline.analyze_case` / ``sync_case``, minus the
    storing: this runs in a worker thread, and the GUI thread stores what it returns (under the
    pipeline's algorithm, version and parameters, so the CLI and the app share results).

    Parameters
    ----------
    feeds : list of (feed_id, path, sha256)
        Feeds to analyse (those without a current analysis).
    sync_paths : list of str, optional
        Every feed of the case, to put on one clock; None or fewer than two: no sync.

    Returns
    -------
    dict
        ``{"analysis": {feed_id: result}, "sync": sync document or None, "errors": [str]}``.
        Each finished feed also goes out through ``emit_partial(("analysis", feed_id, result))``
        so a cancel keeps what was done.
    """
    have_an, have_sync = analysis_available()
    out: dict = {"analysis": {}, "sync": None, "errors": []}
    do_sync = bool(sync_paths) and len(sync_paths) > 1
    steps = max(1, len(feeds) + (1 if do_sync else 0))
    if feeds and not have_an:
        out["errors"].append("mute/shot analysis is not available in this build")
    elif feeds:
        from media_core.analysis import analyze_feed

        for k, (fid, path, sha) in enumerate(feeds):
            if should_stop():
                raise InterruptedError("cancelled")
            name = path.rsplit("/", 1)[-1]

            def prog(x, k=k, name=name):
                progress((k + min(max(float(x), 0.0), 1.0)) / steps, f"analysing {name}")

            try:
                res = analyze_feed(path, min_mute_s=min_mute_s, progress=prog, should_stop=should_stop,
                                   sha256=sha)
            except InterruptedError:
                raise
            except Exception as exc:  # one bad feed never stops the others
                out["errors"].append(f"{name}: analysis failed ({exc})")
                continue
            if should_stop():
                raise InterruptedError("cancelled")
            out["analysis"][fid] = res
            emit_partial(("analysis", fid, res))
    if do_sync:
        if not have_sync:
            out["errors"].append("cross-camera sync is not available in this build")
        else:
            from media_core.sync import sync_files

            if should_stop():
                raise InterruptedError("cancelled")
            n = len(feeds)
            progress(n / steps, "synchronising feeds")
            try:
                doc = sync_files(sync_paths, reference=reference,
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
    from media_core.incident_shots import match_incident_shots

    return match_incident_shots(shots_by_feed, clocks)
