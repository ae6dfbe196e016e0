"""The gunshot detector's working rate: audio above 48 kHz is decimated before detection.

The fitted model (:mod:`media_core.analysis.shot_model`) was trained on audio at 8 to 48 kHz,
the rates body cams, dash cams and phones record at. Several of its features depend on the
sample rate (the Nyquist band edge, the energy of the first difference, zero crossings per
frame), so a 96 or 176.4 kHz field recording would be scored out of the range the model has
seen. Such audio is decimated by the smallest integer factor ``q`` that brings it to 48 kHz or
less (96 -> 48, 88.2 -> 44.1, 176.4 -> 44.1, 192 -> 48 kHz), with a linear-phase low-pass FIR
applied causally, so a stream can be decimated block by block with exactly the result of
decimating the whole array (:class:`Decimator`). The filter's delay is a whole number of output
samples (:attr:`Decimator.delay_s`); times found on the decimated audio are moved back by it.

A rate with no such integer factor (above 48 kHz but not a multiple of a rate between 16 and
48 kHz) is left as it is.
"""
from __future__ import annotations

import numpy as np

from media_core.errors import ParameterError

__all__ = ["MAX_RATE_HZ", "MIN_RATE_HZ", "decimation_factor", "Decimator", "decimate"]

#: highest rate the detector works at (the highest rate of its training data)
MAX_RATE_HZ = 48000
#: lowest rate decimation may bring audio to (else the audio is left at its own rate)
MIN_RATE_HZ = 16000
#: input samples filtered at a time (the window matrix is CHUNK / q x filter length)
_CHUNK = 1 << 16
#: half-length of the low-pass in output samples (its delay); 24 -> 0.5 ms at 48 kHz
_HALF_OUT = 24


def decimation_factor(sr: int) -> int:
    """The smallest integer ``q`` with ``sr % q == 0`` and ``sr / q <= MAX_RATE_HZ``; 1 if there
    is none that keeps at least :data:`MIN_RATE_HZ`.

    Examples
    --------
    >>> decimation_factor(48000), decimation_factor(96000), decimation_factor(176400)
    (1, 2, 4)
    """
    sr = int(sr)
    if sr <= 0:
        raise ParameterError(f"sample rate must be positive, got {sr}")
    if sr <= MAX_RATE_HZ:
        return 1
    for q in range(2, sr // MIN_RATE_HZ + 1):
        if sr % q == 0 and sr // q <= MAX_RATE_HZ:
            return q
    return 1


class Decimator:
    """Causal, stateful decimation by ``q`` of one stretch of audio (``reset`` starts another).

    ``process(x)`` takes any number of input samples and returns the output samples they
    complete: the concatenation over blocks equals ``decimate`` of the whole stretch.
    """

    def __init__(self, sr: int):
        from scipy.signal import firwin

        self.sr_in = int(sr)
        self.q = decimation_factor(sr)
        self.sr = self.sr_in // self.q
        if self.q > 1:
            n = 2 * _HALF_OUT * self.q + 1
            self._h = firwin(n, 0.9 / self.q).astype(np.float64)   # cutoff 0.9 x the new Nyquist
            self.delay_s = _HALF_OUT / self.sr
        else:
            self._h = np.ones(1)
            self.delay_s = 0.0
        self.reset()

    def reset(self) -> None:
        """Start a new stretch (after a gap): no history, phase 0."""
        self._hist = np.zeros(self._h.size - 1, dtype=np.float64)
        self._phase = 0          # input samples to skip before the next kept output sample

    def process(self, x: np.ndarray) -> np.ndarray:
        """The decimated samples (float32) that ``x`` completes."""
        x = np.asarray(x, dtype=np.float32)
        if self.q == 1:
            return x
        if x.size > _CHUNK:            # bounded temporaries however long the array
            return np.concatenate([self._process(x[i: i + _CHUNK]) for i in range(0, x.size, _CHUNK)])
        return self._process(x)

    def _process(self, x: np.ndarray) -> np.ndarray:
        if x.size == 0:
            return np.zeros(0, dtype=np.float32)
        from scipy.signal import upfirdn

        buf = np.concatenate([self._hist, x.astype(np.float64)])
        L = self._h.size
        # the causal output at x[i] is the full convolution of h and buf at index i + L - 1; the
        # kept ones are i = phase, phase + q, ... < x.size. upfirdn computes only every q-th one.
        pos = np.arange(self._phase, x.size, self.q)
        if pos.size:
            first = L - 1 + int(pos[0])
            s0 = first % self.q
            conv = upfirdn(self._h, buf[s0:], up=1, down=self.q)
            j0 = (first - s0) // self.q
            out = conv[j0: j0 + pos.size]
            self._phase = int(pos[-1] + self.q - x.size)
        else:
            out = np.zeros(0)
            self._phase -= x.size
        self._hist = buf[buf.size - (L - 1):]
        return out.astype(np.float32)


def decimate(x: np.ndarray, sr: int) -> tuple[np.ndarray, int, float]:
    """``(audio, rate, delay_s)``: ``x`` at the detector's working rate (``x`` itself when it is
    at 48 kHz or less), the new rate, and the filter delay to subtract from times found on it.
    """
    d = Decimator(sr)
    if d.q == 1:
        return np.asarray(x, dtype=np.float32), int(sr), 0.0
    return d.process(x), d.sr, d.delay_s
