"""Family-e recording chain: capsule, preamp overload, gain control, noise suppression, codec.

Written independently of :mod:`sample_media.chains` (family b); the stages, in order:

1. **Capsule** (:func:`capsule_response`) -- a Helmholtz/port resonance (peaking biquad,
   6 to 20 kHz, +0 to +9 dB, Q 0.7 to 3) and a low cut (Butterworth, order 1 or 2,
   30 to 300 Hz; phones with a wind filter sit at the high end).
2. **Sensitivity** -- pressure in Pa is divided by ``full_scale_pa`` (110 to 135 dB SPL
   peak at digital full scale).
3. **Gain control, analog position** (``gain["stage"] == "analog"``), see 5.
4. **Preamp overload** (:func:`overload`) at ``clip_level`` (0.3 to 1.5 of full scale):
   ``tanh`` (soft), ``diode`` (asymmetric exponential, different knees per polarity),
   ``hard``, ``foldback`` (the signal folds back below the rail, as some MEMS ASICs do),
   ``slew`` (slew-rate limited op-amp, then a soft rail) or ``none``.
5. **Converter** -- polyphase resampling to the file rate (8, 11.025, 16, 22.05, 32, 44.1 or
   48 kHz; linear-phase FIR, so nothing moves in time) and a hard clip at full scale.
6. **Gain control, digital position**, then a second hard clip. Designs
   (:func:`gain_control`): ``fixed``; ``limiter`` -- a feed-forward RMS compressor/limiter
   with look-ahead (0 to 5 ms), hold (5 to 150 ms) and release (50 ms to 2 s) computed on a
   1 ms control grid; ``phone_agc`` -- a slow level-seeking AGC (target -26 to -14 dBFS,
   +0 to +30 dB of boost) with a fast peak guard and a downward noise gate.
7. **Noise suppression** (optional, :func:`noise_suppress`) -- STFT spectral gating against a
   low-percentile noise floor, with an attack/release on the per-bin gain; it chops quiet tails.
8. **Codec** (:func:`codec_roundtrip_e`) -- the FFmpeg binary of ``imageio-ffmpeg`` through
   temporary files: AAC, Opus, MP3, Vorbis, MP2, AC-3, G.711 mu/A-law, G.722, G.726 (24 to
   40 kb/s), IMA/MS ADPCM or 16-bit PCM. AMR-NB is left out on purpose: its output onset
   moves by +-2.5 ms with the onset's place in the 20 ms frame, so no fixed lag keeps the
   truth exact. The codec's lag (priming, resampler delay) is measured once per
   (codec, rate, bitrate) by cross-correlating a calibration burst train and removed, so an
   onset at sample ``k`` of the input is at sample ``k`` of the output.

No stage delays the signal; :func:`apply_chain_e` runs a spec from :func:`random_chain_e`
(JSON-serialisable) and returns float32 at the output rate.
"""
from __future__ import annotations

import functools
import math
import os
import subprocess
import tempfile
from typing import Any

import numpy as np
from scipy import signal

from media_core.errors import ParameterError

__all__ = [
    "OUTPUT_RATES_E",
    "OVERLOADS_E",
    "GAIN_CONTROLS_E",
    "CODECS_E",
    "capsule_response",
    "overload",
    "gain_control",
    "noise_suppress",
    "to_rate",
    "codec_roundtrip_e",
    "codec_lag_samples",
    "random_chain_e",
    "clean_chain_e",
    "apply_chain_e",
]

OUTPUT_RATES_E = (8000, 11025, 16000, 22050, 32000, 44100, 48000)
OVERLOADS_E = ("none", "tanh", "diode", "hard", "foldback", "slew")
GAIN_CONTROLS_E = ("fixed", "limiter", "phone_agc")

