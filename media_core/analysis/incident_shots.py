"""Shots heard by several synced feeds, counted once, with arrival-time consistency.

Once every feed is on the shared clock, a shot fired once appears in each feed that heard it, a
little later where the camera stood farther away (sound covers 40 m in about 117 ms).

Matching
    Detections are merged feed by feed with an optimal one-to-one assignment (Hungarian
    algorithm): a feed contributes at most one detection to each incident shot, and a detection
    joins an incident shot only within ``tolerance_s``. Two shots fired 60 ms apart therefore
    stay two shots when a feed hears both, however close the tolerance lets other feeds'
    detections come.

Arrival-time consistency
    A first pass matches the *confident* detections. From the incident shots heard by two feeds
    it estimates, per pair of feeds, the typical inter-feed lag (median of the arrival
    differences, with its median absolute deviation) once at least ``min_lag_matches`` shots
    were heard by both. A second pass matches every detection, confident and *possible*
    (``confidence >= 0.2``), on times corrected by those lags. Each incident shot's evidence
    gives the residual of its detections' lags against the typical ones (``lag_residual_ms``)
    and whether they agree within ``lag_tolerance_s`` (or 3 robust standard deviations of the
    pair's lags, if larger). A possible detection joins an incident shot only at a consistent
    lag, and then *supports* it.

Single-feed transients
    A transient detected by one feed only, while another feed should have heard it, is more
    likely handling noise on a close microphone: status ``single_feed_unsupported``, confidence
    multiplied by ``unsupported_factor`` (and kept below the confident threshold), listed but not
    counted as confident. Feed B *should have heard* a transient in feed A when B was covering
    its expected arrival (inside B's ``coverage`` spans and outside its ``muted`` spans; without
    ``coverage``, between B's first and last detection), B confidently heard a shot that A also
    heard within ``context_s``, and the transient in A was at least as loud as those shots were
    in A, less ``level_margin_db`` (so it would have reached B about as loud as a shot B did
    detect). Without levels, the confident neighbouring shot alone decides. With a single feed,
    or when no other feed can be judged, the per-feed confidence (the shape) decides.

Counts
    ``count`` is the number of confident incident shots, ``possible`` the others with
    ``confidence >= 0.2``, and ``low``/``high``/``text`` read as in :mod:`media_core.analysis.shot_counts`.
    Shots missed by a feed but heard elsewhere are listed per feed in ``heard_elsewhere``.
"""
from __future__ import annotations

import bisect
import math
from typing import Any, Mapping, Sequence

import numpy as np

from media_core.analysis.shot_counts import CONFIDENT, POSSIBLE_MIN, counts, feed_count, is_confident
from media_core.clock import Clock
from media_core.errors import ParameterError

ALGORITHM_VERSION = "incident-shots/2"  # 2: arrival-time consistency, possible shots, unsupported single-feed
TOLERANCE_S = 0.12      # ~40 m of sound travel between cameras
LAG_TOLERANCE_S = 0.04  # ~14 m of path difference: how far a shot's lags may stray from the typical ones
MIN_LAG_MATCHES = 3     # shots heard by both feeds before their typical lag is trusted
CONTEXT_S = 30.0        # neighbouring shots this close in time tell whether a feed should have heard one
LEVEL_MARGIN_DB = 6.0
UNSUPPORTED_FACTOR = 0.5
_NEIGHBOURS = 3         # nearest neighbouring shots used for the level reference
_BELOW_CONFIDENT = round(CONFIDENT - 0.01, 3)

Span = tuple[float, float]


def _as_shot(s: Any) -> dict[str, Any]:
    if isinstance(s, Mapping):
        if "time_s" not in s:
            raise ParameterError("a shot needs a 'time_s'")
        out = {"time_s": float(s["time_s"]), "confidence": float(s.get("confidence", 1.0)),
               "confident": is_confident(s)}
        if s.get("peak_dbfs") is not None:
            out["peak_dbfs"] = float(s["peak_dbfs"])
        kind = s.get("kind", s.get("class"))
        if kind is not None:
            out["kind"] = kind
    else:
        out = {"time_s": float(s), "confidence": 1.0, "confident": True}
    if not math.isfinite(out["time_s"]):
        raise ParameterError(f"a shot's time_s must be finite (got {out['time_s']})")
    return out


