"""The uncertainty of a placement and its confidence (media_core.sync.uncertainty); the
calibration itself is a benchmark (benchmarks/bench_sync_calibration.py)."""
from __future__ import annotations

import math

import numpy as np
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


def test_each_line_has_its_constants_and_chains_through_flashes_or_tags_keep_the_general_ones():
    parts = (0.00002, 0.002, 0.003, 0.005, True)
    ev, win, gen = (U.Uncertainty(*parts, line=x) for x in ("events", "windows", ""))
    for u in (ev, win):
        k = U.LINE_CONSTANTS[u.line]
        st = math.sqrt((k.peak_scale * 0.00002) ** 2 + 0.002 ** 2 + 0.003 ** 2 + U.FLOOR_S ** 2)
        assert u.bound_s == pytest.approx(U.Z90 * k.sigma_scale * st + k.floor_s + k.acoustic_share * 0.005)
        # the confidence is at the stated sigma: the bound without its sound-travel share
        assert U.confidence(u, frame_s=1 / 30) == pytest.approx(
            math.erf((1 / 30) / (u.stated_sigma_s * math.sqrt(2))), abs=1e-3)
    assert gen.bound_s == pytest.approx(U.Z90 * U.SIGMA_SCALE * gen.sigma_s + U.ACOUSTIC_SHARE * 0.005)
    # the pairwise gate (whether a match is used, its weight) stays at the measured sigma
    assert U.gate_confidence(ev, frame_s=1 / 30) == U.confidence(gen, frame_s=1 / 30)
    assert U.ZERO.compound(ev).line == "events"
    assert ev.compound(win).line == "chain"
    assert ev.compound(U.Uncertainty(0.001, 0.0, 0.0, 0.0, False)).line == ""
    assert set(ev.as_dict()) >= {"line", "source_asymmetry_ms", "source_centre_sd_ms", "sources", "stated_sigma_ms"}


def test_sources_around_the_line_give_their_asymmetry():
    # three sources (onsets within 1.5 s are one source) at +2, +2 and -1 ms around the line
    lags = [[10.0, 1.002, 0.1], [10.5, 1.002, 0.1], [40.0, 1.002, 0.1], [80.0, 0.999, 0.1]]
    e = SyncEstimate(1.0, 0.0, 0.9, {"measurements": {"line_from": "events", "event_lags": lags}}, None,
                     sigma_s=0.001, u_mid_s=40.0, drift_sigma_ppm=1.0, acoustic_s=0.0015, span_s=(0.0, 90.0))
    u = U.of_estimate(e)
    assert u.line == "events" and u.n_sources == 3
    assert u.asym_s == pytest.approx(0.001, abs=1e-6)
    assert u.centre_sd_s == pytest.approx(float(np.std([0.002, 0.002, -0.001], ddof=1)) / math.sqrt(3), abs=1e-6)
