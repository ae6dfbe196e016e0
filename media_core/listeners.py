"""One decode, many listeners: the protocol between the streaming audio decoder and analyses.

The decoder (:mod:`media_core.io.decode`) reads a feed's audio once, in timestamped blocks, and calls
every listener in turn. Each analysis (mutes, shots, sync features, waveform overview) is a
listener, so a feed is decoded once however many analyses run.

Times are seconds on the file's own presentation timeline, zero at the container's start
(what a player shows).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class AudioStreamInfo:
    """What a listener is told before the first block."""

    path: str
    sr: int                     # sample rate of the blocks delivered (after any resampling)
    channels: int
    codec: str
    video_start_s: float | None  # first video frame, None when the file has no video
    video_end_s: float | None
    audio_start_s: float | None  # first audio packet's pts (None when not known before decoding)
    duration_s: float            # container (or scanned) duration


@dataclass(frozen=True)
class AudioBlock:
    """A run of contiguous decoded samples.

    ``y`` is float32, shape ``(channels, n)``, values in [-1, 1] (int16 full scale == 1.0).
    ``start_s`` is the presentation time of ``y[:, 0]``. Consecutive blocks are contiguous unless
    the decoder reported a gap or an error between them.
    """

    start_s: float
    sr: int
    y: np.ndarray

    @property
    def end_s(self) -> float:
        return self.start_s + self.y.shape[-1] / self.sr


class AudioListener(Protocol):
    """Anything that listens to one feed's decoded audio."""

    name: str

    def on_start(self, info: AudioStreamInfo) -> None: ...

    def on_block(self, block: AudioBlock) -> None: ...

    def on_gap(self, start_s: float, end_s: float, *, missing_packets: int) -> None:
        """Packet timestamps jumped: no audio exists between ``start_s`` and ``end_s``."""

    def on_error(self, start_s: float, end_s: float, message: str) -> None:
        """Audio could not be decoded between ``start_s`` and ``end_s``."""

    def finish(self, end_s: float) -> Any:
        """The stream ended at ``end_s``; return the listener's result."""


@dataclass
class Evidence:
    """How a result was found and how sure we are; attached to everything a user may cite."""

    method: str
    algorithm_version: str
    measurements: dict[str, Any] = field(default_factory=dict)
