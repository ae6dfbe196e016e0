"""The clock is the centre of the sound-travel spread: that centre, and how far it can be off.

Each coherent source's lag between two cameras is the clock offset plus its travel-time
difference, which lies between ``-d / 343`` and ``+d / 343`` for cameras ``d`` m apart. Sources on
either side of the pair reach both ends, so the clock sits at the **centre** of the lags' spread,
not at their mean (:func:`spread_centre`: the midpoint of robust percentiles).

How far that centre can be off depends on how well both ends of the spread are sampled, which
neither the lags' scatter nor the spread's width says. :func:`bootstrap_centre_sd` measures it: the
centre is computed again over resamples of the windows (every peak of a window together, as one
window's sources are heard together), and its standard deviation is the centre's standard error.
"""
from __future__ import annotations

import numpy as np

#: resamples for :func:`bootstrap_centre_sd`
N_BOOT = 200
#: fewer windows than this: no bootstrap (the resamples cannot vary enough to mean anything)
MIN_GROUPS = 4


def spread_centre(res: np.ndarray, *, trim_from: int = 20) -> tuple[float, float, float]:
    """``(centre, low, high)`` of residual lags ``res``: the 10th and 90th percentiles when there
    are at least ``trim_from`` of them, else the extremes; the centre is their midpoint.
    """
    res = np.asarray(res, float)
    lo_q, hi_q = (10, 90) if res.size >= trim_from else (0, 100)
    lo, hi = np.percentile(res, [lo_q, hi_q])
    return float(0.5 * (lo + hi)), float(lo), float(hi)


def bootstrap_centre_sd(res: np.ndarray, groups: np.ndarray, *, n_boot: int = N_BOOT, seed: int = 0,
                        trim_from: int = 20) -> float:
    """The standard deviation of :func:`spread_centre` over resamples of ``groups`` (one label per
    residual, e.g. its window's time), drawn with replacement; ``nan`` with fewer than
    :data:`MIN_GROUPS` groups. Deterministic for a given ``seed``.
    """
    res = np.asarray(res, float)
    groups = np.asarray(groups)
    labels, inv = np.unique(groups, return_inverse=True)
    if labels.size < MIN_GROUPS:
        return float("nan")
    members = [res[inv == k] for k in range(labels.size)]
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot)
    for b in range(n_boot):
        pick = rng.integers(0, labels.size, labels.size)
        out[b] = spread_centre(np.concatenate([members[k] for k in pick]), trim_from=trim_from)[0]
    return float(np.std(out, ddof=1))
