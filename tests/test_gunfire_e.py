"""Family-e renderer: determinism, onset truth, chain paths, distractors, arguments, levels."""
from __future__ import annotations

import json

import numpy as np
import pytest

from media_core.errors import ParameterError
from sample_media import chains_e
from sample_media.distractors_e import KINDS_E, ON_MIC_E, render_distractor_e, render_distractor_scene_e
from sample_media.gunfire_e import LAYOUTS_E, MIN_SPACING_S, WEAPONS_E, air_absorption_db_per_m, render_scene_e


def _onset(y: np.ndarray, sr: int, t: float, frac: float = 0.1) -> float:
    """First sample near ``t`` where |y| reaches ``frac`` of the shot's early peak."""
    k = int(round(t * sr))
    lo, hi = max(0, k - int(0.01 * sr)), k + int(0.004 * sr)
    pk = float(np.max(np.abs(y[k:hi])))
    above = np.flatnonzero(np.abs(y[lo:hi]) >= frac * pk)
    return (lo + int(above[0])) / sr


def _isolated(truth, gap=0.03):
    ts = [s["time_s"] for s in truth["shots"]]
    return [s for i, s in enumerate(truth["shots"])
            if (i == 0 or ts[i] - ts[i - 1] > gap)]


def test_same_seed_same_bytes():
    for seed in (3, 11):
        y1, sr1, t1 = render_scene_e(np.random.default_rng(seed))
        y2, sr2, t2 = render_scene_e(np.random.default_rng(seed))
        assert sr1 == sr2 and y1.tobytes() == y2.tobytes() and t1 == t2
        assert json.loads(json.dumps(t1)) == t1 and t1["family"] == "e"
    y1, _, _ = render_distractor_scene_e(np.random.default_rng(5), "taser")
    y2, _, _ = render_distractor_scene_e(np.random.default_rng(5), "taser")
    assert y1.tobytes() == y2.tobytes()
    y3, _, _ = render_scene_e(np.random.default_rng(4))
    assert y3.tobytes() != y1.tobytes()


@pytest.mark.parametrize("weapon", WEAPONS_E)
def test_truth_onset_is_first_arrival_clean_chain(weapon):
    rng = np.random.default_rng(WEAPONS_E.index(weapon))
    for d, fs in ((0.5, 40000.0), (8.0, 4000.0), (60.0, 200.0)):
        spec = chains_e.clean_chain_e(48000, full_scale_pa=fs)
        y, sr, truth = render_scene_e(rng, layout="single", kind=weapon, distance_m=d, background="none",
                                      distractors=False, chain=spec, environment="open_field")
        (s,) = truth["shots"]
        # a distant suppressed shot rises slowly: look for its first few per cent
        assert abs(_onset(y, sr, s["time_s"], 0.03) - s["time_s"]) <= 0.0005, (weapon, d, s)
        # nothing of the shot before its truth onset
        k = int(round(s["time_s"] * sr))
        pre = np.abs(y[max(0, k - int(0.05 * sr)):k - 2])
        assert pre.max() < 0.02 * np.abs(y[k:k + int(0.01 * sr)]).max()


def test_crack_first_onset_and_volley_onsets():
    rng = np.random.default_rng(21)
    found = 0
    for _ in range(40):
        y, sr, truth = render_scene_e(rng, layout="single", kind="rifle", distance_m=float(rng.uniform(30, 140)),
                                      background="none", distractors=False, environment="open_field",
                                      chain=chains_e.clean_chain_e(48000, full_scale_pa=4000.0))
        s = truth["shots"][0]
        if s["crack_first"]:
            found += 1
            assert s["blast_s"] > s["time_s"] + 0.001
            assert abs(_onset(y, sr, s["time_s"]) - s["time_s"]) <= 0.0005
        if found >= 3:
            break
    assert found >= 3
    y, sr, truth = render_scene_e(np.random.default_rng(2), layout="volley", kind="pistol", n_shots=6,
                                  background="room_tone", distractors=False, environment="street",
                                  chain=chains_e.clean_chain_e(48000, full_scale_pa=4000.0))
    for s in _isolated(truth, 0.1):
        assert abs(_onset(y, sr, s["time_s"], 0.3) - s["time_s"]) <= 0.0005


@pytest.mark.parametrize("codec,sr_out,kbps", [("aac", 48000, 64.0), ("aac", 16000, 32.0), ("opus", 44100, 32.0),
                                               ("mp3", 22050, 48.0), ("vorbis", 32000, 4.0), ("mp2", 48000, 128.0),
                                               ("ac3", 48000, 192.0), ("mulaw", 8000, None),
                                               ("g726", 8000, 32.0), ("adpcm_ima", 11025, None),
                                               ("g722", 16000, None)])
