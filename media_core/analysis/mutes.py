"""Muted-span detection that never calls quiet live audio muted.

A *mute* is a span of a feed where the microphone's sound is gone. Kinds:

``digital-silence``
    decoded samples exactly zero (within one 16-bit step) on every channel for at least
    ``min_mute_s``. Boundaries are found at sample level and corrected for codec smear (AAC
    spreads quantisation noise around a cut within the transform window straddling it): with
    the AAC frame grid, the cut is searched only where the codec's windows allow it (see
    :func:`_grid_range`) and placed at the drop from live sound to smear (:func:`_drop_point`).
``near-silence``
    a dead electrical floor: RMS at or below -80 dBFS, steady, white-ish (not the low-frequency
    shape of a room or a car) and without acoustic events (peaks below -60 dBFS).
``packet-gap``
    the audio timestamps jump: packets are missing (told by :mod:`media_core.io.decode`).
``late-audio-start`` / ``audio-ends-early``
    the audio stream starts after the video starts / ends before the video ends.
``no-audio-track``
    the feed has no audio stream at all.
``undecodable``
    audio packets exist but fail to decode.
``truncated``
    the file's data stops before its declared duration (cut off after its front index), or the
    audio packets end before the audio stream's declared length (told by the decoder).

Quiet but live audio (room tone, a closed car, pauses in speech) is never a mute; long quiet
passages are listed in ``quiet`` (kind ``quiet-live``) with their level, so a reviewer can see
them. A multichannel feed is muted only where *every* channel is silent: one dead channel while
another carries sound is listed in ``quiet`` as ``channel-silence`` naming the channel.

:class:`MuteListener` works on streamed blocks (memory: a few bytes per 20 ms window plus a few
blocks of samples); :func:`find_mutes` runs it over an in-memory array.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from media_core.errors import ParameterError
from media_core.listeners import AudioBlock, AudioStreamInfo
from media_core.runs import runs

ALGORITHM_VERSION = "mutes/3"  # 2: edges searched on the AAC window grid; near-silence smear-corrected
#                                3: truncated spans
KINDS = ("digital-silence", "near-silence", "packet-gap", "late-audio-start", "audio-ends-early",
         "no-audio-track", "undecodable", "truncated")

WIN_S = 0.02            # analysis window
SUB = 32                # samples per sub-window when refining edges
CTX = 6144              # samples of context kept around an edge
MAX_SMEAR = 1024        # codec smear we may move an edge across without a frame grid (one AAC frame)
GRID_SMEAR = 2048       # ...and with the AAC frame grid: the MDCT window straddling the cut
SMEAR_DROP_DB = 18.0    # smear is at least this far below the sound next to it
STEP_DB = 12.0          # a cut: the sound before it at least this far above all that follows
STEP_REF = 256          # samples of sound before a candidate cut that set its level
FALLBACK_DB = 3.0       # within the codec's window range, the largest drop if at least this
LATEST_SHARP_DB = 15.0  # digital silence: of the qualifying drops, the latest this sharp (local step)
STEP_LOCAL = 64         # samples each side of a candidate cut when choosing the sharpest step
STEP_SUB = 16           # resolution of the cut search (samples)
AAC_SHORT = 128         # AAC short-window hop (eight per frame)
ZERO = 1.0001 / 32768.0  # one 16-bit step (plus float rounding)


def _db(x: float, floor: float = -200.0) -> float:
    return round(10.0 * math.log10(x), 2) if x > 0 else floor


def _amp_db(x: float, floor: float = -200.0) -> float:
    return round(20.0 * math.log10(x), 2) if x > 0 else floor


def _smear_back(a: np.ndarray, exact: int) -> int:
    """Where sound really stops before a zero run that starts at ``exact`` (index into ``a``).

    ``a`` is the per-sample peak over channels. A lossy codec leaves a low tail of quantisation
    noise after a cut (at most about one AAC frame). The reference is the sound further back
    (median sub-window peak); we step back over sub-windows more than SMEAR_DROP_DB below it,
    and accept the move only if it ends in sound within MAX_SMEAR: a longer quiet stretch is
    live quiet audio, not smear, and the edge stays at the first zero sample.
    """
    lo = max(0, exact - MAX_SMEAR)
    ref_part = a[max(0, lo - (CTX - MAX_SMEAR)):lo]
    if ref_part.size < 4 * SUB:
        return exact
    nsub = ref_part.size // SUB
    ref = float(np.median(ref_part[-nsub * SUB:].reshape(nsub, SUB).max(axis=1)))
    lim = ref * 10 ** (-SMEAR_DROP_DB / 20)
    j = exact
    while j - SUB >= lo and a[j - SUB:j].max() < lim:
        j -= SUB
    if j == exact:
        return exact
    if j - SUB < lo and (j - SUB < 0 or a[j - SUB:j].max() < lim):
        return exact                 # a quiet stretch too long to be smear: live quiet audio
    w = a[j - SUB:j]
    loud = np.flatnonzero(w >= lim)
    return j - SUB + int(loud[-1]) + 1 if loud.size else j


def _drop_point(p: np.ndarray, lo: int, hi: int, end: int, floor_p: float, step_db: float = STEP_DB,
                fallback_db: float | None = None, min_before: float = 0.0,
                latest_sharp_db: float | None = None) -> int | None:
    """Where live sound ends before a mute whose settled part starts at ``end`` (index into ``p``).

    ``p`` is the per-sample power (max over channels). A candidate cut ``j`` in ``[lo, hi]``
    (step STEP_SUB, aligned to ``end``) qualifies when the mean power of the STEP_REF samples
    before it is at least STEP_DB above everything from ``j`` to ``end`` (the loudest STEP_SUB
    sub-block, and at least ``floor_p``): codec smear is quantisation noise of the sound before
    the cut, 20-40 dB below it, while live sound goes on at its own level. Of the qualifying
    candidates the sharpest local step wins (power in the STEP_LOCAL samples before over the
    STEP_LOCAL after); with ``latest_sharp_db``, the latest candidate whose local step is at
    least that sharp wins instead (at the peak of its run), so that the end of speech shortly
    before a cut is not taken for the cut. When none qualifies and ``fallback_db`` is given, the largest drop in the
    range is taken if it is at least ``fallback_db``. Candidates whose sound before is not above
    ``min_before`` (mean power) are not cuts. Returns None otherwise. The result is
    refined to the sample: just after the last sample above the geometric mean of the two levels.
    """
    S, L = STEP_SUB, STEP_REF
    lo = max(lo, 1)
    hi = min(hi, end)
    if hi < lo or end > p.size:
        return None
    k = (end - lo) // S                      # candidates end - m*S, m = 0..k
    j0 = end - k * S
    if j0 < 1:
        return None
    e = p[j0:end].reshape(k, S).mean(axis=1) if k else np.zeros(0)
    after = np.maximum.accumulate(e[::-1])[::-1] if k else e   # loudest sub-block from j to end
    after = np.maximum(np.concatenate([after, [0.0]]), floor_p)
    js = j0 + S * np.arange(k + 1)
    cs = np.concatenate(([0.0], np.cumsum(p, dtype=np.float64)))
    a0 = np.maximum(js - L, 0)
    before = (cs[js] - cs[a0]) / np.maximum(js - a0, 1)
    inr = (js >= lo) & (js <= hi) & (before > min_before)
    ok = (before >= after * 10 ** (step_db / 10)) & inr
    idx = np.flatnonzero(ok)
    if not idx.size:
        if fallback_db is None or not inr.any():
            return None
        # no clear drop: the likeliest place is the largest drop in the range, if any
        sc = np.where(inr, before / after, 0.0)
        if sc.max() < 10 ** (fallback_db / 10):
            return None
        idx = np.array([int(np.argmax(sc))])
    # the sharpest local step among them: power just before over power just after (STEP_LOCAL)
    n2 = STEP_LOCAL
    jc = js[idx]
    b2 = (cs[jc] - cs[np.maximum(jc - n2, 0)]) / n2
    top = np.minimum(jc + n2, p.size)     # past `end` too: the mute's own level
    a2 = np.where(top > jc, (cs[top] - cs[jc]) / np.maximum(top - jc, 1), 0.0)
    loc = b2 / np.maximum(a2, max(floor_p, 1e-30))
    sharp = loc >= 10 ** (latest_sharp_db / 10) if latest_sharp_db is not None else np.zeros(loc.size, bool)
    if sharp.any():
        # the latest sharp step (a cut is the last drop before the mute: an earlier one, e.g. the
        # end of speech before a quiet moment, is live sound), at its peak
        last = int(np.flatnonzero(sharp)[-1])
        first = last
        while first > 0 and sharp[first - 1] and idx[first - 1] == idx[first] - 1:
            first -= 1
        best = int(idx[first + int(np.argmax(loc[first:last + 1]))])
    else:
        best = int(idx[int(np.argmax(loc))])
    j = int(js[best])
    # to the sample: the last sample in the sub-block before j that is well above what follows
    thr = math.sqrt(before[best] * after[best])
    w = p[max(0, j - S):j]
    loud = np.flatnonzero(w >= thr)
    return max(0, j - S) + int(loud[-1]) + 1 if loud.size else j


def _grid_range(a: np.ndarray, exact: int, phase: int, frame: int) -> tuple[int, int, int] | None:
    """Range of the true cut before a zero run starting at ``exact``, from the AAC frame grid.

    ``phase`` is the index (into ``a``) of an AAC frame boundary. A block whose MDCT window holds
    no sound decodes to exact zeros, so true zeros begin on a window boundary ``z0``: a frame
    boundary when the last coded window was long (2048 samples: the cut lies in
    ``(z0-2048, z0-1024]``, a little later when the last bit of sound was quantised away), or a
    short-window boundary (eight 256-sample windows, hop 128, offset 448 in the frame: the cut
    lies in ``(z0-256, z0-128]``). Returns (lo, hi, z0) or None when the zeros do not start on
    such a boundary (another codec, a different grid).
    """
    part = a[exact:exact + 2 * frame]
    nz = np.flatnonzero(part != 0.0)
    # the first run of at least AAC_SHORT exact zeros at or after `exact`
    z0 = None
    start = exact
    for q in nz.tolist() + [part.size]:
        if exact + q - start >= AAC_SHORT:
            z0 = start
            break
        start = exact + q + 1
    if z0 is None or z0 >= a.size:
        return None
    r = (z0 - phase) % frame
    h = AAC_SHORT
    if r == 0:
        return z0 - 2 * frame - STEP_SUB, z0 - frame + frame // 4, z0
    if r % h == h // 2:
        return z0 - 2 * h - STEP_SUB, z0 - h + STEP_SUB, z0
    return None


class _Segment:
    """A contiguous run of decoded audio (between gaps/errors)."""

    def __init__(self, sid: int, t0: float):
        self.id = sid
        self.t0 = t0
        self.n = 0                      # samples received
        self.carry: np.ndarray | None = None
        self.hist: deque = deque()      # (pos, y) of recent blocks
        self.hist_n = 0
        self.prev_zero = False
        self.prev_dead = False
        self.zrun_start: int | None = None  # window-aligned sample pos of the open run
        self.drun_start: int | None = None
        self.pending: list = []         # end edges waiting for samples: (kind, pos)


class MuteListener:
    """Find muted spans in one feed's decoded audio (an :class:`~media_core.listeners.AudioListener`).

    Parameters
    ----------
    min_mute_s : float
        Shortest span reported (adjacent spans of different kinds count together).
    near_silence_dbfs : float
        A near-silence run's RMS must be at or below this.
    near_silence_peak_dbfs : float
        ...and no sample above this (an acoustic event means the microphone is live).
    near_silence_min_whiteness : float
        Mean squared first difference over mean square (2 for white noise, far below 1 for room
        tone or car rumble). A dead electrical floor is white-ish.
    quiet_dbfs, min_quiet_s : float
        Live passages whose 20 ms RMS stays below ``quiet_dbfs`` for ``min_quiet_s`` are listed
        in ``quiet``.
    codec_smear : bool, optional
        Correct edges for lossy-codec smear; default: on unless the codec is PCM or lossless.
    codec_frame : int, optional
        Samples per codec frame, frames starting at each decoded segment's first sample (the
        packet grid); default 1024 for AAC, else none. With a frame grid, a digital-silence edge
        is searched only where the codec's transform windows allow the true cut to be.
    """

    name = "mutes"

    def __init__(self, *, min_mute_s: float = 0.5, near_silence_dbfs: float = -80.0,
                 near_silence_peak_dbfs: float = -60.0, near_silence_min_whiteness: float = 0.5,
                 near_silence_max_spread_db: float = 12.0, quiet_dbfs: float = -55.0,
                 min_quiet_s: float = 1.0, codec_smear: bool | None = None,
                 codec_frame: int | None = None):
        if not (min_mute_s > 0 and math.isfinite(min_mute_s)):
            raise ParameterError(f"min_mute_s must be a finite number of seconds > 0 (got {min_mute_s})")
        self.min_mute_s = float(min_mute_s)
        self.near_db = float(near_silence_dbfs)
        self.near_peak_db = float(near_silence_peak_dbfs)
        self.near_white = float(near_silence_min_whiteness)
        self.near_spread = float(near_silence_max_spread_db)
        self.quiet_db = float(quiet_dbfs)
        self.min_quiet_s = float(min_quiet_s)
        self.params = dict(min_mute_s=self.min_mute_s, near_silence_dbfs=self.near_db,
                           near_silence_peak_dbfs=self.near_peak_db,
                           near_silence_min_whiteness=self.near_white,
                           near_silence_max_spread_db=self.near_spread, quiet_dbfs=self.quiet_db,
                           min_quiet_s=self.min_quiet_s)
        self.codec_smear = codec_smear
        self.codec_frame = codec_frame
        self.info: AudioStreamInfo | None = None

    # ------------------------------------------------------------------ listener protocol
    def on_start(self, info: AudioStreamInfo) -> None:
        self.info = info
        lossless = info.codec.startswith("pcm") or info.codec in ("flac", "alac", "wavpack", "tta", "mlp", "truehd")
        self.smear = (not lossless) if self.codec_smear is None else bool(self.codec_smear)
        frame = self.codec_frame if self.codec_frame is not None else (1024 if info.codec == "aac" else 0)
        self.frame = int(frame) if self.smear and frame and frame >= 8 * AAC_SHORT else 0
        self.sr = int(info.sr)
        self.ch = int(info.channels)
        # a power of two near WIN_S: divides the codec frame (AAC 1024), so blocks split evenly
        self.win = 1 << max(3, int(math.log2(WIN_S * self.sr * 1.25))) if self.sr else 1
        # a dead window: 20 ms RMS at most 3 dB above the near-silence limit
        self.gate_ms = 10 ** ((self.near_db + 3.0) / 10.0)
        self.keep_n = int(self.min_mute_s * self.sr) - 2 * GRID_SMEAR - 2 * self.win
        self.keep_n = max(self.win, self.keep_n)
        self.seg: _Segment | None = None
        self.nseg = 0
        self.segments: list[tuple[int, float, int]] = []   # (id, t0, n samples)
        self.w: dict[str, list[np.ndarray]] = {k: [] for k in ("seg", "pos", "len", "ms", "zero", "chz",
                                                                 "pk", "dsq", "ss")}
        self.edges: dict[tuple[int, str, int], dict] = {}
        self.events: list[dict] = []    # gaps and errors
        self.first_audio: float | None = None
        self.last_audio: float | None = None

    def on_block(self, block: AudioBlock) -> None:
        y = block.y
        if y.ndim == 1:
            y = y[None, :]
        n = y.shape[1]
        if n == 0:
            return
        seg = self.seg
        if seg is None or abs(block.start_s - (seg.t0 + seg.n / self.sr)) > 0.5 / self.sr + 1e-6:
            self._close_segment()
            seg = self._open_segment(block.start_s)
        if self.first_audio is None:
            self.first_audio = block.start_s
        self.last_audio = block.start_s + n / self.sr
        pos0 = seg.n
        seg.hist.append((pos0, y))
        seg.hist_n += n
        seg.n += n
        need = CTX + max(self.keep_n, 0) + 2 * self.win + n
        while len(seg.hist) > 2 and seg.hist_n - seg.hist[0][1].shape[1] >= need:
            seg.hist_n -= seg.hist.popleft()[1].shape[1]
        self._resolve_pending(seg, final=False)
        win = self.win
        pos = pos0
        if seg.carry is not None:  # join the partial window left from the previous block
            c = seg.carry.shape[1]
            y = np.concatenate([seg.carry, y], axis=1)
            seg.carry = None
            pos -= c
            n += c
        m = n // win
        if m:
            self._windows(seg, y[:, :m * win].reshape(y.shape[0], m, win), pos)
        if m * win < n:
            seg.carry = y[:, m * win:].copy()

    def on_gap(self, start_s: float, end_s: float, *, missing_packets: int) -> None:
        self._close_segment()
        self.events.append(dict(kind="packet-gap", start_s=start_s, end_s=end_s,
                                missing_packets=int(missing_packets)))
        self.last_audio = max(self.last_audio or 0.0, end_s)
        if self.first_audio is None:
            self.first_audio = start_s

    def on_error(self, start_s: float, end_s: float, message: str) -> None:
        self._close_segment()
        self.events.append(dict(kind="undecodable", start_s=start_s, end_s=end_s, message=message))
        self.last_audio = max(self.last_audio or 0.0, end_s)
        if self.first_audio is None:
            self.first_audio = start_s

    def on_truncated(self, start_s: float, end_s: float, evidence: dict) -> None:
        """The data stops at ``start_s``; the headers declare it goes on to ``end_s``."""
        self._close_segment()
        self.events.append(dict(kind="truncated", start_s=start_s, end_s=end_s, evidence=evidence))

    def finish(self, end_s: float) -> dict[str, Any]:
        if self.info is None:
            raise ParameterError("MuteListener.finish called before on_start")
        self._close_segment()
        return self._result(float(end_s))

    # ------------------------------------------------------------------ streaming internals
    def _open_segment(self, t0: float) -> _Segment:
        seg = _Segment(self.nseg, t0)
        if self.nseg == 0:
            seg.pending.append(("z", 0))  # the audio's first samples: codec priming may precede sound
        self.nseg += 1
        self.seg = seg
        return seg

    def _close_segment(self) -> None:
        seg = self.seg
        if seg is None:
            return
        if seg.carry is not None and seg.carry.shape[1]:
            self._windows(seg, seg.carry[:, None, :], seg.n - seg.carry.shape[1])
            seg.carry = None
        end = seg.n
        # open runs end at the segment end: their end edge is the segment boundary itself
        if seg.zrun_start is not None:
            self._edge(seg, "z", "start", seg.zrun_start)
        if seg.drun_start is not None and end - seg.drun_start >= self.keep_n:
            self._edge(seg, "d", "start", seg.drun_start)
        self._resolve_pending(seg, final=True)
        self.segments.append((seg.id, seg.t0, seg.n))
        self.seg = None

    def _windows(self, seg: _Segment, Y: np.ndarray, pos: int) -> None:
        """Measure windows ``Y`` (channels, m, L) starting at segment sample ``pos``."""
        ch, m, L = Y.shape
        ss_c = np.einsum("cmk,cmk->cm", Y, Y)  # per channel sum of squares
        ss_max = ss_c.max(axis=0) if ch > 1 else ss_c[0]
        thr2 = ZERO * ZERO
        zero = ss_max <= thr2
        cand = np.flatnonzero(~zero & (ss_max <= L * thr2))
        if cand.size:
            zero[cand] = np.abs(Y[:, cand, :]).max(axis=(0, 2)) <= ZERO
        if ch > 1:
            chz_c = ss_c <= thr2
            cc = np.flatnonzero((~chz_c & (ss_c <= L * thr2)).any(axis=0))
            if cc.size:
                chz_c[:, cc] = np.abs(Y[:, cc, :]).max(axis=2) <= ZERO
            chz = np.zeros(m, np.uint8)
            for c in range(min(ch, 8)):
                chz |= (chz_c[c].astype(np.uint8) << c)
        else:
            chz = zero.astype(np.uint8)
        ms = ss_max / L
        dead = ms <= self.gate_ms
        pk = np.full(m, np.nan, np.float32)
        dsq = np.zeros(m, np.float32)
        di = np.flatnonzero(dead & ~zero)
        if di.size:
            Yd = Y[:, di, :]
            pk[di] = np.abs(Yd).max(axis=(0, 2))
            dd = np.diff(Yd, axis=2)
            dsq[di] = np.einsum("cmk,cmk->m", dd, dd) * (L / max(1, L - 1))
        ss_tot = ss_c.sum(axis=0) if ch > 1 else ss_c[0]
        w = self.w
        w["seg"].append(np.full(m, seg.id, np.int32))
        w["pos"].append(pos + L * np.arange(m, dtype=np.int64))
        w["len"].append(np.full(m, L, np.int32))
        w["ms"].append(ms.astype(np.float32))
        w["zero"].append(zero)
        w["chz"].append(chz)
        w["pk"].append(pk)
        w["dsq"].append(dsq)
        w["ss"].append(ss_tot.astype(np.float32))
        self._track(seg, zero, pos, L, "z")
        self._track(seg, dead, pos, L, "d")

    def _track(self, seg: _Segment, flags: np.ndarray, pos: int, L: int, kind: str) -> None:
        """Follow runs of ``flags`` across blocks; capture edge context for runs that matter.

        A run matters when it is long enough to become a mute after refinement, or (zero runs)
        when it touches the segment's start, so it can be joined to a gap or a late start.
        """
        if not flags.size:
            return
        prev = seg.prev_zero if kind == "z" else seg.prev_dead
        if not prev and not flags.any():  # the usual case: sound throughout
            return
        open_start = seg.zrun_start if kind == "z" else seg.drun_start
        d = np.diff(np.concatenate(([prev], flags)).astype(np.int8))
        starts = np.flatnonzero(d == 1)
        ends = np.flatnonzero(d == -1)
        done: list[tuple[int, int]] = []
        if prev:
            if not ends.size:  # the open run simply goes on
                self._maybe_start(seg, kind, open_start, pos + flags.size * L)
                return
            done.append((open_start, pos + int(ends[0]) * L))
            ends = ends[1:]
        k = ends.size
        if k:
            s_pos = pos + starts[:k] * L
            e_pos = pos + ends * L
            sel = (e_pos - s_pos) >= self.keep_n
            if kind == "z":
                sel |= s_pos == 0
            done += list(zip(s_pos[sel].tolist(), e_pos[sel].tolist()))
        for s_, e_ in done:
            if e_ - s_ >= self.keep_n or (kind == "z" and s_ == 0):
                self._edge(seg, kind, "start", s_)
                seg.pending.append((kind, e_))
        new_open = pos + int(starts[-1]) * L if starts.size > k else None
        if new_open is not None:
            self._maybe_start(seg, kind, new_open, pos + flags.size * L)
        if kind == "z":
            seg.prev_zero, seg.zrun_start = bool(flags[-1]), new_open
        else:
            seg.prev_dead, seg.drun_start = bool(flags[-1]), new_open

    def _maybe_start(self, seg: _Segment, kind: str, start: int, now: int) -> None:
        """Capture an open run's start edge once it matters (while its samples are held)."""
        if now - start >= self.keep_n or (kind == "z" and start == 0):
            self._edge(seg, kind, "start", start)

    def _samples(self, seg: _Segment, p0: int, p1: int) -> tuple[int, np.ndarray]:
        """Samples of the segment in [p0, p1) that are still held; returns (first pos, y)."""
        parts = []
        first = None
        for pos, y in seg.hist:
            a, b = max(p0, pos), min(p1, pos + y.shape[1])
            if a < b:
                if first is None:
                    first = a
                parts.append(y[:, a - pos:b - pos])
        if not parts:
            return p0, np.zeros((max(1, self.ch), 0), np.float32)
        return first, (parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1))

    def _edge(self, seg: _Segment, kind: str, side: str, pos: int) -> None:
        key = (seg.id, kind + side, int(pos))
        if key in self.edges:
            return
        extra = max(2 * self.win, GRID_SMEAR + 2 * AAC_SHORT)   # room to find where exact zeros begin or end
        if side == "start":
            p0, y = self._samples(seg, pos - CTX, pos + extra)
        else:
            p0, y = self._samples(seg, pos - extra, pos + CTX)
        self.edges[key] = dict(p0=p0, a=np.abs(y).max(axis=0) if y.shape[1] else np.zeros(0, np.float32),
                               ms=(y.astype(np.float64) ** 2).max(axis=0) if y.shape[1] else np.zeros(0),
                               seg_n=seg.n)

    def _resolve_pending(self, seg: _Segment, final: bool) -> None:
        keep = []
        for kind, pos in seg.pending:
            if final or pos + CTX <= seg.n:
                self._edge(seg, kind, "end", pos)
            else:
                keep.append((kind, pos))
        seg.pending = keep

    # ------------------------------------------------------------------ results
    def _refine_start(self, seg_id: int, pos: int, kind: str) -> int:
        """Sample position where a zero run really starts (codec smear removed)."""
        e = self.edges.get((seg_id, kind + "start", pos))
        if e is None or e["a"].size == 0:
            return pos
        a, p0 = e["a"], e["p0"]
        i = pos - p0                                   # index of the run's first window
        nz = np.flatnonzero(a[:max(0, i)] > ZERO)
        if kind == "z":
            exact = (nz[-1] + 1) if nz.size else 0      # first zero sample
            # refine inside the first window too: it is zero by construction
        else:
            exact = i
        if exact <= 0:
            return p0 + exact
        if not self.smear:
            return p0 + exact
        return p0 + self._cut_before(a, e["ms"], exact, (-p0) % self.frame if self.frame else 0)

    def _cut_before(self, a: np.ndarray, ms: np.ndarray, exact: int, phase: int) -> int:
        """Digital silence starts at ``exact`` (first zero sample): find where the sound really stopped.

        With the AAC frame grid the cut lies in the transform window that ends where exact zeros
        begin; the drop from live sound to smear is searched there. Otherwise (or when no drop
        is clear) the older sub-window rule (:func:`_smear_back`, at most MAX_SMEAR) applies.
        """
        if self.frame:
            g = _grid_range(a, exact, phase, self.frame)
            if g is not None:
                j = _drop_point(ms, g[0], g[1], exact, ZERO * ZERO, fallback_db=FALLBACK_DB,
                                latest_sharp_db=LATEST_SHARP_DB)
                if j is not None:
                    return j
                return min(exact, g[1])   # the codec's windows put the cut no later than this
        return _smear_back(a, exact)

    def _refine_end(self, seg_id: int, pos: int, kind: str) -> int:
        e = self.edges.get((seg_id, kind + "end", pos))
        if e is None or e["a"].size == 0:
            return pos
        a, p0 = e["a"], e["p0"]
        i = pos - p0                                   # index of the first live window
        if i >= a.size:
            return pos
        back = a[max(0, i - self.win):i]                # last zero window: find its real end
        if kind == "z":
            nzb = np.flatnonzero(back > ZERO)
            exact = (max(0, i - self.win) + nzb[-1] + 1) if nzb.size else i
            nz = np.flatnonzero(a[i:] > ZERO)
            exact = i + nz[0] if (exact == i and nz.size) else exact
        else:
            exact = i
        if not self.smear:
            return p0 + exact
        n = a.size
        return p0 + n - self._cut_before(a[::-1], e["ms"][::-1], n - exact,
                                         (n + p0) % self.frame if self.frame else 0)

    def _refine_dead(self, seg_id: int, pos: int, side: str, floor_ms: float) -> int:
        """Move a near-silence edge to the 32-sample sub-window where the level leaves the floor."""
        e = self.edges.get((seg_id, "d" + side, pos))
        if e is None or e["ms"].size < SUB:
            return pos
        ms, p0 = e["ms"], e["p0"]
        i = pos - p0
        lim = max(floor_ms, 1e-20) * 10.0  # 10 dB above the floor
        w = self.win
        if self.smear:
            # the codec smears the sound before (after) the floor into it: find the drop from the
            # live sound to smear-plus-floor, as for digital silence (no exact zeros, so no grid)
            n = ms.size
            if side == "start":
                hi = min(n, i + w)
                j = _drop_point(ms, i - GRID_SMEAR - w, hi, hi, max(floor_ms, 1e-20),
                                min_before=self.gate_ms)
                if j is not None:
                    return p0 + j
            else:
                r = ms[::-1]
                hi = min(n, n - i + w)
                j = _drop_point(r, n - i - GRID_SMEAR - w, hi, hi, max(floor_ms, 1e-20),
                                min_before=self.gate_ms)
                if j is not None:
                    return p0 + n - j
        if side == "start":
            lo, hi = max(0, i - w), min(ms.size, i + w)
            best = i
            for j in range(hi - SUB, lo - 1, -SUB):    # last loud sub-window before the floor
                if ms[j:j + SUB].mean() > lim:
                    best = j + SUB
                    break
            else:
                best = lo
            return p0 + best
        lo, hi = max(0, i - w), min(ms.size, i + w)
        for j in range(lo, hi - SUB + 1, SUB):
            if ms[j:j + SUB].mean() > lim:
                return p0 + j
        return p0 + hi

    def _result(self, end_s: float) -> dict[str, Any]:
        info = self.info
        sr = self.sr
        ev = lambda method, **m: {"method": method, "algorithm_version": ALGORITHM_VERSION,  # noqa: E731
                                  "measurements": m}
        if info.channels == 0 or sr == 0:
            span = dict(start_s=0.0, end_s=round(end_s, 6), kind="no-audio-track", confidence=1.0,
                        evidence=ev("container has no audio stream", duration_s=round(end_s, 6),
                                    video_start_s=info.video_start_s))
            spans = [span] + [self._truncated_span(e, ev) for e in self.events if e["kind"] == "truncated"]
            return {"mutes": spans, "quiet": [], "params": self.params, "algorithm_version": ALGORITHM_VERSION}
        W = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in self.w.items()}
        seg_t0 = {sid: t0 for sid, t0, _ in self.segments}
        seg_n = {sid: n for sid, _, n in self.segments}
        spans: list[dict] = []
        tol = 1.5 * self.win / sr

        def t(sid, pos):
            return seg_t0[sid] + pos / sr

        # ---- sample-level spans, per segment
        zero_runs: list[dict] = []
        near: list[dict] = []
        # windows are stored segment by segment: each segment is one contiguous range
        cuts = np.concatenate(([0], np.flatnonzero(np.diff(W["seg"])) + 1, [W["seg"].size])).astype(np.int64)
        for c0, c1 in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
            if c1 <= c0:
                continue
            sid = int(W["seg"][c0])
            sel = np.arange(c0, c1)
            z = W["zero"][sel].astype(bool)
            pos = W["pos"][sel]
            ln = W["len"][sel]
            s_idx, e_idx = runs(z)
            for a, b in zip(s_idx.tolist(), e_idx.tolist()):
                p_s, p_e = int(pos[a]), int(pos[b - 1] + ln[b - 1])
                touches_start = p_s == 0
                touches_end = p_e >= seg_n[sid]
                if p_e - p_s < self.keep_n and not (touches_start or touches_end):
                    continue
                rs = self._refine_start(sid, p_s, "z") if not touches_start else 0
                re_ = self._refine_end(sid, p_e, "z") if not touches_end else seg_n[sid]
                if touches_start and not touches_end:
                    re_ = self._refine_end(sid, p_e, "z")
                zms = W["ms"][sel[a:b]]
                zero_runs.append(dict(sid=sid, start_s=t(sid, rs), end_s=t(sid, re_),
                                      rms=_db(float(zms.mean())) if zms.size else -200.0,
                                      exact_s=(t(sid, p_s), t(sid, p_e)),
                                      touches_start=touches_start, touches_end=touches_end))
            # dead floor runs (include zero windows; the zero runs above win where they overlap)
            dead = W["ms"][sel] <= self.gate_ms
            s_idx, e_idx = runs(dead)
            for a, b in zip(s_idx.tolist(), e_idx.tolist()):
                p_s, p_e = int(pos[a]), int(pos[b - 1] + ln[b - 1])
                if p_e - p_s < self.keep_n:
                    continue
                idx = sel[a:b]
                zz = W["zero"][idx].astype(bool)
                if zz.all():
                    continue
                live = idx[~zz]
                tot_ms = float((W["ms"][idx] * W["len"][idx]).sum() / W["len"][idx].sum())
                peak = float(np.nanmax(W["pk"][live])) if live.size else 0.0
                steady = live
                if self.smear:  # codec smear of the sound around the floor is not the floor's own shape
                    wp = W["pos"][live]
                    inner = live[(wp >= p_s + GRID_SMEAR) & (wp + W["len"][live] <= p_e - GRID_SMEAR)]
                    steady = inner if inner.size > 2 else live
                ss_in = float(W["ss"][steady].sum())
                whiteness = float(W["dsq"][steady].sum() / ss_in) if ss_in > 0 else 0.0
                wdb = 10 * np.log10(np.maximum(W["ms"][steady], 1e-20))
                spread = float(np.percentile(wdb, 95) - np.percentile(wdb, 5)) if steady.size > 2 else 0.0
                zero_frac = float(zz.mean())
                ok = (_db(tot_ms) <= self.near_db and _amp_db(peak) <= self.near_peak_db
                      and whiteness >= self.near_white and spread <= self.near_spread)
                meas = dict(rms_dbfs=_db(tot_ms), peak_dbfs=_amp_db(peak), whiteness=round(whiteness, 3),
                            level_spread_db=round(spread, 2), zero_window_fraction=round(zero_frac, 3),
                            rms_limit_dbfs=self.near_db, peak_limit_dbfs=self.near_peak_db,
                            whiteness_min=self.near_white)
                if not ok:
                    continue
                fl = float(np.mean(W["ms"][steady])) if steady.size else 1e-20
                rs = self._refine_dead(sid, p_s, "start", fl) if p_s > 0 else 0
                re_ = self._refine_dead(sid, p_e, "end", fl) if p_e < seg_n[sid] else seg_n[sid]
                margin = min(1.0, (self.near_db - _db(tot_ms)) / 15.0)
                conf = round(0.75 + 0.2 * max(0.0, margin) - (0.1 if whiteness < 1.0 else 0.0), 3)
                near.append(dict(sid=sid, start_s=t(sid, rs), end_s=t(sid, re_), kind="near-silence",
                                 confidence=conf, evidence=ev("steady white-ish floor far below room tone",
                                                              **meas)))

        # ---- spans from timestamps (late start, gaps, errors, early end)
        v0 = info.video_start_s if info.video_start_s is not None and info.video_start_s >= 0 else 0.0
        has_video = info.video_start_s is not None or info.video_end_s is not None
        first = self.first_audio
        if first is not None and has_video and first > max(0.0, v0) + tol:
            sound = first
            if self.segments and self.segments[0][1] == first:
                # AAC in MP4 may present its priming samples before the first real sample
                # (1024 samples, plus the muxer's rounding); only that exact artefact is removed
                shift = self._refine_end(self.segments[0][0], 0, "z")
                if info.codec == "aac" and 960 <= shift <= 1024 + 64:
                    sound = t(self.segments[0][0], shift)
            spans.append(dict(start_s=max(0.0, v0), end_s=sound, kind="late-audio-start", confidence=0.99,
                              evidence=ev("first audio timestamp after first video timestamp",
                                          audio_start_s=round(first, 6), first_sound_s=round(sound, 6),
                                          video_start_s=round(v0, 6))))
        for e in self.events:
            if e["kind"] == "packet-gap":
                spans.append(dict(start_s=e["start_s"], end_s=e["end_s"], kind="packet-gap", confidence=0.99,
                                  evidence=ev("audio packet timestamps jump",
                                              missing_packets=e["missing_packets"],
                                              gap_from_s=round(e["start_s"], 6), gap_to_s=round(e["end_s"], 6))))
            elif e["kind"] == "truncated":
                spans.append(self._truncated_span(e, ev))
            else:
                spans.append(dict(start_s=e["start_s"], end_s=e["end_s"], kind="undecodable", confidence=0.95,
                                  evidence=ev("decoder rejected the audio packets", decoder_message=e["message"])))
        last = self.last_audio
        # where the data stops: a truncated file's missing tail is its own span, not a mute
        data_end = min([e["start_s"] for e in self.events if e["kind"] == "truncated"] + [end_s])
        if last is not None and has_video and data_end > last + tol:
            spans.append(dict(start_s=last, end_s=data_end, kind="audio-ends-early", confidence=0.97,
                              evidence=ev("last audio sample before the end of the video",
                                          audio_end_s=round(last, 6), video_end_s=round(data_end, 6))))
        if first is None and last is None and data_end > 0.0:  # an audio stream that yields nothing at all
            spans.append(dict(start_s=0.0, end_s=data_end, kind="undecodable", confidence=0.9,
                              evidence=ev("audio stream produced no samples")))

        # ---- zero runs: touching a timestamp span and short -> absorbed into it; else digital-silence
        for zr in zero_runs:
            dur = zr["end_s"] - zr["start_s"]
            absorbed = False
            if dur < self.min_mute_s:
                for sp in spans:
                    if zr["touches_start"] and abs(sp["end_s"] - zr["exact_s"][0]) <= tol:
                        sp["evidence"]["measurements"]["silent_samples_after_s"] = round(zr["end_s"] - sp["end_s"], 6)
                        sp["end_s"] = max(sp["end_s"], zr["end_s"])
                        absorbed = True
                        break
                    if zr["touches_end"] and abs(sp["start_s"] - zr["exact_s"][1]) <= tol:
                        meas = sp["evidence"]["measurements"]
                        meas["silent_samples_before_s"] = round(sp["start_s"] - zr["start_s"], 6)
                        sp["start_s"] = min(sp["start_s"], zr["start_s"])
                        absorbed = True
                        break
            if absorbed:
                continue
            spans.append(dict(start_s=zr["start_s"], end_s=zr["end_s"], kind="digital-silence",
                              confidence=0.99,
                              evidence=ev("decoded samples zero (within one 16-bit step) on every channel",
                                          peak_dbfs_at_most=_amp_db(ZERO), rms_dbfs=zr["rms"],
                                          zero_threshold=round(ZERO, 8),
                                          codec_smear_corrected=self.smear,
                                          codec_frame_grid=self.frame,
                                          channels=self.ch)))
        # near-silence spans that overlap digital silence keep only their own parts
        dsil = [s for s in spans if s["kind"] == "digital-silence"]
        for nr in near:
            pieces = [(nr["start_s"], nr["end_s"])]
            for d in dsil:
                new = []
                for a, b in pieces:
                    if d["end_s"] <= a or d["start_s"] >= b:
                        new.append((a, b))
                        continue
                    if d["start_s"] > a:
                        new.append((a, d["start_s"]))
                    if d["end_s"] < b:
                        new.append((d["end_s"], b))
                pieces = new
            for a, b in pieces:
                if b - a >= self.min_mute_s:
                    spans.append(dict(start_s=a, end_s=b, kind="near-silence", confidence=nr["confidence"],
                                      evidence=nr["evidence"]))

        # ---- drop what is too short (touching spans count together)
        spans.sort(key=lambda s: (s["start_s"], s["end_s"]))
        keep = [False] * len(spans)
        i = 0
        while i < len(spans):
            j, hi = i, spans[i]["end_s"]
            while j + 1 < len(spans) and spans[j + 1]["start_s"] <= hi + tol:
                j += 1
                hi = max(hi, spans[j]["end_s"])
            if hi - spans[i]["start_s"] >= self.min_mute_s - 1e-9:
                for k in range(i, j + 1):
                    keep[k] = spans[k]["end_s"] > spans[k]["start_s"]
            i = j + 1
        mutes = []
        for s, k in zip(spans, keep):
            if not k and not (s["kind"] == "truncated" and s["end_s"] > s["start_s"]):  # damage is always told
                continue
            s = {k2: v for k2, v in s.items() if not k2.startswith("_")}
            s["start_s"] = round(max(0.0, s["start_s"]), 6)
            s["end_s"] = round(s["end_s"], 6)
            s["evidence"]["measurements"]["duration_s"] = round(s["end_s"] - s["start_s"], 6)
            mutes.append(dict(start_s=s["start_s"], end_s=s["end_s"], kind=s["kind"],
                              confidence=s["confidence"], evidence=s["evidence"]))
        quiet = self._quiet(W, seg_t0, mutes, ev)
        return _plain({"mutes": mutes, "quiet": quiet, "params": self.params,
                       "algorithm_version": ALGORITHM_VERSION})

    @staticmethod
    def _truncated_span(e: dict, ev) -> dict:
        found = e.get("evidence") or {}
        m = dict(found.get("measurements") or {})
        m["decoder_algorithm_version"] = found.get("algorithm_version")
        m["duration_s"] = round(e["end_s"] - e["start_s"], 6)
        return dict(start_s=round(e["start_s"], 6), end_s=round(e["end_s"], 6), kind="truncated", confidence=0.99,
                    evidence=ev(found.get("method") or "data ends before the declared duration", **m))

    def _quiet(self, W, seg_t0, mutes, ev) -> list[dict]:
        """Quiet live passages and single silent channels (never mutes)."""
        out = []
        if not W["seg"].size:
            return out
        sr = self.sr
        t = np.array([seg_t0[s] for s in W["seg"].tolist()]) + W["pos"] / sr
        tend = t + W["len"] / sr
        in_mute = np.zeros(t.size, bool)
        for m in mutes:
            in_mute |= (tend > m["start_s"]) & (t < m["end_s"])
        qlim = 10 ** (self.quiet_db / 10)
        quiet = (W["ms"] <= qlim) & ~W["zero"].astype(bool) & ~in_mute
        # runs must also be contiguous in time
        brk = np.ones(t.size, bool)
        brk[1:] = np.abs(t[1:] - tend[:-1]) > 1e-6
        s_idx, e_idx = runs(quiet)
        for a, b in zip(s_idx.tolist(), e_idx.tolist()):
            # split at discontinuities
            cuts = [a] + [k for k in range(a + 1, b) if brk[k]] + [b]
            for a2, b2 in zip(cuts, cuts[1:]):
                if tend[b2 - 1] - t[a2] < self.min_quiet_s:
                    continue
                ms = float((W["ms"][a2:b2] * W["len"][a2:b2]).sum() / W["len"][a2:b2].sum())
                loud = float(W["ms"][a2:b2].max())
                out.append(dict(start_s=round(float(t[a2]), 6), end_s=round(float(tend[b2 - 1]), 6),
                                kind="quiet-live", confidence=0.9,
                                evidence=ev("live sound below the quiet level (not a mute)",
                                            rms_dbfs=_db(ms), loudest_window_dbfs=_db(loud),
                                            quiet_limit_dbfs=self.quiet_db)))
        if self.ch > 1:
            allz = W["zero"].astype(bool)
            for c in range(min(self.ch, 8)):
                cz = ((W["chz"] >> c) & 1).astype(bool) & ~allz
                s_idx, e_idx = runs(cz)
                for a, b in zip(s_idx.tolist(), e_idx.tolist()):
                    cuts = [a] + [k for k in range(a + 1, b) if brk[k]] + [b]
                    for a2, b2 in zip(cuts, cuts[1:]):
                        if tend[b2 - 1] - t[a2] < self.min_mute_s:
                            continue
                        ms = float((W["ms"][a2:b2] * W["len"][a2:b2]).sum() / W["len"][a2:b2].sum())
                        name = {0: "left", 1: "right"}.get(c, f"channel {c}") if self.ch == 2 else f"channel {c}"
                        out.append(dict(start_s=round(float(t[a2]), 6), end_s=round(float(tend[b2 - 1]), 6),
                                        kind="channel-silence", confidence=0.95,
                                        evidence=ev("one channel zero while another carries sound (not a mute)",
                                                    channel=c, channel_name=name,
                                                    other_channels_rms_dbfs=_db(ms))))
        out.sort(key=lambda q: q["start_s"])
        return out


