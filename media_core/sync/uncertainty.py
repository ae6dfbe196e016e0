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

``uncertainty_ms`` is a 90 % bound on the error over the whole feed, with constants for the line
that placed it (:data:`LINE_CONSTANTS`: the event line and the dense-window line err
differently): ``Z90 * sigma_scale * sqrt((peak_scale * peak)^2 + scatter^2 + drift^2 + 0.5 ms^2)
+ floor + acoustic_share * acoustic``. ``confidence`` is the probability that the error is
within one frame at the stated sigma (the bound without its sound-travel share, over
:data:`Z90`: the allowance adds the travel-time difference of the shared sounds, as the targets
do), times the probability that the match is right at all. Placements by flashes or tags keep
the general constants (:data:`SIGMA_SCALE`, :data:`ACOUSTIC_SHARE`). The constants are fitted by
``benchmarks/bench_sync_calibration.py`` on one seed range of generated incidents and reported
on another.

Also listed (not in the bound: on the fit seeds they did not predict the error): the sources'
asymmetry about the line (``|mean residual|`` of the per-source lags), its standard error and the
number of sources.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from media_core.clock import ppm_to_fraction

Z90 = 1.645
#: placements by flashes or tags (and chains through them): the general constants
SIGMA_SCALE = 2.0
ACOUSTIC_SHARE = 0.75


@dataclass(frozen=True)
class LineConstants:
    """How one kind of audio line's parts combine into its 90 % bound."""

    sigma_scale: float      # widens the statistical standard error
    peak_scale: float       # the events' peak width understates their lag error by this much
    acoustic_share: float   # share of the sound-travel bound (half the spread of source lags)
    floor_s: float          # added to the bound: what a few sources' centring leaves


#: fitted on calibration seeds 0-59, 100-159 and 1000-8059 (10 ranges of 60 incidents, 924 placed
#: feeds; ``bench_sync_calibration.py --seeds ... --json``, then ``--rows *.json --fit``): the
#: smallest median bound covering >= 92 % of those feeds' true errors (the smallest in-sample
#: coverage whose 10-fold cross-validated coverage reaches 90 % plus one binomial standard error),
#: the sound-travel share searched over 0, 0.1 and 0.25 (the window line's centre has a bootstrap
#: sd, which carries most of the sampling of the spread's ends; ``acoustic_s`` is stated beside it)
LINE_CONSTANTS = {
    "events": LineConstants(sigma_scale=2.0, peak_scale=300.0, acoustic_share=0.0, floor_s=0.008),
    "windows": LineConstants(sigma_scale=0.5, peak_scale=1.0, acoustic_share=0.1, floor_s=0.004),
}
#: a chain through both kinds of line: the larger of each constant
LINE_CONSTANTS["chain"] = LineConstants(*(max(getattr(LINE_CONSTANTS[k], f) for k in ("events", "windows"))
                                          for f in ("sigma_scale", "peak_scale", "acoustic_share", "floor_s")))
GENERAL = LineConstants(sigma_scale=SIGMA_SCALE, peak_scale=1.0, acoustic_share=ACOUSTIC_SHARE, floor_s=0.0)
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
    #: which line placed it: "events", "windows" (an audio match; a chain of both: "chain"), "" (flashes, tags)
    line: str = ""
    #: |mean residual| of the source lags around the line: the sources' asymmetry about the centre (s)
    asym_s: float = 0.0
    #: the standard error of that mean (the residuals' sd over the root of the number of sources, s)
    centre_sd_s: float = 0.0
    #: distinct sources (events) or consistent windows behind the line
    n_sources: int = 0

    @property
    def sigma_s(self) -> float:
        """The statistical standard error (peak, scatter, drift) over the whole feed, as measured
        (the joint solve weighs matches by it).
        """
        return math.sqrt(self.peak_s ** 2 + self.scatter_s ** 2 + self.drift_s ** 2 + FLOOR_S ** 2)

    @property
    def constants(self) -> LineConstants:
        return LINE_CONSTANTS.get(self.line, GENERAL)

    @property
    def stated_sigma_s(self) -> float:
        """The standard error the bound states besides sound travel: the parts combined with the
        line's constants, over :data:`Z90`.
        """
        return self.stated_sigma_with(self.constants)

    @property
    def bound_s(self) -> float:
        """The 90 % bound on the error: the statistical parts at Z90 stated sigma plus the line's
        share of the sound-travel bound.
        """
        return self.bound_with(self.constants)

    def stated_sigma_with(self, k: LineConstants) -> float:
        st = math.sqrt((k.peak_scale * self.peak_s) ** 2 + self.scatter_s ** 2 + self.drift_s ** 2 + FLOOR_S ** 2)
        return k.sigma_scale * st + k.floor_s / Z90

    def bound_with(self, k: LineConstants) -> float:
        return Z90 * self.stated_sigma_with(k) + k.acoustic_share * self.acoustic_s

    def as_dict(self) -> dict[str, Any]:
        return {"peak_ms": round(float(self.peak_s) * 1e3, 4), "event_scatter_ms": _ms(self.scatter_s),
                "drift_ms": _ms(self.drift_s), "drift_fitted": self.drift_fitted,
                "acoustic_bound_ms": _ms(self.acoustic_s),
                "camera_distance_m_implied": round(self.acoustic_s * 343.0, 1),
                "sigma_ms": _ms(self.sigma_s), "stated_sigma_ms": _ms(self.stated_sigma_s),
                "uncertainty_ms": _ms(self.bound_s),
                "line": self.line, "source_asymmetry_ms": _ms(self.asym_s),
                "source_centre_sd_ms": _ms(self.centre_sd_s), "sources": self.n_sources}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Uncertainty":
        """The parts back from :meth:`as_dict` (a stored placement's evidence; to its rounding)."""
        return cls(peak_s=d["peak_ms"] * 1e-3, scatter_s=d["event_scatter_ms"] * 1e-3, drift_s=d["drift_ms"] * 1e-3,
                   acoustic_s=d["acoustic_bound_ms"] * 1e-3, drift_fitted=bool(d["drift_fitted"]),
                   line=d.get("line", ""), asym_s=d.get("source_asymmetry_ms", 0.0) * 1e-3,
                   centre_sd_s=d.get("source_centre_sd_ms", 0.0) * 1e-3, n_sources=int(d.get("sources", 0)))

    def compound(self, other: "Uncertainty") -> "Uncertainty":
        """Two links of a chain: independent errors add in quadrature."""
        return Uncertainty(peak_s=math.hypot(self.peak_s, other.peak_s),
                           scatter_s=math.hypot(self.scatter_s, other.scatter_s),
                           drift_s=math.hypot(self.drift_s, other.drift_s),
                           acoustic_s=math.hypot(self.acoustic_s, other.acoustic_s),
                           drift_fitted=self.drift_fitted and other.drift_fitted,
                           line=_chain_line(self, other),
                           asym_s=math.hypot(self.asym_s, other.asym_s),
                           centre_sd_s=math.hypot(self.centre_sd_s, other.centre_sd_s),
                           n_sources=min((x for x in (self.n_sources, other.n_sources) if x), default=0))


