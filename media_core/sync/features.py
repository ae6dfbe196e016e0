"""What sync keeps of a feed from its one streaming decode: :class:`SyncFeatures`.

A band-limited onset envelope at :data:`FEATURE_RATE` (three bands between 300 Hz and 3.3 kHz,
log energy, half-wave rectified rise) and the audio itself at about 8 kHz, int8 log-companded. Microphones,
gains and sample rates differ between cameras; the *rises* of band energy do not. Muted spans
(digital silence, decoder gaps, spans the caller excludes) are zero in the envelope, so silence
never attracts a match. While decoding, the audio and the band energies go to temporary files
(:mod:`~media_core.sync.spill`) and the envelope is made from them a chunk at a time
(:mod:`~media_core.sync.chunked`): besides its small buffers a decode holds one byte per frame
(the zero mask). :class:`SyncFeatureListener` collects the features from the shared decode;
:func:`features_from_array` and :func:`features_from_file` are the stand-alone ways in.
"""
from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from media_core.errors import Cancelled, ParameterError
from media_core.progress import Progress, ShouldStop, check_cancel, sub_progress
from media_core.runs import long_runs

from .chunked import max_filter, median_of_chunks, moving_mean_chunks
from .heap import pin_mmap_threshold, release_freed_memory
from .spill import SpillWriter

FEATURE_RATE = 1000.0          # Hz, onset envelope rate used for correlation
TARGET_AUDIO_SR = 8000         # audio kept for fine refinement: native rate // k >= this
BANDS_HZ = ((300.0, 700.0), (700.0, 1500.0), (1500.0, 3300.0))
AUDIO_X0 = 1e-4               # log companding: int8 steps of 0.6 dB from -80 dBFS to full scale
_LOGC = math.log1p(1.0 / AUDIO_X0)
LOG_EPS = 1e-18                # energies are kept as float16 log(energy + LOG_EPS)


@dataclass
class SyncFeatures:
    """What sync keeps of one feed: a 1 kHz onset envelope (float16) and ~8 kHz audio, log-companded
    to int8 (:func:`compand`; 0.6 dB steps, about 27 dB signal to quantisation noise at any level
    above -80 dBFS: plenty for phase-transform correlation).

    ``audio[m]`` is at media time ``start_s + m / sr``; ``feat[i]`` and ``muted[i]`` are at
    ``start_s + i / FEATURE_RATE``. Size: about 11 kB per second of feed (40 MB per hour), of which
    the audio is 8 kB: above a few minutes it is a :class:`~media_core.sync.spill.SpilledArray`
    (an unlinked temporary file, read a window at a time), so about 3 kB per second (11 MB per
    hour) stay in memory.
    """

    path: str | None
    sr: float
    audio: np.ndarray              # int8 log-companded (see compand / expand), (n,); or SpilledArray
    start_s: float
    feat: np.ndarray               # float16 onset envelope at FEATURE_RATE, zero where muted
    muted: np.ndarray              # bool at FEATURE_RATE
    native_sr: int = 0

    @property
    def duration_s(self) -> float:
        return self.audio.size / self.sr

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    @property
    def nbytes(self) -> int:
        return int(self.audio.nbytes + self.feat.nbytes + self.muted.nbytes)

    @property
    def active_fraction(self) -> float:
        return float(1.0 - self.muted.mean()) if self.muted.size else 0.0

    def excluding(self, spans: Iterable[tuple[float, float]]) -> "SyncFeatures":
        """A copy with ``spans`` (media time, e.g. the mute listener's mutes) muted."""
        m = _spans_mask(self.muted.size, FEATURE_RATE, self.start_s, spans)
        if not m.any():
            return self
        muted = self.muted | m
        feat = self.feat.copy()
        feat[_dilate(muted, int(0.03 * FEATURE_RATE))] = 0.0
        return SyncFeatures(self.path, self.sr, self.audio, self.start_s, feat, muted, self.native_sr)


