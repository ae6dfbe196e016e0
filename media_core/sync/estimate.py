"""What one match between two feeds concludes: :class:`SyncEstimate`, with its confidence and evidence.

An estimate maps the *other* feed's media time ``u`` onto the *reference* feed's media time:
``ref = offset_s + u * (1 + drift_ppm * 1e-6)`` -- exactly a :class:`~media_core.clock.Clock`.
Below :data:`UNCERTAIN_BELOW` an estimate carries ``uncertain_reason`` and must not be used
silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from media_core.clock import Clock
from media_core.errors import ParameterError

ALGORITHM_VERSION = "sync-audio/2"
UNCERTAIN_BELOW = 0.35


@dataclass
class SyncEstimate:
    """How the other feed's media time maps onto the reference feed's media time.

    ``ref_s = offset_s + other_s * (1 + drift_ppm * 1e-6)``.
    """

    offset_s: float | None
    drift_ppm: float
    confidence: float
    evidence: dict[str, Any] = field(default_factory=dict)
    uncertain_reason: str | None = None
    #: standard error (s) of the offset at the other's media time ``u_mid_s`` (the fit's centre)
    sigma_s: float = float("nan")
    u_mid_s: float = 0.0
    #: standard error of the drift in ppm (nan: drift not fitted, taken as 0 -- see ``drift_bound_ppm``)
    drift_sigma_ppm: float = float("nan")
    #: half the spread of source lags: the bound on the sound-travel bias (s)
    acoustic_s: float = 0.0
    #: typical single-measurement peak uncertainty (s)
    peak_sigma_s: float = 0.0
    #: feed spans on the other's media time the uncertainty must cover (start, end)
    span_s: tuple[float, float] = (0.0, 0.0)
    #: probability that the match itself is right (not a wrong peak); confidence multiplies by it
    p_correct: float = 1.0

    @property
    def uncertain(self) -> bool:
        return self.uncertain_reason is not None or self.offset_s is None

    @property
    def clock(self) -> Clock:
        if self.offset_s is None:
            raise ParameterError("this estimate has no offset: " + (self.uncertain_reason or "?"))
        return Clock(self.offset_s, self.drift_ppm)


def uncertain(reason: str, evidence: dict, offset=None, drift=0.0, conf=0.0) -> SyncEstimate:
    """An estimate that must not be used silently, saying why."""
    return SyncEstimate(offset_s=offset, drift_ppm=drift, confidence=float(conf), evidence=evidence,
                        uncertain_reason=reason)
