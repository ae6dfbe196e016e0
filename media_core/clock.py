"""The one place that converts between a feed's media time and the shared clock."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    """Affine map from a feed's media time to the shared (incident) clock.

    ``shared = offset_s + media * (1 + drift_ppm * 1e-6)``. The reference feed has the identity.

    Examples
    --------
    >>> c = Clock(offset_s=4.5, drift_ppm=100.0)
    >>> round(c.to_shared(10.0), 6)
    14.501
    >>> round(c.to_media(c.to_shared(10.0)), 9)
    10.0
    """

    offset_s: float = 0.0
    drift_ppm: float = 0.0

    @property
    def rate(self) -> float:
        return 1.0 + self.drift_ppm * 1e-6

    def to_shared(self, media_s):
        return self.offset_s + media_s * self.rate

    def to_media(self, shared_s):
        return (shared_s - self.offset_s) / self.rate

    def nudged(self, delta_s: float) -> "Clock":
        """The same clock moved later on the shared timeline by ``delta_s`` seconds."""
        return Clock(self.offset_s + delta_s, self.drift_ppm)


IDENTITY = Clock()
