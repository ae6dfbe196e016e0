"""Incident-level shots: one shot heard by several synced feeds counts once."""
from __future__ import annotations

import numpy as np
import pytest

from media_core.clock import Clock
from media_core.errors import ParameterError
from media_core.incident_shots import match_incident_shots


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