def test_onset_survives_codec(codec, sr_out, kbps):
    spec = chains_e.clean_chain_e(sr_out, codec=codec, kbps=kbps, full_scale_pa=3000.0)
    y, sr, truth = render_scene_e(np.random.default_rng(8), layout="single", kind="pistol", distance_m=5.0,
                                  background="none", distractors=False, chain=spec, environment="open_field")
    assert sr == sr_out and y.dtype == np.float32
    assert abs(y.size - round(truth["duration_s"] * sr)) <= 1
    s = truth["shots"][0]
    assert abs(_onset(y, sr, s["time_s"], 0.2) - s["time_s"]) <= 0.001, (codec, sr_out)


def test_every_rate_and_codec_path_runs():
    x = np.zeros(48000)
    x[12000:12048] = 5.0 * np.hanning(48)
    x[3000:3048] = 2.0 * np.hanning(48)
    for sr_out in chains_e.OUTPUT_RATES_E:
        y, sro = chains_e.apply_chain_e(x, 48000, chains_e.clean_chain_e(sr_out, full_scale_pa=20.0))
        assert sro == sr_out and abs(y.size - sr_out) <= 1
        assert abs(np.argmax(np.abs(y)) / sr_out - 12024 / 48000) < 0.0005
    for codec, (_, _, rates, kb) in chains_e._CODEC_TABLE.items():
        sr_out = rates[0] if rates else 16000
        y = chains_e.codec_roundtrip_e(x[:16000] * 0.05, 16000, "pcm16") if codec == "pcm16" else \
            chains_e.codec_roundtrip_e(np.resize(x * 0.05, sr_out), sr_out, codec, kb[0] if kb else None)
        assert np.all(np.isfinite(y)) and np.max(np.abs(y)) > 0.01, codec
    # random chains run end to end at every output rate
    rng = np.random.default_rng(0)
    for sr_out in chains_e.OUTPUT_RATES_E:
        spec = chains_e.random_chain_e(rng, sr_out=sr_out, noise_suppression=True)
        y, sro = chains_e.apply_chain_e(np.resize(x, 24000) * 50, 48000, spec)
        assert sro == sr_out and np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1.0


def test_distractor_scenes_have_no_shots():
    assert len(KINDS_E) >= 15 and ON_MIC_E <= set(KINDS_E)
    rng = np.random.default_rng(1)
    for kind in KINDS_E:
        y, sr, truth = render_distractor_scene_e(rng, kind, chain=chains_e.random_chain_e(rng, codec="pcm16"))
        assert truth["shots"] == [] and truth["family"] == "e"
        assert 2.0 <= y.size / sr <= 6.0 + 1e-6
        assert truth["distractors"] and all(d["kind"] == kind for d in truth["distractors"])
        assert np.all(np.isfinite(y)) and np.max(np.abs(y)) > 0


def test_bad_arguments_raise():
    rng = np.random.default_rng(0)
    bad = [dict(kind="bazooka"), dict(layout="ambush"), dict(n_shots=-1), dict(n_shots=99), dict(sr=8000),
           dict(sr=48000.0), dict(distance_m=500.0), dict(background="ocean"), dict(distractors=["meteor"]),
           dict(chain="aac"), dict(layout="double_tap", n_shots=3), dict(duration_s=0.01),
           dict(chain={"codec": "aac"}), dict(environment="moon")]
    for kw in bad:
        with pytest.raises(ParameterError):
            render_scene_e(rng, **kw)
    with pytest.raises(ParameterError):
        render_distractor_scene_e(rng, "gunshot")
    with pytest.raises(ParameterError):
        render_distractor_e("clap", 100, rng)
    with pytest.raises(ParameterError):
        chains_e.random_chain_e(rng, sr_out=12345)
    with pytest.raises(ParameterError):
        chains_e.clean_chain_e(48000, codec="mulaw")  # mu-law is 8 kHz only
    with pytest.raises(ParameterError):
        chains_e.overload(np.zeros(4), "melt")
    with pytest.raises(ParameterError):
        chains_e.codec_roundtrip_e(np.zeros(100), 16000, "flac")


