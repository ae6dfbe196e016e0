"""Analyse a feed's audio in one decode: mutes, quiet passages and (when available) gunshots.

:func:`analyze_file` returns the ``evidence-audit.analysis/1`` document for one feed;
:func:`analyze_feed` returns just the feed entry, so callers can gather several feeds into one
document (:func:`analysis_document`). Times are seconds on the file's own presentation timeline,
zero at the container's start, as a player shows them.

Contract (schema ``evidence-audit.analysis/1``)::

    {"schema": "evidence-audit.analysis/1",
     "feeds": [{"path": "...", "sha256": "...", "duration_s": 123.4, "has_audio": true,
                "mutes": [{"start_s", "end_s", "kind", "confidence", "evidence"}],
                "quiet": [{"start_s", "end_s", "kind", "confidence", "evidence"}],
                "shots": [{"time_s", "confidence", "evidence", ...}],
                "shot_count": 0, "volleys": []}]}
"""
from __future__ import annotations

import os
from typing import Any, Sequence

from media_core.analysis.mutes import ALGORITHM_VERSION as MUTES_VERSION
from media_core.analysis.mutes import MuteListener
from media_core.analysis.shot_model import load_model
from media_core.analysis.shots import ALGORITHM_VERSION as SHOTS_VERSION
from media_core.analysis.shots import ShotListener
from media_core.errors import ParameterError
from media_core.io.decode import DECODE_VERSION, run_listeners
from media_core.io.hashing import sha256_file
from media_core.progress import Progress, ShouldStop

SCHEMA = "evidence-audit.analysis/1"


def default_listeners(*, mutes: bool = True, shots: bool = True, min_mute_s: float = 0.5) -> list:
    """The listeners one ``analyze`` run attaches to the decode (add new analyses here)."""
    out: list = []
    if mutes:
        out.append(MuteListener(min_mute_s=min_mute_s))
    if shots:
        out.append(ShotListener())
    return out


def analysis_version(*, mutes: bool = True, shots: bool = True) -> str:
    """One version string naming every algorithm whose output is in the result."""
    parts = [SCHEMA, DECODE_VERSION]
    if mutes:
        parts.append(MUTES_VERSION)
    if shots:
        # a new model is a new algorithm: stored results of the old one are not reused
        parts.append(f"{SHOTS_VERSION}+model-{load_model().sha256[:12]}")
    return ";".join(parts)


def analyze_feed(path: str | os.PathLike, *, mutes: bool = True, shots: bool = True,
                 min_mute_s: float = 0.5, progress: Progress | None = None,
                 should_stop: ShouldStop | None = None, sha256: str | None = None,
                 extra_listeners: Sequence[Any] = (), extras: dict[str, Any] | None = None) -> dict[str, Any]:
    """Analyse one feed; return its entry of the ``feeds`` list.

    Parameters
    ----------
    path : path-like
        The media file (opened read-only, hashed with SHA-256).
    mutes, shots : bool
        Which analyses to run (both in the same decode).
    min_mute_s : float
        Shortest mute reported.
    progress : Progress, optional
        ``progress(fraction, message)`` while decoding (see :mod:`media_core.progress`).
    should_stop : callable() -> bool, optional
        Polled while decoding; True raises :class:`~media_core.errors.Cancelled`.
    sha256 : str, optional
        The file's digest if the caller already has it.
    extra_listeners : sequence of AudioListener
        More listeners for the same decode (sync features, waveform overview...).
    extras : dict, optional
        Filled with ``{listener.name: result}`` of ``extra_listeners``.

    Raises
    ------
    MediaError, NotMediaError
        The file is missing or not media (the message names it).
    """
    if not min_mute_s > 0:
        raise ParameterError(f"min_mute_s must be > 0 (got {min_mute_s})")
    path = os.fspath(path)
    listeners = default_listeners(mutes=mutes, shots=shots, min_mute_s=min_mute_s)
    res = run_listeners(path, listeners + list(extra_listeners), progress=progress, should_stop=should_stop)
    if extras is not None:
        extras.update({li.name: res.get(li.name) for li in extra_listeners})
    dec = res["_decode"]
    m = res.get("mutes") or {}
    s = res.get("shots") or {}
    return {
        "path": path,
        "sha256": sha256 or sha256_file(path),
        "duration_s": round(float(dec["end_s"] or 0.0), 6),
        "has_audio": dec["audio_stream"] is not None,
        "mutes": list(m.get("mutes", [])),
        "quiet": list(m.get("quiet", [])),
        "shots": list(s.get("shots", [])),
        "shot_count": int(s.get("shot_count", 0)),
        "volleys": list(s.get("volleys", [])),
    }


def analysis_document(feeds: list[dict[str, Any]]) -> dict[str, Any]:
    """Wrap feed entries in the versioned document."""
    return {"schema": SCHEMA, "feeds": list(feeds)}


def analyze_file(path: str | os.PathLike, *, mutes: bool = True, shots: bool = True,
                 min_mute_s: float = 0.5, progress: Progress | None = None,
                 should_stop: ShouldStop | None = None) -> dict[str, Any]:
    """The ``evidence-audit.analysis/1`` document for one feed (see :func:`analyze_feed`).

    Examples
    --------
    >>> doc = analyze_file("unit12.mp4")  # doctest: +SKIP
    >>> [(m["kind"], m["start_s"], m["end_s"]) for m in doc["feeds"][0]["mutes"]]  # doctest: +SKIP
    [('late-audio-start', 0.0, 30.0)]
    """
    return analysis_document([analyze_feed(path, mutes=mutes, shots=shots, min_mute_s=min_mute_s,
                                           progress=progress, should_stop=should_stop)])