def match_incident_shots(shots_by_feed: Mapping[Any, Sequence[Any]], clocks: Mapping[Any, Clock] | None = None,
                         *, tolerance_s: float = TOLERANCE_S,
                         coverage: Mapping[Any, Sequence[Span]] | None = None,
                         muted: Mapping[Any, Sequence[Span]] | None = None,
                         lag_tolerance_s: float = LAG_TOLERANCE_S, min_lag_matches: int = MIN_LAG_MATCHES,
                         context_s: float = CONTEXT_S, level_margin_db: float = LEVEL_MARGIN_DB,
                         unsupported_factor: float = UNSUPPORTED_FACTOR,
                         possible_min: float = POSSIBLE_MIN) -> dict[str, Any]:
    """Merge per-feed shot detections into incident-level shots, with counts and their uncertainty.

    Parameters
    ----------
    shots_by_feed : mapping feed -> list of shots
        Each shot a dict with ``time_s`` (the feed's media time) and optionally ``confidence``,
        ``confident``, ``peak_dbfs`` and ``kind``, as :func:`media_core.analysis.shots.detect_shots`
        returns them, or a bare time (a confident shot). Pass every shot, not only the confident
        ones: possible shots (not confident, ``confidence >= possible_min``) can support a
        confident one heard elsewhere. Weaker transients are ignored.
    clocks : mapping feed -> Clock, optional
        Media -> shared time per feed (identity when missing).
    tolerance_s : float
        Largest gap between detections of one shot in different feeds (after lag correction).
    coverage : mapping feed -> list of (start_s, end_s), optional
        Media-time spans where the feed had live audio. Without it a feed is taken to be
        covering the time between its first and last detection.
    muted : mapping feed -> list of (start_s, end_s), optional
        Media-time spans where the feed was muted or had a gap (subtracted from its coverage).
    lag_tolerance_s : float
        Least deviation from a pair's typical lag still counted consistent.
    min_lag_matches : int
        Confident shots two feeds must share before their typical lag is used.
    context_s : float
        How far (shared clock) neighbouring shots are looked for when judging whether a feed
        should have heard a single-feed transient.
    level_margin_db : float
        How much quieter than its neighbouring shots (in its own feed) a transient may be and
        still be expected in the other feeds.
    unsupported_factor : float
        Confidence multiplier of a ``single_feed_unsupported`` transient.
    possible_min : float
        Lowest confidence of a possible shot.

    Returns
    -------
    dict
        ``shots``: list sorted by time of ``{"time_s" (earliest arrival, shared clock),
        "feeds", "detections": [{"feed", "time_s", "media_time_s", "confidence", "confident",
        "peak_dbfs"?, "kind"?}], "spread_ms", "confidence", "confident", "possible", "status",
        "evidence"}`` where ``status`` is ``multi_feed`` (confident in two feeds or more),
        ``supported`` (confident in one, possible at a consistent lag in others),
        ``single_feed`` (one feed; no other feed should have heard it), ``possible`` or
        ``single_feed_unsupported``;
        ``count`` (confident incident shots), ``possible``, ``low``, ``high``, ``text``;
        ``per_feed_counts`` (confident shots per feed) and ``per_feed_spread`` ``{"min",
        "median", "max"}`` of them; ``feed_counts`` (:func:`media_core.analysis.shot_counts.feed_count`
        per feed); ``heard_elsewhere`` ``{feed: [{"incident", "time_s", "media_time_s",
        "covered"}]}`` (confident incident shots the feed has no detection of, at their expected
        arrival on its own media clock); ``lags`` (typical lag per pair of feeds); ``evidence``.

    Examples
    --------
    >>> r = match_incident_shots({"A": [1.0, 2.0], "B": [1.05, 2.05]})
    >>> r["count"], r["text"], r["shots"][0]["feeds"]
    (2, '2 (all confident)', ['A', 'B'])
    """
    if tolerance_s <= 0:
        raise ParameterError(f"tolerance_s must be > 0 (got {tolerance_s})")
    if lag_tolerance_s <= 0:
        raise ParameterError(f"lag_tolerance_s must be > 0 (got {lag_tolerance_s})")
    if min_lag_matches < 1:
        raise ParameterError(f"min_lag_matches must be >= 1 (got {min_lag_matches})")
    if not 0.0 <= unsupported_factor <= 1.0:
        raise ParameterError(f"unsupported_factor must be within [0, 1] (got {unsupported_factor})")
    clocks = clocks or {}
    feeds = list(shots_by_feed)
    rank = {f: k for k, f in enumerate(feeds)}
    dets: dict[Any, list[dict[str, Any]]] = {}
    ignored = 0
    for feed, lst in shots_by_feed.items():
        c = clocks.get(feed, Clock())
        d = []
        for s in lst:
            s = _as_shot(s)
            if not s["confident"] and s["confidence"] < possible_min:
                ignored += 1
                continue
            d.append({"feed": feed, "time_s": float(c.to_shared(s["time_s"])), "media_time_s": s["time_s"]}
                     | {k: v for k, v in s.items() if k != "time_s"})
        dets[feed] = sorted(d, key=lambda x: x["time_s"])
    n_conf = {f: sum(1 for x in v if x["confident"]) for f, v in dets.items()}
    order = sorted(feeds, key=lambda f: -n_conf[f])

    # pass 1: confident detections only -> typical lag per pair of feeds
    first: list[list[dict[str, Any]]] = []
    for feed in order:
        for x in dets[feed]:
            x["_c"] = x["time_s"]
        first = _assign(first, [x for x in dets[feed] if x["confident"]], tolerance_s)
    lags = _pair_lags(first, rank, min_lag_matches, tolerance_s, lag_tolerance_s)
    offset = _feed_offsets(feeds, lags)

    # pass 2: every detection, on lag-corrected times; a feed's confident detections go first
    incidents: list[list[dict[str, Any]]] = []
    for feed in order:
        for x in dets[feed]:
            x["_c"] = x["time_s"] - offset[feed]
        incidents = _assign(incidents, [x for x in dets[feed] if x["confident"]], tolerance_s)
        incidents = _assign(incidents, [x for x in dets[feed] if not x["confident"]], tolerance_s)
    incidents = _detach_inconsistent(incidents, lags, rank)
    incidents.sort(key=lambda m: (min(x["time_s"] for x in m), min(rank[x["feed"]] for x in m)))

    span = {f: (dets[f][0]["media_time_s"], dets[f][-1]["media_time_s"]) if dets[f] else None for f in feeds}

    def covered(feed: Any, media_s: float) -> bool:
        if any(a <= media_s < b for a, b in (muted or {}).get(feed, ())):
            return False
        if coverage is not None and feed in coverage:
            return any(a <= media_s <= b for a, b in coverage[feed])
        sp = span[feed]
        return sp is not None and sp[0] <= media_s <= sp[1]

    def expected(members: list[dict[str, Any]], feed: Any) -> float:
        """Expected arrival (shared clock) in ``feed`` from the members' lags to it."""
        est = [m["time_s"] + lg["lag_s"] if rank[m["feed"]] < rank[feed] else m["time_s"] - lg["lag_s"]
               for m in members if (lg := lags.get(_pair(m["feed"], feed, rank))) is not None]
        return float(np.median(est)) if est else min(m["time_s"] for m in members)

    starts = [min(m["time_s"] for m in inc) for inc in incidents]   # sorted, as the incidents are
    shots = []
    for members in incidents:
        members = sorted(members, key=lambda m: (m["time_s"], rank[m["feed"]]))
        shots.append(_describe(members, lags, rank, possible_min))
    for k, (members, shot) in enumerate(zip(incidents, shots)):
        if len(members) != 1:
            continue
        d = members[0]
        checks = []
        for feed in feeds:
            if feed == d["feed"]:
                continue
            t = expected(members, feed)
            media = float(clocks.get(feed, Clock()).to_media(t))
            checks.append(_should_have_heard(d, feed, media, covered(feed, media), incidents, starts, k,
                                             context_s, level_margin_db))
        shot["evidence"]["other_feeds"] = checks
        if any(c["should_have_heard"] for c in checks):
            shot["status"] = "single_feed_unsupported"
            shot["confident"] = False
            shot["confidence"] = round(min(d["confidence"] * unsupported_factor, _BELOW_CONFIDENT), 3)
            shot["possible"] = shot["confidence"] >= possible_min
            shot["evidence"]["shape_confidence"] = round(d["confidence"], 3)
    heard_elsewhere: dict[Any, list[dict[str, Any]]] = {f: [] for f in feeds}
    for k, (members, shot) in enumerate(zip(incidents, shots)):
        if not shot["confident"]:
            continue
        have = {m["feed"] for m in members}
        for feed in feeds:
            if feed in have:
                continue
            t = expected(members, feed)
            media = float(clocks.get(feed, Clock()).to_media(t))
            heard_elsewhere[feed].append({"incident": k, "time_s": round(t, 6), "media_time_s": round(media, 6),
                                          "covered": covered(feed, media)})
    n_count = sum(1 for s in shots if s["confident"])
    n_possible = sum(1 for s in shots if not s["confident"] and s["possible"])
    vals = sorted(n_conf.values())
    spread = ({"min": vals[0], "median": float(np.median(vals)), "max": vals[-1]} if vals
              else {"min": 0, "median": 0.0, "max": 0})
    lag_list = [{"feeds": [feeds[i], feeds[j]], "lag_ms": round(v["lag_s"] * 1e3, 2),
                 "mad_ms": round(v["mad_s"] * 1e3, 2), "tolerance_ms": round(v["tol_s"] * 1e3, 2), "n": v["n"]}
                for (i, j), v in sorted(lags.items())]
    return {"shots": shots, **counts(n_count, n_possible), "count": n_count,
            "per_feed_counts": n_conf, "per_feed_spread": spread,
            "feed_counts": {f: feed_count(shots_by_feed[f], possible_min=possible_min) for f in feeds},
            "heard_elsewhere": heard_elsewhere, "lags": lag_list,
            "evidence": {"method": "cross-feed-assignment+arrival-consistency", "algorithm_version": ALGORITHM_VERSION,
                         "measurements": {"tolerance_s": tolerance_s, "feeds": len(dets),
                                          "lag_tolerance_s": lag_tolerance_s, "min_lag_matches": min_lag_matches,
                                          "context_s": context_s, "level_margin_db": level_margin_db,
                                          "unsupported_factor": unsupported_factor, "possible_min": possible_min,
                                          "coverage_given": coverage is not None, "muted_given": muted is not None,
                                          "ignored_detections": ignored,
                                          "feed_offsets_ms": [[f, round(offset[f] * 1e3, 2)] for f in feeds]}}}


