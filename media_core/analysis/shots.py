"""Gunshot detection and counting in body-cam and dash-cam audio (shots-2.1.2).

Three stages, so that a long feed costs little more than decoding it:

1. **Candidates** (:mod:`media_core.analysis.shot_candidates`, whole stream, cheap): every impulsive
   onset, loud or 40 dB down, with near-total recall.
2. **Features** (:mod:`media_core.analysis.shot_features`, only around candidates): onset shape,
   overload, a log-band patch, ring-down and context (neighbours, echo geometry, the feed's
   recent loudness), a fixed vector per candidate.
3. **Decision** (:mod:`media_core.analysis.shot_model`): a boosted tree ensemble fitted by
   ``scripts/train_shot_model.py`` on generated gunfire of two independent renderers, real
   recordings whose licences allow it and many kinds of distractors, and validated leave-one-
   family-out (``benchmarks/shots_accuracy.py``). Its probability is the shot's confidence.
   No hand-set ramp decides.

After the decision, candidates within ``min_separation_s`` of a more probable one are the same
event ("possible overlap" in the evidence when both looked like shots); echoes and handling
noise are rejected by the model from their context and shape. A shot is **confident** at
``confident`` (the model's calibrated threshold) and listed as a **possible** shot from
``report``; a possible shot inside a dense crackle is ``possible_fireworks``. A candidate where
the sound resumes out of a mute's silence (:func:`resumes_from_silence`) is never confident: the
jump out of nothing is the mute's, and no training data shows the model such an onset.

Audio above 48 kHz (a field recorder's 96 or 176.4 kHz) is first decimated to 48 kHz or less
(:mod:`media_core.analysis.shot_rate`): the model was fitted on 8 to 48 kHz audio, and several
features depend on the rate. Onsets stay on the file's own clock, and the shots say so in their notes.

Every shot's evidence names the model's version and SHA-256 and quotes its measurements.

Use :func:`detect_shots` on an array, or :class:`ShotListener` on a decoded stream (see
:mod:`media_core.listeners`); both give the same shots. :func:`group_volleys` groups shots into
volleys.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from media_core.analysis.shot_candidates import CandidateParams, find_candidates, frame_energies, refine_onsets
from media_core.analysis.shot_features import FEATURE_NAMES, FEATURE_VERSION, add_band_features, candidate_features
from media_core.analysis.shot_model import ShotModel, load_model
from media_core.analysis.shot_rate import MAX_RATE_HZ, Decimator, decimate
from media_core.errors import ParameterError
from media_core.listeners import AudioBlock, AudioStreamInfo

__all__ = ["ALGORITHM_VERSION", "ShotParams", "detect_shots", "group_volleys", "summarize", "ShotListener",
           "candidate_table", "resumes_from_silence"]

ALGORITHM_VERSION = "shots-2.1.2"
METHOD = ("impulsive-onset candidates (1-ms full-band and differenced energy jumps); onset, spectral, "
          "ring-down and context features; a boosted tree ensemble fitted on two independent renderers, "
          "licensed real recordings and distractors, validated leave-one-family-out")
#: Audio resuming from a mute. A candidate whose 100 ms (RESUME_SPAN_S) ending max(25 ms, 2048
#: samples) before its onset (room for codec pre-echo) are digital silence (no sample above
#: RESUME_PEAK_DBFS: a decoder's zeros), where that silence cut off sound (the 20 ms before it
#: began at RESUME_CUT_DBFS RMS or more), is where a mute ends: its jump out of nothing is the
#: mute's, not the sound's, and the model has no data to judge it by. It is reported as a
#: possible shot, never a confident one, with the reason in its notes. Not affected: a clip
#: that starts in digital silence (sound libraries pad shots), silence a sound faded into (a
#: noise gate closing at -90 dBFS between a library clip's shots), and a quiet live floor,
#: however far below full scale (a -60 dBFS peak limit touched 80 of family b's 2070 shots).
RESUME_SPAN_S = 0.100
RESUME_GAP_S = 0.025
RESUME_PEAK_DBFS = -120.0
RESUME_CUT_DBFS = -80.0
#: measurements quoted in a shot's evidence (the whole vector is in ``evidence.features``)
_QUOTED = ("peak_dbfs", "fullscale_frac", "flat_top_frac", "rise_ms", "jump_db", "jump_hf_db", "snr_db",
           "hf_snr_db", "blast_ms", "hf_share", "lf_share", "flatness", "centroid_khz", "drop_40_db",
           "dt_prev_ms", "dt_prev_stronger_ms", "prev_stronger_rel_db", "n_250ms", "over_recent_db", "history_s")


@dataclass(frozen=True)
class ShotParams:
    """Parameters of the detector.

    Attributes
    ----------
    confident, report : float or None
        Probability at or above which a shot counts (``confident: True``) and is listed at all
        (a possible shot). None: the thresholds the model was calibrated with.
    min_separation_s : float
        Candidates closer than this to a more probable one are the same event.
    volley_gap_s : float
        Shots separated by more than this start a new volley.
    jump_db, snr_db, floor_dbfs : float
        Candidate stage (:class:`~media_core.analysis.shot_candidates.CandidateParams`).
    model_path : str or None
        Another model file (default: the shipped model, checked against its recorded hash).
    """

    confident: float | None = None
    report: float | None = None
    min_separation_s: float = 0.030
    volley_gap_s: float = 2.0
    jump_db: float = CandidateParams.jump_db
    snr_db: float = CandidateParams.snr_db
    floor_dbfs: float = CandidateParams.floor_dbfs
    model_path: str | None = None


def _params(params: dict[str, Any]) -> ShotParams:
    try:
        return replace(ShotParams(), **params)
    except TypeError as exc:
        raise ParameterError(f"unknown shot detection parameter: {exc}") from None


def _thresholds(p: ShotParams, model: ShotModel) -> tuple[float, float]:
    conf = model.threshold_confident if p.confident is None else float(p.confident)
    rep = model.threshold_possible if p.report is None else float(p.report)
    return conf, min(rep, conf)


# ----------------------------------------------------------------------------------------------
# candidates and their features for one array

def _candidates(y: np.ndarray, sr: int, p: ShotParams) -> tuple[np.ndarray, int, tuple, list, np.ndarray]:
    """Mono audio, frame size, frame energies, candidates and refined onset samples."""
    x = _mono(y)
    h = max(1, int(round(sr / 1000)))
    en = frame_energies(x, h)
    cp = CandidateParams(jump_db=p.jump_db, snr_db=p.snr_db, floor_dbfs=p.floor_dbfs)
    cands = find_candidates(x, sr, cp, en)
    c = np.asarray(cands, dtype=np.int64).reshape(-1, 2)
    onsets = refine_onsets(x, c[:, 0] * h, np.minimum((c[:, 1] + 1) * h, x.size))
    return x, h, en, cands, onsets


def candidate_table(y: np.ndarray, sr: int, p: ShotParams | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Onset times (s) and the full feature matrix of every candidate in a mono array (training,
    evidence): the band features too, screen or not.
    """
    x, sr, delay = decimate(_mono(y), int(sr))
    x, h, en, cands, onsets = _candidates(x, sr, p or ShotParams())
    F = candidate_features(x, sr, en[0], en[1], h, cands, onsets)
    return onsets / float(sr) - delay, F


