"""Incident-level shots: one shot heard by several synced feeds counts once."""
from __future__ import annotations

import numpy as np
import pytest

from media_core.analysis.incident_shots import match_incident_shots
from media_core.clock import Clock
from media_core.errors import ParameterError


def _heard(shots, pos, cam, clock, rng, miss=()):
    d = np.linalg.norm(np.asarray(pos) - cam, axis=1) / 343.0
    t = clock.to_media(np.asarray(shots) + d) + rng.normal(0, 0.001, len(shots))
    return [{"time_s": float(x), "confidence": 0.9} for k, x in enumerate(t) if k not in miss]


def test_three_cameras_one_count():
    rng = np.random.default_rng(0)
    shots = np.array([10.0, 10.06, 10.4, 11.2, 30.0])          # two 60 ms apart
    pos = rng.uniform(-10, 10, (shots.size, 2))
    cams = np.array([[0, 0], [12, 5], [-20, 8]], float)       # up to ~40 m apart
    clocks = {"A": Clock(0, 0), "B": Clock(-3.5, 50.0), "C": Clock(7.25, -20.0)}
    per = {k: _heard(shots, pos, cams[i], clocks[k], rng, miss=(4,) if k == "C" else ())
           for i, k in enumerate("ABC")}
    r = match_incident_shots(per, clocks)
    assert r["count"] == 5
    assert [len(s["feeds"]) for s in r["shots"]] == [3, 3, 3, 3, 2]
    for s, truth in zip(r["shots"], shots):
        assert truth <= s["time_s"] + 0.005 and s["time_s"] - truth < 0.12
        assert sorted(s["feeds"]) == sorted(set(s["feeds"]))   # one detection per feed
    assert r["per_feed_counts"] == {"A": 5, "B": 5, "C": 4}
    assert r["per_feed_spread"] == {"min": 4, "median": 5.0, "max": 5}


def test_close_shots_stay_distinct_and_far_detections_do_not_merge():
    per = {"A": [1.000, 1.060], "B": [1.100, 1.160], "C": [5.0]}
    r = match_incident_shots(per)
    assert r["count"] == 3
    assert r["shots"][0]["feeds"] == ["A", "B"] and r["shots"][0]["spread_ms"] == pytest.approx(100.0)
    assert r["shots"][2]["feeds"] == ["C"]


def test_confidence_combines_detections():
    r = match_incident_shots({"A": [{"time_s": 1.0, "confidence": 0.5}], "B": [{"time_s": 1.01, "confidence": 0.5}]})
    assert r["shots"][0]["confidence"] == pytest.approx(0.75)


def test_empty_and_bad():
    assert match_incident_shots({})["count"] == 0
    with pytest.raises(ParameterError, match="tolerance_s"):
        match_incident_shots({"A": [1.0]}, tolerance_s=0)
    with pytest.raises(ParameterError, match="time_s"):
        match_incident_shots({"A": [{"t": 1.0}]})


# ---------------------------------------------------------------------------- arrival-time consistency
LAGS = {"A": 0.0, "B": 0.040, "C": 0.095}                     # a shooter standing still: fixed lags
LEVELS = {"A": -8.0, "B": -6.0, "C": -10.0}                   # how loud each feed hears the shots
CLOCKS = {"A": Clock(0, 0), "B": Clock(-3.5, 50.0), "C": Clock(7.25, -20.0)}
TIMES = [10.0, 11.5, 13.0, 14.2, 16.0, 18.5]


def _feeds(times=TIMES, miss=None, extra=None, seed=1):
    """Per-feed detections (media clock) of shots fired at ``times`` (shared clock)."""
    rng = np.random.default_rng(seed)
    out = {}
    for f in "ABC":
        lst = [{"time_s": float(CLOCKS[f].to_media(t + LAGS[f] + rng.normal(0, 0.002))), "confidence": 0.9,
                "confident": True, "kind": "gunshot", "peak_dbfs": LEVELS[f] + float(rng.normal(0, 1))}
               for k, t in enumerate(times) if k not in (miss or {}).get(f, ())]
        for s in (extra or {}).get(f, ()):
            lst.append(dict(s, time_s=float(CLOCKS[f].to_media(s["time_s"]))))
        out[f] = lst
    return out


