"""The uncertainty of a placement and its confidence (media_core.sync.uncertainty); the
calibration itself is a benchmark (benchmarks/bench_sync_calibration.py)."""
from __future__ import annotations

import math

import pytest

from media_core.sync import uncertainty as U
from media_core.sync.estimate import SyncEstimate


def test_confidence_is_the_probability_of_being_within_a_frame():
    tight = U.Uncertainty(0.0002, 0.002, 0.001, 0.008, True)
    loose = U.Uncertainty(0.0002, 0.030, 0.020, 0.008, True)
    assert U.confidence(tight, frame_s=1 / 30) > 0.99
    c = U.confidence(loose, frame_s=1 / 30)
    assert c == pytest.approx(math.erf((1 / 30) / (loose.sigma_s * math.sqrt(2))), abs=1e-3)
    assert U.confidence(tight, frame_s=1 / 30, p_correct=0.5) == pytest.approx(0.5, abs=0.01)


def test_bound_grows_with_every_part_and_compounds_along_a_chain():
    a = U.Uncertainty(0.0001, 0.002, 0.001, 0.005, True)
    assert a.bound_s > U.Uncertainty(0.0001, 0.001, 0.001, 0.005, True).bound_s
    assert a.bound_s > U.Uncertainty(0.0001, 0.002, 0.001, 0.0, True).bound_s
    ab = a.compound(a)
    assert a.bound_s < ab.bound_s < 2 * a.bound_s
    d = a.as_dict()
    assert set(d) >= {"peak_ms", "event_scatter_ms", "drift_ms", "acoustic_bound_ms", "uncertainty_ms"}


def test_unfitted_drift_is_bounded_over_the_whole_feed():
    e = SyncEstimate(1.0, 0.0, 0.9, {"measurements": {}}, None, sigma_s=0.001, u_mid_s=30.0,
                     drift_sigma_ppm=float("nan"), acoustic_s=0.004, span_s=(0.0, 600.0))
    u = U.of_estimate(e)
    assert not u.drift_fitted
    assert u.drift_s == pytest.approx(U.DRIFT_BOUND_PPM * 1e-6 / U.Z90 * 570.0)


def test_frame_of_the_slower_feed():
    assert U.frame_s_of({"video": {"avg_fps": 30.0}}, {"video": {"avg_fps": 15.0}}) == pytest.approx(1 / 15)
    assert U.frame_s_of({"video": None}, {}) == pytest.approx(1 / 30)