# ---------------------------------------------------------------------------- helpers
def _pair(a: Any, b: Any, rank: Mapping[Any, int]) -> tuple[int, int]:
    i, j = rank[a], rank[b]
    return (i, j) if i < j else (j, i)


def _lag_between(a: dict, b: dict, lags: Mapping, rank: Mapping) -> tuple[float, float] | None:
    """Residual (s) of ``b - a`` against the pair's typical lag, and the pair's tolerance; None if unknown."""
    lg = lags.get(_pair(a["feed"], b["feed"], rank))
    if lg is None:
        return None
    d = b["time_s"] - a["time_s"]
    if rank[a["feed"]] > rank[b["feed"]]:
        d = -d
    return d - lg["lag_s"], lg["tol_s"]


def _pair_lags(incidents: list[list[dict]], rank: Mapping, min_n: int, tol: float, lag_tol: float) -> dict:
    """Typical lag (median), its MAD and tolerance per pair of feeds (indices, i < j) with >= min_n shots."""
    diffs: dict[tuple[int, int], list[float]] = {}
    for inc in incidents:
        by = sorted(inc, key=lambda m: rank[m["feed"]])
        for p in range(len(by)):
            for q in range(p + 1, len(by)):
                diffs.setdefault((rank[by[p]["feed"]], rank[by[q]["feed"]]), []).append(
                    by[q]["time_s"] - by[p]["time_s"])
    out = {}
    for key, v in diffs.items():
        if len(v) < min_n:
            continue
        a = np.asarray(v)
        med = float(np.median(a))
        mad = float(np.median(np.abs(a - med)))
        out[key] = {"lag_s": med, "mad_s": mad, "n": len(v), "tol_s": min(tol, max(lag_tol, 3 * 1.4826 * mad))}
    return out