def resumes_from_silence(x: np.ndarray, sr: int, onsets: np.ndarray, *,
                         cut_before_db: float | None = None) -> np.ndarray:
    """Per onset sample, whether the sound resumes there out of a mute's digital silence.

    True where no sample of the :data:`RESUME_SPAN_S` ending ``max(RESUME_GAP_S, 2048 / sr)``
    before the onset exceeds :data:`RESUME_PEAK_DBFS`, and the silence cut off sound: the RMS of
    the 20 ms before its first silent sample is at least :data:`RESUME_CUT_DBFS`. When the
    silence reaches back to the start of ``x``, ``cut_before_db`` is that level for the sound
    before ``x`` (a streaming window's earlier audio); None: no sound before.
    """
    onsets = np.asarray(onsets, dtype=np.int64)
    out = np.zeros(onsets.size, dtype=bool)
    if onsets.size == 0 or x.size == 0:
        return out
    peak = 10 ** (RESUME_PEAK_DBFS / 20)
    gap = max(int(round(RESUME_GAP_S * sr)), 2048)
    span = max(1, int(round(RESUME_SPAN_S * sr)))
    a = onsets - gap - span
    for i in np.flatnonzero(a >= 0):
        if float(np.max(np.abs(x[a[i]: a[i] + span]))) > peak:
            continue
        level = cut_level_db(x, sr, int(a[i]))
        if level is None:
            level = cut_before_db
        out[i] = level is not None and level >= RESUME_CUT_DBFS
    return out


