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

    return has("media_core.analysis", "analyze_file"), has("media_core.sync", "sync_files")


def analyze_feeds(feeds: list[tuple[int, str]], *, reference: str | None = None, do_sync: bool = True,
                  progress=_noop, should_stop=_noop, emit_partial=_noop) -> dict:
    """Run mute/shot analysis on every feed, then cross-camera sync.

    Parameters
    ----------
    feeds : list of (feed_id, path)

    Returns
    -------
    dict
        ``{"analysis": {feed_id: result}, "sync": sync_result or None, "errors": [str]}``.
        Each finished feed is also sent through ``emit_partial(("analysis", feed_id, result))``
        so the GUI can store it at once (a cancel keeps what was done).
    """
    have_an, have_sync = analysis_available()
    out: dict = {"analysis": {}, "sync": None, "errors": []}
    n = max(1, len(feeds))
    steps = n + (1 if do_sync and have_sync and len(feeds) > 1 else 0)
    if have_an:
        from media_core.analysis import analyze_file

        for k, (fid, path) in enumerate(feeds):
            if should_stop():
                raise InterruptedError("cancelled")

            def prog(*a, k=k, path=path):
                f = _fraction(a)
                progress((k + (f if f is not None else 0.0)) / steps, f"analysing {path.rsplit('/', 1)[-1]}")

            try:
                res = analyze_file(path, progress=prog, should_stop=should_stop)
            except InterruptedError:
                raise
            except Exception as exc:
                out["errors"].append(f"{path}: analysis failed ({exc})")
                continue
            out["analysis"][fid] = res
            emit_partial(("analysis", fid, res))
    else:
        out["errors"].append("mute/shot analysis is not available in this build (media_core.analysis missing)")
    if do_sync and len(feeds) > 1:
        if have_sync:
            from media_core.sync import sync_files

            if should_stop():
                raise InterruptedError("cancelled")
            progress(n / steps, "syncing feeds")
            paths = [p for _, p in feeds]
            try:
                res = sync_files(paths, reference=reference,
                                 progress=lambda *a: progress((n + (_fraction(a) or 0.0)) / steps, "syncing feeds"))
            except InterruptedError:
                raise
            except Exception as exc:
                out["errors"].append(f"sync failed ({exc})")
            else:
                out["sync"] = res
                emit_partial(("sync", None, res))
        else:
            out["errors"].append("cross-camera sync is not available in this build (media_core.sync missing)")
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


def sync_to_clocks(sync_result: dict, feeds: list[tuple[int, str]]) -> list[tuple[int, float, float, str, float, dict]]:
    """Map a ``sync_files`` result onto feed ids: (feed_id, offset_s, drift_ppm, method, confidence, evidence)."""
    import os

    by_path = {os.path.abspath(p): fid for fid, p in feeds}
    rows = []
    for f in sync_result.get("feeds", []):
        fid = by_path.get(os.path.abspath(f["path"]))
        if fid is None:
            continue
        rows.append((fid, float(f.get("offset_s") or 0.0), float(f.get("drift_ppm") or 0.0),
                     str(f.get("method") or "sync"), float(f.get("confidence") or 0.0), f.get("evidence") or {}))
    return rows