def test_three_feeds_at_consistent_lags_are_one_shot_each():
    r = match_incident_shots(_feeds(), CLOCKS)
    assert r["count"] == len(TIMES) and r["text"] == "6 (all confident)" and r["possible"] == 0
    for s, t in zip(r["shots"], TIMES):
        assert s["feeds"] == ["A", "B", "C"] and s["status"] == "multi_feed"
        assert s["time_s"] == pytest.approx(t, abs=0.008)
        assert s["evidence"]["lag_consistent"] is True
        assert s["evidence"]["lag_residual_ms"] < 12.0
        assert [d["feed"] for d in s["detections"]] == ["A", "B", "C"]
    lags = {tuple(x["feeds"]): x for x in r["lags"]}
    assert lags[("A", "B")]["lag_ms"] == pytest.approx(40.0, abs=3) and lags[("A", "B")]["n"] == 6
    assert lags[("A", "C")]["lag_ms"] == pytest.approx(95.0, abs=3)
    assert lags[("B", "C")]["lag_ms"] == pytest.approx(55.0, abs=3)
    assert r["heard_elsewhere"] == {"A": [], "B": [], "C": []}
    assert r["feed_counts"]["B"]["text"] == "6 (all confident)"


def test_a_lag_that_does_not_fit_is_flagged():
    per = _feeds()
    per["C"][2]["time_s"] += 0.07                             # 70 ms off C's usual lag, still within tolerance
    r = match_incident_shots(per, CLOCKS)
    bad = r["shots"][2]
    assert bad["feeds"] == ["A", "B", "C"] and bad["evidence"]["lag_consistent"] is False
    assert bad["evidence"]["lag_residual_ms"] == pytest.approx(70.0, abs=12)
    assert all(s["evidence"]["lag_consistent"] for k, s in enumerate(r["shots"]) if k != 2)


def test_possible_detection_at_the_consistent_lag_supports_a_confident_one():
    t = 20.0     # heard confidently by A only; B has a weak transient at its usual lag, C missed it
    extra = {"A": [{"time_s": t, "confidence": 0.8, "confident": True, "peak_dbfs": -8.0}],
             "B": [{"time_s": t + 0.041, "confidence": 0.3, "confident": False, "kind": "possible_gunshot",
                    "peak_dbfs": -30.0}]}
    r = match_incident_shots(_feeds(extra=extra), CLOCKS)
    s = r["shots"][-1]
    assert s["status"] == "supported" and s["feeds"] == ["A", "B"] and s["confident"]
    assert s["evidence"]["supporting_possible"] == ["B"]
    assert s["confidence"] == pytest.approx(1 - 0.2 * 0.7)
    assert r["count"] == 7 and r["possible"] == 0
    assert [e["incident"] for e in r["heard_elsewhere"]["C"]] == [6]
    # the same weak transient 60 ms off B's usual lag does not support it: A's shot stands alone
    # while B and C heard the neighbouring shots as loud -> handling noise, and B's is a possible
    extra["B"][0]["time_s"] = t + 0.100
    r = match_incident_shots(_feeds(extra=extra), CLOCKS)
    st = {s["feeds"][0]: s["status"] for s in r["shots"][-2:]}
    assert st == {"A": "single_feed_unsupported", "B": "possible"}


def test_transient_in_one_close_feed_only_is_unsupported():
    # A's microphone is knocked at 15 s: loud in A, nothing in B or C, who heard every shot around it
    extra = {"A": [{"time_s": 15.0, "confidence": 0.8, "confident": True, "peak_dbfs": -3.0}]}
    r = match_incident_shots(_feeds(extra=extra), CLOCKS)
    s = next(s for s in r["shots"] if s["time_s"] == pytest.approx(15.0, abs=1e-3))
    assert s["status"] == "single_feed_unsupported" and not s["confident"] and s["possible"]
    assert s["confidence"] == pytest.approx(0.4)
    assert s["evidence"]["shape_confidence"] == pytest.approx(0.8)
    assert [(c["feed"], c["should_have_heard"]) for c in s["evidence"]["other_feeds"]] == [("B", True), ("C", True)]
    assert r["count"] == 6 and r["possible"] == 1 and (r["low"], r["high"]) == (6, 7)
    assert r["text"] == "7 (6 confident, 1 possible)"
    assert r["feed_counts"]["A"]["text"] == "7 (all confident)"   # the feed alone cannot tell
    # not heard elsewhere: an unsupported transient is not listed as missed by B and C
    assert r["heard_elsewhere"] == {"A": [], "B": [], "C": []}


