"""A hand correction of a feed's placement: :func:`apply_nudge` by frames or milliseconds."""
from __future__ import annotations

from media_core.clock import Clock
from media_core.errors import ParameterError


def apply_nudge(clock: Clock, *, frames: float | None = None, fps: float | None = None,
                ms: float | None = None) -> Clock:
    """``clock`` moved later on the shared time line by ``frames`` (at ``fps``) and/or ``ms``.

    >>> apply_nudge(Clock(1.0, 0.0), frames=2, fps=25).offset_s
    1.08
    """
    delta = 0.0
    if frames is not None:
        if not fps or fps <= 0:
            raise ParameterError("a nudge in frames needs the feed's frame rate (fps > 0)")
        delta += float(frames) / float(fps)
    if ms is not None:
        delta += float(ms) * 1e-3
    if frames is None and ms is None:
        raise ParameterError("give frames (with fps) or ms to nudge by")
    return clock.nudged(delta)