def _feed_offsets(feeds: list, lags: Mapping) -> dict[Any, float]:
    """Per-feed arrival offsets o with o_j - o_i ~ lag(i, j) (least squares, minimum norm)."""
    if not lags:
        return {f: 0.0 for f in feeds}
    rows, rhs = [], []
    for (i, j), v in lags.items():
        w = math.sqrt(v["n"])
        r = np.zeros(len(feeds))
        r[i], r[j] = -w, w
        rows.append(r)
        rhs.append(w * v["lag_s"])
    o = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    return {f: float(o[k]) for k, f in enumerate(feeds)}


def _anchor(members: list[dict]) -> dict:
    return max(members, key=lambda m: (m["confident"], m["confidence"]))


def _detach_inconsistent(incidents: list[list[dict]], lags: Mapping, rank: Mapping) -> list[list[dict]]:
    """A possible detection stays in an incident shot only at a consistent lag to its anchor."""
    out = []
    for inc in incidents:
        if len(inc) == 1:
            out.append(inc)
            continue
        a = _anchor(inc)
        keep, loose = [], []
        for m in inc:
            r = None if m is a or m["confident"] else _lag_between(a, m, lags, rank)
            (loose if r is not None and abs(r[0]) > r[1] else keep).append(m)
        out.append(keep)
        out.extend([m] for m in loose)
    return out