#: codec -> (ffmpeg encoder, container, allowed output rates or None for all, bitrates in kb/s
#: or None for a fixed-rate codec)
_CODEC_TABLE: dict[str, tuple[str, str, tuple[int, ...] | None, tuple[float, ...] | None]] = {
    "pcm16": ("", "", None, None),
    "aac": ("aac", "adts", None, (16, 24, 32, 48, 64, 96, 128, 160)),
    "opus": ("libopus", "ogg", None, (12, 16, 24, 32, 48, 64, 96)),
    "mp3": ("libmp3lame", "mp3", None, (16, 24, 32, 48, 64, 96, 128, 192)),
    "vorbis": ("libvorbis", "ogg", (11025, 16000, 22050, 32000, 44100, 48000), (0, 2, 4, 6)),
    "mp2": ("mp2", "mp2", (16000, 22050, 32000, 44100, 48000), (64, 96, 128, 192)),
    "ac3": ("ac3", "ac3", (32000, 44100, 48000), (96, 128, 192)),
    "mulaw": ("pcm_mulaw", "wav", (8000,), None),
    "alaw": ("pcm_alaw", "wav", (8000,), None),
    "g722": ("g722", "wav", (16000,), None),
    "g726": ("g726", "wav", (8000,), (24, 32, 40)),
    "adpcm_ima": ("adpcm_ima_wav", "wav", None, None),
    "adpcm_ms": ("adpcm_ms", "wav", None, None),
}
CODECS_E = tuple(_CODEC_TABLE)


# ----------------------------------------------------------------------------------------------
# capsule