def _plain(obj):
    """Numpy scalars to Python ones, so results are JSON-ready."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def find_mutes(y: np.ndarray, sr: int, *, start_s: float = 0.0, min_mute_s: float = 0.5,
               block_s: float = 2.0, **params) -> dict[str, Any]:
    """Find muted spans in an array.

    Parameters
    ----------
    y : np.ndarray, shape (n,) or (channels, n)
        Audio, float in [-1, 1]. Not modified.
    sr : int
        Sample rate in Hz.
    start_s : float
        Time of ``y[..., 0]``.
    min_mute_s : float
        Shortest mute reported.
    **params
        Passed to :class:`MuteListener`.

    Returns
    -------
    dict
        ``{"mutes": [...], "quiet": [...], "params": {...}, "algorithm_version": str}``; times in
        seconds. Only sample-level kinds (digital-silence, near-silence) can occur.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.full(48000 * 3, 0.1, np.float32); y[48000:96000] = 0
    >>> [(m["kind"], m["start_s"], m["end_s"]) for m in find_mutes(y, 48000)["mutes"]]
    [('digital-silence', 1.0, 2.0)]
    """
    if sr <= 0:
        raise ParameterError(f"sr must be > 0 (got {sr})")
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[None, :]
    if y.ndim != 2:
        raise ParameterError(f"y must be shaped (n,) or (channels, n); got {y.shape}")
    li = MuteListener(min_mute_s=min_mute_s, **params)
    n = y.shape[1]
    li.on_start(AudioStreamInfo(path="<array>", sr=int(sr), channels=y.shape[0], codec="pcm",
                                video_start_s=None, video_end_s=None, audio_start_s=start_s,
                                duration_s=n / sr))
    step = max(1, int(block_s * sr))
    for i in range(0, n, step):
        li.on_block(AudioBlock(start_s=start_s + i / sr, sr=int(sr), y=y[:, i:i + step]))
    return li.finish(start_s + n / sr)


def muted_seconds(spans: Sequence[dict]) -> float:
    """Total muted seconds of a ``mutes`` list (overlaps counted once)."""
    tot, hi = 0.0, -math.inf
    for s in sorted(spans, key=lambda s: s["start_s"]):
        a, b = max(s["start_s"], hi), s["end_s"]
        if b > a:
            tot += b - a
        hi = max(hi, b)
    return tot
