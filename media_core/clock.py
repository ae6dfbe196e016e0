"""The one place that maps between time bases: a feed's media time and the shared clock.

No other module composes clocks or converts between drift (ppm) and rates; container time units
(microseconds, time bases) become seconds only here and in :func:`media_core.io.probe.container_start_s`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


def ppm_to_rate(drift_ppm: float) -> float:
    """Rate of a clock that runs ``drift_ppm`` parts per million fast (``1 + ppm * 1e-6``)."""
    return 1.0 + float(drift_ppm) * 1e-6


def rate_to_ppm(rate: float) -> float:
    """The drift in ppm of a clock running at ``rate`` (the inverse of :func:`ppm_to_rate`)."""
    return (float(rate) - 1.0) * 1e6


def ppm_to_fraction(drift_ppm: float) -> float:
    """A drift in ppm as a fraction (seconds gained per second, ``rate - 1``): ``ppm * 1e-6``.

    >>> ppm_to_fraction(250.0)
    0.00025
    """
    return float(drift_ppm) * 1e-6


def fraction_to_ppm(fraction: float) -> float:
    """A drift given as a fraction (``rate - 1``, e.g. the slope of offset over time) in ppm.

    >>> fraction_to_ppm(0.00025)
    250.0
    """
    return float(fraction) * 1e6


def ppm_to_log_rate(drift_ppm: float) -> float:
    """``log(rate)`` of a clock ``drift_ppm`` fast, exact for small drifts (``log1p(ppm * 1e-6)``).

    Log-rates add when clocks compose, so a least-squares solve over many pairs works on them.

    >>> import math
    >>> abs(math.exp(ppm_to_log_rate(100.0)) - ppm_to_rate(100.0)) < 1e-15
    True
    """
    return math.log1p(ppm_to_fraction(drift_ppm))


def ticks_to_seconds(ticks, time_base) -> float:
    """``ticks`` in units of ``time_base`` (a Fraction, a float or a ``(num, den)`` pair) as seconds."""
    if isinstance(time_base, tuple):
        num, den = time_base
        return float(ticks) * float(num) / float(den)
    return float(ticks * time_base)


def seconds_to_ticks(seconds: float, time_base) -> int:
    """The whole number of ``time_base`` ticks at or before ``seconds`` (the inverse of
    :func:`ticks_to_seconds`, rounded down, e.g. for a backward seek).

    >>> from fractions import Fraction
    >>> seconds_to_ticks(1.5, Fraction(1, 48000))
    72000
    >>> seconds_to_ticks(0.0105, (1, 1000))
    10
    """
    if isinstance(time_base, tuple):
        num, den = time_base
        tb = float(num) / float(den)
    else:
        tb = float(time_base)
    return int(math.floor(float(seconds) / tb))


def seconds_per_tick(time_base) -> float:
    """The length in seconds of one tick of ``time_base`` (a Fraction, a float or ``(num, den)``),
    for converting many timestamps of one stream in a loop (``ticks * seconds_per_tick(tb)``).
    """
    return ticks_to_seconds(1, time_base)


MICROSECONDS = 1e-6  # FFmpeg's AV_TIME_BASE unit, used by container start times and durations


def microseconds_to_seconds(us) -> float:
    """FFmpeg's container-level times (``AV_TIME_BASE`` microseconds) as seconds."""
    return float(us) * MICROSECONDS


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
    >>> a, b = Clock(2.0, 50.0), Clock(-1.0, -20.0)
    >>> round(a.compose(b).to_shared(3.0) - a.to_shared(b.to_shared(3.0)), 12)
    0.0
    >>> abs(a.relative_to(b).to_shared(3.0) - b.to_media(a.to_shared(3.0))) < 1e-12
    True
    >>> round(a.compose(a.inverse()).to_shared(5.0), 12)
    5.0
    """

    offset_s: float = 0.0
    drift_ppm: float = 0.0

    @classmethod
    def from_rate(cls, offset_s: float, rate: float) -> "Clock":
        """The clock ``shared = offset_s + media * rate``."""
        return cls(float(offset_s), rate_to_ppm(rate))

    @property
    def rate(self) -> float:
        return ppm_to_rate(self.drift_ppm)

    def to_shared(self, media_s):
        return self.offset_s + media_s * self.rate

    def to_media(self, shared_s):
        return (shared_s - self.offset_s) / self.rate

    def nudged(self, delta_s: float) -> "Clock":
        """The same clock moved later on the shared timeline by ``delta_s`` seconds."""
        return Clock(self.offset_s + delta_s, self.drift_ppm)

    def compose(self, inner: "Clock") -> "Clock":
        """``self ∘ inner``: first ``inner``, then ``self`` (``self.to_shared(inner.to_shared(t))``)."""
        return Clock.from_rate(self.offset_s + self.rate * inner.offset_s, self.rate * inner.rate)

    def inverse(self) -> "Clock":
        """The map from shared time back to this feed's media time."""
        r = self.rate
        return Clock.from_rate(-self.offset_s / r, 1.0 / r)

    def relative_to(self, other: "Clock") -> "Clock":
        """This feed's media time on ``other``'s media time: ``other.inverse() ∘ self``."""
        return other.inverse().compose(self)

    def shifted_media(self, media_origin_s: float) -> "Clock":
        """The same placement for media times counted from ``media_origin_s`` (``t' = t - origin``)."""
        return self.compose(Clock(float(media_origin_s), 0.0))


IDENTITY = Clock()