def _peaking(sr: int, f0: float, gain_db: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    a = 10 ** (gain_db / 40)
    w = 2 * math.pi * f0 / sr
    al = math.sin(w) / (2 * q)
    b = np.array([1 + al * a, -2 * math.cos(w), 1 - al * a])
    den = np.array([1 + al / a, -2 * math.cos(w), 1 - al / a])
    return b / den[0], den / den[0]


def capsule_response(x: np.ndarray, sr: int, spec: dict[str, Any]) -> np.ndarray:
    """Capsule resonance and low cut (causal IIR; the onset stays where it is)."""
    y = np.asarray(x, dtype=np.float64)
    f_res = float(spec.get("resonance_hz", 0.0))
    if 0 < f_res < 0.45 * sr and spec.get("resonance_db", 0.0):
        b, a = _peaking(sr, f_res, float(spec["resonance_db"]), float(spec.get("resonance_q", 1.5)))
        y = signal.lfilter(b, a, y)
    f_lc = float(spec.get("lowcut_hz", 0.0))
    if f_lc > 0:
        sos = signal.butter(int(spec.get("lowcut_order", 2)), f_lc, "highpass", fs=sr, output="sos")
        y = signal.sosfilt(sos, y)
    return y


# ----------------------------------------------------------------------------------------------
# overload

def overload(x: np.ndarray, kind: str, level: float = 1.0, *, sr: int = 48000,
             asym: float = 0.6, slew_v_per_ms: float = 2.0) -> np.ndarray:
    """Preamp or capsule overload of ``x`` (full-scale units) at ``level``.

    ``tanh`` rounds smoothly to ``level``; ``diode`` has an exponential knee whose negative
    rail is ``asym`` times the positive one; ``hard`` cuts at ``level``; ``foldback`` reflects
    what exceeds the rail back below it (then cuts at the rail); ``slew`` limits the slope to
    ``slew_v_per_ms`` full-scale units per ms, then rounds like ``tanh``.
    """
    if kind not in OVERLOADS_E:
        raise ParameterError(f"unknown overload kind {kind!r}; expected one of {OVERLOADS_E}")
    if not level > 0:
        raise ParameterError(f"overload level must be > 0; got {level}")
    x = np.asarray(x, dtype=np.float64)
    L = float(level)
    if kind == "none":
        return x.copy()
    if kind == "tanh":
        return L * np.tanh(x / L)
    if kind == "hard":
        return np.clip(x, -L, L)
    if kind == "diode":
        lp, ln = L, L * float(asym)
        pos = lp * (1 - np.exp(-np.maximum(x, 0) / lp))
        neg = -ln * (1 - np.exp(np.minimum(x, 0) / ln))
        return pos + neg
    if kind == "foldback":
        over = np.abs(x) > L
        y = x.copy()
        y[over] = np.sign(x[over]) * (2 * L - np.abs(x[over]))
        return np.clip(y, -L, L)
    # slew: the output cannot change faster than the limit; vectorised as a running clamp
    step = float(slew_v_per_ms) * 1000.0 / sr
    y = _slew(x, step)
    return L * np.tanh(y / L)


def _slew(x: np.ndarray, step: float) -> np.ndarray:
    d = np.diff(x, prepend=0.0)
    if np.all(np.abs(d) <= step):
        return x.copy()
    # only the samples around excess slopes need the recursive clamp
    out = x.copy()
    bad = np.flatnonzero(np.abs(d) > step)
    i = 0
    nb = bad.size
    while i < nb:
        k = int(bad[i])
        prev = out[k - 1] if k > 0 else 0.0
        while k < x.size:
            dk = x[k] - prev
            if abs(dk) <= step:
                # caught up with the input
                out[k] = x[k]
                break
            prev = prev + math.copysign(step, dk)
            out[k] = prev
            k += 1
        while i < nb and bad[i] <= k:
            i += 1
    return out


# ----------------------------------------------------------------------------------------------
# gain control

def gain_control(x: np.ndarray, sr: int, spec: dict[str, Any]) -> np.ndarray:
    """Apply the gain control ``spec`` (``kind``: fixed, limiter or phone_agc) to ``x``.

    The gain is computed on a 1 ms control grid and interpolated linearly to samples; the
    look-ahead of the limiter reads the future of the signal instead of delaying it, so the
    output is not shifted.
    """
    kind = spec.get("kind", "fixed")
    if kind not in GAIN_CONTROLS_E:
        raise ParameterError(f"unknown gain control {kind!r}; expected one of {GAIN_CONTROLS_E}")
    x = np.asarray(x, dtype=np.float64)
    g0 = 10 ** (float(spec.get("makeup_db", 0.0)) / 20)
    if kind == "fixed" or x.size == 0:
        return x * g0
    hop = max(1, int(round(sr * 0.001)))
    m = -(-x.size // hop)
    pad = np.zeros(m * hop)
    pad[:x.size] = x
    blk = pad.reshape(m, hop)
    peak = np.abs(blk).max(axis=1)
    ms = (blk ** 2).mean(axis=1)
    dt = hop / sr
    if kind == "limiter":
        tau = float(spec.get("rms_s", 0.005))
        a = math.exp(-dt / max(tau, dt))
        rms = np.sqrt(signal.lfilter([1 - a], [1, -a], ms))
        level = np.maximum(rms * math.sqrt(2), peak * float(spec.get("peak_weight", 0.7)))
        la = int(round(float(spec.get("lookahead_s", 0.0)) / dt))
        if la > 0:
            # block i sees blocks i..i+la: the gain falls before a loud onset arrives
            padded = np.concatenate([level, np.full(la, level[-1])])
            level = np.lib.stride_tricks.sliding_window_view(padded, la + 1).max(axis=1)
        thr = 10 ** (float(spec["threshold_db"]) / 20)
        ratio = float(spec.get("ratio", 20.0))
        lvl_db = 20 * np.log10(np.maximum(level, 1e-9))
        over = np.maximum(lvl_db - 20 * math.log10(thr), 0.0)
        target_db = -over * (1 - 1 / ratio)
        g_db = _smooth_gain(target_db, dt, float(spec.get("attack_s", 0.001)),
                            float(spec["release_s"]), float(spec.get("hold_s", 0.0)))
    else:  # phone_agc
        tau = float(spec.get("rms_s", 0.4))
        a = math.exp(-dt / tau)
        rms = np.sqrt(signal.lfilter([1 - a], [1, -a], ms) + 1e-18)
        rms_db = 20 * np.log10(rms)
        want = np.clip(float(spec["target_db"]) - rms_db, -40.0, float(spec["max_gain_db"]))
        # peak guard: never let a block's peak exceed -1 dBFS after gain (fast down, slow up)
        pk_db = 20 * np.log10(np.maximum(peak, 1e-9))
        want = np.minimum(want, -1.0 - pk_db)
        gate = rms_db < float(spec.get("gate_db", -70.0))
        want = np.where(gate, want - float(spec.get("gate_depth_db", 0.0)), want)
        g_db = _smooth_gain(want, dt, float(spec.get("attack_s", 0.003)),
                            float(spec["release_s"]), float(spec.get("hold_s", 0.0)))
    t_blk = (np.arange(m) + 0.5) * hop
    g = 10 ** (np.interp(np.arange(x.size), t_blk, g_db) / 20)
    return x * g * g0


def _smooth_gain(target_db: np.ndarray, dt: float, attack_s: float, release_s: float,
                 hold_s: float) -> np.ndarray:
    """Attack/hold/release smoothing of a gain target (dB), one value per control block."""
    aa = math.exp(-dt / max(attack_s, 1e-5))
    ar = math.exp(-dt / max(release_s, 1e-4))
    hold_n = int(round(hold_s / dt))
    out = np.empty_like(target_db)
    g = float(target_db[0]) if target_db.size else 0.0
    held = 0
    tl = target_db.tolist()
    for i, t in enumerate(tl):
        if t < g:
            g = t + aa * (g - t) if attack_s > dt else t
            held = hold_n
        elif held > 0:
            held -= 1
        else:
            g = t + ar * (g - t)
        out[i] = g
    return out


# ----------------------------------------------------------------------------------------------
# noise suppression

def noise_suppress(x: np.ndarray, sr: int, spec: dict[str, Any]) -> np.ndarray:
    """Phone-style spectral gating: bins near the noise floor are pulled down to a floor."""
    x = np.asarray(x, dtype=np.float64)
    nper = int(2 ** round(math.log2(sr * 0.016)))
    if x.size < 4 * nper:
        return x.copy()
    hop = nper // 2
    f, t, Z = signal.stft(x, fs=sr, nperseg=nper, noverlap=nper - hop, boundary="even", padded=True)
    P = np.abs(Z) ** 2
    noise = np.percentile(P, float(spec.get("percentile", 15.0)), axis=1, keepdims=True) + 1e-20
    snr = P / (noise * float(spec.get("over_subtract", 3.0)))
    floor = 10 ** (-float(spec.get("depth_db", 15.0)) / 20)
    g = np.clip(1 - 1 / np.maximum(snr, 1e-9), 0.0, 1.0) ** 0.5
    g = np.maximum(g, floor)
    # smooth over frequency (shorter filters, less time aliasing), then attack/release in time
    k = np.array([0.25, 0.5, 0.25])
    g = signal.lfilter(k, [1.0], np.pad(g, ((1, 1), (0, 0)), mode="edge"), axis=0)[2:, :]
    dt = hop / sr
    ar = math.exp(-dt / float(spec.get("release_s", 0.08)))
    out = np.empty_like(g)
    cur = g[:, 0].copy()
    for j in range(g.shape[1]):
        gj = g[:, j]
        cur = np.where(gj > cur, gj, gj + ar * (cur - gj))
        out[:, j] = cur
    _, y = signal.istft(Z * out, fs=sr, nperseg=nper, noverlap=nper - hop, boundary=True)
    return y[:x.size] if y.size >= x.size else np.pad(y, (0, x.size - y.size))


# ----------------------------------------------------------------------------------------------
# rate and codec

def to_rate(x: np.ndarray, sr: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling (linear-phase FIR, centred: no delay)."""
    if sr_out == sr:
        return np.asarray(x, dtype=np.float64).copy()
    g = math.gcd(int(sr), int(sr_out))
    up, down = int(sr_out) // g, int(sr) // g
    y = signal.resample_poly(np.asarray(x, dtype=np.float64), up, down, window=("kaiser", 8.0))
    n = int(round(x.size * sr_out / sr))
    return y[:n] if y.size >= n else np.pad(y, (0, n - y.size))


def _ffmpeg() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def _check_codec(codec: str, sr: int, kbps: float | None) -> None:
    if codec not in _CODEC_TABLE:
        raise ParameterError(f"unknown codec {codec!r}; expected one of {CODECS_E}")
    _, _, rates, rates_kbps = _CODEC_TABLE[codec]
    if rates is not None and int(sr) not in rates:
        raise ParameterError(f"codec {codec!r} does not take {sr} Hz; allowed {rates}")
    if rates_kbps is not None and kbps is not None and float(kbps) not in rates_kbps:
        raise ParameterError(f"codec {codec!r}: bitrate {kbps} not in {rates_kbps}")
    if codec == "mp2" and kbps is not None and int(sr) < 32000 and float(kbps) > 160:
        raise ParameterError(f"codec 'mp2' at {sr} Hz takes at most 160 kb/s; got {kbps}")


def _raw_roundtrip(x: np.ndarray, sr: int, codec: str, kbps: float | None) -> np.ndarray:
    enc, fmt, _, rates_kbps = _CODEC_TABLE[codec]
    if kbps is None and rates_kbps is not None:
        kbps = rates_kbps[len(rates_kbps) // 2]
    args = ["-c:a", enc]
    if codec == "vorbis":
        args += ["-q:a", str(int(kbps))]
    elif kbps is not None:
        args += ["-b:a", f"{kbps:g}k"]
    if codec == "aac":
        args += ["-aac_coder", "fast"]
    exe = _ffmpeg()
    with tempfile.TemporaryDirectory(prefix="fam_e_codec_") as d:
        src = os.path.join(d, "in.f32")
        mid = os.path.join(d, "enc." + fmt)
        out = os.path.join(d, "out.f32")
        np.asarray(x, dtype="<f4").tofile(src)
        base = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1"]
        r = subprocess.run(base + ["-f", "f32le", "-ar", str(sr), "-ac", "1", "-i", src] + args
                           + ["-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", fmt, "-y", mid],
                           capture_output=True)
        if r.returncode:
            raise ParameterError(f"ffmpeg could not encode {codec} at {sr} Hz: "
                                 f"{r.stderr.decode(errors='replace')[-300:]}")
        r = subprocess.run(base + ["-i", mid, "-f", "f32le", "-ac", "1", "-ar", str(sr), "-y", out],
                           capture_output=True)
        if r.returncode:
            raise ParameterError(f"ffmpeg could not decode {codec}: {r.stderr.decode(errors='replace')[-300:]}")
        return np.fromfile(out, dtype="<f4").astype(np.float64)


@functools.lru_cache(maxsize=256)
def codec_lag_samples(codec: str, sr: int, kbps: float | None) -> int:
    """The codec path's lag in samples at ``sr``, measured once on a calibration signal.

    The signal is a train of abruptly gated noise bursts; the lag is the peak of the
    cross-correlation of the input and output energy envelopes (0.5 ms smoothing), which
    speech codecs (AMR, ADPCM) keep even where they do not keep the waveform.
    """
    if codec == "pcm16":
        return 0
    rng = np.random.default_rng(12345)
    n = int(1.6 * sr)
    cal = np.zeros(n)
    for t0, dur in ((0.20, 0.03), (0.47, 0.05), (0.83, 0.02), (1.12, 0.04)):
        k0, w = int(t0 * sr), int(dur * sr)
        cal[k0:k0 + w] = 0.25 * rng.standard_normal(w) * np.exp(-np.arange(w) / (0.4 * w))
    y = _raw_roundtrip(cal, sr, codec, kbps)
    yy = np.zeros(n + int(0.2 * sr))
    m = min(y.size, yy.size)
    yy[:m] = y[:m]
    h = np.ones(max(1, int(0.0005 * sr)))
    ex = np.convolve(cal ** 2, h, "same")
    ey = np.convolve(yy ** 2, h, "same")
    c = signal.correlate(ey, ex, mode="full", method="fft")
    lags = np.arange(-n + 1, yy.size)
    ok = (lags >= -int(0.05 * sr)) & (lags <= int(0.15 * sr))
    return int(lags[ok][np.argmax(c[ok])])


def codec_roundtrip_e(x: np.ndarray, sr: int, codec: str, kbps: float | None = None) -> np.ndarray:
    """Encode and decode ``x`` (full-scale units) with the lag removed; same length as ``x``."""
    _check_codec(codec, sr, kbps)
    x = np.asarray(x, dtype=np.float64)
    if codec == "pcm16":
        return np.round(np.clip(x, -1.0, 32767 / 32768) * 32768.0) / 32768.0
    lag = codec_lag_samples(codec, int(sr), None if kbps is None else float(kbps))
    tail = int(0.25 * sr)
    y = _raw_roundtrip(np.concatenate([x, np.zeros(tail)]), sr, codec, kbps)
    if lag >= 0:
        y = y[lag:]
    else:
        y = np.concatenate([np.zeros(-lag), y])
    return y[:x.size] if y.size >= x.size else np.pad(y, (0, x.size - y.size))


# ----------------------------------------------------------------------------------------------
# specs

def _pick(rng: np.random.Generator, items, p=None):
    i = int(rng.choice(len(items), p=p))
    return items[i]


def random_chain_e(rng: np.random.Generator, *, sr_out: int | None = None, codec: str | None = None,
                   gain: str | None = None, overload_kind: str | None = None,
                   noise_suppression: bool | None = None) -> dict[str, Any]:
    """Draw a family-e chain spec (JSON-serialisable)."""
    if sr_out is None:
        sr_out = int(_pick(rng, OUTPUT_RATES_E, p=[0.12, 0.06, 0.2, 0.08, 0.14, 0.15, 0.25]))
    if int(sr_out) not in OUTPUT_RATES_E:
        raise ParameterError(f"sr_out must be one of {OUTPUT_RATES_E}; got {sr_out}")
    sr_out = int(sr_out)
    if codec is None:
        ok = [c for c, (_, _, rates, _) in _CODEC_TABLE.items() if rates is None or sr_out in rates]
        w = np.array([{"pcm16": 3, "aac": 5, "opus": 3, "mp3": 3, "vorbis": 1, "mp2": 1, "ac3": 1,
                       "mulaw": 3, "alaw": 2, "g722": 2, "g726": 2,
                       "adpcm_ima": 1, "adpcm_ms": 1}[c] for c in ok], float)
        codec = str(_pick(rng, ok, p=w / w.sum()))
    _, _, rates, kb = _CODEC_TABLE[codec] if codec in _CODEC_TABLE else (None, None, None, None)
    if codec not in _CODEC_TABLE:
        raise ParameterError(f"unknown codec {codec!r}; expected one of {CODECS_E}")
    kbps = None
    if kb is not None:
        cand = list(kb)
        if codec in ("aac", "mp3", "opus") and sr_out <= 16000:
            cand = [k for k in cand if k <= 64] or cand
        if codec == "mp2" and sr_out < 32000:
            cand = [k for k in cand if k <= 160]      # MPEG-2 low sample rates stop at 160 kb/s
        kbps = float(_pick(rng, cand))
    _check_codec(codec, sr_out, kbps)
    if overload_kind is None:
        overload_kind = str(_pick(rng, OVERLOADS_E, p=[0.25, 0.2, 0.15, 0.2, 0.1, 0.1]))
    if overload_kind not in OVERLOADS_E:
        raise ParameterError(f"unknown overload kind {overload_kind!r}; expected one of {OVERLOADS_E}")
    if gain is None:
        gain = str(_pick(rng, GAIN_CONTROLS_E, p=[0.35, 0.35, 0.3]))
    if gain not in GAIN_CONTROLS_E:
        raise ParameterError(f"unknown gain control {gain!r}; expected one of {GAIN_CONTROLS_E}")
    g: dict[str, Any] = {"kind": gain, "stage": str(_pick(rng, ["analog", "digital"])),
                         "makeup_db": float(rng.uniform(-3.0, 6.0)) if gain == "fixed" else 0.0}
    if gain == "limiter":
        g.update(threshold_db=float(rng.uniform(-30.0, -6.0)), ratio=float(rng.choice([4.0, 10.0, 50.0])),
                 rms_s=float(rng.uniform(0.001, 0.02)), lookahead_s=float(rng.choice([0.0, 0.001, 0.003, 0.005])),
                 attack_s=float(rng.uniform(0.0005, 0.005)), hold_s=float(rng.uniform(0.005, 0.15)),
                 release_s=float(np.exp(rng.uniform(np.log(0.05), np.log(2.0)))),
                 makeup_db=float(rng.uniform(0.0, 12.0)), peak_weight=float(rng.uniform(0.5, 1.0)))
    elif gain == "phone_agc":
        g.update(target_db=float(rng.uniform(-26.0, -14.0)), max_gain_db=float(rng.uniform(0.0, 30.0)),
                 rms_s=float(rng.uniform(0.2, 1.0)), attack_s=float(rng.uniform(0.001, 0.01)),
                 hold_s=float(rng.uniform(0.0, 0.1)), release_s=float(np.exp(rng.uniform(np.log(0.3), np.log(3.0)))),
                 gate_db=float(rng.uniform(-75.0, -50.0)), gate_depth_db=float(rng.uniform(0.0, 20.0)))
    ns = bool(rng.random() < 0.2) if noise_suppression is None else bool(noise_suppression)
    spec = {
        "full_scale_pa": float(20e-6 * 10 ** (rng.uniform(110.0, 135.0) / 20)),
        "capsule": {"resonance_hz": float(rng.uniform(6000.0, 20000.0)),
                    "resonance_db": float(rng.uniform(0.0, 9.0)),
                    "resonance_q": float(rng.uniform(0.7, 3.0)),
                    "lowcut_hz": float(np.exp(rng.uniform(np.log(30.0), np.log(300.0)))),
                    "lowcut_order": int(rng.integers(1, 3))},
        "overload": {"kind": overload_kind, "level": float(rng.uniform(0.3, 1.5)),
                     "asym": float(rng.uniform(0.3, 0.9)), "slew_v_per_ms": float(rng.uniform(0.5, 5.0))},
        "gain": g,
        "noise_suppression": ({"percentile": float(rng.uniform(5.0, 30.0)),
                               "over_subtract": float(rng.uniform(1.5, 6.0)),
                               "depth_db": float(rng.uniform(8.0, 30.0)),
                               "release_s": float(rng.uniform(0.02, 0.2))} if ns else None),
        "sr_out": sr_out,
        "codec": codec,
        "kbps": kbps,
    }
    return spec


def clean_chain_e(sr_out: int = 48000, codec: str = "pcm16", kbps: float | None = None,
                  full_scale_pa: float = 200.0) -> dict[str, Any]:
    """A transparent chain: flat capsule (20 Hz low cut), no overload, fixed gain, no suppression."""
    if int(sr_out) not in OUTPUT_RATES_E:
        raise ParameterError(f"sr_out must be one of {OUTPUT_RATES_E}; got {sr_out}")
    _check_codec(codec, int(sr_out), kbps)
    return {"full_scale_pa": float(full_scale_pa),
            "capsule": {"resonance_hz": 0.0, "resonance_db": 0.0, "resonance_q": 1.0,
                        "lowcut_hz": 20.0, "lowcut_order": 1},
            "overload": {"kind": "none", "level": 1.0, "asym": 0.6, "slew_v_per_ms": 2.0},
            "gain": {"kind": "fixed", "stage": "digital", "makeup_db": 0.0},
            "noise_suppression": None, "sr_out": int(sr_out), "codec": codec, "kbps": kbps}


def _validate(spec: dict[str, Any]) -> None:
    try:
        if int(spec["sr_out"]) not in OUTPUT_RATES_E:
            raise ParameterError(f"chain sr_out must be one of {OUTPUT_RATES_E}; got {spec['sr_out']}")
        if not float(spec["full_scale_pa"]) > 0:
            raise ParameterError("chain full_scale_pa must be > 0")
        _check_codec(spec["codec"], int(spec["sr_out"]), spec.get("kbps"))
        if spec["overload"]["kind"] not in OVERLOADS_E:
            raise ParameterError(f"unknown overload kind {spec['overload']['kind']!r}")
        if spec["gain"]["kind"] not in GAIN_CONTROLS_E:
            raise ParameterError(f"unknown gain control {spec['gain']['kind']!r}")
    except (KeyError, TypeError) as e:
        raise ParameterError(f"chain spec is incomplete or malformed: {e!r}") from None


def apply_chain_e(x_pa: np.ndarray, sr: int, spec: dict[str, Any],
                  stop_after: str | None = None) -> tuple[np.ndarray, int]:
    """Run the chain on pressure ``x_pa`` (Pa) rendered at ``sr``; returns (float32, sr_out).

    ``stop_after`` (``"capsule"``, ``"overload"``, ``"converter"``, ``"gain"``, ``"ns"``)
    returns an intermediate stage, for inspection and tests.
    """
    _validate(spec)
    sr_out = int(spec["sr_out"])
    x = capsule_response(x_pa, sr, spec["capsule"]) / float(spec["full_scale_pa"])
    if stop_after == "capsule":
        return x.astype(np.float32), sr
    g = spec["gain"]
    if g.get("stage") == "analog":
        x = gain_control(x, sr, g)
    ov = spec["overload"]
    x = overload(x, ov["kind"], float(ov["level"]), sr=sr, asym=float(ov.get("asym", 0.6)),
                 slew_v_per_ms=float(ov.get("slew_v_per_ms", 2.0)))
    if stop_after == "overload":
        return x.astype(np.float32), sr
    x = np.clip(to_rate(x, sr, sr_out), -1.0, 1.0)
    if stop_after == "converter":
        return x.astype(np.float32), sr_out
    if g.get("stage") != "analog":
        x = np.clip(gain_control(x, sr_out, g), -1.0, 1.0)
    if stop_after == "gain":
        return x.astype(np.float32), sr_out
    if spec.get("noise_suppression"):
        x = noise_suppress(x, sr_out, spec["noise_suppression"])
    if stop_after == "ns":
        return x.astype(np.float32), sr_out
    x = codec_roundtrip_e(x, sr_out, spec["codec"], spec.get("kbps"))
    return np.clip(x, -1.0, 1.0).astype(np.float32), sr_out
