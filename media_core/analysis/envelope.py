"""Waveform overview for the timeline: minimum and maximum sample per few milliseconds.

:class:`EnvelopeListener` is an :class:`~media_core.listeners.AudioListener`, so the overview is
built from the same decoded blocks as the mute and shot analyses (one decode, many listeners).
:func:`compute_envelope` decodes a file itself for callers that have only the path.

Bins are on the file's presentation timeline (zero at the container's start). Bins with no
audio (before the audio starts, inside packet gaps, after it ends) hold NaN, so a view can draw
"no audio" differently from silence.
"""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass

import numpy as np

from media_core.errors import ParameterError
from media_core.listeners import AudioBlock, AudioStreamInfo
from media_core.progress import Progress, ShouldStop

ALGORITHM_VERSION = "1"
SCHEMA = "evidence-audit.envelope/1"

__all__ = ["Envelope", "EnvelopeListener", "compute_envelope"]


@dataclass(frozen=True)
class Envelope:
    """Min/max per bin.

    Attributes
    ----------
    start_s : float
        Media time of the left edge of bin 0.
    step_s : float
        Bin width in seconds.
    mins, maxs : ndarray of float32, shape (n,)
        Lowest and highest sample in each bin (all channels pooled), NaN where no audio exists.
    """

    start_s: float
    step_s: float
    mins: np.ndarray
    maxs: np.ndarray

    def __len__(self) -> int:
        return int(self.mins.shape[0])

    @property
    def end_s(self) -> float:
        return self.start_s + len(self) * self.step_s

    def slice(self, start_s: float, end_s: float, n_out: int) -> tuple[np.ndarray, np.ndarray]:
        """Resample to ``n_out`` columns between ``start_s`` and ``end_s`` (for drawing).

        Each output column takes the min of mins and max of maxs of the bins it covers, so a
        peak is never lost however far the view is zoomed out. Columns without audio are NaN.
        """
        n_out = int(n_out)
        lo = np.full(n_out, np.nan, np.float32)
        hi = np.full(n_out, np.nan, np.float32)
        if n_out <= 0 or len(self) == 0 or end_s <= start_s:
            return lo, hi
        edges = np.linspace(start_s, end_s, n_out + 1)
        b = np.floor((edges - self.start_s) / self.step_s).astype(np.int64)
        b = np.clip(b, 0, len(self))
        a, z = b[:-1], np.maximum(b[1:], b[:-1] + 1)
        valid = (a < len(self)) & (edges[1:] > self.start_s) & (edges[:-1] < self.end_s)
        if not valid.any():
            return lo, hi
        # sentinel at the end so a column may end at len(self)
        mins = np.append(np.where(np.isnan(self.mins), np.inf, self.mins), np.inf)
        maxs = np.append(np.where(np.isnan(self.maxs), -np.inf, self.maxs), -np.inf)
        av, zv = a[valid], np.minimum(z[valid], len(self))
        pairs = np.empty(2 * av.size, np.int64)
        pairs[0::2], pairs[1::2] = av, zv  # reduceat reduces [a, z) for each pair
        rmin = np.minimum.reduceat(mins, pairs)[0::2]
        rmax = np.maximum.reduceat(maxs, pairs)[0::2]
        rmin[np.isinf(rmin)] = np.nan
        rmax[np.isinf(rmax)] = np.nan
        lo[valid], hi[valid] = rmin, rmax
        return lo, hi

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        """Compact JSON form: int8-quantised, base64 (about 2.7 bytes per bin)."""
        def q(x):
            v = np.where(np.isnan(x), -128, np.clip(np.round(x * 127), -127, 127)).astype(np.int8)
            return base64.b64encode(v.tobytes()).decode("ascii")

        return {"schema": SCHEMA, "algorithm_version": ALGORITHM_VERSION, "start_s": self.start_s,
                "step_s": self.step_s, "n": len(self), "mins": q(self.mins), "maxs": q(self.maxs)}

    @classmethod
    def from_dict(cls, d: dict) -> "Envelope":
        if d.get("schema") != SCHEMA:
            raise ParameterError(f"not a waveform envelope: schema {d.get('schema')!r}")

        def uq(s):
            v = np.frombuffer(base64.b64decode(s), dtype=np.int8).astype(np.float32)
            out = v / 127.0
            out[v == -128] = np.nan
            return out.astype(np.float32)

        return cls(float(d["start_s"]), float(d["step_s"]), uq(d["mins"]), uq(d["maxs"]))


