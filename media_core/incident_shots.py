"""Shots heard by several synced feeds, counted once: incident-level shots.

Once every feed is on the shared clock, a shot fired once appears in each feed that heard it, a
little later where the camera stood farther away (sound covers 40 m in about 117 ms). Detections
are merged feed by feed with an optimal one-to-one assignment (Hungarian algorithm): a feed
contributes at most one detection to each incident shot, and a detection joins an incident shot
only within ``tolerance_s``. Two shots fired 60 ms apart therefore stay two shots when a feed hears
both, however close the tolerance lets other feeds' detections come.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .clock import Clock
from .errors import ParameterError

ALGORITHM_VERSION = "incident-shots/1"
TOLERANCE_S = 0.12      # ~40 m of sound travel between cameras


def _as_shot(s: Any) -> dict[str, Any]:
    if isinstance(s, Mapping):
        if "time_s" not in s:
            raise ParameterError("a shot needs a 'time_s'")
        return {"time_s": float(s["time_s"]), "confidence": float(s.get("confidence", 1.0))}
    return {"time_s": float(s), "confidence": 1.0}


def match_incident_shots(shots_by_feed: Mapping[Any, Sequence[Any]], clocks: Mapping[Any, Clock] | None = None,
                         *, tolerance_s: float = TOLERANCE_S) -> dict[str, Any]:
    """Merge per-feed shot detections into incident-level shots.

    Parameters
    ----------
    shots_by_feed : mapping feed -> list of shots
        Each shot a dict with ``time_s`` (the feed's media time; ``confidence`` optional, as
        :func:`media_core.shots.detect_shots` returns) or a float.
    clocks : mapping feed -> Clock, optional
        Media -> shared time per feed (identity when missing).
    tolerance_s : float
        Largest gap between detections of one shot in different feeds.

    Returns
    -------
    dict
        ``shots``: list sorted by time of ``{"time_s" (earliest arrival, shared clock),
        "feeds", "detections": [{"feed", "time_s", "media_time_s", "confidence"}], "spread_ms",
        "confidence"}``; ``count``; ``per_feed_counts``; ``per_feed_spread`` ``{"min", "median",
        "max"}`` of per-feed counts; ``evidence``.
    """
    if tolerance_s <= 0:
        raise ParameterError(f"tolerance_s must be > 0 (got {tolerance_s})")
    clocks = clocks or {}
    dets: dict[Any, list[dict[str, Any]]] = {}
    for feed, lst in shots_by_feed.items():
        c = clocks.get(feed, Clock())
        d = []
        for s in lst:
            s = _as_shot(s)
            d.append({"feed": feed, "media_time_s": s["time_s"], "time_s": float(c.to_shared(s["time_s"])),
                      "confidence": s["confidence"]})
        dets[feed] = sorted(d, key=lambda x: x["time_s"])
    order = sorted(dets, key=lambda f: -len(dets[f]))
    incidents: list[list[dict[str, Any]]] = []
    for feed in order:
        incidents = _assign(incidents, dets[feed], tolerance_s)
    incidents.sort(key=lambda m: min(x["time_s"] for x in m))
    shots = []
    for members in incidents:
        ts = [m["time_s"] for m in members]
        conf = 1.0 - float(np.prod([1.0 - min(max(m["confidence"], 0.0), 1.0) for m in members]))
        shots.append({"time_s": round(min(ts), 6), "feeds": [m["feed"] for m in members],
                      "detections": [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in m.items()}
                                     for m in sorted(members, key=lambda m: m["time_s"])],
                      "spread_ms": round((max(ts) - min(ts)) * 1e3, 2), "confidence": round(conf, 3)})
    counts = {f: len(v) for f, v in dets.items()}
    vals = sorted(counts.values())
    spread = ({"min": vals[0], "median": float(np.median(vals)), "max": vals[-1]} if vals
              else {"min": 0, "median": 0.0, "max": 0})
    return {"shots": shots, "count": len(shots), "per_feed_counts": counts, "per_feed_spread": spread,
            "evidence": {"method": "cross-feed-assignment", "algorithm_version": ALGORITHM_VERSION,
                         "measurements": {"tolerance_s": tolerance_s, "feeds": len(dets)}}}


def _assign(incidents: list[list[dict]], det: list[dict], tol: float) -> list[list[dict]]:
    """Add one feed's detections: optimal one-to-one assignment, unmatched ones start incidents."""
    from scipy.optimize import linear_sum_assignment

    if not incidents:
        return [[d] for d in det]
    if not det:
        return incidents
    ti = np.array([float(np.median([m["time_s"] for m in inc])) for inc in incidents])
    td = np.array([d["time_s"] for d in det])
    I, D = ti.size, td.size
    BIG = 1e6
    cost = np.abs(ti[:, None] - td[None, :])
    cost[cost > tol] = BIG
    # augmented matrix: leaving an incident or a detection unmatched costs ``tol``
    top = np.hstack([cost, np.where(np.eye(I, dtype=bool), tol, BIG)])
    bot = np.hstack([np.where(np.eye(D, dtype=bool), tol, BIG), np.zeros((D, I))])
    rows, cols = linear_sum_assignment(np.vstack([top, bot]))
    out = [list(m) for m in incidents]
    used = set()
    for r, c in zip(rows, cols):
        if r < I and c < D and cost[r, c] < BIG:
            out[r].append(det[c])
            used.add(c)
    out.extend([d] for k, d in enumerate(det) if k not in used)
    return out
