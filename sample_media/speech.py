"""Spoken test phrases from two independent speech synthesizers, at body-cam levels, before mutes.

Speech leads (:mod:`media_core.analysis.speech`) are measured on feeds this module writes: real
synthetic *speech* (not :func:`sample_media.audio.speech_like`), from ``espeak-ng`` (formant
synthesis) and ``flite`` (CMU's diphone/cluster-unit synthesis), two engines that share no code
or voice data, so one can be tuned on and the other held out. Each phrase is spoken by one voice
at one speed, mixed at a body-cam level over street noise at a chosen SNR, through the camera's
clipping and AGC (:func:`sample_media.gunshot.apply_agc`) and encoded as AAC, with generated mutes
(digital silence) after it.

The synthesizers are Debian packages (``scripts/setup.sh`` installs them); :func:`available`
says whether one is on this machine, and callers skip cleanly when it is not.

SNR is the mean power of the spoken phrase (its samples from the first to the last one above
-40 dB of its peak) over the mean power of the street noise, both before the AGC.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from media_core.errors import ParameterError

__all__ = ["ENGINES", "Voice", "KEYWORD_PHRASES", "NEUTRAL_SENTENCES", "available", "voices", "synthesize",
           "street_noise", "bodycam_chain", "Phrase", "render_feed", "mix_phrases"]

ENGINES = ("espeak-ng", "flite")

#: Phrases with the keywords they contain (the default keyword list of the speech-leads analysis).
KEYWORD_PHRASES: list[tuple[str, tuple[str, ...]]] = [
    ("Hey, mute.", ("mute",)),
    ("I'm muting this now.", ("muting",)),
    ("I am turning off my camera.", ("turning off", "camera")),
    ("Turn off the microphone.", ("turn off", "microphone")),
    ("Hold on, let me mute my mic.", ("mute", "mic")),
    ("Sergeant said to stop the recording.", ("sergeant said", "recording")),
    ("This is for privacy.", ("privacy",)),
    ("It's a medical thing, give me a second.", ("medical",)),
    ("This part is confidential.", ("confidential",)),
    ("Stop recording for a minute.", ("recording",)),
    ("Camera going off now.", ("camera",)),
    ("We're turning off the cameras.", ("turning off", "camera")),
]

#: Police-street talk without any of the default keywords (for false leads).
NEUTRAL_SENTENCES: list[str] = [
    "Show me your hands.", "Step out of the vehicle, please.", "Dispatch, we have one detained.",
    "Keep your hands where I can see them.", "Do you have any identification on you?",
    "Back up, back up, give us some room.", "Is anybody else inside the house?",
    "Put the phone down on the ground.", "We need another unit on Fourth Street.",
    "Sit down on the curb for me.", "Where were you going tonight?", "Walk towards me slowly.",
    "Copy that, we are on scene.", "The suspect ran north behind the houses.",
    "Can you tell me your name and date of birth?", "Okay, take a deep breath, you're all right.",
    "Get the first aid kit out of the trunk.", "Nobody move, stay where you are.",
    "He went over the fence, going east.", "Control, start an ambulance to our location.",
    "Turn around and face the wall.", "Put your hands behind your back.",
    "Is this your car or a friend's car?", "Tell me what happened here tonight.",
    "Stay with him, I'll check the yard.", "We found a bag near the front steps.",
    "Roll the window down all the way.", "How much have you had to drink tonight?",
    "Stand over there by the light pole.", "Everyone stay on the sidewalk, please.",
    "Did you see which way they went?", "Code four, everything is under control.",
    "Let me see the registration and insurance.", "Keep pressure on the wound.",
    "Are you hurt anywhere, sir?", "I need you to calm down and listen to me.",
    "Watch your head getting in.", "Units, be advised, the street is blocked.",
    "We'll get this sorted out in a few minutes.", "Open the door slowly with your left hand.",
]


@dataclass(frozen=True)
class Voice:
    """One synthesizer voice at one speed (``speed`` 1.0 = the engine's normal rate)."""

    engine: str
    name: str
    speed: float = 1.0

    @property
    def label(self) -> str:
        return f"{self.engine}:{self.name}@{self.speed:g}"


def available(engine: str) -> bool:
    """Whether ``engine`` (``"espeak-ng"`` or ``"flite"``) can be run on this machine."""
    if engine not in ENGINES:
        raise ParameterError(f"unknown speech synthesizer {engine!r}; choose one of {', '.join(ENGINES)}")
    return shutil.which(engine) is not None


# several voices and speeds per engine; espeak-ng variants (+m3, +f2, ...) change pitch and formants
_ESPEAK = ["en-us", "en-gb", "en-gb-x-rp+m3", "en-us+f2", "en-029", "en-gb-scotland+m5", "en-us-nyc", "en-us+m7"]
_FLITE = ["slt", "awb", "rms", "kal16", "kal"]
_SPEEDS = (0.85, 1.0, 1.2)


def voices(engine: str, *, speeds: Sequence[float] = _SPEEDS) -> list[Voice]:
    """The test voices of ``engine``, each at every speed of ``speeds``."""
    names = _ESPEAK if engine == "espeak-ng" else _FLITE if engine == "flite" else None
    if names is None:
        raise ParameterError(f"unknown speech synthesizer {engine!r}; choose one of {', '.join(ENGINES)}")
    return [Voice(engine, n, float(s)) for n in names for s in speeds]


def _read_wav(path: str) -> tuple[np.ndarray, int]:
    with wave.open(path, "rb") as w:
        sr, ch, n = w.getframerate(), w.getnchannels(), w.getnframes()
        a = np.frombuffer(w.readframes(n), "<i2").astype(np.float32) / 32768.0
    if ch > 1:
        a = a.reshape(-1, ch).mean(axis=1)
    return a, sr


_CACHE: dict[tuple, np.ndarray] = {}


def synthesize(text: str, voice: Voice, *, sr: int = 48000) -> np.ndarray:
    """``text`` spoken by ``voice``: float32 mono at ``sr``, leading and trailing silence trimmed,
    peak-normalised to 1.0 (the caller sets the level).

    Raises :class:`~media_core.errors.ParameterError` when the engine is missing or fails.
    """
    from math import gcd

    from scipy.signal import resample_poly

    key = (text, voice, sr)
    if key in _CACHE:
        return _CACHE[key].copy()
    if not available(voice.engine):
        raise ParameterError(f"{voice.engine} is not installed (scripts/setup.sh installs it with apt-get)")
    with tempfile.TemporaryDirectory(prefix="ea-tts-") as d:
        out = os.path.join(d, "s.wav")
        if voice.engine == "espeak-ng":
            cmd = ["espeak-ng", "-v", voice.name, "-s", str(int(round(165 * voice.speed))), "-w", out, "--", text]
        else:
            cmd = ["flite", "-voice", voice.name, "--setf", f"duration_stretch={1.0 / voice.speed:.3f}",
                   "-t", text, "-o", out]
        r = subprocess.run(cmd, capture_output=True, timeout=60)
        if r.returncode != 0 or not os.path.exists(out):
            raise ParameterError(f"{voice.engine} failed for voice {voice.name}: "
                                 f"{r.stderr.decode('utf-8', 'replace').strip()[:200]}")
        y, ssr = _read_wav(out)
    g = gcd(ssr, sr)
    y = resample_poly(y.astype(np.float64), sr // g, ssr // g)
    a = np.abs(y)
    if a.size == 0 or a.max() <= 0:
        raise ParameterError(f"{voice.engine} produced no sound for {text!r}")
    on = np.flatnonzero(a > a.max() * 0.01)
    y = y[on[0]:on[-1] + 1]
    y = (y / np.abs(y).max()).astype(np.float32)
    if len(_CACHE) < 2000:
        _CACHE[key] = y
    return y.copy()


def active_power(y: np.ndarray) -> float:
    """Mean power of ``y`` from its first to its last sample above -40 dB of its peak."""
    a = np.abs(np.asarray(y, np.float64))
    if a.size == 0 or a.max() <= 0:
        return 0.0
    on = np.flatnonzero(a > a.max() * 0.01)
    seg = a[on[0]:on[-1] + 1]
    return float(np.mean(seg ** 2))


def street_noise(n: int, sr: int, rng: np.random.Generator, *, level_dbfs: float = -40.0) -> np.ndarray:
    """Street noise at ``level_dbfs`` RMS, float32: pink traffic wash, a low rumble whose level
    wanders (cars passing), and wind-like low-frequency gusts.
    """
    from scipy.signal import butter, sosfilt

    from .gunshot import background_noise

    pink = background_noise(n, sr, rng, level_dbfs=0.0).astype(np.float64)
    brown = np.cumsum(rng.standard_normal(n))
    brown = sosfilt(butter(2, [25.0, 300.0], btype="band", fs=sr, output="sos"), brown)
    brown /= max(np.std(brown), 1e-12)
    # slow level wander: a few cars passing per minute
    k = max(2, int(n / sr / 4) + 2)
    env = np.interp(np.arange(n), np.linspace(0, n, k), rng.uniform(0.3, 1.6, k))
    y = pink * (0.6 + 0.4 * env) + 0.8 * brown * env
    y *= 10 ** (level_dbfs / 20) / max(np.std(y), 1e-12)
    return y.astype(np.float32)


def bodycam_chain(y: np.ndarray, sr: int) -> np.ndarray:
    """The body cam's microphone chain (as in the demo incident): clipping at -0.1 dBFS, then AGC
    (+12 dB at most, 1.2 s release), then the converter's hard limit. A new float32 array.
    """
    from .gunshot import apply_agc, apply_clipping

    out = apply_clipping(np.asarray(y, np.float32), clip_dbfs=-0.1)
    out = apply_agc(out, sr, max_gain_db=12.0, release_s=1.2)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


@dataclass
class Phrase:
    """A phrase to speak at ``time_s`` on the feed, and (after :func:`mix_phrases`) where it landed."""

    time_s: float
    text: str
    voice: Voice
    keywords: tuple[str, ...] = ()
    level_dbfs: float = -20.0      # RMS of the spoken part, before the AGC
    end_s: float = field(default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"start_s": round(self.time_s, 4), "end_s": round(self.end_s, 4), "text": self.text,
                "voice": self.voice.label, "engine": self.voice.engine, "keywords": list(self.keywords),
                "level_dbfs": self.level_dbfs}


def mix_phrases(phrases: Sequence[Phrase], *, duration_s: float, sr: int = 48000, snr_db: float | None = 15.0,
                noise_dbfs: float | None = None, rng: np.random.Generator | int = 0,
                mutes: Sequence[tuple[float, float]] = (), chain: bool = True) -> np.ndarray:
    """The phrases over street noise, through the body-cam chain, with ``mutes`` zeroed.

    The noise level is ``noise_dbfs`` or, when None, set so that the mean phrase power is
    ``snr_db`` above it. Sets each phrase's ``end_s``. Returns float32 mono at ``sr``.
    """
    g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    n = int(round(duration_s * sr))
    speech = np.zeros(n, np.float64)
    powers = []
    for p in phrases:
        y = synthesize(p.text, p.voice, sr=sr).astype(np.float64)
        y *= 10 ** (p.level_dbfs / 20) / np.sqrt(max(active_power(y), 1e-20))
        k = int(round(p.time_s * sr))
        if k < 0 or k >= n:
            raise ParameterError(f"phrase at {p.time_s} s lies outside the {duration_s} s feed")
        m = min(y.size, n - k)
        speech[k:k + m] += y[:m]
        p.end_s = (k + m) / sr
        powers.append(active_power(y))
    if noise_dbfs is None:
        if snr_db is None:
            raise ParameterError("give snr_db or noise_dbfs")
        ref = float(np.mean(powers)) if powers else 10 ** (-40 / 10)
        noise_dbfs = 10 * np.log10(ref) - snr_db
    y = speech + street_noise(n, sr, g, level_dbfs=float(noise_dbfs))
    if chain:
        y = bodycam_chain(y, sr)
    y = y.astype(np.float32)
    for a, b in mutes:
        y[max(0, int(round(a * sr))):max(0, int(round(b * sr)))] = 0.0
    return y


def render_feed(path: str | os.PathLike, phrases: Sequence[Phrase], *, duration_s: float,
                mutes: Sequence[tuple[float, float]] = (), snr_db: float | None = 15.0, noise_dbfs: float | None = None,
                sr: int = 48000, seed: int = 0, video: bool = False, bitrate: int = 64000) -> dict[str, Any]:
    """Write a feed (AAC 48 kHz mono, ``.m4a`` or ``.mp4``) with ``phrases`` and digital-silence
    ``mutes``; return its truth: ``{"file", "duration_s", "snr_db", "phrases": [...], "mutes": [...]}``.
    """
    from .encode import write_media

    y = mix_phrases(phrases, duration_s=duration_s, sr=sr, snr_db=snr_db, noise_dbfs=noise_dbfs,
                    rng=np.random.default_rng(seed), mutes=mutes)
    path = pathlib.Path(path)
    write_media(path, audio=y, sr=sr, audio_codec="aac", audio_bitrate=bitrate, video=video,
                duration_s=duration_s, size=(160, 90), fps=10.0, seed=seed)
    return {"file": str(path), "duration_s": duration_s, "snr_db": snr_db,
            "phrases": [p.to_dict() for p in phrases], "mutes": [[float(a), float(b)] for a, b in mutes]}
