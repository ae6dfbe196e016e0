"""Speech leads around mutes (was a reason spoken before the microphone went silent?).

For each mute of a feed, the live audio before it (default 30 s) and after it ends (default 10 s)
is searched, offline, for keywords such as "mute", "turning off", "camera", "privacy" with
PocketSphinx's keyword spotter (its wheel ships the US-English acoustic model, dictionary and
language model: nothing is downloaded). Each *lead* carries the keyword, its time on the feed and
on the shared clock, its score, and a short transcript of the few seconds around it. Leads point
the analyst to what to listen to; they are never findings (the analyst records those with
:meth:`media_core.case.store.Case.set_mute_finding`).

Only the windows around mutes are decoded again (a seek and decode of those spans), so the cost
is about the windows' length, not the feed's.

The score is PocketSphinx's detection margin: log10 of the likelihood ratio of the keyword's
phone sequence against the best path through a phone loop over the same frames (its
``kws_threshold`` scale, e.g. ``-20.0`` for ``1e-20``). The tuned spotter makes each change of
phone in that loop costly (:data:`DECODER_SETTINGS`), spots every pronunciation of each keyword
(the dictionary's alternates, :data:`PRONUNCIATIONS`, :data:`EXTRA_PRONUNCIATIONS`) and runs once
with a lenient floor; each detection is kept when its margin reaches the keyword's threshold: its
own (a keyword file's ``/1e-25/``), else the default keyword's entry of :data:`DEFAULT_THRESHOLDS`
(one per keyword, fitted on one synthesizer's voices only and measured on the other's:
``benchmarks/bench_speech.py``), else ``THRESHOLD_BASE + THRESHOLD_PER_PHONE * phones``.

Pipeline halves, as in :mod:`media_core.pipeline`: :func:`leads_inputs` reads the case,
:func:`compute_speech_leads` does the work (no case access: safe off the GUI thread),
:func:`store_speech_leads` stores the document with the case's analyses, keyed by
:data:`VERSION` and the parameters; :func:`speech_leads` is both in a row.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from media_core.clock import Clock
from media_core.errors import ModelError, ParameterError
from media_core.progress import Progress, ShouldStop, check_cancel, no_progress

__all__ = [
    "ALGORITHM", "VERSION", "SCHEMA", "DEFAULT_KEYWORDS", "DEFAULT_BEFORE_S", "DEFAULT_AFTER_S", "Keyword",
    "Hit", "KeywordSpotter", "DEFAULT_THRESHOLDS", "default_threshold", "select_hits", "tonality", "Transcriber",
    "model_paths", "parse_keywords", "load_keywords",
    "mute_windows", "read_audio", "leads_params", "leads_inputs", "compute_speech_leads", "store_speech_leads",
    "stored_speech_leads", "compute_many", "speech_leads", "mute_overview", "find_mute",
]

ALGORITHM = "speech_leads"
VERSION = "speech_leads/3"  # 3: a weaker phone loop and a wider beam, pronunciation variants, refitted thresholds
SCHEMA = "evidence-audit.speech_leads/1"
SR = 16000  # the acoustic model's rate
DEFAULT_BEFORE_S = 30.0
DEFAULT_AFTER_S = 10.0
CONTEXT_S = 2.5  # transcribed either side of a lead
#: The reasons policies allow, and the words that name the act.
DEFAULT_KEYWORDS = ("mute", "muting", "turn off", "turning off", "camera", "mic", "microphone", "recording",
                    "sergeant said", "privacy", "medical", "confidential")
#: PocketSphinx settings of the tuned spotter, chosen on espeak-ng's voices only (``bench_speech.py
#: --decoders``). ``kws_plp`` is the probability of a change of phone in the phone loop a keyword is
#: scored against (PocketSphinx: 1e-1). A loop that changes phone almost for free fits any noisy speech
#: nearly as well as the keyword does, and the margins of spoken keywords and of chance matches in other
#: speech overlapped; at 1e-12 every change of phone costs the loop 12 (log10), so a keyword's margin
#: measures how much better its phones fit than a slowly changing phone sequence. ``beam`` (1e-48) pruned
#: long keywords' paths before their end in noise, so many spoken "recording"s never got a score.
DECODER_SETTINGS: dict[str, float] = {"kws_plp": 1e-12, "beam": 1e-100}
#: Pronunciations that replace the dictionary's: cmudict has "mic" as M IH K (as in "Mick").
PRONUNCIATIONS: dict[str, tuple[str, ...]] = {"mic": ("M AY K",)}
#: Pronunciations spotted besides the dictionary's own alternates ("camera(2)", "recording(2)" ...):
#: British "privacy" with the vowel of "privy".
EXTRA_PRONUNCIATIONS: dict[str, tuple[str, ...]] = {"privacy": ("P R IH V AH S IY",)}
#: At most this many pronunciation variants of one keyword are spotted (the product over its words).
MAX_VARIANTS = 8
#: Threshold (log10 margin) of a keyword without its own or a fitted one: BASE + PER_PHONE * phones
#: (fitted on espeak-ng with the tuned settings, the rule with most recall within the table's budget:
#: ``bench_speech.py --tune``; with the costly phone loop, margins hardly grow with a keyword's length).
THRESHOLD_BASE = 41.0
THRESHOLD_PER_PHONE = -0.5
#: Thresholds (log10 margin) of the default keywords with the tuned settings, fitted on espeak-ng's voices
#: only (flite is held out): ``bench_speech.py --tune`` lowers one keyword's threshold at a time, always
#: the one that gains most recall (20-5 dB) per false lead, until the false leads on keyword-free talk
#: reach the budget, 0.25 per minute (2 of 10.5 minutes), a quarter of the target.
#: ``None``: never a lead by default (a keyword whose margins never separate it from chance matches).
DEFAULT_THRESHOLDS: dict[str, float | None] = {
    "mute": 35.0, "muting": 45.0, "turn off": 18.0, "turning off": 25.5, "camera": 24.0, "mic": 69.0,
    "microphone": 28.5, "recording": 15.5, "sergeant said": 15.0, "privacy": 37.5, "medical": 47.0,
    "confidential": 10.0}
#: A detection shorter than this per phone of its keyword is a squeezed phone-loop match, not speech.
MIN_PHONE_S = 0.05
#: ... and longer than this per phone is a steady sound (a tone, a hum, a siren) matched by a drawn-out path.
MAX_PHONE_S = 0.25
#: A hit whose 200-4000 Hz power sits this much in one spectral peak (3 bins) is a pure tone (a beep, an
#: alarm), not speech (the median over its 25-ms frames; voiced speech spreads over harmonics: <= 0.9 measured).
MAX_TONALITY = 0.95
#: The tuned spotter's own floor: detections below it are never seen (a lower threshold acts as this one).
FLOOR_LOG10 = -110.0
#: Untuned keyword spotting (the baseline): PocketSphinx's default settings and dictionary, and its
#: default threshold for every keyword (seen through a floor of 1e-65).
UNTUNED_THRESHOLD_LOG10 = -30.0
UNTUNED_FLOOR_LOG10 = -65.0
_LOG10_PER_UNIT = 1024 * math.log10(1.0001)  # one score unit (logmath base 1.0001, SENSCR_SHIFT 10) in log10
_KWS_MAX = 1500                              # subtracted from the margin in a detection's prob (kws_search.c)


# ============================================================================ the model
_MODEL_FILES = ("en-us/mdef", "en-us/means", "en-us/variances", "en-us/transition_matrices", "en-us/sendump",
                "en-us/feat.params", "en-us/noisedict")


def model_paths() -> dict[str, str]:
    """The installed PocketSphinx US-English model: ``{"hmm", "dict", "lm"}`` paths.

    Raises :class:`~media_core.errors.ModelError` naming the first missing file (one line) when
    ``pocketsphinx`` is not installed or its wheel lacks the model.
    """
    try:
        import pocketsphinx
    except ImportError as exc:
        raise ModelError("pocketsphinx", f"the speech model is not installed ({exc}); "
                                         "run scripts/setup.sh (pocketsphinx is pinned in pyproject.toml)") from None
    root = Path(os.environ.get("EVIDENCE_AUDIT_SPHINX_MODEL") or pocketsphinx.get_model_path()) / "en-us"
    need = [root / f for f in _MODEL_FILES] + [root / "cmudict-en-us.dict", root / "en-us.lm.bin"]
    for p in need:
        if not p.is_file():
            raise ModelError(p, "PocketSphinx's English model file is missing from the installed wheel "
                                "(reinstall pocketsphinx with scripts/setup.sh)")
    return {"hmm": str(root / "en-us"), "dict": str(root / "cmudict-en-us.dict"), "lm": str(root / "en-us.lm.bin")}


# ============================================================================ keywords
@dataclass(frozen=True)
class Keyword:
    """One keyword or key phrase; ``threshold_log10`` None: the default rule for its length."""

    phrase: str
    threshold_log10: float | None = None

    def to_dict(self) -> dict:
        return {"phrase": self.phrase, "threshold_log10": self.threshold_log10}


_KW_LINE = re.compile(r"^(?P<phrase>[^/#]+?)\s*(?:/(?P<th>[^/]+)/)?\s*(?:#.*)?$")


def parse_keywords(text: str, *, source: str = "keywords") -> list[Keyword]:
    """Keywords from text: one phrase per line, optionally ``/1e-25/`` (PocketSphinx's threshold
    notation) after it; ``#`` starts a comment; blank lines are skipped. Phrases are lower-cased.
    """
    out: list[Keyword] = []
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _KW_LINE.match(line)
        if m is None:
            raise ParameterError(f"{source}, line {i}: cannot read {line!r} (a phrase, optionally /1e-25/)")
        th = None
        if m.group("th") is not None:
            try:
                v = float(m.group("th"))
            except ValueError:
                raise ParameterError(f"{source}, line {i}: threshold {m.group('th')!r} is not a number") from None
            if not v > 0 or not math.isfinite(v):
                raise ParameterError(f"{source}, line {i}: threshold must be a positive number like 1e-25")
            th = math.log10(v)
        phrase = " ".join(m.group("phrase").lower().split())
        if not re.fullmatch(r"[a-z' ]+", phrase):
            raise ParameterError(f"{source}, line {i}: {phrase!r}: use letters, spaces and apostrophes only")
        out.append(Keyword(phrase, th))
    if not out:
        raise ParameterError(f"{source}: no keywords")
    return out


def load_keywords(path: str | os.PathLike) -> list[Keyword]:
    """Keywords from a file (see :func:`parse_keywords`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{os.fspath(path)}: cannot read the keyword file ({exc})") from None
    return parse_keywords(text, source=os.fspath(path))


def default_keywords() -> list[Keyword]:
    return [Keyword(k) for k in DEFAULT_KEYWORDS]


# ============================================================================ spotting
@dataclass(frozen=True)
class Hit:
    """A keyword detection in an array: times in seconds from the array's start."""

    keyword: str
    start_s: float
    end_s: float
    score: float       # log10 margin (see the module docstring)
    threshold: float   # the keyword's threshold it passed
    phones: int = 1    # phones of the keyword (for the duration check)


def default_threshold(keyword: Keyword, phones: int, *, threshold_base: float | None = None,
                      threshold_per_phone: float | None = None) -> float:
    """The threshold (log10 margin) a keyword gets: its own, else its :data:`DEFAULT_THRESHOLDS`
    entry (``None`` there: never reached, ``inf``), else the rule for its ``phones``. Giving
    ``threshold_base`` or ``threshold_per_phone`` applies the rule to every keyword without its own.
    """
    if keyword.threshold_log10 is not None:
        return float(keyword.threshold_log10)
    if threshold_base is None and threshold_per_phone is None and keyword.phrase in DEFAULT_THRESHOLDS:
        th = DEFAULT_THRESHOLDS[keyword.phrase]
        return math.inf if th is None else float(th)
    base = THRESHOLD_BASE if threshold_base is None else threshold_base
    per = THRESHOLD_PER_PHONE if threshold_per_phone is None else threshold_per_phone
    return base + per * phones


def _pcm16(y: np.ndarray) -> bytes:
    return (np.clip(np.asarray(y, np.float32), -1.0, 32767 / 32768) * 32768.0).astype("<i2").tobytes()


class KeywordSpotter:
    """PocketSphinx keyword spotting over 16 kHz float32 arrays (one decoder, reused).

    Parameters
    ----------
    keywords : sequence of Keyword
    tuned : bool
        True: the tuned spotter (:data:`DECODER_SETTINGS`, every pronunciation variant of each
        keyword, each keyword's threshold from :func:`default_threshold`); False: untuned keyword
        spotting, the baseline (PocketSphinx's default settings, the dictionary's first
        pronunciation, its default threshold ``1e-30`` for every keyword).
    threshold_base, threshold_per_phone : float, optional
        Apply the length rule to every keyword without its own threshold (instead of the fitted table).
    decoder : mapping, optional
        PocketSphinx settings instead of the tuned or default ones (for the benchmark's comparisons).
    """

    def __init__(self, keywords: Sequence[Keyword] | None = None, *, tuned: bool = True,
                 threshold_base: float | None = None, threshold_per_phone: float | None = None,
                 decoder: Mapping[str, float] | None = None):
        import tempfile

        from pocketsphinx import Config, Decoder

        paths = model_paths()
        self.keywords = list(keywords or default_keywords())
        settings = dict(DECODER_SETTINGS if tuned else {}) if decoder is None else dict(decoder)
        cfg = Config(hmm=paths["hmm"], dict=paths["dict"], lm=None, loglevel="FATAL", **settings)
        self._dec = Decoder(cfg)
        self.settings = settings
        #: keyphrase as spotted (``"camera(2)"``) -> (keyword, its pronunciation)
        self.variants: dict[str, tuple[str, str]] = {}
        self.phones: dict[str, int] = {}
        for k in self.keywords:
            per_word = [self._pronunciations(w, k.phrase, all_variants=tuned) for w in k.phrase.split()]
            self.phones[k.phrase] = sum(len(v[0][1].split()) for v in per_word)
            for combo in _product(per_word, MAX_VARIANTS):
                self.variants.setdefault(" ".join(c[0] for c in combo), (k.phrase, " ".join(c[1] for c in combo)))
        self.thresholds = {k.phrase: (UNTUNED_THRESHOLD_LOG10 if not tuned else
                                      default_threshold(k, self.phones[k.phrase], threshold_base=threshold_base,
                                                        threshold_per_phone=threshold_per_phone))
                           for k in self.keywords}
        floor = min([FLOOR_LOG10 if tuned else UNTUNED_FLOOR_LOG10, *self.thresholds.values()])
        fd, self._kws_file = tempfile.mkstemp(prefix="ea-kws-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for phrase in self.variants:
                f.write(f"{phrase} /1e{floor:.1f}/\n")
        self._dec.add_kws("leads", self._kws_file)
        self._dec.activate_search("leads")
        self._lm = self._dec.get_logmath()

    def _pronunciations(self, word: str, phrase: str, *, all_variants: bool) -> list[tuple[str, str]]:
        """``[(dictionary entry, phones)]`` of ``word``: the replacement (:data:`PRONUNCIATIONS`) or the
        dictionary's, then (``all_variants``) its alternates and :data:`EXTRA_PRONUNCIATIONS`.
        """
        out: list[tuple[str, str]] = []
        if all_variants and word in PRONUNCIATIONS:
            prons = list(PRONUNCIATIONS[word])
        else:
            pron = self._dec.lookup_word(word)
            if not pron:
                raise ParameterError(f"keyword {phrase!r}: the word {word!r} is not in PocketSphinx's "
                                     "English dictionary; spell it as it is pronounced or drop it")
            out.append((word, pron))
            if not all_variants:
                return out
            prons = [p for p in (self._dec.lookup_word(f"{word}({i})") for i in range(2, 10)) if p]
            prons += list(EXTRA_PRONUNCIATIONS.get(word, ()))
        alternates = {self._dec.lookup_word(f"{word}({i})"): f"{word}({i})" for i in range(2, 10)}
        for i, pron in enumerate(prons):
            if pron in (p for _, p in out):
                continue
            entry = alternates.get(pron) or f"{word}(ea{i})"
            if entry not in alternates.values():
                self._dec.add_word(entry, pron, False)
            out.append((entry, pron))
        return out

    def close(self) -> None:
        try:
            os.unlink(self._kws_file)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def spot(self, y: np.ndarray, *, all_scores: bool = False) -> list[Hit]:
        """Keyword hits in ``y`` (float32 mono at 16 kHz), best first where hits overlap.

        Detections of one keyword's pronunciations that overlap by more than half are one hit (the
        best). ``all_scores=True`` returns every detection above the spotter's floor (for tuning);
        otherwise :func:`select_hits` of them.
        """
        if y.size < SR // 4:
            return []
        self._dec.start_utt()
        self._dec.process_raw(_pcm16(y), full_utt=True)
        self._dec.end_utt()
        found = []
        for s in self._dec.seg() or []:
            v = self.variants.get(" ".join(s.word.split()))
            if v is None:
                continue
            word, pron = v
            score = (self._lm.log(max(s.prob, 1e-300)) + _KWS_MAX) * _LOG10_PER_UNIT
            found.append(Hit(word, s.start_frame / 100.0, (s.end_frame + 1) / 100.0, round(score, 2),
                             self.thresholds[word], len(pron.split())))
        found.sort(key=lambda h: h.score, reverse=True)
        hits: list[Hit] = []
        for h in found:
            if not any(k.keyword == h.keyword and _overlap(h, k) > 0.5 for k in hits):
                hits.append(h)
        hits = [h for h in sorted(hits, key=lambda h: h.start_s) if all_scores or h.score >= h.threshold]
        hits = [h for h in hits if tonality(y, h.start_s, h.end_s) <= MAX_TONALITY]
        return hits if all_scores else select_hits(hits)


def _overlap(a: Hit, b: Hit) -> float:
    """The overlap of two hits as a share of the shorter one."""
    shorter = min(a.end_s - a.start_s, b.end_s - b.start_s)
    return (min(a.end_s, b.end_s) - max(a.start_s, b.start_s)) / max(1e-9, shorter)


def _product(per_word: Sequence[Sequence[Any]], limit: int) -> list[tuple]:
    """The first ``limit`` combinations of one entry per word (each word's first entry first)."""
    import itertools

    return list(itertools.islice(itertools.product(*per_word), limit))


def tonality(y: np.ndarray, start_s: float, end_s: float, *, sr: int = SR) -> float:
    """Median over 25-ms frames (10-ms hop) of the share of 200-4000 Hz power in the strongest
    3-bin peak of ``y[start_s:end_s]``: about 1 for a pure tone, 0.2 for noise, 0.3-0.9 for speech.
    """
    seg = np.asarray(y[max(0, int(start_s * sr)):int(end_s * sr)], np.float64)
    n, hop = int(0.025 * sr), int(0.010 * sr)
    if seg.size < n + hop:
        return 0.0
    fr = np.lib.stride_tricks.sliding_window_view(seg, n)[::hop] * np.hanning(n)
    p = np.abs(np.fft.rfft(fr, axis=1)) ** 2
    f = np.fft.rfftfreq(n, 1.0 / sr)
    q = p[:, (f >= 200.0) & (f < 4000.0)]
    peak = (q[:, :-2] + q[:, 1:-1] + q[:, 2:]).max(axis=1)
    return float(np.median(peak / (q.sum(axis=1) + 1e-20)))


def select_hits(hits: Iterable[Hit], thresholds: Mapping[str, float] | None = None) -> list[Hit]:
    """The hits that pass their threshold (``thresholds`` overrides each hit's own), in time order.

    A hit shorter than :data:`MIN_PHONE_S` or longer than :data:`MAX_PHONE_S` per phone is dropped.
    Overlapping hits of different keywords are both kept only when they overlap by less than half
    of the shorter one; otherwise the one with the larger margin over its threshold wins.
    """
    th = dict(thresholds or {})
    passed = [Hit(h.keyword, h.start_s, h.end_s, h.score, th.get(h.keyword, h.threshold), h.phones) for h in hits]
    passed = [h for h in passed if h.score >= h.threshold
              and MIN_PHONE_S * h.phones <= h.end_s - h.start_s <= MAX_PHONE_S * h.phones]
    passed.sort(key=lambda h: h.score - h.threshold, reverse=True)
    kept: list[Hit] = []
    for h in passed:
        if any(_overlap(h, k) > 0.5 for k in kept):
            continue
        kept.append(h)
    return sorted(kept, key=lambda h: h.start_s)


class Transcriber:
    """PocketSphinx's language-model decoding of short spans (the context of each lead)."""

    def __init__(self):
        from pocketsphinx import Config, Decoder

        paths = model_paths()
        self._dec = Decoder(Config(hmm=paths["hmm"], dict=paths["dict"], lm=paths["lm"], loglevel="FATAL"))

    def transcribe(self, y: np.ndarray) -> str:
        if y.size < SR // 10:
            return ""
        self._dec.start_utt()
        self._dec.process_raw(_pcm16(y), full_utt=True)
        self._dec.end_utt()
        hyp = self._dec.hyp()
        return " ".join(w for w in (hyp.hypstr.split() if hyp is not None else []) if not w.startswith("<"))


# ============================================================================ windows and audio
def mute_windows(mutes: Sequence[Mapping[str, Any]], *, duration_s: float, audio_start_s: float = 0.0,
                 audio_end_s: float | None = None, before_s: float = DEFAULT_BEFORE_S,
                 after_s: float = DEFAULT_AFTER_S) -> list[dict]:
    """The live-audio windows around each mute: ``before_s`` before it starts and ``after_s`` after it
    ends, cut short by other mutes and by the ends of the audio.

    Returns one dict per mute (in start order): ``kind``, ``start_s``, ``end_s``, ``before`` and
    ``after``, each ``{"start_s", "end_s", "searched_s", "note"}``; ``note`` says why a window is
    shorter than asked or empty ("no audio before this mute: it starts at the beginning of the audio").
    """
    if before_s < 0 or after_s < 0 or not (math.isfinite(before_s) and math.isfinite(after_s)):
        raise ParameterError(f"window lengths must be finite and >= 0 (before {before_s}, after {after_s})")
    end = float(duration_s if audio_end_s is None else audio_end_s)
    spans = sorted(((float(m["start_s"]), float(m["end_s"])) for m in mutes))
    out = []
    for m in sorted(mutes, key=lambda m: float(m["start_s"])):
        a, b = float(m["start_s"]), float(m["end_s"])
        prev_end = max([audio_start_s] + [e for s, e in spans if e <= a + 1e-6 and (s, e) != (a, b)])
        next_start = min([end] + [s for s, e in spans if s >= b - 1e-6 and (s, e) != (a, b)])
        w0 = max(a - before_s, prev_end)
        w1 = min(b + after_s, next_start)
        before = {"start_s": round(w0, 3), "end_s": round(a, 3), "searched_s": round(max(0.0, a - w0), 3), "note": ""}
        after = {"start_s": round(b, 3), "end_s": round(w1, 3), "searched_s": round(max(0.0, w1 - b), 3), "note": ""}
        if before["searched_s"] <= 0.05:
            before["searched_s"] = 0.0
            before["note"] = ("no audio before this mute: it starts at the beginning of the audio"
                              if a <= audio_start_s + 0.05
                              else "no live audio before this mute: another mute ends there")
        elif before["searched_s"] < before_s - 0.05:
            before["note"] = (f"only {before['searched_s']:.1f} s of live audio before this mute "
                              f"({'the audio starts' if w0 <= audio_start_s + 1e-6 else 'another mute ends'} there)")
        if after["searched_s"] <= 0.05:
            after["searched_s"] = 0.0
            after["note"] = ("no audio after this mute: the audio ends with it" if b >= end - 0.05
                             else "no live audio after this mute: another mute starts there")
        elif after["searched_s"] < after_s - 0.05:
            after["note"] = f"only {after['searched_s']:.1f} s of live audio after this mute"
        out.append({"kind": str(m.get("kind", "mute")), "start_s": a, "end_s": b, "before": before, "after": after})
    return out


def read_audio(path: str | os.PathLike, start_s: float, end_s: float, *, sr: int = SR,
               source_sr: int | None = None) -> np.ndarray:
    """The feed's audio from media ``start_s`` to ``end_s`` as float32 mono at ``sr``: a seek and a
    decode of that span only. Frames sit at their presentation time (zero at the container's
    start); packet gaps, damaged packets and spans without audio are silence.
    """
    from math import gcd

    import av
    from scipy.signal import resample_poly

    from media_core.clock import seconds_to_ticks, ticks_to_seconds
    from media_core.io.audio_out import _frame_to_float
    from media_core.io.probe import container_start_s, open_container

    if end_s <= start_s:
        return np.zeros(0, np.float32)
    with open_container(path) as c:
        a = next(iter(c.streams.audio), None)
        src = int(source_sr or 0) or (int(a.codec_context.sample_rate or a.rate or 0) if a is not None else 0)
        n_out = int(round((end_s - start_s) * src)) if src > 0 else 0
        if a is None or src <= 0:
            return np.zeros(int(round((end_s - start_s) * sr)), np.float32)
        off = container_start_s(c)
        buf = np.zeros(n_out, np.float32)
        try:
            c.seek(seconds_to_ticks(max(0.0, start_s - 0.2) + off, a.time_base), stream=a, backward=True)
        except av.FFmpegError:
            c.seek(0, stream=a)
        frames = c.decode(a)
        while True:
            try:
                fr = next(frames)
            except StopIteration:
                break
            except av.FFmpegError as exc:
                if isinstance(exc, av.error.EOFError):
                    break
                continue  # a damaged packet: its span stays silent
            if fr.pts is None or fr.samples <= 0:
                continue
            t0 = ticks_to_seconds(fr.pts, fr.time_base) - off
            if t0 >= end_s:
                break
            y = _frame_to_float(fr).mean(axis=0)
            k = int(round((t0 - start_s) * src))
            lo, hi = max(k, 0), min(n_out, k + y.size)
            if hi > lo:
                buf[lo:hi] = y[lo - k:hi - k]
    if src != sr:
        g = gcd(src, sr)
        buf = resample_poly(buf.astype(np.float64), sr // g, src // g).astype(np.float32)
    return buf


# ============================================================================ the case step
def leads_params(keywords: Sequence[Keyword] | None = None, *, before_s: float = DEFAULT_BEFORE_S,
                 after_s: float = DEFAULT_AFTER_S) -> dict:
    """The parameters leads are stored under (with :data:`VERSION`): windows, keywords, thresholds."""
    kws = [k.to_dict() for k in (keywords or default_keywords())]
    return {"before_s": float(before_s), "after_s": float(after_s), "keywords": kws,
            "decoder": dict(sorted(DECODER_SETTINGS.items())),
            "pronunciations": {"replaced": {k: list(v) for k, v in sorted(PRONUNCIATIONS.items())},
                               "added": {k: list(v) for k, v in sorted(EXTRA_PRONUNCIATIONS.items())}},
            "threshold_rule": {"base": THRESHOLD_BASE, "per_phone": THRESHOLD_PER_PHONE},
            "default_thresholds": dict(sorted(DEFAULT_THRESHOLDS.items()))}


def leads_inputs(case, feed_id: int) -> dict:
    """What :func:`compute_speech_leads` needs of one feed, read from the case (on its thread):
    the file, its clock on the shared timeline and the mutes of its stored analysis.
    """
    from media_core import pipeline

    f = case.feed(feed_id)
    res = case.get_analysis(feed_id, algorithm=pipeline.ANALYSIS_ALGORITHM)
    probe = f.probe or {}
    clock = case.clock(feed_id)
    audio = next((s for s in probe.get("streams", []) if s.get("type") == "audio"), None) or {}
    return {"feed_id": f.id, "label": f.label, "path": f.path, "sha256": f.sha256, "analysed": res is not None,
            "has_audio": bool((res or {}).get("has_audio", f.has_audio)),
            "duration_s": float((res or {}).get("duration_s") or f.duration_s or 0.0),
            "source_sr": int(audio.get("sample_rate") or 0),
            "clock": {"offset_s": clock.offset_s, "drift_ppm": clock.drift_ppm},
            "mutes": [{"kind": m.get("kind"), "start_s": float(m["start_s"]), "end_s": float(m["end_s"])}
                      for m in (res or {}).get("mutes", []) or []]}


def _mute_key(kind: str, start_s: float) -> str:
    from media_core.case.store import Case

    return Case.mute_key(kind, start_s)


def _merge(spans: Iterable[tuple[float, float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def compute_speech_leads(inputs: Mapping[str, Any], *, keywords: Sequence[Keyword] | None = None,
                         before_s: float = DEFAULT_BEFORE_S, after_s: float = DEFAULT_AFTER_S,
                         transcribe: bool = True, spotter: KeywordSpotter | None = None,
                         transcriber: Transcriber | None = None, progress: Progress | None = None,
                         should_stop: ShouldStop | None = None) -> dict:
    """The speech leads of one feed (the ``evidence-audit.speech_leads/1`` document). No case access.

    ``inputs`` is :func:`leads_inputs`'s dict. Each mute gets its two windows (with notes when
    they are short or empty), its leads (keyword, feed and shared times, score, which window) and,
    with ``transcribe``, a transcript of :data:`CONTEXT_S` either side of each lead.
    """
    import time

    report = progress or no_progress
    t0 = time.perf_counter()
    params = leads_params(keywords, before_s=before_s, after_s=after_s)
    clock = Clock(inputs["clock"]["offset_s"], inputs["clock"]["drift_ppm"])
    doc: dict[str, Any] = {"schema": SCHEMA, "algorithm_version": VERSION, "feed": inputs.get("label"),
                           "sha256": inputs.get("sha256"), "params": params, "mutes": [], "lead_count": 0,
                           "note": ""}
    if not inputs.get("analysed"):
        doc["note"] = "the feed has not been analysed for mutes yet: nothing to search"
        return doc
    mutes = inputs["mutes"]
    if not mutes:
        doc["note"] = "no mutes: nothing to do"
        return doc
    windows = mute_windows(mutes, duration_s=inputs["duration_s"], before_s=before_s, after_s=after_s)
    if not inputs.get("has_audio", True):
        for w in windows:
            for side in ("before", "after"):
                w[side].update({"searched_s": 0.0, "note": "the feed has no audio"})
        doc["mutes"] = [{**w, "mute_key": _mute_key(w["kind"], w["start_s"]), "leads": []} for w in windows]
        doc["note"] = "the feed has no audio: nothing to search"
        return doc
    own_spot = spotter is None
    sp = spotter or KeywordSpotter(keywords)
    tr = None
    searched = 0.0
    try:
        total = sum(w["before"]["searched_s"] + w["after"]["searched_s"] for w in windows) or 1.0
        done = 0.0
        for w in windows:
            check_cancel(should_stop, f"speech leads of {inputs.get('label') or inputs['path']}")
            leads = []
            for side in ("before", "after"):
                win = w[side]
                if win["searched_s"] <= 0:
                    continue
                report(done / total, f"speech leads: {side} the {w['kind']} at {w['start_s']:.1f} s")
                y = read_audio(inputs["path"], win["start_s"], win["end_s"], source_sr=inputs.get("source_sr"))
                searched += y.size / SR
                for h in sp.spot(y):
                    a, b = win["start_s"] + h.start_s, win["start_s"] + h.start_s + (h.end_s - h.start_s)
                    leads.append({"keyword": h.keyword, "side": side, "start_s": round(a, 3), "end_s": round(b, 3),
                                  "shared_start_s": round(clock.to_shared(a), 3),
                                  "shared_end_s": round(clock.to_shared(b), 3), "score": h.score,
                                  "threshold": round(h.threshold, 2),
                                  "before_mute_s": round(w["start_s"] - b, 3) if side == "before" else None,
                                  "after_mute_s": round(a - w["end_s"], 3) if side == "after" else None,
                                  "_win": (win["start_s"], win["end_s"], y)})
                done += win["searched_s"]
            if transcribe and leads:
                tr = tr or transcriber or Transcriber()
                ctx = _merge((max(ld["_win"][0], ld["start_s"] - CONTEXT_S),
                              min(ld["_win"][1], ld["end_s"] + CONTEXT_S)) for ld in leads)
                texts = []
                for a, b in ctx:
                    check_cancel(should_stop, f"speech leads of {inputs.get('label') or inputs['path']}")
                    ld = next(x for x in leads if a <= x["start_s"] <= b)
                    w0, _, y = ld["_win"]
                    texts.append((a, b, tr.transcribe(y[int((a - w0) * SR):int((b - w0) * SR)])))
                for ld in leads:
                    a, b, t = next(c for c in texts if c[0] <= ld["start_s"] <= c[1])
                    ld["context"] = {"start_s": round(a, 3), "end_s": round(b, 3), "text": t}
            for ld in leads:
                ld.pop("_win", None)
            doc["mutes"].append({**w, "mute_key": _mute_key(w["kind"], w["start_s"]),
                                 "shared_start_s": round(clock.to_shared(w["start_s"]), 3),
                                 "shared_end_s": round(clock.to_shared(w["end_s"]), 3), "leads": leads})
    finally:
        if own_spot:
            sp.close()
    doc["lead_count"] = sum(len(m["leads"]) for m in doc["mutes"])
    doc["searched_s"] = round(searched, 3)
    doc["compute_s"] = round(time.perf_counter() - t0, 3)
    if doc["lead_count"] == 0:
        doc["note"] = "no keyword heard in the searched windows"
    report(1.0, "speech leads done")
    return doc


def store_speech_leads(case, feed_id: int, doc: Mapping[str, Any]) -> None:
    """Store a leads document as an analysis of the feed (keyed by its version and parameters)."""
    stored = {k: v for k, v in doc.items() if k != "compute_s"}
    case.store_analysis(feed_id, algorithm=ALGORITHM, version=doc["algorithm_version"], params=doc["params"],
                        result=stored)


def stored_speech_leads(case, feed_id: int, *, params: dict | None = None) -> dict | None:
    """The newest stored leads of this feed made by today's :data:`VERSION` (optionally exact params)."""
    return case.get_analysis(feed_id, algorithm=ALGORITHM, version=VERSION, params=params)


def compute_many(inputs: Sequence[Mapping[str, Any]], *, keywords: Sequence[Keyword] | None = None,
                 before_s: float = DEFAULT_BEFORE_S, after_s: float = DEFAULT_AFTER_S, transcribe: bool = True,
                 progress: Progress | None = None, should_stop: ShouldStop | None = None) -> list[dict]:
    """:func:`compute_speech_leads` of several feeds with one spotter (no case access: a worker's call)."""
    report = progress or no_progress
    out: list[dict] = []
    sp = tr = None
    try:
        for i, inp in enumerate(inputs):
            if inp.get("analysed") and inp.get("mutes") and inp.get("has_audio", True) and sp is None:
                sp = KeywordSpotter(keywords)
                tr = Transcriber() if transcribe else None

            def part(f: float, m: str = "", i: int = i) -> None:
                report((i + f) / max(1, len(inputs)), m)

            out.append(compute_speech_leads(inp, keywords=keywords, before_s=before_s, after_s=after_s,
                                            transcribe=transcribe, spotter=sp, transcriber=tr, progress=part,
                                            should_stop=should_stop))
    finally:
        if sp is not None:
            sp.close()
    return out


def speech_leads(case, *, feed_ids: Sequence[int] | None = None, keywords: Sequence[Keyword] | None = None,
                 before_s: float = DEFAULT_BEFORE_S, after_s: float = DEFAULT_AFTER_S, transcribe: bool = True,
                 progress: Progress | None = None, should_stop: ShouldStop | None = None) -> dict[int, dict]:
    """Compute and store the leads of every feed (or ``feed_ids``); ``{feed_id: document}``.

    Feeds not analysed for mutes yet get a document saying so, and nothing is stored for them.
    """
    ids = list(feed_ids) if feed_ids is not None else [f.id for f in case.feeds]
    inputs = [leads_inputs(case, fid) for fid in ids]
    docs = compute_many(inputs, keywords=keywords, before_s=before_s, after_s=after_s, transcribe=transcribe,
                        progress=progress, should_stop=should_stop)
    for inp, doc in zip(inputs, docs):
        if inp["analysed"]:
            store_speech_leads(case, inp["feed_id"], doc)
    return {inp["feed_id"]: doc for inp, doc in zip(inputs, docs)}


def params_digest(params: Mapping[str, Any]) -> str:
    """A short digest of a parameter set (shown beside stored leads)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]


# ============================================================================ what the analyst sees
def mute_overview(case, *, timeline=None) -> list[dict]:
    """Every mute of the case with its leads (from the stored speech leads) and the analyst's finding.

    One dict per mute, in shared-clock order: ``number`` (1-based, as ``mute list`` shows it),
    ``ref`` (``FEED_ID/kind@ms``), ``feed_id``, ``feed``, ``kind``, ``mute_key``, media and shared
    start and end, ``windows`` (``before``/``after`` as searched, or None when leads were never
    computed), ``leads`` (each with its keyword, feed and shared times, score, context) and
    ``finding`` (``{"finding", "text", "author", "at"}``, or ``not-reviewed`` with no author).
    """
    from media_core.case.store import Case
    from media_core.case.timeline import build_timeline

    tl = timeline if timeline is not None else build_timeline(case)
    findings = {(r["feed_id"], r["mute_key"]): r for r in case.mute_findings()}
    leads_by_feed: dict[int, dict] = {}
    for f in tl.feeds:
        doc = stored_speech_leads(case, f.id)
        if doc is not None:
            leads_by_feed[f.id] = {m["mute_key"]: m for m in doc.get("mutes", [])}
    out = []
    for i, m in enumerate(tl.mutes, 1):
        key = Case.mute_key(m.kind, m.media_start_s)
        lm = leads_by_feed.get(m.feed_id, {}).get(key)
        fr = findings.get((m.feed_id, key))
        out.append({
            "number": i, "ref": f"{m.feed_id}/{key}", "feed_id": m.feed_id, "feed": m.feed_label, "kind": m.kind,
            "mute_key": key, "start_s": m.media_start_s, "end_s": m.media_end_s, "shared_start_s": m.start_s,
            "shared_end_s": m.end_s, "duration_s": m.duration_s,
            "leads_computed": m.feed_id in leads_by_feed,
            "windows": {k: lm[k] for k in ("before", "after")} if lm else None,
            "leads": list(lm["leads"]) if lm else [],
            "finding": ({k: fr[k] for k in ("finding", "text", "author", "at")} if fr else
                        {"finding": "not-reviewed", "text": "", "author": None, "at": None}),
        })
    return out


def find_mute(overview: Sequence[Mapping[str, Any]], ref: str) -> Mapping[str, Any]:
    """The mute named by ``ref``: its number in :func:`mute_overview` (``3``) or ``FEED_ID/kind@ms``."""
    ref = str(ref).strip()
    if ref.isdigit():
        n = int(ref)
        for m in overview:
            if m["number"] == n:
                return m
        raise ParameterError(f"no mute number {n} (the case has {len(overview)} mute(s); see `mute list`)")
    for m in overview:
        if m["ref"] == ref:
            return m
    raise ParameterError(f"no mute {ref!r}: give its number or FEED_ID/kind@ms as `mute list` shows it")