def _noisy_or(members: list[dict]) -> float:
    return 1.0 - float(np.prod([1.0 - min(max(m["confidence"], 0.0), 1.0) for m in members]))


def _describe(members: list[dict], lags: Mapping, rank: Mapping, possible_min: float) -> dict[str, Any]:
    """One incident shot before the single-feed check: status, confidence, lag residuals."""
    conf = [m for m in members if m["confident"]]
    poss = [m for m in members if not m["confident"]]
    pair_res = []
    ok = True
    for p in range(len(members)):
        for q in range(p + 1, len(members)):
            r = _lag_between(members[p], members[q], lags, rank)
            if r is not None:
                pair_res.append({"feeds": [members[p]["feed"], members[q]["feed"]], "residual_ms": round(r[0] * 1e3, 2),
                                 "tolerance_ms": round(r[1] * 1e3, 2)})
                ok = ok and abs(r[0]) <= r[1]
    worst = max((abs(x["residual_ms"]) for x in pair_res), default=None)
    if len(conf) >= 2:
        status, c = "multi_feed", _noisy_or(members)
    elif len(conf) == 1:
        status, c = ("supported" if poss else "single_feed"), _noisy_or(members)
    else:   # cross-feed agreement tells that and when a sound happened, not that it was a shot
        status, c = "possible", min(_noisy_or(members), _BELOW_CONFIDENT)
    ts = [m["time_s"] for m in members]
    dets = [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in m.items() if not k.startswith("_")}
            for m in members]
    return {"time_s": round(min(ts), 6), "feeds": [m["feed"] for m in members], "detections": dets,
            "spread_ms": round((max(ts) - min(ts)) * 1e3, 2), "confidence": round(c, 3),
            "confident": bool(conf), "possible": bool(not conf and c >= possible_min), "status": status,
            "evidence": {"lag_residual_ms": worst, "lag_consistent": ok if pair_res else None,
                         "pair_residuals_ms": pair_res,
                         "confident_feeds": [m["feed"] for m in conf],
                         "supporting_possible": [m["feed"] for m in poss] if conf else []}}


