"""The one clock: compose, inverse and relative_to obey their algebra; ppm and rates convert only here."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from media_core.clock import (
    IDENTITY,
    Clock,
    fraction_to_ppm,
    ppm_to_fraction,
    ppm_to_log_rate,
    ppm_to_rate,
    rate_to_ppm,
    seconds_to_ticks,
    ticks_to_seconds,
)

rng = np.random.default_rng(3)
CLOCKS = [Clock(float(o), float(d)) for o, d in zip(rng.uniform(-50, 50, 6), rng.uniform(-300, 300, 6))]
PAIRS = [(a, b) for a in CLOCKS[:3] for b in CLOCKS[3:]]
TIMES = np.array([0.0, 1.5, 60.0, 1800.0, -7.25])


@pytest.mark.parametrize("a,b", PAIRS)
def test_compose_is_applying_inner_then_outer(a, b):
    np.testing.assert_allclose(a.compose(b).to_shared(TIMES), a.to_shared(b.to_shared(TIMES)), atol=1e-9)
    # not commutative when both have offsets and drift
    assert abs(a.compose(b).offset_s - b.compose(a).offset_s) > 1e-9


@pytest.mark.parametrize("a,b", PAIRS)
def test_compose_is_associative(a, b):
    c = CLOCKS[0].nudged(0.3)
    np.testing.assert_allclose(a.compose(b).compose(c).to_shared(TIMES),
                               a.compose(b.compose(c)).to_shared(TIMES), atol=1e-9)


@pytest.mark.parametrize("c", CLOCKS)
def test_inverse_undoes_the_clock_both_ways(c):
    inv = c.inverse()
    np.testing.assert_allclose(inv.to_shared(c.to_shared(TIMES)), TIMES, atol=1e-9)
    np.testing.assert_allclose(c.compose(inv).to_shared(TIMES), TIMES, atol=1e-9)
    np.testing.assert_allclose(inv.compose(c).to_shared(TIMES), TIMES, atol=1e-9)
    np.testing.assert_allclose(inv.to_shared(TIMES), c.to_media(TIMES), atol=1e-9)
    assert inv.inverse().offset_s == pytest.approx(c.offset_s, abs=1e-9)
    assert inv.inverse().drift_ppm == pytest.approx(c.drift_ppm, abs=1e-6)
    assert inv.drift_ppm == pytest.approx(-c.drift_ppm, rel=1e-3)   # slow where c was fast


@pytest.mark.parametrize("a,b", PAIRS)
def test_relative_to_maps_one_feeds_media_time_onto_anothers(a, b):
    rel = a.relative_to(b)
    # a moment at a's media time t is at b's media time rel(t): both put it at the same shared time
    np.testing.assert_allclose(b.to_shared(rel.to_shared(TIMES)), a.to_shared(TIMES), atol=1e-9)
    np.testing.assert_allclose(rel.compose(b.relative_to(a)).to_shared(TIMES), TIMES, atol=1e-9)
    assert a.relative_to(a).offset_s == pytest.approx(0.0, abs=1e-12)
    assert a.relative_to(a).drift_ppm == pytest.approx(0.0, abs=1e-6)
    assert a.relative_to(IDENTITY).to_shared(2.0) == pytest.approx(a.to_shared(2.0), abs=1e-12)


def test_relative_to_known_answer():
    # b started 4 s after the reference and runs 100 ppm fast; the reference runs 50 ppm fast
    ref, b = Clock(10.0, 50.0), Clock(14.0, 100.0)
    rel = b.relative_to(ref)
    assert rel.offset_s == pytest.approx(4.0 / 1.00005, abs=1e-12)
    assert rel.drift_ppm == pytest.approx((1.0001 / 1.00005 - 1) * 1e6, abs=1e-6)


def test_shifted_media_counts_from_a_new_origin():
    c = Clock(3.0, 200.0)
    s = c.shifted_media(5.0)
    assert s.to_shared(0.0) == pytest.approx(c.to_shared(5.0), abs=1e-12)
    assert s.to_shared(7.0) == pytest.approx(c.to_shared(12.0), abs=1e-12)


@pytest.mark.parametrize("ppm", [0.0, 1.0, -55.0, 300.0, 1e4])
def test_ppm_rate_fraction_and_log_rate_round_trip(ppm):
    assert rate_to_ppm(ppm_to_rate(ppm)) == pytest.approx(ppm, abs=1e-7)
    assert fraction_to_ppm(ppm_to_fraction(ppm)) == pytest.approx(ppm, abs=1e-9)
    assert ppm_to_rate(ppm) - 1.0 == pytest.approx(ppm_to_fraction(ppm), abs=1e-15)
    assert np.exp(ppm_to_log_rate(ppm)) == pytest.approx(ppm_to_rate(ppm), rel=1e-15)
    assert Clock.from_rate(1.0, ppm_to_rate(ppm)).drift_ppm == pytest.approx(ppm, abs=1e-7)


@pytest.mark.parametrize("tb", [Fraction(1, 48000), Fraction(1, 90000), (1, 1000), 0.001])
def test_ticks_and_seconds(tb):
    assert ticks_to_seconds(96000, Fraction(1, 48000)) == 2.0
    for s in (0.0, 0.5, 3.25, 1800.0):
        t = seconds_to_ticks(s, tb)
        assert isinstance(t, int)
        assert ticks_to_seconds(t, tb) <= s + 1e-12 < ticks_to_seconds(t + 1, tb)
