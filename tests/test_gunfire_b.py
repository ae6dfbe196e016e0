"""Family-b synthetic gunfire, distractors and degradation chains: measured, not assumed."""
from __future__ import annotations

import json

import numpy as np
import pytest

from media_core.errors import ParameterError
from sample_media import chains
from sample_media.distractors_b import KINDS_B, LEVELS_DBFS, render_distractor_b, render_distractor_scene_b
from sample_media.gunfire_b import KINDS, MIN_SPACING_S, crack_geometry, muzzle_blast_b, render_scene_b, render_shot_b

SR = 48000


def _first_above(y: np.ndarray, thr: float) -> int:
    idx = np.nonzero(np.abs(y) > thr)[0]
    return int(idx[0]) if idx.size else -1


# ------------------------------------------------------------------------ truth onsets

@pytest.mark.parametrize("kind", KINDS)
def test_dry_shot_energy_starts_at_sample_zero(kind):
    for seed in range(6):
        rng = np.random.default_rng(seed)
        for d, ang in ((0.5, 90.0), (15.0, 10.0), (120.0, 170.0)):
            y = render_shot_b(kind, SR, rng, distance_m=d, angle_deg=ang)
            assert y.dtype == np.float32 and np.all(np.isfinite(y))
            peak = float(np.abs(y).max())
            # the first 0.3 ms already carries a good part of the first arrival's peak
            head = float(np.abs(y[: int(0.0003 * SR) + 1]).max())
            first_arrival = float(np.abs(y[: int(0.003 * SR)]).max())
            assert head > 0.3 * first_arrival, (kind, seed, d, ang)
            assert peak > 0


@pytest.mark.parametrize("kind", KINDS)
def test_scene_truth_onsets_match_energy(kind):
    """Dry scene, near-silent floor: the signal crosses -40 dB re each shot within 0.3 ms of truth."""
    rng = np.random.default_rng(11)
    y, sr, truth = render_scene_b(rng, kind=kind, layout="volley", n_shots=4, spacing=(0.4, 0.6),
                                  duration_s=4.0, background="none", distractors=False, chain=False)
    assert sr == SR and len(truth["shots"]) == 4
    for s in truth["shots"]:
        k = int(round(s["time_s"] * sr))
        seg = y[k - int(0.05 * sr): k + int(0.01 * sr)]
        thr = 0.01 * float(np.abs(y[k:k + int(0.005 * sr)]).max())
        on = _first_above(seg, thr) - int(0.05 * sr)
        assert abs(on) <= int(0.0003 * sr), (kind, s, on)


def test_rifle_down_range_crack_arrives_first():
    rng = np.random.default_rng(3)
    y, meta = render_shot_b("rifle", SR, rng, distance_m=80.0, angle_deg=8.0, speed_mps=900.0,
                            return_meta=True)
    assert meta["crack"] and meta["crack_lead_s"] > 0.05
    kb = int(round(meta["crack_lead_s"] * SR))
    crack = float(np.abs(y[: int(0.002 * SR)]).max())
    gap = float(np.abs(y[int(0.003 * SR): kb - int(0.003 * SR)]).max())
    blast = float(np.abs(y[kb: kb + int(0.003 * SR)]).max())
    assert crack > 10 * gap and blast > 10 * gap  # two distinct arrivals, silence between
    # beside the shooter there is no crack; the lead grows with distance down range
    assert crack_geometry(50.0, 90.0, 900.0) is None
    assert crack_geometry(50.0, 10.0, 300.0) is None  # subsonic
    leads = [crack_geometry(d, 10.0, 900.0)["lead_s"] for d in (20.0, 60.0, 150.0)]
    assert leads[0] < leads[1] < leads[2]


# ------------------------------------------------------------------------ kinds render

@pytest.mark.parametrize("kind", KINDS_B)
def test_each_distractor_renders_from_sample_zero(kind):
    lo, hi = LEVELS_DBFS[kind]
    for seed in range(3):
        y, ons = render_distractor_b(kind, SR, np.random.default_rng(seed), return_onsets=True)
        assert y.dtype == np.float32 and np.all(np.isfinite(y)) and y.size > int(0.002 * SR)
        pk = 20 * np.log10(np.abs(y).max())
        assert lo - 0.01 <= pk <= hi + 0.01
        assert 0 <= _first_above(y, 0.01 * np.abs(y).max()) <= int(0.003 * SR)  # slow bumps too
        assert ons[0] == 0.0 and all(0 <= o < y.size / SR for o in ons)