def _should_have_heard(d: dict, feed: Any, media_s: float, is_covered: bool, incidents: list[list[dict]],
                       starts: list[float], k: int, context_s: float, margin_db: float) -> dict[str, Any]:
    """Whether ``feed`` should have heard the single-feed transient ``d`` (incident ``k``)."""
    near = []
    lo = bisect.bisect_left(starts, d["time_s"] - context_s)
    hi = bisect.bisect_right(starts, d["time_s"] + context_s)
    for j in range(lo, hi):
        inc = incidents[j]
        if j == k:
            continue
        own = next((m for m in inc if m["feed"] == d["feed"]), None)
        other = next((m for m in inc if m["feed"] == feed and m["confident"]), None)
        if own is not None and other is not None:
            near.append((abs(own["time_s"] - d["time_s"]), own, other))
    near = sorted(near, key=lambda x: x[0])[:_NEIGHBOURS]
    out: dict[str, Any] = {"feed": feed, "media_time_s": round(media_s, 6), "covered": is_covered,
                           "neighbouring_shots": len(near)}
    loud = bool(near)
    if near and "peak_dbfs" in d and all("peak_dbfs" in o for _, o, _ in near):
        ref = float(np.median([o["peak_dbfs"] for _, o, _ in near]))
        out["neighbour_peak_dbfs_here"] = round(ref, 2)
        if all("peak_dbfs" in x for _, _, x in near):
            gain = float(np.median([x["peak_dbfs"] - o["peak_dbfs"] for _, o, x in near]))
            out["predicted_peak_dbfs_there"] = round(d["peak_dbfs"] + gain, 2)
        loud = d["peak_dbfs"] >= ref - margin_db
    out["loud_enough"] = loud
    out["should_have_heard"] = bool(is_covered and loud)
    return out


def _centre(inc: list[dict]) -> float:
    """An incident shot's lag-corrected time: median over its confident detections (else all)."""
    conf = [m["_c"] for m in inc if m["confident"]]
    return float(np.median(conf or [m["_c"] for m in inc]))


def _assign(incidents: list[list[dict]], det: list[dict], tol: float) -> list[list[dict]]:
    """Add detections of one feed: optimal one-to-one assignment on lag-corrected times (``_c``).

    Incident shots that already hold a detection of this feed are not candidates; a detection
    left unmatched starts an incident shot of its own.
    """
    if not det:
        return incidents
    feed = det[0]["feed"]
    cand = [k for k, inc in enumerate(incidents) if all(m["feed"] != feed for m in inc)]
    if not cand:
        return incidents + [[d] for d in det]
    ti = np.array([_centre(incidents[k]) for k in cand])
    td = np.array([d["_c"] for d in det])
    # independent blocks: incident shots and detections chained by gaps <= tol
    t_all = np.concatenate([ti, td])
    idx = np.argsort(t_all, kind="stable")
    cuts = np.flatnonzero(np.diff(t_all[idx]) > tol) + 1
    pairs = []
    for block in np.split(idx, cuts):
        bi = block[block < ti.size]
        bd = block[block >= ti.size] - ti.size
        if bi.size and bd.size:
            pairs += [(int(bi[r]), int(bd[c])) for r, c in _solve(ti[bi], td[bd], tol)]
    out = [list(m) for m in incidents]
    used = set()
    for r, c in pairs:
        out[cand[r]].append(det[c])
        used.add(c)
    out.extend([d] for k, d in enumerate(det) if k not in used)
    return out


def _solve(ti: np.ndarray, td: np.ndarray, tol: float) -> list[tuple[int, int]]:
    """Optimal one-to-one matches (within ``tol``) of incident times ``ti`` and detection times ``td``."""
    from scipy.optimize import linear_sum_assignment

    I, D = ti.size, td.size
    BIG = 1e6
    cost = np.abs(ti[:, None] - td[None, :])
    cost[cost > tol] = BIG
    # augmented matrix: leaving an incident or a detection unmatched costs ``tol``
    top = np.hstack([cost, np.where(np.eye(I, dtype=bool), tol, BIG)])
    bot = np.hstack([np.where(np.eye(D, dtype=bool), tol, BIG), np.zeros((D, I))])
    rows, cols = linear_sum_assignment(np.vstack([top, bot]))
    return [(r, c) for r, c in zip(rows, cols) if r < I and c < D and cost[r, c] < BIG]