def cut_level_db(x: np.ndarray, sr: int, end: int, step: int = 1 << 15) -> float | None:
    """RMS (dBFS) of the 20 ms ending at the last sample of ``x[:end]`` above :data:`RESUME_PEAK_DBFS`.

    None when there is no such sample.
    """
    peak = 10 ** (RESUME_PEAK_DBFS / 20)
    for k in range(end, 0, -step):
        hit = np.flatnonzero(np.abs(x[max(0, k - step): k]) > peak)
        if hit.size:
            last = max(0, k - step) + int(hit[-1]) + 1
            pre = np.asarray(x[max(0, last - max(1, int(round(0.02 * sr)))): last], dtype=np.float64)
            return 10 * float(np.log10(max(float(np.mean(pre * pre)), 1e-30)))
    return None


def _detect_window(y: np.ndarray, sr: int, p: ShotParams, model: ShotModel, *,
                   cut_before_db: float | None = None) -> list[dict[str, Any]]:
    """Scored candidates of one array (times from its first sample), unmerged.

    The model's screen decides on the features without the band patch's rise, background and
    decay; only the candidates it passes get those (most of the cost) and the full model's
    probability. The others keep the screen's probability, below ``screen_threshold`` and so
    below any reporting threshold the model was fitted for.
    """
    x, h, en, cands, onsets = _candidates(y, sr, p)
    if not cands:
        return []
    F = candidate_features(x, sr, en[0], en[1], h, cands, onsets, bands=model.screen is None)
    ps = model.screen_proba(F)
    passed = ps >= model.screen_threshold
    if model.screen is not None:
        add_band_features(F, x, sr, onsets, np.flatnonzero(passed))
    prob = model.cascade_proba(F, ps)
    t = onsets / float(sr)
    res = resumes_from_silence(x, sr, onsets, cut_before_db=cut_before_db)
    return [{"time_s": float(t[i]), "onset_sample": int(onsets[i]), "p": float(prob[i]), "_x": F[i],
             "_screen": float(ps[i]), "_resumes": bool(res[i])} for i in range(t.size)]