class EnvelopeListener:
    """Audio listener that builds an :class:`Envelope`.

    Parameters
    ----------
    step_s : float
        Bin width in seconds (default 10 ms: 180 000 bins for 30 minutes).
    """

    name = "envelope"

    def __init__(self, *, step_s: float = 0.01):
        if not step_s > 0:
            raise ParameterError(f"step_s must be positive, got {step_s}")
        self.step_s = float(step_s)
        self._mins = np.full(0, np.nan, np.float32)
        self._maxs = np.full(0, np.nan, np.float32)

    def _grow(self, n: int) -> None:
        if n > self._mins.shape[0]:
            n = max(n, int(self._mins.shape[0] * 1.5) + 1024)
            mins = np.full(n, np.nan, np.float32)
            maxs = np.full(n, np.nan, np.float32)
            mins[: self._mins.shape[0]] = self._mins
            maxs[: self._maxs.shape[0]] = self._maxs
            self._mins, self._maxs = mins, maxs

    def on_start(self, info: AudioStreamInfo) -> None:
        self._grow(int(np.ceil(max(info.duration_s, 0.0) / self.step_s)) + 2)
        self._used = 0

    def on_block(self, block: AudioBlock) -> None:
        y = np.asarray(block.y, dtype=np.float32)
        if y.ndim == 1:
            y = y[None, :]
        n = y.shape[-1]
        if n == 0:
            return
        lo_s = y.min(axis=0)
        hi_s = y.max(axis=0)
        t = block.start_s + np.arange(n, dtype=np.float64) / block.sr
        bins = np.floor(t / self.step_s + 1e-7).astype(np.int64)  # tolerate float error at edges
        keep = bins >= 0
        if not keep.all():
            bins, lo_s, hi_s = bins[keep], lo_s[keep], hi_s[keep]
            if bins.size == 0:
                return
        starts = np.concatenate(([0], np.flatnonzero(np.diff(bins)) + 1))
        b = bins[starts]
        bmin = np.minimum.reduceat(lo_s, starts)
        bmax = np.maximum.reduceat(hi_s, starts)
        self._grow(int(b[-1]) + 1)
        self._mins[b] = np.fmin(self._mins[b], bmin)
        self._maxs[b] = np.fmax(self._maxs[b], bmax)
        self._used = max(getattr(self, "_used", 0), int(b[-1]) + 1)

    def on_gap(self, start_s: float, end_s: float, *, missing_packets: int = 0) -> None:
        """Nothing to record: bins without samples stay NaN."""

    def on_error(self, start_s: float, end_s: float, message: str) -> None:
        """Undecodable audio: its bins stay NaN."""

    def finish(self, end_s: float) -> Envelope:
        n = max(getattr(self, "_used", 0), 0)
        return Envelope(0.0, self.step_s, self._mins[:n].copy(), self._maxs[:n].copy())


def compute_envelope(path, *, step_s: float = 0.01, progress: Progress | None = None,
                     should_stop: ShouldStop | None = None) -> Envelope | None:
    """Decode ``path``'s first audio stream and return its :class:`Envelope` (None: no audio).

    A stand-alone decode for callers that want only the waveform; the case pipeline gets the
    envelope from the analysis decode instead (:class:`EnvelopeListener`, one decode per feed).
    Blocks are placed by their presentation timestamps, so gaps stay NaN.

    Parameters
    ----------
    progress, should_stop
        The protocol of :mod:`media_core.progress`; a cancel raises
        :class:`~media_core.errors.Cancelled`.
    """
    from media_core.io.decode import run_listeners
    from media_core.io.probe import open_container

    path = os.fspath(path)
    container = open_container(path)
    has_audio = bool(container.streams.audio)
    container.close()
    if not has_audio:
        return None
    listener = EnvelopeListener(step_s=step_s)
    out = run_listeners(path, [listener], progress=progress, should_stop=should_stop)
    return out[listener.name]