@pytest.mark.parametrize("kind", [k for k in chains_e.OVERLOADS_E if k != "none"])
def test_clipping_kinds_clip(kind):
    t = np.arange(4800) / 48000
    x = 4.0 * np.sin(2 * np.pi * 200 * t)
    y = chains_e.overload(x, kind, 0.5, sr=48000, asym=0.5, slew_v_per_ms=1.0)
    assert np.max(np.abs(y)) <= 0.5 + 1e-9
    assert np.max(np.abs(y)) >= 0.2
    # strongly non-linear: far from a scaled copy of the input
    g = float(np.dot(x, y) / np.dot(x, x))
    assert np.sqrt(np.mean((y - g * x) ** 2)) > 0.05 * np.sqrt(np.mean(y ** 2))
    if kind == "diode":
        assert -y.min() < 0.9 * y.max()  # asymmetric rails
    # a close rifle through such a chain reaches the rail and stays there for several samples
    spec = chains_e.clean_chain_e(48000, full_scale_pa=200.0)
    spec["overload"] = {"kind": kind, "level": 0.5, "asym": 0.5, "slew_v_per_ms": 1.0}
    ys, sr, truth = render_scene_e(np.random.default_rng(3), layout="single", kind="rifle", distance_m=2.0,
                                   background="none", distractors=False, chain=spec, environment="open_field")
    assert truth["shots"][0]["peak_dbfs"] > 20
    pk = np.max(np.abs(ys))
    assert pk <= 0.5 + 1e-3
    if kind in ("hard", "foldback"):
        assert np.count_nonzero(np.abs(ys) >= 0.99 * pk) >= 3


def test_faint_shot_is_40_db_down():
    for seed in range(3):
        spec = chains_e.clean_chain_e(48000)
        y, sr, truth = render_scene_e(np.random.default_rng(seed), layout="faint", chain=spec, distractors=False)
        pk_truth = max(s["peak_dbfs"] for s in truth["shots"])
        assert -43.5 <= pk_truth <= -36.5
        pk = 20 * np.log10(np.max(np.abs(y)))
        assert abs(pk - pk_truth) <= 2.5, (pk, pk_truth)
    # random chains for faint scenes never add upward gain
    y, sr, truth = render_scene_e(np.random.default_rng(7), layout="faint", distractors=False)
    assert truth["chain"]["gain"]["kind"] == "fixed" and truth["chain"]["gain"]["makeup_db"] == 0.0


def test_layouts_spacing_and_lengths():
    rng = np.random.default_rng(9)
    seen = set()
    for i in range(40):
        layout = LAYOUTS_E[i % len(LAYOUTS_E)]
        y, sr, truth = render_scene_e(rng, layout=layout, chain=False, background="none")
        ts = [s["time_s"] for s in truth["shots"]]
        assert ts == sorted(ts) and len(ts) >= 1
        assert all(b - a >= MIN_SPACING_S - 1e-9 for a, b in zip(ts, ts[1:]))
        dur = y.size / sr
        if layout == "library_clip":
            assert 0.3 <= dur <= 2.0 and ts[0] <= 0.25
        else:
            assert 3.0 <= dur <= 8.5
        if layout == "double_tap":
            assert len(ts) == 2 and 0.06 <= ts[1] - ts[0] <= 0.25
        if layout == "rapid_fire":
            gaps = np.diff(ts)
            assert 5 <= len(ts) <= 20 and np.all((gaps > 1 / 13) & (gaps < 1 / 7.5))
        if layout == "two_shooters":
            d = {s["shooter"]: s["distance_m"] for s in truth["shots"]}
            if len(d) == 2:
                assert max(d.values()) / min(d.values()) > 1.5
        if layout == "release_tail":
            assert any(s["in_release_tail"] for s in truth["shots"])
        seen.add(layout)
        for s in truth["shots"]:
            assert s["kind"] in WEAPONS_E and 0.1 <= s["distance_m"] <= 160
    assert seen == set(LAYOUTS_E)


def test_release_tail_chain_has_release():
    y, sr, truth = render_scene_e(np.random.default_rng(4), layout="release_tail")
    g = truth["chain"]["gain"]
    assert g["kind"] in ("limiter", "phone_agc") and g["release_s"] >= 0.4
    tail = [s for s in truth["shots"] if s["in_release_tail"]]
    first_loud = min([s["time_s"] for s in truth["shots"] if not s["in_release_tail"]]
                     + [d["time_s"] for d in truth["distractors"] if d["kind"] == "vest_bump"])
    assert tail and all(0 < s["time_s"] - first_loud < g["release_s"] for s in tail)


def test_air_absorption_matches_standard_values():
    # ANSI S1.26 at 20 C, 50 % RH: about 0.005 dB/m at 1 kHz and 0.1 dB/m at 10 kHz
    a1, a10 = air_absorption_db_per_m([1000.0, 10000.0], 20.0, 50.0)
    assert 0.003 < a1 < 0.007 and 0.08 < a10 < 0.2