class _Decider:
    """Streaming merge of scored candidates into reported shots (time order, any batching)."""

    def __init__(self, p: ShotParams, model: ShotModel, *, rate_note: str | None = None):
        self.p = p
        self.model = model
        self.rate_note = rate_note
        self.conf, self.rep = _thresholds(p, model)
        self.group: list[dict[str, Any]] = []
        self.out: list[dict[str, Any]] = []

    def add(self, events: list[dict[str, Any]]) -> None:
        for ev in events:
            if self.group and ev["time_s"] - self.group[0]["time_s"] >= self.p.min_separation_s:
                self._close()
            self.group.append(ev)

    def finish(self) -> list[dict[str, Any]]:
        self._close()
        return self.out

    def _screen(self, ev: dict[str, Any]) -> dict[str, Any]:
        if self.model.screen is None:
            return {}
        ps = ev.get("_screen")
        return {"screen": {"probability": None if ps is None else round(float(ps), 4),
                           "threshold": self.model.screen_threshold,
                           "passed": ps is None or ps >= self.model.screen_threshold}}

    def _close(self) -> None:
        g, self.group = self.group, []
        if not g:
            return
        best = max(g, key=lambda e: e["p"])
        if best["p"] < self.rep:
            return
        x = best["_x"]
        names = FEATURE_NAMES
        feats = {n: (None if not np.isfinite(v) else round(float(v), 3)) for n, v in zip(names, x)}
        conf = float(best["p"])
        confident = conf >= self.conf
        note: list[str] = []
        if best.get("_resumes"):
            if confident:
                note.append("not counted as confident: the sound resumes here out of digital silence (a mute's "
                            f"end: no sample above {RESUME_PEAK_DBFS:.0f} dBFS for {RESUME_SPAN_S * 1e3:.0f} ms "
                            f"before it, and the silence cut off sound at {RESUME_CUT_DBFS:.0f} dBFS or more), "
                            "so its onset may be the mute's, not a shot's; listen to it")
            confident = False
        others = [e for e in g if e is not best and e["p"] >= self.rep]
        if others:
            note.append("possible overlap: transients at "
                        f"{[round(e['time_s'], 4) for e in others]} s merged into this shot (closer than "
                        f"{self.p.min_separation_s * 1e3:.0f} ms)")
        n250 = feats.get("n_250ms") or 0
        cls = "gunshot" if confident else "impulsive_uncertain"
        if not confident and n250 >= 6:
            cls = "possible_fireworks"
            note.append(f"dense crackle around it ({int(n250)} transients within +-250 ms): fireworks-like")
        if (feats.get("history_s") or 0.0) < 0.3:
            note.append("less than 0.3 s of audio before it: judged on its shape alone")
        if self.rate_note:
            note.append(self.rate_note)
        meas = {k: feats[k] for k in _QUOTED if k in feats}
        meas["clipped"] = bool((feats.get("fullscale_frac") or 0) > 0 or (feats.get("flat_top_frac") or 0) >= 0.02)
        self.out.append({
            "time_s": round(float(best["time_s"]), 4), "confidence": round(conf, 3), "confident": bool(confident),
            "class": cls, "peak_dbfs": meas.get("peak_dbfs"), "clipped": meas["clipped"],
            "evidence": {"method": METHOD, "algorithm_version": ALGORITHM_VERSION,
                         "model": {"version": self.model.version, "sha256": self.model.sha256,
                                   "features": FEATURE_VERSION, "probability": round(conf, 4),
                                   "threshold_confident": self.conf, "threshold_possible": self.rep,
                                   **self._screen(best)},
                         "uncertainty": ("model probability; calibrated on held-out families (README, "
                                         "'Gunshots')"),
                         "measurements": meas, "features": feats, "notes": note}})


def detect_shots(y: np.ndarray, sr: int, **params: Any) -> list[dict[str, Any]]:
    """Detect gunshots in an audio array.

    Parameters
    ----------
    y : np.ndarray
        Audio, float, shape ``(n,)`` or ``(channels, n)``, full scale 1. Several channels are
        combined by taking, at each sample, the one of largest magnitude (keeps overload).
    sr : int
        Sample rate in Hz.
    **params
        Overrides of :class:`ShotParams` fields.

    Returns
    -------
    list of dict
        One per reported shot, sorted by time: ``time_s`` (onset, first arrival),
        ``confidence`` (the model's probability), ``confident`` (bool), ``class``
        ("gunshot", "impulsive_uncertain" or "possible_fireworks"), ``peak_dbfs``,
        ``clipped``, ``evidence``.

    Raises
    ------
    ModelError
        The model file is missing or damaged (no other detector is used instead).
    """
    p = _params(params)
    if sr <= 0:
        raise ParameterError(f"sample rate must be positive, got {sr}")
    x, sr_work, delay = decimate(_mono(y), int(sr))
    model = load_model(p.model_path)
    d = _Decider(p, model, rate_note=_rate_note(int(sr), sr_work))
    events = _detect_window(x, sr_work, p, model)
    for e in events:
        e["time_s"] -= delay
    d.add(events)
    return d.finish()


def _rate_note(sr_in: int, sr_work: int) -> str | None:
    """The note a shot found on decimated audio carries (None at the audio's own rate)."""
    if sr_in == sr_work:
        return None
    return (f"analysed at {sr_work} Hz: the {sr_in} Hz audio was decimated by {sr_in // sr_work} "
            f"(the model was fitted on audio at {MAX_RATE_HZ // 1000} kHz or less)")