def test_bump_is_dull_and_clap_is_not():
    def centroid(x):
        p = np.abs(np.fft.rfft(x)) ** 2
        return float((p * np.fft.rfftfreq(x.size, 1 / SR)).sum() / p.sum())

    rng = np.random.default_rng(0)
    bumps = [centroid(render_distractor_b("vest_bump", SR, rng)) for _ in range(5)]
    shots = [centroid(render_shot_b("pistol", SR, rng, distance_m=5.0)[: int(0.02 * SR)]) for _ in range(5)]
    assert max(bumps) < 300.0 < min(shots)


def test_unknown_kinds_raise():
    rng = np.random.default_rng(0)
    with pytest.raises(ParameterError, match="unknown weapon kind 'cannon'"):
        render_shot_b("cannon", SR, rng)
    with pytest.raises(ParameterError, match="unknown distractor kind 'tuba'"):
        render_distractor_b("tuba", SR, rng)
    with pytest.raises(ParameterError, match="unknown codec"):
        chains.codec_roundtrip(np.zeros(100), SR, "flac")
    with pytest.raises(ParameterError, match="layout 'double_tap' has two shots; got n_shots=3"):
        render_scene_b(rng, layout="double_tap", n_shots=3, chain=False)
    with pytest.raises(ParameterError, match="Opus cannot encode at 32000 Hz"):
        chains.codec_roundtrip(np.zeros(100), 32000, "opus")


# ---------------------------------------------------------------------- positive phase

@pytest.mark.parametrize("T_ms", [0.3, 0.8, 1.7, 3.0])
def test_blast_positive_phase_is_what_was_asked(T_ms):
    y = muzzle_blast_b(SR, T_ms * 1e-3, shape_k=2.0, neg_ratio=3.0)
    zc = int(np.nonzero(y < 0)[0][0])
    assert abs(zc / SR - T_ms * 1e-3) <= 1.0 / SR
    assert y[0] > 0.2 and abs(y.sum()) < 0.15 * y[y > 0].sum()  # sharp front, near-zero impulse


@pytest.mark.parametrize("kind,lo,hi", [("pistol", 0.3, 1.0), ("rifle", 0.6, 2.0), ("shotgun", 1.2, 3.0)])
def test_rendered_positive_phase_in_kind_range(kind, lo, hi):
    for seed in range(15):
        y, meta = render_shot_b(kind, SR, np.random.default_rng(seed), distance_m=1.0, angle_deg=90.0,
                                at_mic=False, return_meta=True)
        T = meta["positive_phase_s"] * 1e3
        assert lo <= T <= min(hi * 1.15, 3.0) + 1e-9
        zc = np.nonzero(y < 0)[0][0] / SR * 1e3  # measured, despite the jet noise
        assert 0.6 * T <= zc <= 1.4 * T
        assert 0.3 * 0.6 <= zc <= 3.0 * 1.4


# ----------------------------------------------------------------------- propagation

