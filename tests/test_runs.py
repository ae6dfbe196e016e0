"""Runs of True in a mask (media_core.runs): known answers and agreement with a plain loop."""
from __future__ import annotations

import numpy as np
import pytest

from media_core.runs import long_runs, runs


def _loop_runs(m):
    out, start = [], None
    for i, v in enumerate(list(m) + [False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i))
            start = None
    return out


@pytest.mark.parametrize("mask,expected", [
    ([], []),
    ([0, 0, 0], []),
    ([1, 1, 1], [(0, 3)]),
    ([1, 0, 1], [(0, 1), (2, 3)]),
    ([0, 1, 1, 0, 0, 1], [(1, 3), (5, 6)]),
])
def test_runs_known_answers(mask, expected):
    s, e = runs(np.array(mask, bool))
    assert list(zip(s.tolist(), e.tolist())) == expected
    assert s.dtype.kind == "i" and e.dtype.kind == "i"


def test_runs_and_long_runs_match_a_loop_on_random_masks():
    rng = np.random.default_rng(11)
    for _ in range(50):
        m = rng.random(int(rng.integers(0, 300))) < rng.uniform(0.1, 0.9)
        s, e = runs(m)
        assert list(zip(s.tolist(), e.tolist())) == _loop_runs(m)
        k = int(rng.integers(1, 6))
        want = np.zeros(m.size, bool)
        for a, b in _loop_runs(m):
            if b - a >= k:
                want[a:b] = True
        got = long_runs(m, k)
        assert got.dtype == bool and got.shape == m.shape
        np.testing.assert_array_equal(got, want)


def test_long_runs_does_not_change_its_input():
    m = np.array([1, 0, 1, 1, 1, 0, 1], bool)
    before = m.copy()
    np.testing.assert_array_equal(long_runs(m, 2), [0, 0, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(m, before)
    np.testing.assert_array_equal(long_runs(m, 1), m)
    assert not long_runs(m, 4).any()
