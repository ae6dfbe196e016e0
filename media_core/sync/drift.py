"""Drift over short dense overlaps, from sources that keep their place.

Over a few minutes a clock drift of 100 ppm moves the lag by tens of ms, and so does sound travel:
a source ``d`` m nearer one camera is heard ``d / 343`` s earlier there. A line fitted through the
windows' lags cannot tell the two apart over a short overlap. But a source that keeps its place
relative to both cameras (a wearer's voice, a radio on the dash, a siren on a parked car) keeps
its sound-travel lag: pairs of its peaks far apart in time differ only by the drift. So the drift
is the slope that makes the most pairs of peaks line up (:func:`same_place_slope`: every pair
votes with a Gaussian of the lag precision, over a grid of slopes).

How far that slope can be off is measured, not assumed: a bootstrap over the windows
(:func:`bootstrap_sd`; a slope that few pairs fix, or that a flat score only happens to peak at,
moves from resample to resample), never below the resolution the span allows. The measurement is then combined with
what camera clocks are known to do (:func:`shrink_to_prior`: drift within
+-:data:`~media_core.sync.uncertainty.DRIFT_BOUND_PPM` at 90 %), so a weak or ambiguous slope
stays near zero with the prior's uncertainty, and a well-supported one is used with its own.

If the cameras move relative to each other, no source keeps its lag: the pairs no longer agree
on one slope, the resamples spread, and the prior takes over.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: the lag precision a pair of same-place peaks agrees to (GCC-PHAT peak, a wearer's sway)
LAG_PRECISION_S = 0.001
#: pairs closer in time than this say little about drift
MIN_PAIR_DU_S = 20.0
#: slope grid step (fraction: 1 ppm)
GRID_STEP = 1e-6
#: fewer aligned pairs than this (summed kernel weight) is no evidence of drift
MIN_SUPPORT = 3.0
#: resamples for :func:`bootstrap_sd`
N_BOOT = 100


@dataclass(frozen=True)
class DriftFit:
    """A short-overlap drift: the measured slope, its bootstrap sd, and the estimate after the
    prior (fractions: seconds gained per second).
    """

    measured: float
    measured_sd: float
    slope: float
    sd: float
    support: float

    def as_dict(self) -> dict:
        return {"method": "same-place peaks", "measured_ppm": round(self.measured * 1e6, 2),
                "measured_sd_ppm": round(self.measured_sd * 1e6, 2), "ppm": round(self.slope * 1e6, 2),
                "sd_ppm": round(self.sd * 1e6, 2), "aligned_pairs": round(self.support, 1)}


def same_place_slope(u: np.ndarray, lag: np.ndarray, max_slope: float, *, h_s: float = LAG_PRECISION_S,
                     min_du_s: float = MIN_PAIR_DU_S, step: float = GRID_STEP) -> tuple[float, float] | None:
    """The slope in ``[-max_slope, max_slope]`` under which the most pairs of peaks (at least
    ``min_du_s`` apart) have equal lags, and its support (the summed Gaussian weight of the pairs'
    lag differences at that slope, width ``h_s``). ``None`` without enough pairs, or when the best
    slope is at the grid's edge (the drift is outside what is searched).
    """
    u = np.asarray(u, float)
    lag = np.asarray(lag, float)
    i, j = np.triu_indices(u.size, 1)
    du = u[j] - u[i]
    ok = np.abs(du) >= min_du_s
    if int(ok.sum()) < 3:
        return None
    du, dl = du[ok], (lag[j] - lag[i])[ok]
    # only pairs that can align somewhere on the grid vote
    near = np.abs(dl / du) <= max_slope + 4.0 * h_s / np.abs(du)
    du, dl = du[near], dl[near]
    if du.size < 3:
        return None
    grid = np.arange(-max_slope, max_slope + step / 2, step)
    score = np.empty(grid.size)
    for a in range(0, grid.size, 64):           # bounded memory: 64 slopes at a time
        g = grid[a:a + 64]
        score[a:a + 64] = np.exp(-0.5 * ((dl[None, :] - g[:, None] * du[None, :]) / h_s) ** 2).sum(axis=1)
    k = int(np.argmax(score))
    if k == 0 or k == grid.size - 1:
        return None
    return float(grid[k]), float(score[k])


def bootstrap_sd(u: np.ndarray, lag: np.ndarray, max_slope: float, *, n_boot: int = N_BOOT, seed: int = 0,
                 **kw) -> float:
    """How far :func:`same_place_slope` can be off: half the central 68 % interval of its values
    over resamples of the windows (all peaks heard at one time together; with replacement).

    The slope is an argmax, which a jackknife misjudges: leaving out one block rarely moves a
    flat score's maximum, so a drift no pair really fixes looked certain. Resamples move it.
    ``nan`` with fewer than 4 windows or fewer than 10 resamples with a slope. Deterministic for
    a given ``seed``.
    """
    u = np.asarray(u, float)
    lag = np.asarray(lag, float)
    labels, inv = np.unique(u, return_inverse=True)
    if labels.size < 4:
        return float("nan")
    members = [np.flatnonzero(inv == k) for k in range(labels.size)]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_boot):
        idx = np.concatenate([members[k] for k in rng.integers(0, labels.size, labels.size)])
        # a window drawn twice is two windows at (almost) the same time: no pair between them
        r = same_place_slope(u[idx] + 1e-7 * np.arange(idx.size), lag[idx], max_slope, **kw)
        if r is not None:
            out.append(r[0])
    if len(out) < 10:
        return float("nan")
    q16, q84 = np.percentile(out, [16, 84])
    return float(0.5 * (q84 - q16))


def shrink_to_prior(slope: float, sd: float, prior_sd: float) -> tuple[float, float]:
    """A measured slope (normal, ``sd``) combined with a prior of zero drift (normal, ``prior_sd``):
    the posterior mean and standard deviation.
    """
    w = prior_sd ** 2 / (prior_sd ** 2 + sd ** 2)
    return w * slope, math.sqrt(prior_sd ** 2 * sd ** 2 / (prior_sd ** 2 + sd ** 2))


def short_span_drift(u: np.ndarray, lag: np.ndarray, max_slope: float, prior_sd: float, *,
                     h_s: float = LAG_PRECISION_S) -> DriftFit | None:
    """The drift of a short overlap from its source peaks (``u`` the other feed's time of each peak,
    ``lag`` its lag, seconds), or ``None`` when the peaks give no measurement (the caller keeps the
    prior: zero drift, ``prior_sd``).
    """
    u = np.asarray(u, float)
    lag = np.asarray(lag, float)
    if u.size < 4:
        return None
    best = same_place_slope(u, lag, max_slope, h_s=h_s)
    if best is None or best[1] < MIN_SUPPORT:
        return None
    sd = bootstrap_sd(u, lag, max_slope, h_s=h_s)
    if not math.isfinite(sd):
        return None
    span = float(np.ptp(u))
    sd = max(sd, math.sqrt(2.0) * h_s / max(span, 1e-9))     # the resolution the span allows
    slope, post_sd = shrink_to_prior(best[0], sd, prior_sd)
    return DriftFit(measured=best[0], measured_sd=sd, slope=slope, sd=post_sd, support=best[1])