def test_propagation_spreading_absorption_and_no_delay():
    rng = np.random.default_rng(0)
    y = render_shot_b("pistol", SR, rng, distance_m=1.0, angle_deg=90.0, at_mic=False)
    x = np.concatenate([np.zeros(2400, np.float32), y, np.zeros(SR // 2, np.float32)])
    near = chains.propagate(x, SR, 10.0, rng)
    far = chains.propagate(x, SR, 150.0, rng)
    # 6 dB per doubling below 1 kHz, where air absorbs almost nothing
    def band_db(s, lo, hi):
        p = np.abs(np.fft.rfft(s)) ** 2
        f = np.fft.rfftfreq(s.size, 1 / SR)
        return 10 * np.log10(p[(f >= lo) & (f < hi)].sum())
    assert band_db(near, 100, 800) - band_db(far, 100, 800) == pytest.approx(20 * np.log10(15), abs=1.0)
    hf_loss = band_db(near, 8000, 16000) - band_db(far, 8000, 16000) - 20 * np.log10(15)
    assert hf_loss > 5.0  # ISO 9613-1: ~10 dB at 8-16 kHz over 140 m
    for s in (near, far):
        assert _first_above(s, 0.05 * np.abs(s).max()) - 2400 in range(0, 3)
    rv = chains.random_reverb(rng, indoor=True)
    wet = chains.propagate(x, SR, 10.0, rng, reverb=rv)
    tail = slice(2400 + int(0.15 * SR), 2400 + int(0.3 * SR))
    assert np.std(wet[tail]) > 10 * np.std(near[tail])
    assert _first_above(wet, 0.05 * np.abs(wet).max()) - 2400 in range(0, 3)


# ---------------------------------------------------------------------------- clipping

@pytest.mark.parametrize("kind", ["hard", "soft", "cubic", "asymmetric"])
def test_clip_kinds_bound_the_signal(kind):
    x = np.random.default_rng(0).standard_normal(20000) * 3.0
    out = chains.clip(x, kind, level_dbfs=-6.0, neg_level_dbfs=-10.0)
    c, cn = 10 ** (-6 / 20), 10 ** (-10 / 20)
    assert out.max() <= c + 1e-6
    assert out.min() >= -(cn if kind == "asymmetric" else c) - 1e-6
    if kind == "asymmetric":
        assert out.min() > -c + 0.05  # the negative side really clips lower
    small = x[np.abs(x) < 0.02]
    assert np.allclose(chains.clip(small, kind, level_dbfs=-6.0), small, atol=0.001)
    assert out.max() > 0.9 * c  # and it reaches the level


def test_capsule_overload_rings_and_sags():
    sr = SR
    n = sr // 2
    t = np.arange(n) / sr
    x = 0.05 * np.sin(2 * np.pi * 300 * t)
    x[sr // 10: sr // 10 + 48] += 30.0  # a 1 ms overload at 0.1 s
    out = chains.capsule_overload(x, sr, threshold_dbfs=6.0, ring_hz=5000.0, ring_decay_s=0.002,
                                  ring_gain=0.4, sag_db=10.0, recovery_s=0.05)
    thr = 10 ** (6 / 20)
    assert np.abs(out).max() <= thr * 1.41
    assert np.array_equal(out[: sr // 10], x[: sr // 10].astype(np.float32))  # nothing before
    after = out[sr // 10 + 48: sr // 10 + 48 + 240] - x[sr // 10 + 48: sr // 10 + 48 + 240] * 0.33
    spec = np.abs(np.fft.rfft(after * np.hanning(after.size), 4800))
    f = np.fft.rfftfreq(4800, 1 / sr)
    assert 4000 < f[np.argmax(spec * (f > 1000))] < 6000  # the diaphragm rings
    def level(a, b):
        return np.sqrt(np.mean(out[a:b] ** 2)) / np.sqrt(np.mean(x[a:b] ** 2))
    k = sr // 10 + 48
    early, late = level(k + int(0.005 * sr), k + int(0.015 * sr)), level(k + int(0.3 * sr), k + int(0.35 * sr))
    assert early < 0.55 and late > 0.97  # sags by ~10 dB, recovers over ~5 time constants


# --------------------------------------------------------------------------------- AGC

def test_agc_attack_and_release():
    sr = SR
    t = np.arange(6 * sr) / sr
    x = 0.01 * np.sin(2 * np.pi * 1000 * t)  # -40 dBFS tone
    k0 = sr
    x[k0: k0 + int(0.02 * sr)] = 0.7 * np.sign(np.sin(2 * np.pi * 500 * t[: int(0.02 * sr)]))
    out, g = chains.agc(x, sr, target_dbfs=-20.0, max_gain_db=30.0, min_gain_db=0.0,
                        attack_s=0.001, release_s=0.5, return_gain_db=True)
    assert g[k0 - 10] == pytest.approx(20.0, abs=0.5)  # settled on the tone
    assert np.abs(out[k0: k0 + 12]).max() > 4.0  # no look-ahead: the onset passes at +20 dB
    end = k0 + int(0.02 * sr)
    assert g[end] < 3.0  # gain fell within the burst
    for dt, lo, hi in ((0.5, 10.0, 15.5), (2.5, 19.0, 20.5)):  # 1 - exp(-t / 0.5 s)
        assert lo <= g[end + int(dt * sr)] <= hi, dt
    # the tone's level really follows
    w = int(0.05 * sr)
    def rms_db(a):
        return 20 * np.log10(np.sqrt(np.mean(out[a:a + w] ** 2)) / 0.00707)
    assert rms_db(end + int(0.02 * sr)) < 6.0 and rms_db(end + int(3.0 * sr)) > 18.0
    _, g_slow = chains.agc(x, sr, target_dbfs=-20.0, max_gain_db=30.0, attack_s=0.001,
                           release_s=2.0, return_gain_db=True)
    assert g_slow[end + sr // 2] < g[end + sr // 2] - 5.0  # slower release, slower recovery


# ------------------------------------------------------------------------------ codecs

def _codec_cases():
    for codec in ("aac", "opus", "mp3"):
        for sr in (8000, 16000, 48000):
            yield codec, sr


@pytest.mark.parametrize("codec,sr", list(_codec_cases()))
def test_codec_round_trip_keeps_alignment(codec, sr):
    rng = np.random.default_rng(5)
    dry = np.zeros(2 * SR)
    onsets = [0.3, 0.9, 1.45]
    for t0 in onsets:
        s = render_shot_b("pistol", SR, rng, distance_m=30.0, angle_deg=90.0, casing=False)
        k = int(t0 * SR)
        dry[k:k + s.size] += s
    dry *= 0.5 / np.abs(dry).max()
    x = chains.resample(dry, SR, sr)
    for br in (24000, 96000):
        y = chains.codec_roundtrip(x, sr, codec, bitrate=br)
        assert y.shape == x.shape and np.all(np.isfinite(y))
        cc = np.correlate(y[: sr], x[: sr], "full")  # sample lag of the whole signal
        lag = int(np.argmax(cc)) - (sr - 1)
        assert abs(lag) / sr < 0.001, (codec, sr, br, lag)
        for t0 in onsets:
            k = int(round(t0 * sr))
            a, b = k - int(0.03 * sr), k + int(0.01 * sr)
            oi = _first_above(x[a:b], 0.25 * np.abs(x[a:b]).max())
            oo = _first_above(y[a:b], 0.25 * np.abs(y[a:b]).max())
            assert abs(oo - oi) / sr < 0.001, (codec, sr, br, t0, oi, oo)


@pytest.mark.parametrize("codec,sr_out", [("aac", 16000), ("mp3", 32000), ("opus", 48000), ("pcm16", 44100)])
def test_full_chain_keeps_onsets(codec, sr_out):
    rng = np.random.default_rng(2)
    spec = chains.random_chain(rng, close=False)
    spec.update(codec=codec, sr_out=sr_out, bitrate=64000, agc=None, reverb=None,
                clip={"kind": "soft", "level_dbfs": -1.0}, mic_gain_db=-30.0)
    y, sr, truth = render_scene_b(rng, layout="double_tap", kind="pistol", background="room",
                                  distractors=False, chain=spec, duration_s=2.0)
    assert sr == sr_out and y.size == int(round(2.0 * sr_out))
    for s in truth["shots"]:
        k = int(round(s["time_s"] * sr))
        seg = y[k - int(0.02 * sr): k + int(0.01 * sr)]
        on = _first_above(seg, 0.25 * np.abs(seg).max()) - int(0.02 * sr)
        assert abs(on) / sr < 0.001, (s, on)


def test_random_chain_is_json_and_valid():
    rng = np.random.default_rng(9)
    for close in (True, False, None):
        for _ in range(30):
            spec = chains.random_chain(rng, close=close)
            json.loads(json.dumps(spec))
            assert spec["sr_out"] in chains.OUTPUT_RATES
            assert spec["clip"]["kind"] in chains.CLIP_KINDS and spec["codec"] in chains.CODECS
            if spec["codec"] == "opus":
                assert spec["sr_out"] in (8000, 16000, 48000)
            if close:
                assert 0.2 <= spec["distance_m"] <= 3.0
            elif close is False:
                assert 3.0 <= spec["distance_m"] <= 150.0
            if spec["agc"]:
                a = spec["agc"]
                assert 0 <= a["attack_s"] <= 0.010 and 0.2 <= a["release_s"] <= 3.0
                assert 0.0 <= a["max_gain_db"] <= 30.0
            if spec["reverb"]:
                r = spec["reverb"]
                assert 0.2 <= r["rt60_s"] <= 2.5
                assert all(0.003 <= d <= 0.090 for d, _ in r["early"])


# ------------------------------------------------------------------------------ scenes

def test_scenes_keep_shots_apart_and_inside():
    for seed in range(12):
        rng = np.random.default_rng(seed)
        layout = ("two_shooters", "volley")[seed % 2]
        y, sr, truth = render_scene_b(rng, layout=layout, n_shots=int(rng.integers(2, 21)),
                                      spacing=(0.0, 0.2), chain=False, duration_s=6.0,
                                      background="room", distractors=False)
        ts = np.array([s["time_s"] for s in truth["shots"]])
        assert ts.size >= 2 and np.all(ts < 6.0) and np.all(ts >= 0)
        assert np.all(np.diff(ts) >= MIN_SPACING_S - 1.0 / sr), (seed, np.diff(ts).min())
        if layout == "two_shooters":
            assert {s["shooter"] for s in truth["shots"]} <= {0, 1}


def test_library_clip_has_one_early_shot():
    for seed in range(5):
        y, sr, truth = render_scene_b(np.random.default_rng(seed), layout="library_clip")
        assert len(truth["shots"]) == 1 and 0.3 - 1e-9 <= truth["duration_s"] <= 2.0
        assert 0.02 - 1e-9 <= truth["shots"][0]["time_s"] <= 0.3 + 1e-9
        assert y.size == int(round(truth["duration_s"] * sr))


@pytest.mark.parametrize("kind", ["vest_bump", "plosive", "taser", "firework_aerial", "music_percussion"])
def test_distractor_scene_has_no_shots(kind):
    y, sr, truth = render_distractor_scene_b(np.random.default_rng(1), kind, duration_s=4.0)
    assert truth["shots"] == [] and truth["family"] == "b"
    assert truth["distractors"] and all(d["kind"] == kind for d in truth["distractors"])
    assert sr == truth["chain"]["sr_out"] and y.size == int(round(4.0 * sr))
    json.dumps(truth)


def test_bumps_and_plosives_can_clip_the_camera():
    spec = {"distance_m": None, "mic_gain_db": 0.0, "highpass_hz": 80.0, "agc": None,
            "clip": {"kind": "hard", "level_dbfs": 0.0}, "sr_out": 48000, "codec": "pcm16", "bitrate": 0}
    for kind in ("vest_bump", "plosive"):
        rng = np.random.default_rng(0)
        x = render_distractor_b(kind, SR, rng, peak_dbfs=LEVELS_DBFS[kind][1])
        y, _ = chains.apply_chain(np.concatenate([np.zeros(480), x]), SR, spec, rng)
        assert np.sum(np.abs(y) >= 0.999) > 5, kind


def test_scene_truth_is_deterministic():
    a = render_scene_b(np.random.default_rng(42), duration_s=3.0)
    b = render_scene_b(np.random.default_rng(42), duration_s=3.0)
    c = render_scene_b(np.random.default_rng(43), duration_s=3.0)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2]
    assert json.dumps(a[2]) == json.dumps(b[2])
    assert a[0].shape != c[0].shape or not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("seed", [909, 910, 955, 997])
def test_near_field_shots_keep_a_sharp_onset_through_a_sagging_capsule(seed):
    """A new blast overloads the capsule sharply even while an earlier one's sag recovers.

    Seeds 955 and 997 flattened near-field shots to the preceding tail when the sag was
    applied to the overloading samples themselves.
    """
    rng = np.random.default_rng(seed)
    spec = chains.random_chain(rng, close=True)
    y, sr, truth = render_scene_b(rng, layout="two_shooters", n_shots=20, chain=spec)
    h = max(1, sr // 1000)
    near = [s for s in truth["shots"] if s["distance_m"] < 3.0]
    assert near
    for s in near:
        k = int(round(s["time_s"] * sr))
        pre = float(np.mean(y[k - 10 * h:k].astype(np.float64) ** 2)) + 1e-12
        head = y[k:k + h].astype(np.float64)
        rise_db = 10.0 * np.log10(float(np.mean(head ** 2)) / pre)
        assert rise_db >= 10.0 or float(np.abs(head).max()) >= 0.95, (seed, s["time_s"], rise_db)