def test_single_feed_transient_stands_when_the_others_could_not_hear_it():
    extra = {"A": [{"time_s": 15.0, "confidence": 0.8, "confident": True, "peak_dbfs": -3.0}]}
    per = _feeds(extra=extra)
    # B and C muted around 15 s (their own media clocks): nobody else could have heard it
    muted = {f: [(CLOCKS[f].to_media(14.6), CLOCKS[f].to_media(15.6))] for f in "BC"}
    r = match_incident_shots(per, CLOCKS, muted=muted)
    s = next(s for s in r["shots"] if s["feeds"] == ["A"])
    assert s["status"] == "single_feed" and s["confident"] and s["confidence"] == pytest.approx(0.8)
    assert [c["covered"] for c in s["evidence"]["other_feeds"]] == [False, False]
    assert r["count"] == 7
    assert [(e["incident"], e["covered"]) for e in r["heard_elsewhere"]["B"]] == [(4, False)]
    # outside the others' live coverage: the same
    cov = {f: [(CLOCKS[f].to_media(0.0), CLOCKS[f].to_media(14.5))] for f in "BC"}
    assert match_incident_shots(per, CLOCKS, coverage=cov)["count"] == 7
    # far quieter in A than A's shots (a distant shot the others may not reach): shape decides
    quiet = {"A": [dict(extra["A"][0], peak_dbfs=-30.0)]}
    r = match_incident_shots(_feeds(extra=quiet), CLOCKS)
    s = next(s for s in r["shots"] if s["feeds"] == ["A"])
    assert s["status"] == "single_feed" and [c["loud_enough"] for c in s["evidence"]["other_feeds"]] == [False] * 2


def test_single_feed_keeps_the_shape_confidence():
    shots = [{"time_s": 1.0, "confidence": 0.9, "confident": True},
             {"time_s": 2.0, "confidence": 0.35, "confident": False},
             {"time_s": 3.0, "confidence": 0.1, "confident": False}]
    r = match_incident_shots({"A": shots})
    assert [(s["status"], s["confidence"]) for s in r["shots"]] == [("single_feed", 0.9), ("possible", 0.35)]
    assert r["count"] == 1 and r["possible"] == 1 and r["text"] == "2 (1 confident, 1 possible)"
    assert r["evidence"]["measurements"]["ignored_detections"] == 1
    assert r["shots"][0]["evidence"]["other_feeds"] == []


def test_heard_elsewhere_lists_a_miss_on_the_feeds_own_clock():
    r = match_incident_shots(_feeds(miss={"C": (3,)}), CLOCKS)
    assert r["count"] == 6 and r["shots"][3]["feeds"] == ["A", "B"]
    assert r["heard_elsewhere"]["A"] == [] and r["heard_elsewhere"]["B"] == []
    (e,) = r["heard_elsewhere"]["C"]
    assert e["incident"] == 3 and e["covered"] is True
    # expected where C would have heard it: the shot plus C's lag, on C's media clock
    assert e["media_time_s"] == pytest.approx(CLOCKS["C"].to_media(TIMES[3] + LAGS["C"]), abs=0.008)
    assert e["time_s"] == pytest.approx(TIMES[3] + LAGS["C"], abs=0.008)


def test_two_shots_60_ms_apart_stay_two_with_lags():
    r = match_incident_shots(_feeds(times=TIMES + [20.0, 20.06]), CLOCKS)
    assert r["count"] == 8
    a, b = r["shots"][-2:]
    assert a["feeds"] == b["feeds"] == ["A", "B", "C"]
    assert b["time_s"] - a["time_s"] == pytest.approx(0.06, abs=0.008)
    assert a["evidence"]["lag_consistent"] and b["evidence"]["lag_consistent"]


def test_empty_inputs_give_zero_counts():
    r = match_incident_shots({})
    assert (r["count"], r["possible"], r["low"], r["high"], r["text"]) == (0, 0, 0, 0, "0")
    assert r["shots"] == [] and r["heard_elsewhere"] == {} and r["feed_counts"] == {}
    r = match_incident_shots({"A": [], "B": []})
    assert r["count"] == 0 and r["per_feed_counts"] == {"A": 0, "B": 0}
    assert r["feed_counts"]["B"]["text"] == "0" and r["heard_elsewhere"] == {"A": [], "B": []}


@pytest.mark.parametrize("kw, match", [({"lag_tolerance_s": 0}, "lag_tolerance_s"),
                                       ({"min_lag_matches": 0}, "min_lag_matches"),
                                       ({"unsupported_factor": 2.0}, "unsupported_factor")])
def test_bad_options(kw, match):
    with pytest.raises(ParameterError, match=match):
        match_incident_shots({"A": [1.0]}, **kw)
