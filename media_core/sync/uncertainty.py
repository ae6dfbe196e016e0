"""What a placement's error can be: an uncertainty in milliseconds and a calibrated confidence.

A placed feed's error has four parts, each measured by the match that placed it:

* the **peak width** of the correlation (how sharply one event or window fixes the lag);
* the **scatter** of the event (or window) lags around the fitted line, which makes the line's
  offset uncertain by ``scatter / sqrt(n)``;
* the **drift** uncertainty: a slope known to +-``s`` moves the far end of the feed by
  ``s * distance from the fit's centre``; when drift could not be fitted (too short) it is taken
  as 0 and bounded by :data:`DRIFT_BOUND_PPM` instead;
* a stated **sound-travel** bound: a source ``d`` m nearer one camera arrives ``d / 343`` s
  earlier there. Audio can only centre the clock between its sources; half the spread of the
  source lags (``acoustic_s``) is what the evidence allows. Cameras tens of metres apart have
  tens of ms of inherent bias: the uncertainty says so.

``uncertainty_ms`` is a 90 % bound on the error over the whole feed (statistical parts at
:data:`Z90` standard errors, widened by :data:`SIGMA_SCALE`, plus :data:`ACOUSTIC_SHARE` of the
sound-travel bound). ``confidence`` is the probability that the error is within one frame (the
allowance adds the travel-time difference of the shared sounds, as the targets do), times the
probability that the match is right at all. The constants are fitted by
``benchmarks/bench_sync_calibration.py`` on one seed range of generated incidents and reported
on another.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from media_core.clock import ppm_to_fraction

Z90 = 1.645
#: fitted on calibration seeds 0-59 (``benchmarks/bench_sync_calibration.py --seeds 0-59 --fit``):
#: the smallest median bound covering >= 90 % of those feeds' true errors with a sound-travel part
SIGMA_SCALE = 2.0
ACOUSTIC_SHARE = 0.75
FLOOR_S = 0.0005            # 0.5 ms: decimation, interpolation, timestamp rounding
DRIFT_BOUND_PPM = 150.0     # unfitted drift: camera clocks rarely differ by more
DEFAULT_FPS = 30.0          # audio-only feeds: judged against a 30 fps frame
FRAME_30_S = 1.0 / DEFAULT_FPS
#: a placement by creation-time or timecode tags: whole seconds, clocks set by hand (90 % bound)
METADATA_UNCERTAINTY_S = 10.0


@dataclass
class Uncertainty:
    """The parts of a placement's uncertainty (seconds) and their combination."""

    peak_s: float
    scatter_s: float
    drift_s: float
    acoustic_s: float
    drift_fitted: bool

    @property
    def sigma_s(self) -> float:
        """The statistical standard error (peak, scatter, drift) over the whole feed."""
        return math.sqrt(self.peak_s ** 2 + self.scatter_s ** 2 + self.drift_s ** 2 + FLOOR_S ** 2)

    @property
    def bound_s(self) -> float:
        """The 90 % bound on the error: the statistical parts at Z90 sigma (widened by
        :data:`SIGMA_SCALE`: the scatter of a few sources understates the error) plus
        :data:`ACOUSTIC_SHARE` of the sound-travel bound.
        """
        return Z90 * SIGMA_SCALE * self.sigma_s + ACOUSTIC_SHARE * self.acoustic_s

    def as_dict(self) -> dict[str, Any]:
        return {"peak_ms": _ms(self.peak_s), "event_scatter_ms": _ms(self.scatter_s),
                "drift_ms": _ms(self.drift_s), "drift_fitted": self.drift_fitted,
                "acoustic_bound_ms": _ms(self.acoustic_s),
                "camera_distance_m_implied": round(self.acoustic_s * 343.0, 1),
                "sigma_ms": _ms(self.sigma_s), "uncertainty_ms": _ms(self.bound_s)}

    def compound(self, other: "Uncertainty") -> "Uncertainty":
        """Two links of a chain: independent errors add in quadrature."""
        return Uncertainty(peak_s=math.hypot(self.peak_s, other.peak_s),
                           scatter_s=math.hypot(self.scatter_s, other.scatter_s),
                           drift_s=math.hypot(self.drift_s, other.drift_s),
                           acoustic_s=math.hypot(self.acoustic_s, other.acoustic_s),
                           drift_fitted=self.drift_fitted and other.drift_fitted)


ZERO = Uncertainty(0.0, 0.0, 0.0, 0.0, True)


def _ms(x: float) -> float:
    return round(float(x) * 1e3, 2)


def _nan0(x: float) -> float:
    return 0.0 if x is None or not math.isfinite(x) else float(x)


def of_estimate(est, *, u0: float | None = None, u1: float | None = None) -> Uncertainty:
    """The :class:`Uncertainty` of a pairwise estimate over the other feed's media span ``[u0, u1]``
    (default: the span the estimate records).
    """
    a, b = est.span_s
    u0 = a if u0 is None else u0
    u1 = b if u1 is None else u1
    far = max(abs(u0 - est.u_mid_s), abs(u1 - est.u_mid_s))
    fitted = math.isfinite(est.drift_sigma_ppm)
    slope_sd = ppm_to_fraction(est.drift_sigma_ppm) if fitted else ppm_to_fraction(DRIFT_BOUND_PPM) / Z90
    return Uncertainty(peak_s=_nan0(est.peak_sigma_s) / math.sqrt(max(1, _n_meas(est))),
                       scatter_s=_nan0(est.sigma_s), drift_s=slope_sd * far,
                       acoustic_s=_nan0(est.acoustic_s), drift_fitted=fitted)


def _n_meas(est) -> int:
    m = est.evidence.get("measurements", {})
    return int(m.get("events_used") or m.get("inliers") or 1)


def confidence(u: Uncertainty, *, frame_s: float, p_correct: float = 1.0) -> float:
    """P(|error| <= one frame), the error normal with the statistical sigma, times ``p_correct``.

    The allowance of one frame also admits the travel-time difference of the shared sounds, so
    the sound-travel share is not held against it.
    """
    s = max(u.sigma_s, 1e-6)
    p = math.erf(frame_s / (s * math.sqrt(2.0)))
    return round(max(0.0, min(1.0, p * p_correct)), 3)


def frame_s_of(*probes) -> float:
    """One frame at the lower frame rate of the feeds that have video (30 fps without video)."""
    rates = []
    for pr in probes:
        v = (pr or {}).get("video") or {}
        r = v.get("avg_fps")
        if r:
            rates.append(float(r))
    return 1.0 / (min(rates) if rates else DEFAULT_FPS)