def _loudest_channel(y: np.ndarray) -> np.ndarray:
    """Mono by taking, at each sample, the channel of largest magnitude.

    An average would hide a clipped channel when the other is quieter (a stereo dash cam, a
    mic pair); overload and full-scale level are what mark gunfire, so keep them.
    """
    out = y[0]
    for ch in y[1:]:
        out = np.where(np.abs(ch) > np.abs(out), ch, out)
    return out


def _mono(y: np.ndarray) -> np.ndarray:
    x = np.asarray(y, dtype=np.float32)
    if x.ndim == 2:
        x = _loudest_channel(x) if x.shape[0] > 1 else x[0]
    if x.ndim != 1:
        raise ParameterError(f"audio must be shaped (n,) or (channels, n); got {np.shape(y)}")
    return x


def group_volleys(shots: list[dict[str, Any]], *, gap_s: float = 2.0) -> list[dict[str, Any]]:
    """Group confident shots into volleys: a new volley starts after ``gap_s`` without one.

    Returns
    -------
    list of dict
        ``start_s`` and ``end_s`` (first and last onset), ``shot_indices`` (indices into
        ``shots``), ``count`` (confident shots), ``uncertain_indices`` (reported but not
        confident transients inside the volley's span).
    """
    if gap_s <= 0:
        raise ParameterError(f"gap_s must be positive, got {gap_s}")
    volleys: list[dict[str, Any]] = []
    for i, s_ in enumerate(shots):
        if not s_.get("confident", True):
            continue
        t = float(s_["time_s"])
        if volleys and t - volleys[-1]["end_s"] <= gap_s:
            volleys[-1]["end_s"] = t
            volleys[-1]["shot_indices"].append(i)
        else:
            volleys.append({"start_s": t, "end_s": t, "shot_indices": [i]})
    for v in volleys:
        v["count"] = len(v["shot_indices"])
        v["uncertain_indices"] = [i for i, s_ in enumerate(shots) if not s_.get("confident", True)
                                  and v["start_s"] <= s_["time_s"] <= v["end_s"]]
    return volleys


def summarize(shots: list[dict[str, Any]], p: ShotParams | None = None) -> dict[str, Any]:
    """The ``analyze --json`` fields for one feed: ``shots``, ``shot_count``, ``volleys``, ``counts``."""
    p = p or ShotParams()
    from media_core.analysis.shot_counts import feed_count

    return {"shots": shots, "shot_count": int(sum(1 for s_ in shots if s_["confident"])),
            "counts": feed_count(shots),
            "volleys": group_volleys(shots, gap_s=p.volley_gap_s),
            "algorithm_version": ALGORITHM_VERSION, "params": asdict(p)}