def compand(x: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] to int8 by log companding (the inverse is :func:`expand`).

    >>> import numpy as np
    >>> x = np.array([0.0, 0.5, -0.01, 1e-3], np.float32)
    >>> bool(np.all(np.abs(expand(compand(x)) - x) <= 0.04 * np.abs(x) + 1e-6))
    True
    """
    a = np.log1p(np.abs(x) / np.float32(AUDIO_X0)) * np.float32(127.0 / _LOGC)
    q = np.minimum(np.round(a), 127.0)
    return (np.sign(x) * q).astype(np.int8)


_EXPAND = (np.sign(np.arange(-128, 128)) * AUDIO_X0
           * np.expm1(np.minimum(np.abs(np.arange(-128, 128)), 127) / 127.0 * _LOGC)).astype(np.float32)


def expand(q: np.ndarray) -> np.ndarray:
    """int8 companded audio back to float32 (int16 arrays of older caches are read as PCM)."""
    q = np.asarray(q)
    if q.dtype == np.int16:
        return q.astype(np.float32) / np.float32(32767.0)
    return _EXPAND[q.astype(np.int16) + 128]


class _Growable:
    """An append-only 1-D array in one block (sized from the expected length, grown by half when
    short): a feed's features never sit in thousands of small chunks plus their concatenation.
    """

    def __init__(self, dtype, expected: int = 0):
        self.a = np.empty(max(1024, int(expected)), dtype)
        self.n = 0

    def append(self, x: np.ndarray) -> None:
        if self.n + x.size > self.a.size:
            b = np.empty(max(int(self.a.size * 1.5), self.n + x.size), self.a.dtype)
            b[: self.n] = self.a[: self.n]
            self.a = b
        self.a[self.n: self.n + x.size] = x
        self.n += x.size

    def pop(self, k: int) -> None:
        self.n = max(0, self.n - k)

    def take(self) -> np.ndarray:
        """The contents (the block itself when it is nearly full, else a trimmed copy)."""
        a, self.a = self.a, np.empty(0, self.a.dtype)
        return a[: self.n] if self.n >= 0.97 * a.size else a[: self.n].copy()


class _Extractor:
    """Streaming decimation (linear-phase polyphase FIR) plus band energies per 1 ms frame."""

    def __init__(self, sr: int, start_s: float = 0.0, expected_s: float = 0.0):
        from scipy.signal import butter, firwin

        if sr <= 0:
            raise ParameterError(f"sample rate must be > 0 (got {sr})")
        self.sr = int(sr)
        self.k = max(1, self.sr // TARGET_AUDIO_SR)
        self.sr_d = self.sr / self.k
        self.start_s = float(start_s)
        if self.k > 1:
            taps = 12 * self.k + 1
            self.h = firwin(taps, 0.42 * self.sr_d, fs=self.sr).astype(np.float32)
        else:
            self.h = np.ones(1, np.float32)
        self.D = (self.h.size - 1) // 2
        self._buf = np.zeros(self.D, np.float32)   # zero history before the first sample
        self._buf_start = -self.D                   # absolute input index of _buf[0]
        self._m_next = 0                            # next decimated output index
        self._n_in = 0                              # input samples received
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self.hop = max(1, int(round(self.sr_d / FEATURE_RATE)))
        self.fr = self.sr_d / self.hop
        nyq = self.sr_d / 2
        self.sos = []
        for lo, hi in BANDS_HZ:
            hi = min(hi, 0.9 * nyq)
            if lo < hi:
                self.sos.append(butter(2, [lo, hi], btype="band", fs=self.sr_d, output="sos").astype(np.float32))
        self.zi = [np.zeros((s.shape[0], 2), np.float32) for s in self.sos]
        self._dcarry = np.zeros(0, np.float32)      # decimated samples not yet in a full frame
        n_exp = int(max(0.0, expected_s) * 1.01 * self.sr_d) + 1024
        self._audio = SpillWriter(np.int8, n_exp)      # in a temporary file above a few minutes
        # the band energies too: they are read back a chunk at a time by _onset_envelope
        self._energy = [SpillWriter(np.float16, n_exp // self.hop) for _ in self.sos]
        self._mute = _Growable(bool, n_exp // self.hop)

    # -- input ---------------------------------------------------------------------------------
    def push(self, y: np.ndarray) -> None:
        """Append mono float samples (contiguous with what came before)."""
        if y.size == 0:
            return
        self._pending.append(np.asarray(y, np.float32))
        self._pending_n += y.size
        self._n_in += y.size
        if self._pending_n >= 4 * self.sr:   # batch ~4 s: keeps per-block Python cost low
            self._flush()

    def push_zeros(self, n: int) -> None:
        """A gap or undecodable span: ``n`` samples of nothing (marked muted)."""
        while n > 0:
            m = min(n, self.sr * 10)
            self.push(np.zeros(m, np.float32))
            n -= m

    @property
    def n_in(self) -> int:
        return self._n_in

    def _flush(self, final: bool = False) -> None:
        from scipy.signal import upfirdn

        parts = [self._buf] + self._pending
        if final:
            parts.append(np.zeros(self.D + self.k, np.float32))
        buf = np.concatenate(parts) if len(parts) > 1 else parts[0]
        self._pending, self._pending_n = [], 0
        buf_end = self._buf_start + buf.size               # exclusive absolute index
        n_total = self._n_in
        k, D = self.k, self.D
        m_last = (buf_end - 1 - D) // k
        if final:
            m_last = min(m_last, (n_total - 1) // k)
        if m_last >= self._m_next:
            s0 = self._m_next * k - D - self._buf_start
            s1 = m_last * k + D - self._buf_start + 1
            seg = buf[s0:s1]
            if k > 1:
                out = upfirdn(self.h, seg, 1, k)
                q0 = (2 * D) // k
                d = out[q0:q0 + (m_last - self._m_next + 1)].astype(np.float32)
            else:
                d = seg.astype(np.float32)
            self._m_next = m_last + 1
            self._features(d)
        keep_from = self._m_next * k - D
        self._buf = buf[keep_from - self._buf_start:].copy()
        self._buf_start = keep_from

    def _features(self, d: np.ndarray) -> None:
        from scipy.signal import sosfilt

        self._audio.append(compand(d))
        self._last_audio = d.size
        x = np.concatenate([self._dcarry, d]) if self._dcarry.size else d
        nfr = x.size // self.hop
        if nfr == 0:
            self._dcarry = x
            return
        xf = x[: nfr * self.hop]
        self._dcarry = x[nfr * self.hop:].copy()
        # bands filtered on the full stream with state; the carry is re-filtered next time, so
        # filter only the part that forms frames and keep the state at the frame boundary
        for b, sos in enumerate(self.sos):
            yb, self.zi[b] = sosfilt(sos, xf, zi=self.zi[b])
            yb *= yb
            # log energy in float16 (2 bytes a frame): the onset envelope is made of log rises
            self._energy[b].append(np.log(yb.reshape(nfr, self.hop).sum(axis=1) + LOG_EPS).astype(np.float16))
        self._mute.append(~np.any(xf.reshape(nfr, self.hop) != 0.0, axis=1))

    # -- output --------------------------------------------------------------------------------
    def finish(self, path: str | None = None, excluded: Iterable[tuple[float, float]] = ()) -> SyncFeatures:
        self._flush(final=True)
        if self._dcarry.size:  # last partial frame
            pad = np.zeros(self.hop - self._dcarry.size, np.float32)
            tail = self._dcarry
            self._dcarry = np.zeros(0, np.float32)
            self._features(np.concatenate([tail, pad]))
            # _features appended the padded audio; drop it again (the tail was already stored)
            self._audio.pop(self._last_audio)
        n_exp = -(-self._n_in // self.k)
        self._audio.n = min(self._audio.n, n_exp)
        audio = self._audio.take()
        energy = [g.take() for g in self._energy]     # one row per band (emptied by _onset_envelope)
        self._energy = []
        mute = self._mute.take()
        with TRANSIENT_LOCK:    # one feed's envelope at a time: decode threads' transients never add up
            feat, muted = _onset_envelope(energy, mute, self.fr, excluded=excluded, start_s=self.start_s)
            del energy, mute
            release_freed_memory()
        return SyncFeatures(path=path, sr=self.sr_d, audio=audio, start_s=self.start_s, feat=feat,
                            muted=muted, native_sr=self.sr)


#: held around the few steps that briefly need several whole-feed float32 copies (a feed's onset
#: envelope, its onset peaks, a pair's whole-feed correlation), so that threads decoding or
#: matching side by side never hold those transients at the same time
TRANSIENT_LOCK = threading.RLock()


def _spans_mask(n: int, rate: float, start_s: float, spans: Iterable[tuple[float, float]]) -> np.ndarray:
    m = np.zeros(n, bool)
    for a, b in spans or ():
        i0 = max(0, int(math.floor((float(a) - start_s) * rate)))
        i1 = min(n, int(math.ceil((float(b) - start_s) * rate)))
        if i1 > i0:
            m[i0:i1] = True
    return m


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """``mask`` grown by ``r`` samples on each side (1 byte per sample and a chunk of working memory)."""
    if r <= 0 or not mask.any():
        return mask
    return max_filter(mask.view(np.uint8), 2 * r + 1).view(bool)


class _Energy:
    """A band's energy per frame (float32, zero floor) from its stored float16 log, a slice at a
    time (the stored logs may be a :class:`~media_core.sync.spill.SpilledArray`).
    """

    def __init__(self, logs):
        self.logs = logs
        self.size = int(logs.size)

    def __getitem__(self, key: slice) -> np.ndarray:
        es = np.asarray(self.logs[key]).astype(np.float32)
        np.exp(es, out=es)
        es -= np.float32(LOG_EPS)
        np.maximum(es, 0.0, out=es)
        return es


def _onset_envelope(energy: list, mute: np.ndarray, fr: float, *, excluded=(), start_s=0.0):
    """Band energies per frame -> onset envelope at FEATURE_RATE, zero in muted spans.

    ``energy`` is a list of per-band float16 log energies (arrays or spilled); its items are
    dropped (set to None) once used. Every step runs a chunk at a time over all bands together
    (each band's floor, the median of its smoothed live energy, first): no whole-feed float32 copy.
    """
    nb, nf = len(energy), (energy[0].size if len(energy) else mute.size)
    if nf == 0:
        return np.zeros(0, np.float32), np.zeros(0, bool)
    # muted = exact digital zeros (at least 20 ms in a row) or spans the caller excluded
    muted = long_runs(mute, max(1, int(round(0.020 * fr))))
    muted |= _spans_mask(nf, fr, start_s, excluded)
    live = ~muted
    sel = None if bool(live.all()) or not bool(live.any()) else live
    size = max(1, int(round(0.006 * fr)))
    lag = max(1, int(round(0.004 * fr)))
    bands = [_Energy(e) for e in energy]

    def smoothed(b: int, masked: bool):
        for c0, c1, v in moving_mean_chunks(bands[b], size, mode="nearest"):
            yield v[sel[c0:c1]] if masked and sel is not None else v

    # each band's floor: 3 % of the median of its smoothed energy over the live frames
    floors = [np.float32(0.03 * median_of_chunks(lambda b=b: smoothed(b, True)) + 1e-12) for b in range(nb)]
    gone = _dilate(muted, max(1, int(round(0.03 * fr))))
    resample = abs(fr - FEATURE_RATE) > 1e-9
    onset = np.zeros(nf, np.float32 if resample else np.float16)
    tails: list[np.ndarray | None] = [None] * nb
    c0 = 0
    for parts in zip(*(smoothed(b, False) for b in range(nb))):
        m = parts[0].size
        acc = np.zeros(m, np.float32)
        for b, es in enumerate(parts):
            es += floors[b]
            L = np.log(es, out=es)
            full = L if tails[b] is None else np.concatenate([tails[b], L])
            k0 = full.size - m              # index in full of this chunk's first frame
            i0 = max(0, lag - c0)           # the rises start at frame lag
            d = np.subtract(full[k0 + i0:], full[k0 + i0 - lag: full.size - lag])
            np.maximum(d, 0.0, out=d)
            acc[i0:] += d
            tails[b] = full[-lag:].copy()
        acc[gone[c0:c0 + m]] = 0.0
        onset[c0:c0 + m] = acc
        c0 += m
    for b in range(nb):
        energy[b] = bands[b].logs = None     # the caller's list too: each band let go once used
    if resample:     # resampled to FEATURE_RATE a minute at a time
        n_out = int(math.floor((nf - 1) / fr * FEATURE_RATE)) + 1
        out = np.empty(n_out, np.float16)
        mout = np.empty(n_out, bool)
        step = int(60 * FEATURE_RATE)
        mu8 = muted.view(np.uint8)
        for i0 in range(0, n_out, step):
            t_out = np.arange(i0, min(n_out, i0 + step)) / FEATURE_RATE
            # the source frames around these times only (the same times as np.arange(nf) / fr)
            j0 = max(0, int(math.floor(t_out[0] * fr)) - 1)
            j1 = min(nf, int(math.ceil(t_out[-1] * fr)) + 2)
            t_src = np.arange(j0, j1) / fr
            out[i0:i0 + t_out.size] = np.interp(t_out, t_src, onset[j0:j1])
            mout[i0:i0 + t_out.size] = np.interp(t_out, t_src, mu8[j0:j1]) > 0.0
        return out, mout
    return onset, muted


class SyncFeatureListener:
    """Audio listener (see :mod:`media_core.listeners`) that collects :class:`SyncFeatures`.

    Channels are mixed to mono; gaps and undecodable spans become muted zeros so the time line
    stays true. ``finish`` returns the :class:`SyncFeatures` (None when no audio arrived).
    """

    name = "sync"

    def __init__(self, *, exclude: Iterable[tuple[float, float]] = ()):
        self.exclude = list(exclude)
        self._ex: _Extractor | None = None
        self._path: str | None = None
        self._sr = 0
        self._muted_spans: list[tuple[float, float]] = []
        self._expected_s = 0.0

    def on_start(self, info) -> None:
        pin_mmap_threshold()
        self._path = info.path
        self._sr = int(info.sr)
        self._expected_s = float(getattr(info, "duration_s", 0.0) or 0.0)

    def _ensure(self, start_s: float, sr: int) -> _Extractor:
        if self._ex is None:
            self._ex = _Extractor(sr, start_s, expected_s=self._expected_s)
        return self._ex

    def _expected(self) -> float:
        ex = self._ex
        return ex.start_s + ex.n_in / ex.sr

    def on_block(self, block) -> None:
        y = block.y
        if y.ndim == 2:
            y = y[0] if y.shape[0] == 1 else y.mean(axis=0)
        ex = self._ensure(block.start_s, block.sr)
        if block.sr != ex.sr:
            raise ParameterError(f"sample rate changed mid-stream ({ex.sr} -> {block.sr} Hz)")
        exp = self._expected()
        d = int(round((block.start_s - exp) * ex.sr))
        if d > 0:                     # a hole the decoder did not announce: keep time true
            ex.push_zeros(d)
        elif d < 0:                   # overlap: drop what we already have
            y = y[-d:]
        ex.push(y)

    def on_gap(self, start_s: float, end_s: float, *, missing_packets: int = 0) -> None:
        self._muted_spans.append((start_s, end_s))
        if self._ex is not None:
            n = int(round((end_s - self._expected()) * self._ex.sr))
            if n > 0:
                self._ex.push_zeros(n)

    def on_error(self, start_s: float, end_s: float, message: str = "") -> None:
        self.on_gap(start_s, end_s)

    def finish(self, end_s: float | None = None) -> SyncFeatures | None:
        if self._ex is None:
            return None
        return self._ex.finish(self._path, excluded=self.exclude + self._muted_spans)


def save_features(path: str | os.PathLike, feats: SyncFeatures) -> None:
    """Write ``feats`` to ``path`` (``.npz``, replaced atomically): the cache format of a case.

    The same file as ``np.savez`` writes; spilled audio is copied a chunk at a time.
    """
    import zipfile

    p = os.fspath(path)
    tmp = p[:-4] + ".tmp.npz" if p.endswith(".npz") else p + ".tmp.npz"
    arrays = {"audio": feats.audio, "feat": feats.feat, "muted": feats.muted,
              "meta": np.array([feats.sr, feats.start_s, feats.native_sr], dtype=np.float64)}
    try:
        with zipfile.ZipFile(tmp, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, a in arrays.items():
                with zf.open(name + ".npy", "w", force_zip64=True) as fh:
                    _write_npy(fh, a)
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _write_npy(fh, a) -> None:
    """``a`` (an ndarray or a :class:`~media_core.sync.spill.SpilledArray`) in ``.npy`` format."""
    from numpy.lib import format as npy

    if isinstance(a, np.ndarray):
        npy.write_array(fh, a, allow_pickle=False)
        return
    npy.write_array_header_1_0(fh, {"descr": npy.dtype_to_descr(a.dtype), "fortran_order": False,
                                    "shape": (a.size,)})
    step = 1 << 20
    for i0 in range(0, a.size, step):
        fh.write(a.read(i0, i0 + step).data)


def _read_npy(fh, *, spill: bool = False):
    """An array from an ``.npy`` stream; with ``spill``, a 1-D one is read a chunk at a time into a
    :class:`~media_core.sync.spill.SpillWriter` (kept in a temporary file when large).
    """
    from numpy.lib import format as npy

    if not spill:
        return npy.read_array(fh, allow_pickle=False)
    version = npy.read_magic(fh)
    read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    shape, fortran, dtype = read_header(fh)
    if len(shape) != 1 or dtype.hasobject:
        raise ValueError("sync audio must be a 1-D array of numbers")
    n = int(shape[0])
    out = SpillWriter(dtype, n)
    step = 1 << 20
    for i0 in range(0, n, step):
        k = min(step, n - i0) * dtype.itemsize
        buf = fh.read(k)
        if len(buf) != k:
            raise EOFError("sync audio: the stored array is cut short")
        out.append(np.frombuffer(buf, dtype))
    return out.take()


def load_features(path: str | os.PathLike, *, feed_path: str | None = None) -> SyncFeatures | None:
    """The :class:`SyncFeatures` written by :func:`save_features`, or None (missing or damaged:
    a damaged cache is recomputed, never trusted). The audio is read a chunk at a time and kept
    in a temporary file when large (:mod:`~media_core.sync.spill`).
    """
    import zipfile

    if not os.path.isfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            parts = {}
            for name in ("meta", "feat", "muted", "audio"):
                with zf.open(name + ".npy") as fh:
                    parts[name] = _read_npy(fh, spill=name == "audio")
        sr, start_s, native_sr = parts["meta"].tolist()
        return SyncFeatures(path=feed_path, sr=sr, audio=parts["audio"], start_s=start_s, feat=parts["feat"],
                            muted=parts["muted"], native_sr=int(native_sr))
    except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile):
        return None


@dataclass(frozen=True)
class StoredFeatures:
    """A feed's :class:`SyncFeatures` on disk, read only when a match needs them.

    Sync accepts one wherever it accepts features: a release's full-rate features never all sit
    in memory at once (a few feeds at a time are), and it pickles as two paths.
    """

    path: str
    feed_path: str | None = None

    def load(self) -> SyncFeatures | None:
        return load_features(self.path, feed_path=self.feed_path)


def features_from_array(y, sr: int, *, start_s: float = 0.0, exclude: Iterable[tuple[float, float]] = (),
                        path: str | None = None) -> SyncFeatures:
    """:class:`SyncFeatures` of an array ``y`` (shape ``(n,)`` or ``(channels, n)``) at ``sr``."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=0)
    if y.ndim != 1:
        raise ParameterError(f"audio must be shaped (n,) or (channels, n); got {y.shape}")
    ex = _Extractor(int(sr), start_s, expected_s=y.size / float(sr))
    step = int(sr) * 60
    for i in range(0, y.size, step):
        ex.push(y[i:i + step])
    return ex.finish(path, excluded=exclude)


def features_from_file(path: str | os.PathLike, *, exclude: Iterable[tuple[float, float]] = (),
                       progress: Progress | None = None,
                       should_stop: ShouldStop | None = None) -> SyncFeatures | None:
    """Decode ``path``'s audio once and return its :class:`SyncFeatures` (None: no audio).

    ``progress(fraction, message)`` follows the decode; ``should_stop()`` is polled while
    decoding and :class:`~media_core.errors.Cancelled` is raised when it returns True.
    """
    from media_core.io.decode import run_listeners

    what = f"reading {os.path.basename(os.fspath(path))} for sync"
    check_cancel(should_stop, what)
    li = SyncFeatureListener(exclude=exclude)
    res = run_listeners(path, [li], progress=sub_progress(progress, 0.0, 1.0, what) if progress else None,
                        should_stop=should_stop)
    if (res.get("_decode") or {}).get("stopped"):
        raise Cancelled(what)
    check_cancel(should_stop, what)
    if progress is not None:
        progress(1.0, what)
    return res[li.name]
