"""Drift over short dense overlaps (media_core.sync.drift) and the centre of the sound-travel
spread with its bootstrap sd (media_core.sync.spread)."""
import math

import numpy as np
import pytest

from media_core.clock import Clock
from media_core.sync.drift import same_place_slope, short_span_drift, shrink_to_prior
from media_core.sync.spread import bootstrap_centre_sd, spread_centre

PRIOR = 150e-6 / 1.645


def _peaks(rng, *, slope, span=200.0, n=60, places=5, spread_s=0.015, noise_s=0.0002):
    """Peaks of ``places`` sources that keep their place (each its own travel lag), heard at random
    times over ``span`` s, the clock drifting by ``slope``."""
    lags = rng.uniform(-spread_s, spread_s, places)
    u = np.sort(rng.uniform(0, span, n))
    which = rng.integers(0, places, n)
    return u, 2.0 + slope * u + lags[which] + rng.normal(0, noise_s, n)


def test_the_slope_that_lines_up_same_place_peaks_is_the_drift():
    rng = np.random.default_rng(1)
    for true in (-120e-6, 0.0, 80e-6):
        u, lag = _peaks(rng, slope=true)
        s, support = same_place_slope(u, lag, 300e-6)
        assert abs(s - true) <= 3e-6
        assert support >= 10
        f = short_span_drift(u, lag, 300e-6, PRIOR)
        assert f is not None and abs(f.slope - true) <= 4e-6
        assert f.sd < 0.2 * PRIOR          # well measured: the prior hardly matters
        assert abs(f.slope - true) <= 3 * f.sd + 1e-6


def test_without_sources_that_keep_their_place_the_prior_keeps_the_drift():
    # every peak from a new place (cameras moving, no wearer's voice): nothing lines up
    rng = np.random.default_rng(2)
    u = np.sort(rng.uniform(0, 200, 40))
    lag = 2.0 + 100e-6 * u + rng.uniform(-0.015, 0.015, u.size)
    f = short_span_drift(u, lag, 300e-6, PRIOR)
    assert f is None or f.sd > 0.5 * PRIOR


def test_too_few_peaks_or_pairs_measure_nothing():
    assert short_span_drift(np.array([0.0, 30.0, 60.0]), np.zeros(3), 300e-6, PRIOR) is None
    assert same_place_slope(np.array([0.0, 1.0, 2.0, 3.0]), np.zeros(4), 300e-6) is None   # no pair 20 s apart


def test_shrinking_to_the_prior_is_the_normal_posterior():
    m, sd = shrink_to_prior(100e-6, PRIOR, PRIOR)
    assert m == pytest.approx(50e-6) and sd == pytest.approx(PRIOR / math.sqrt(2))
    m, sd = shrink_to_prior(100e-6, 1e-6, PRIOR)
    assert m == pytest.approx(100e-6, rel=1e-3) and sd == pytest.approx(1e-6, rel=1e-3)


def test_the_centre_is_the_middle_of_the_spread_not_the_mean():
    # a wearer who talks a lot sits at one end of the spread: the mean leans to it, the centre does not
    rng = np.random.default_rng(3)
    res = np.concatenate([np.full(60, -0.012), rng.uniform(-0.012, 0.012, 30), np.full(12, 0.012)])
    c, lo, hi = spread_centre(res + 0.5)
    assert abs(c - 0.5) < 0.001 and lo < hi
    assert abs(float(np.mean(res))) > 0.004


def test_the_centres_bootstrap_sd_grows_when_one_end_rests_on_few_windows():
    rng = np.random.default_rng(4)
    win = np.repeat(np.arange(30.0), 3)
    both = rng.choice([-0.01, 0.01], win.size) + rng.normal(0, 2e-4, win.size)
    one_end = np.where(win < 2, 0.01, rng.uniform(-0.01, 0.004, win.size))    # +10 ms heard in 2 windows only
    sd_both = bootstrap_centre_sd(both, win)
    sd_one = bootstrap_centre_sd(one_end, win)
    assert sd_both < 0.001 < sd_one
    assert bootstrap_centre_sd(both, win) == sd_both                         # deterministic
    assert math.isnan(bootstrap_centre_sd(both[:9], win[:9]))                  # 3 windows: no bootstrap


@pytest.mark.slow
def test_a_short_dense_pair_with_drift_is_placed_within_a_few_ms_over_its_whole_length():
    from media_core.sync import features_from_array
    from media_core.sync.pairwise import estimate_offset_features
    from media_core.sync.uncertainty import of_estimate
    from sample_media.sync_scenes import placement_error_s, sparse_pair

    sc = sparse_pair(5, duration_s=240.0, drift_ppm=130.0, distance_m=5.0, gap_s=(0.4, 2.5))
    a, b = sc["feeds"]
    est = estimate_offset_features(features_from_array(a["audio"], a["sr"]), features_from_array(b["audio"], b["sr"]))
    m = est.evidence["measurements"]
    assert m["line_from"] == "windows" and "short_span_drift" in m
    assert abs(est.drift_ppm - 130.0) <= 15.0
    err = placement_error_s(Clock(est.offset_s, est.drift_ppm), b, a)
    assert err <= 0.004                     # unfitted, 130 ppm over 240 s would leave ~15 ms at the ends
    assert err <= of_estimate(est).bound_s  # and the stated bound covers it