class ShotListener:
    """Streaming shot detector: an :class:`~media_core.listeners.AudioListener`.

    Blocks are made mono (the channel of largest magnitude at each sample) and buffered into
    analysis windows of ``window_s`` seconds that overlap by ``2 * context_s``; each window's
    candidates are measured with ``context_s`` of audio on both sides, so the result equals
    :func:`detect_shots` on the whole array while memory stays at one window whatever the
    feed's length. A gap or a decode error ends the current stretch of audio (no candidate is
    measured across it). The model is loaded (and its hash checked) when the listener is made.

    ``finish`` returns :func:`summarize`'s dict plus ``gaps`` (spans without audio).
    """

    name = "shots"

    def __init__(self, *, window_s: float = 60.0, context_s: float = 3.0, **params: Any):
        if window_s <= 0 or context_s < 3.0:
            raise ParameterError(f"window_s must be > 0 and context_s >= 3 s; got {window_s}, {context_s}")
        self.p = _params(params)
        self.model = load_model(self.p.model_path)
        self.window_s = float(window_s)
        self.context_s = float(context_s)
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._sr = 0                       # the working rate (the buffer's)
        self._sr_in = 0                    # the stream's own rate
        self._decim: Decimator | None = None
        self._dec = _Decider(self.p, self.model)
        self._gaps: list[dict[str, Any]] = []
        self._reset_buffer()

    def _reset_buffer(self) -> None:
        self._buf = getattr(self, "_buf", np.zeros(0, dtype=np.float32))
        self._n = 0
        self._origin: float | None = None  # time of the first sample of this stretch of audio
        self._offset = 0                   # sample index (in the stretch) of the buffer's start
        self._keep_from = -float("inf")
        self._cut_db: float | None = None  # cut_level_db of the audio before the buffer's start
        self._consumed = 0                 # input samples of this stretch (at the stream's own rate)
        if getattr(self, "_decim", None) is not None:
            self._decim.reset()

    def on_start(self, info: AudioStreamInfo) -> None:
        self._reset_stream()
        self._set_rate(int(info.sr))

    def _set_rate(self, sr_in: int) -> None:
        self._sr_in = sr_in
        self._decim = Decimator(sr_in) if sr_in > 0 else None
        self._sr = self._decim.sr if self._decim is not None else sr_in
        self._dec.rate_note = _rate_note(sr_in, self._sr) if sr_in > 0 else None

    def on_block(self, block: AudioBlock) -> None:
        sr_in = int(block.sr)
        if sr_in <= 0:
            raise ParameterError(f"block sample rate must be positive, got {sr_in}")
        if self._sr_in != sr_in:
            self._flush(final=True)
            self._set_rate(sr_in)
        y = block.y
        x = (y[0] if y.shape[0] == 1 else _loudest_channel(y)) if y.ndim == 2 else y
        x = np.asarray(x, dtype=np.float32)
        if self._origin is None:
            self._origin = float(block.start_s)
        else:
            expected = self._origin + self._consumed / sr_in
            if abs(float(block.start_s) - expected) > 2.0 / sr_in:
                # a timestamp jump the decoder did not report as a gap: treat it as one
                self._flush(final=True)
                self._origin = float(block.start_s)
        self._consumed += x.size
        x = self._decim.process(x)
        sr = self._sr
        if self._n + x.size > self._buf.size:
            grown = np.empty(max(2 * self._buf.size, self._n + x.size, int(self.window_s * sr)), dtype=np.float32)
            grown[: self._n] = self._buf[: self._n]
            self._buf = grown
        self._buf[self._n: self._n + x.size] = x
        self._n += x.size
        need = int((self.window_s + 2 * self.context_s) * sr)
        while self._n >= need:
            self._flush(final=False)

    def on_gap(self, start_s: float, end_s: float, *, missing_packets: int = 0) -> None:
        self._flush(final=True)
        self._gaps.append({"start_s": float(start_s), "end_s": float(end_s), "kind": "gap"})

    def on_error(self, start_s: float, end_s: float, message: str = "") -> None:
        self._flush(final=True)
        self._gaps.append({"start_s": float(start_s), "end_s": float(end_s), "kind": "error",
                           "message": message})

    def finish(self, end_s: float | None = None) -> dict[str, Any]:
        self._flush(final=True)
        out = summarize(self._dec.finish(), self.p)
        out["gaps"] = self._gaps
        return out

    def _flush(self, *, final: bool) -> None:
        if self._origin is None or self._n == 0:
            self._reset_buffer()
            return
        sr = self._sr
        y = self._buf[: self._n]
        t0 = self._origin + self._offset / sr
        h = max(1, int(round(sr / 1000)))
        # windows start on the 1-ms frame grid of the whole stretch, so frames (and therefore
        # candidates and onsets) are exactly those of detect_shots on the whole array
        tail = h * int(round(2 * self.context_s * sr / h))
        n_proc = y.size if final else h * (y.size // h)
        keep_to = float("inf") if final else t0 + (n_proc - tail // 2) / sr
        events = [e for e in _detect_window(y[:n_proc], sr, self.p, self.model, cut_before_db=self._cut_db)
                  if self._keep_from <= t0 + e["time_s"] < keep_to]
        delay = self._decim.delay_s if self._decim is not None else 0.0
        for e in events:
            # exact times: origin + whole-stretch sample index (less the decimating filter's delay)
            e["time_s"] = self._origin + (self._offset + e["onset_sample"]) / sr - delay
        self._dec.add(events)
        if final:
            self._reset_buffer()
            return
        start = n_proc - tail
        level = cut_level_db(y, sr, start)
        self._cut_db = self._cut_db if level is None else level
        rest = self._n - start
        self._buf[:rest] = self._buf[start: self._n]  # memmove: keep the overlap
        self._n = rest
        self._offset += start
        self._keep_from = keep_to