ZERO = Uncertainty(0.0, 0.0, 0.0, 0.0, True)


def _chain_line(a: Uncertainty, b: Uncertainty) -> str:
    """The line a chain's constants come from.

    A start (all parts zero) takes the other's; two audio lines of one kind keep it, of both kinds
    make "chain"; a link by flashes or tags makes the chain general ("").
    """
    def start(u):
        return not u.line and u.peak_s == u.scatter_s == u.drift_s == u.acoustic_s == 0.0

    if start(a):
        return b.line
    if start(b):
        return a.line
    if not a.line or not b.line:
        return ""
    return a.line if a.line == b.line else "chain"


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
    line, asym, csd, n_src = _sources(est)
    return Uncertainty(peak_s=_nan0(est.peak_sigma_s) / math.sqrt(max(1, _n_meas(est))),
                       scatter_s=_nan0(est.sigma_s), drift_s=slope_sd * far,
                       acoustic_s=_nan0(est.acoustic_s), drift_fitted=fitted,
                       line=line, asym_s=asym, centre_sd_s=csd, n_sources=n_src)


def _sources(est) -> tuple[str, float, float, int]:
    """The line that placed ``est`` and its sources' lags around it: (line, |mean residual|, the
    mean's standard error, number of sources). Events of one source (onsets less than 1.5 s apart)
    count once, at their mean lag; windows are the consistent ones (within 3 MADs, at least 2 ms).
    """
    import numpy as np

    m = est.evidence.get("measurements", {}) if est.evidence else {}
    line = str(m.get("line_from") or "")
    if est.offset_s is None or not line:
        return line, 0.0, 0.0, 0
    slope = ppm_to_fraction(est.drift_ppm)
    rows = m.get("event_lags") if line == "events" else m.get("window_offsets")
    if not rows:
        return line, 0.0, 0.0, 0
    a = np.asarray([r[:2] for r in rows], float)
    u, r = a[:, 0], a[:, 1] - (est.offset_s + slope * a[:, 0])
    if line == "events":
        o = np.argsort(u)
        u, r = u[o], r[o]
        cut = np.flatnonzero(np.diff(u) > 1.5) + 1
        r = np.array([g.mean() for g in np.split(r, cut)])
    else:
        med = float(np.median(r))
        ok = np.abs(r - med) <= max(3 * 1.4826 * float(np.median(np.abs(r - med))), 0.002)
        r = r[ok]
    n = int(r.size)
    if n == 0:
        return line, 0.0, 0.0, 0
    sd = float(np.std(r, ddof=1)) if n > 1 else 0.0
    return line, abs(float(np.mean(r))), sd / math.sqrt(n), n


def _n_meas(est) -> int:
    m = est.evidence.get("measurements", {})
    return int(m.get("events_used") or m.get("inliers") or 1)


def confidence(u: Uncertainty, *, frame_s: float, p_correct: float = 1.0) -> float:
    """P(|error| <= one frame), the error normal with the stated sigma (audio lines; the measured
    statistical sigma for flashes and tags), times ``p_correct``.

    The allowance of one frame also admits the travel-time difference of the shared sounds, so
    the sound-travel share is not held against it.
    """
    return p_within(u.stated_sigma_s if u.line else u.sigma_s, frame_s, p_correct)


def gate_confidence(u: Uncertainty, *, frame_s: float, p_correct: float = 1.0) -> float:
    """A pairwise match's confidence: whether it is used at all, and its weight in the solve.

    Below :data:`~media_core.sync.estimate.UNCERTAIN_BELOW` it is not used. P(|error| <= one frame)
    at the measured statistical sigma, times ``p_correct``. (The placed feed's ``confidence`` is
    :func:`confidence`, at the stated sigma.)
    """
    return p_within(u.sigma_s, frame_s, p_correct)


def p_within(sigma_s: float, frame_s: float, p_correct: float = 1.0) -> float:
    """P(|error| <= ``frame_s``), the error normal at ``sigma_s``, times ``p_correct`` (3 decimals)."""
    p = math.erf(frame_s / (max(sigma_s, 1e-6) * math.sqrt(2.0)))
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
