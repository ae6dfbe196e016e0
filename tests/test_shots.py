"""Gunshot detection (issues 4 and 9): the fitted detector on generated media and real recordings.

Generated feeds come from :mod:`sample_media.gunshot` (family a) and
:mod:`sample_media.gunfire_b` (family b), are encoded (AAC, Opus, MP3) and decoded
through the streaming decoder with a :class:`ShotListener`, as the application does. Seeds are
fixed and differ from the training seeds (``benchmarks/shot_data.py`` uses 1e6+); answers come
from the generators. The shipped model is checked against its recorded hash, and a missing or
damaged model is one clear error. Accuracy across families is the benchmark's job
(``benchmarks/shots_accuracy.py``), not the suite's.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from media_core.analysis.shot_features import FEATURE_NAMES
from media_core.analysis.shot_model import MODEL_DIR, default_model_path, load_model, recorded_hashes
from media_core.analysis.shots import ALGORITHM_VERSION, ShotListener, detect_shots, group_volleys
from media_core.errors import ModelError, ParameterError
from media_core.io.decode import run_listeners
from sample_media.distractors import KINDS, render_distractor
from sample_media.encode import write_media
from sample_media.gunshot import render_incident_audio
from sample_media.scenes import two_shooter_incident

SR = 48000


def _aac(tmp_path: Path, y: np.ndarray, name: str) -> Path:
    return write_media(tmp_path / f"{name}.m4a", audio=y, sr=SR, audio_codec="aac", audio_bitrate=64000,
                       video=False)


def _listen(path: Path, **kw) -> dict:
    return run_listeners(path, [ShotListener(**kw)])["shots"]


def _match(det: list[float], truth: list[float], collar: float) -> list[float]:
    used: set[int] = set()
    errs = []
    for t in truth:
        cands = [(abs(d - t), i) for i, d in enumerate(det) if i not in used and abs(d - t) <= collar]
        if cands:
            e, i = min(cands)
            used.add(i)
            errs.append(e)
    return errs


def _confident(res: dict) -> list[float]:
    return [s["time_s"] for s in res["shots"] if s["confident"]]


def test_two_shooter_volleys_through_aac(tmp_path):
    """10 + 10 rounds, >= 60 ms apart, echoes, clipping, AGC, AAC: count, F1, onset error."""
    seeds = range(6)
    exact = 0
    tp = fp = fn = 0
    errs: list[float] = []
    for seed in seeds:
        y, truth = two_shooter_incident(np.random.default_rng(seed), sr=SR)
        res = _listen(_aac(tmp_path, y, f"volley{seed}"))
        gt = [e["time_s"] for e in truth if e["kind"] == "gunshot"]
        det = _confident(res)
        e = _match(det, gt, 0.020)
        errs += e
        tp += len(e)
        fp += len(det) - len(e)
        fn += len(gt) - len(e)
        exact += len(det) == len(gt)
        assert res["shot_count"] == len(det)
        assert sum(v["count"] for v in res["volleys"]) == len(det)
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f1 >= 0.95, (f1, tp, fp, fn)
    assert np.median(errs) <= 0.003
    assert exact >= 4, f"exact count on {exact}/6 feeds"


def test_shot_fields_and_evidence(tmp_path):
    y, truth = render_incident_audio(4.0, SR, [1.0], np.random.default_rng(11), distance_m=8.0)
    res = _listen(_aac(tmp_path, y, "one"))
    assert res["shot_count"] == 1
    shot = res["shots"][0]
    assert abs(shot["time_s"] - truth[0]["time_s"]) <= 0.002  # onset = first arrival, not the peak
    assert 0.5 <= shot["confidence"] <= 1.0 and shot["confident"] and shot["class"] == "gunshot"
    assert shot["clipped"] is True and shot["peak_dbfs"] > -1.0
    ev = shot["evidence"]
    assert ev["algorithm_version"] == ALGORITHM_VERSION and ev["method"]
    for key in ("jump_db", "flatness", "hf_share", "lf_share", "rise_ms", "snr_db", "peak_dbfs", "clipped"):
        assert key in ev["measurements"]
    model = load_model()
    assert ev["model"]["sha256"] == model.sha256 and ev["model"]["version"] == model.version
    assert ev["model"]["probability"] == pytest.approx(shot["confidence"], abs=1e-3)
    assert set(ev["features"]) == set(FEATURE_NAMES)
    assert res["volleys"] == [{"start_s": shot["time_s"], "end_s": shot["time_s"], "shot_indices": [0],
                               "count": 1, "uncertain_indices": []}]


def test_strong_echoes_are_not_counted(tmp_path):
    """Walls 3-90 ms away returning up to 60 % of the blast: one shot each, not two or three."""
    rng = np.random.default_rng(21)
    echoes = ((0.004, 0.6), (0.018, 0.5), (0.041, 0.45), (0.085, 0.35))
    times = [1.0, 2.5, 4.0, 5.5]
    shots = [{"time_s": t, "wall_echoes": echoes, "distance_m": d} for t, d in zip(times, (3.0, 8.0, 15.0, 25.0))]
    y, truth = render_incident_audio(7.0, SR, shots, rng)
    res = _listen(_aac(tmp_path, y, "echoes"))
    det = _confident(res)
    assert len(det) == len(times), det
    assert len(_match(det, times, 0.005)) == len(times)


@pytest.mark.parametrize("gap_s", [0.060, 0.075])
def test_two_shooters_60ms_apart_are_two_shots(tmp_path, gap_s):
    rng = np.random.default_rng(31)
    pairs = [1.0, 3.0, 5.0]
    shots = []
    for t in pairs:
        shots.append({"time_s": t, "distance_m": 5.0})
        shots.append({"time_s": t + gap_s, "distance_m": 12.0})
    y, truth = render_incident_audio(7.0, SR, shots, rng)
    res = _listen(_aac(tmp_path, y, f"pairs{int(gap_s * 1000)}"))
    det = _confident(res)
    gt = [e["time_s"] for e in truth]
    assert len(det) == len(gt), (det, gt)
    assert len(_match(det, gt, 0.005)) == len(gt)


def test_overlap_is_noted_not_guessed():
    """Two blasts 10 ms apart cannot be separated: one shot, with a 'possible overlap' note."""
    rng = np.random.default_rng(41)
    y, _ = render_incident_audio(3.0, SR, [{"time_s": 1.0, "distance_m": 6.0, "wall_echoes": None},
                                           {"time_s": 1.010, "distance_m": 6.0, "wall_echoes": None}], rng)
    shots = [s for s in detect_shots(y, SR) if s["confident"]]
    assert len(shots) == 1
    assert any("possible overlap" in n for n in shots[0]["evidence"]["notes"])


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "fireworks"])
def test_distractors_are_not_confident_shots(tmp_path, kind):
    for seed in range(3):
        rng = np.random.default_rng(100 + seed)
        x = render_distractor(kind, sr=SR, rng=rng)
        y, _ = render_incident_audio(5.0, SR, [], rng, distractors=[(1.0, x, {"kind": kind})])
        res = _listen(_aac(tmp_path, y, f"{kind}{seed}"))
        assert res["shot_count"] == 0, (kind, seed, res["shots"])


def test_fireworks_never_pass_silently(tmp_path):
    """Fireworks may be reported, but every report is labelled with its confidence and class."""
    rng = np.random.default_rng(7)
    x = render_distractor("fireworks", sr=SR, rng=rng)
    y, _ = render_incident_audio(5.0, SR, [], rng, distractors=[(1.0, x, {"kind": "fireworks"})])
    res = _listen(_aac(tmp_path, y, "fireworks"))
    for s in res["shots"]:
        assert s["class"] in {"gunshot", "impulsive_uncertain", "possible_fireworks"}
        assert 0.0 <= s["confidence"] <= 1.0
        if not s["confident"]:
            assert s["class"] != "gunshot"


def test_taser_click_train_is_rejected():
    rng = np.random.default_rng(8)
    x = render_distractor("taser", sr=SR, rng=rng, duration_s=5.0, peak_dbfs=3.0)
    y, _ = render_incident_audio(7.0, SR, [], rng, distractors=[(1.0, x, {"kind": "taser"})])
    assert [s for s in detect_shots(y, SR) if s["confident"]] == []


def test_listener_equals_array_and_survives_gaps(tmp_path):
    """Small windows (many block boundaries) give the array result; a packet gap is survived."""
    rng = np.random.default_rng(51)
    times = [1.5, 6.2, 6.45, 13.0, 21.7]
    y, truth = render_incident_audio(25.0, SR, times, rng)
    p = _aac(tmp_path, y, "long")
    streamed = _listen(p, window_s=3.0, context_s=3.0)
    import av

    with av.open(str(p)) as c:
        x = np.concatenate([f.to_ndarray() for f in c.decode(c.streams.audio[0])], axis=1)[0]
    whole = detect_shots(x, SR)
    assert [(s["time_s"], s["confidence"]) for s in streamed["shots"]] == [(s["time_s"], s["confidence"]) for s in whole]
    assert len(_match(_confident(streamed), [e["time_s"] for e in truth], 0.003)) == len(times)

    g = write_media(tmp_path / "gap.m4a", audio=y, sr=SR, audio_bitrate=64000, video=False,
                    audio_gaps=[(9.0, 11.0)])
    res = _listen(g)
    assert res["gaps"] and res["gaps"][0]["kind"] == "gap"
    assert len(_match(_confident(res), [e["time_s"] for e in truth], 0.003)) == len(times)


def test_stereo_44k_with_a_far_shot_after_the_gain_came_down(tmp_path):
    """Stereo 44.1 kHz .mp4 with video; one channel 3 dB quieter; a 39 m shot 0.3 s after an
    11 m shot is heard at reduced gain (AGC) and still counted."""
    sr = 44100
    y, truth = render_incident_audio(8.0, sr, [{"time_s": 1.0, "distance_m": 11.0},
                                               {"time_s": 1.3, "distance_m": 39.0},
                                               {"time_s": 4.0, "distance_m": 20.0}], np.random.default_rng(3))
    p = write_media(tmp_path / "stereo.mp4", audio=np.stack([y, 0.7 * y]), sr=sr, audio_bitrate=128000)
    det = _confident(_listen(p))
    gt = [e["time_s"] for e in truth]
    assert len(det) == 3 and len(_match(det, gt, 0.003)) == 3, det


def test_group_volleys():
    shots = [{"time_s": t, "confident": c} for t, c in
             [(1.0, True), (1.3, True), (1.5, False), (2.0, True), (9.0, True), (9.2, True)]]
    v = group_volleys(shots, gap_s=2.0)
    assert [(x["start_s"], x["end_s"], x["count"]) for x in v] == [(1.0, 2.0, 3), (9.0, 9.2, 2)]
    assert v[0]["shot_indices"] == [0, 1, 3] and v[0]["uncertain_indices"] == [2]


@pytest.mark.parametrize("call, match", [
    (lambda: detect_shots(np.zeros(100), SR, thresholds=3), "unknown shot detection parameter"),
    (lambda: detect_shots(np.zeros((2, 2, 2)), SR), r"audio must be shaped \(n,\) or \(channels, n\)"),
    (lambda: detect_shots(np.zeros(100), 0), "sample rate must be positive"),
    (lambda: ShotListener(window_s=0), "window_s must be > 0"),
    (lambda: group_volleys([], gap_s=0), "gap_s must be positive"),
])
def test_bad_parameters(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


def test_silence_and_short_input_give_no_shots():
    assert detect_shots(np.zeros(SR, dtype=np.float32), SR) == []
    assert detect_shots(np.zeros(10, dtype=np.float32), SR) == []


# ---------------------------------------------------------------------------------------------
# real recordings (skipped when ../shared/real_media is absent)

RANGE = {
    "range_pistol_9_shots.wav": ({9}, [1.375, 1.587, 1.800, 2.007, 2.204, 2.419, 2.922, 3.164, 3.382]),
    "range_phone_17_shots.wav": ({17, 18}, [0.254, 0.617, 0.886, 1.187, 1.450, 1.686, 1.985, 2.219, 2.524,
                                            2.775, 3.075, 3.340, 3.645, 3.896, 4.166, 4.415, 4.675, 4.936]),
}


@pytest.mark.parametrize("name", sorted(RANGE))
def test_real_range_recordings_every_listed_shot_found(real_media, name):
    """Issue 9 target: every listed shot found, onset within 10 ms; at most one extra."""
    counts, onsets = RANGE[name]
    det = _confident(_listen(real_media / "gunshots" / name))
    matched = len(_match(det, onsets, 0.010))
    assert matched >= min(counts), (matched, det)
    assert len(det) - matched <= 1, det


@pytest.mark.parametrize("name", [
    pytest.param("range_pistol_9_shots.wav", marks=pytest.mark.xfail(
        strict=True, reason="issue 9 open: the mechanism click at 0.44 s is counted (10, not 9)")),
    "range_phone_17_shots.wav"])
def test_real_range_recordings_exact_count(real_media, name):
    counts, _ = RANGE[name]
    assert len(_confident(_listen(real_media / "gunshots" / name))) in counts


def _distractor_groups(real_media: Path) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {}
    for d in sorted((real_media / "distractors").iterdir()):
        if d.name == "dcase2016":
            for f in sorted(d.iterdir()):
                groups.setdefault("dcase2016_" + f.stem.rstrip("0123456789"), []).append(f)
        elif d.is_dir():
            groups[d.name] = sorted(d.iterdir())
    return groups


#: real distractor classes the fitted detector does not yet reject on >= 95 % of clips
#: (measured; issue 9 stays open for them -- see the README's gunshot accuracy table)
_OPEN = {"dcase2016_doorslam", "esc50_303_Clapping", "esc50_306_Footsteps", "esc50_401_Door_knock",
         "esc50_410_Glass_breaking", "esc50_509_Fireworks", "fireworks_audioset", "thunder"}
_GROUPS = ["dcase2016_doorslam", "dcase2016_keysDrop", "dcase2016_knock", "esc50_303_Clapping",
           "esc50_306_Footsteps", "esc50_401_Door_knock", "esc50_410_Glass_breaking", "esc50_509_Fireworks",
           "fireworks_audioset", "thunder"]


@pytest.mark.parametrize("group", [
    pytest.param(g, marks=pytest.mark.xfail(strict=True, reason="issue 9 open: real distractors of this class "
                                                                "still give confident shots"))
    if g in _OPEN else g for g in _GROUPS])
def test_real_distractors_rejected(real_media, group):
    """Validation-only recordings (never fitted on): >= 95 % of clips with no confident shot."""
    files = _distractor_groups(real_media)[group]
    zero = sum(_listen(f)["shot_count"] == 0 for f in files)
    assert zero / len(files) >= 0.95, (group, zero, len(files))


def test_demo_incident_every_shot_on_every_feed(tmp_path):
    """The demo incident (fast mode, same audio): the dash cam 9-10 m away hears the 11 shots at
    -5 to -9 dBFS, never clipped; the body cams hear them clipped and then ducked by their AGC.
    Every feed must count exactly its shots, each onset within 10 ms of the truth, and nothing
    else (door slams, a knock, a mic bump, shouting, radio, a passing car)."""
    import json

    from sample_media.incident import build_incident

    truth = json.loads(build_incident(tmp_path / "incident", seed=7, fast=True).read_text())
    checked = 0
    for feed in truth["feeds"]:
        if not feed["has_audio"]:
            continue
        res = _listen(tmp_path / "incident" / feed["file"])
        det = _confident(res)
        gt = [s["onset_s"] for s in feed["shots"]]
        assert len(gt) == feed["shot_count"] == 11
        assert res["shot_count"] == len(gt), (feed["file"], det, gt)
        errs = _match(det, gt, 0.010)
        assert len(errs) == len(gt), (feed["file"], det, gt)
        checked += 1
    assert checked == 3


def test_real_fireworks_reports_carry_class_and_confidence(real_media):
    """Fireworks must never pass silently: every reported bang carries its class and confidence."""
    clips = sorted(p for d in (real_media / "distractors").iterdir()
                   if d.is_dir() and "fireworks" in d.name.lower() for p in d.iterdir())
    assert clips
    for clip in clips[:20]:
        for s in _listen(clip)["shots"]:
            assert s["class"] in {"gunshot", "possible_fireworks", "impulsive_uncertain"}
            assert s["evidence"]["model"]["probability"] == pytest.approx(s["confidence"], abs=1e-3)
            assert s["confident"] == (s["confidence"] >= s["evidence"]["model"]["threshold_confident"])


# ---------------------------------------------------------------------------------------------
# the shipped model (issue 9)

def test_shipped_model_loads_matches_its_hash_and_scores_known_clips():
    model = load_model()
    assert default_model_path().parent == MODEL_DIR
    assert recorded_hashes()[default_model_path().name] == model.sha256
    assert model.feature_names == FEATURE_NAMES
    assert 0.0 < model.threshold_possible < model.threshold_confident < 1.0
    # known clips from family b (seeds far from the training seeds): a close pistol shot, a
    # rifle at 60 m, and a clipped vest bump next to the microphone
    from sample_media.distractors_b import render_distractor_scene_b
    from sample_media.gunfire_b import render_scene_b

    y, sr, truth = render_scene_b(np.random.default_rng(77), layout="single", kind="pistol", chain=False,
                                  background="room")
    y = np.clip(y * (0.9 / max(float(np.max(np.abs(y))), 1e-9)), -1, 1)
    shots = [s for s in detect_shots(y, sr) if s["confident"]]
    assert len(shots) == 1 and abs(shots[0]["time_s"] - truth["shots"][0]["time_s"]) <= 0.002, shots
    y, sr, _ = render_distractor_scene_b(np.random.default_rng(78), "vest_bump", n_events=3, chain=False)
    y = np.clip(y * (1.5 / max(float(np.max(np.abs(y))), 1e-9)), -1, 1)  # clipped, as on a body cam
    assert [s for s in detect_shots(y, sr) if s["confident"]] == []


def test_a_bag_of_models_scores_the_mean_of_their_log_odds_and_round_trips():
    from media_core.analysis.shot_model import average_models, model_from_npz, model_to_npz

    base = load_model()
    # a second member: the same trees with their leaf values halved (log-odds halved)
    half = replace(base, value=base.value * 0.5, baseline=base.baseline * 0.5,
                   screen=replace(base.screen, value=base.screen.value * 0.5, baseline=base.screen.baseline * 0.5))
    bag = average_models([base, half])
    X = np.random.default_rng(3).normal(size=(300, len(FEATURE_NAMES))) * 30
    X[::3, ::7] = np.nan
    assert np.allclose(bag.decision_function(X), 0.75 * base.decision_function(X), atol=1e-9)
    cols = list(base.screen_columns)
    assert np.allclose(bag.screen.decision_function(X[:, cols]), 0.75 * base.screen.decision_function(X[:, cols]),
                       atol=1e-9)
    back = model_from_npz(model_to_npz(bag))
    assert back.meta["bag"] == 2 and back.screen_threshold == base.screen_threshold
    assert np.allclose(back.cascade_proba(X, back.screen_proba(X)), bag.cascade_proba(X, bag.screen_proba(X)))
    with pytest.raises(ValueError):
        average_models([])


def test_missing_or_damaged_model_is_one_clear_error(tmp_path, monkeypatch):
    missing = tmp_path / "none.npz"
    with pytest.raises(ModelError, match="none.npz: shot model file is missing"):
        load_model(missing)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(default_model_path().read_bytes()[:5000])
    with pytest.raises(ModelError, match="bad.npz: shot model file is damaged"):
        load_model(bad)
    with pytest.raises(ModelError):
        ShotListener(model_path=str(bad))
    # the shipped file must match the registry: a swapped file is refused, never used
    import media_core.analysis.shot_model as sm

    monkeypatch.setattr(sm, "recorded_hashes", lambda: {default_model_path().name: "0" * 64})
    sm._load_cached.cache_clear()
    with pytest.raises(ModelError, match="does not match its recorded SHA-256"):
        load_model()
    monkeypatch.undo()
    sm._load_cached.cache_clear()


def test_cli_with_a_damaged_model_prints_one_line(tmp_path, monkeypatch, capsys):
    from media_core.cli import main

    y, _ = render_incident_audio(3.0, SR, [1.0], np.random.default_rng(5))
    p = _aac(tmp_path, y, "cli")
    bad = tmp_path / "shots.npz"
    bad.write_bytes(b"not a model")
    monkeypatch.setenv("EVIDENCE_AUDIT_SHOT_MODEL", str(bad))
    assert main(["analyze", str(p)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "shots.npz" in err[0] and "damaged" in err[0], err


@pytest.mark.parametrize("name", ["silence", "dc", "tone", "clip_noise"])
def test_no_confident_shots_in_non_impulsive_input(name):
    rng = np.random.default_rng(9)
    n = 3 * SR
    y = {"silence": np.zeros(n), "dc": np.full(n, 0.4),
         "tone": np.sin(2 * np.pi * 440 * np.arange(n) / SR),
         "clip_noise": np.clip(3.0 * rng.standard_normal(n), -1, 1)}[name].astype(np.float32)
    assert [s for s in detect_shots(y, SR) if s["confident"]] == []


@pytest.mark.parametrize("seed, sr, codec", [(501, 48000, "aac"), (502, 16000, "opus"), (503, 8000, "mp3")])
def test_short_library_clips_need_no_history(seed, sr, codec):
    """0.3-2 s clips with the shot near the start (no seconds of context before it)."""
    from sample_media.chains import apply_chain
    from sample_media.gunfire_b import render_scene_b

    y, sr0, truth = render_scene_b(np.random.default_rng(seed), layout="library_clip", kind="pistol",
                                   chain=False, background="none")
    y = y * (0.8 / max(float(np.max(np.abs(y))), 1e-9))
    spec = {"distance_m": None, "reverb": None, "ground": None, "air": None, "mic_gain_db": 0.0,
            "highpass_hz": 40.0, "clip": {"kind": "hard", "level_dbfs": 0.0, "neg_level_dbfs": 0.0},
            "agc": None, "sr_out": sr, "codec": codec, "bitrate": 64000 if codec != "opus" else 32000}
    y2, sr2 = apply_chain(y.astype(np.float32), sr0, spec, np.random.default_rng(seed))
    t0 = truth["shots"][0]["time_s"]
    assert t0 <= 0.3
    shots = [s for s in detect_shots(y2, sr2) if s["confident"]]
    hits = [s for s in shots if abs(s["time_s"] - t0) <= 0.005]
    assert len(hits) == 1, (shots, t0)
    # the pistol's own mechanism and casing sounds are not gunshots; one of them may still be
    # counted (seed 502: a casing 0.49 s later; see the README's limits)
    assert len(shots) - len(hits) <= 1, shots


def test_screen_keeps_what_the_full_model_reports():
    """The shipped model's screen gives the band features only to the candidates it passes; on
    generated volleys and on speech-like distractors the shots reported are those of the same
    model scoring every candidate with every feature (the screen loses no reported shot), while
    it passes only a fraction of the candidates."""
    from dataclasses import replace

    from media_core.analysis.shots import ShotParams, _Decider, _detect_window

    model = load_model()
    assert model.screen is not None and 0.0 < model.screen_threshold < model.threshold_possible
    unscreened = replace(model, screen=None)
    p = ShotParams()
    passed = total = 0
    for seed in range(3):
        rng = np.random.default_rng(500 + seed)
        y, _ = two_shooter_incident(rng, sr=SR)
        talk = render_distractor("shouting", sr=SR, rng=rng)
        y = np.concatenate([y, 0.3 * talk[: 5 * SR]]).astype(np.float32)
        ev = _detect_window(y, SR, p, model)
        full = _detect_window(y, SR, p, unscreened)
        total += len(ev)
        passed += sum(e["_screen"] >= model.screen_threshold for e in ev)
        a, b = _Decider(p, model), _Decider(p, unscreened)
        a.add(ev)
        b.add(full)
        got = [(s["time_s"], s["confident"]) for s in a.finish()]
        want = [(s["time_s"], s["confident"]) for s in b.finish()]
        assert got == want
    assert 0 < passed < total


def _talk_with_mutes(seed: int, dur: float = 120.0, sr: int = 48000) -> tuple[np.ndarray, list[float]]:
    """Speech-like talk over room tone with digital-silence mutes of 0.6-8 s; the mutes' end times."""
    from sample_media import room_tone, speech_like

    rng = np.random.default_rng(seed)
    y = speech_like(dur, sr, level_dbfs=-22, rng=seed) + room_tone(dur, sr, -58, 1000 + seed)
    t, ends = 3.0, []
    while t < dur - 12 and len(ends) < 8:
        a = t + rng.uniform(0, 4)
        b = a + rng.uniform(0.6, 8.0)
        y[int(a * sr):int(b * sr)] = 0.0
        ends.append(b)
        t = b + rng.uniform(4, 10)
    return np.clip(y, -1, 1).astype(np.float32), ends


def test_no_confident_shot_where_audio_resumes_after_a_mute():
    # shots-2.1 gave 2 here (p 0.977); the model now trains on both renderers' scenes cut by
    # mutes (sample_media/muted_scenes.py), not on this talk generator
    sr = 48000
    at_ends = []
    for seed in range(4):
        y, ends = _talk_with_mutes(seed, sr=sr)
        for s in detect_shots(y, sr):
            if s["confident"] and min(abs(s["time_s"] - e) for e in ends) < 0.1:
                at_ends.append((seed, s["time_s"], s["confidence"]))
    assert at_ends == []


def test_resumes_from_silence_marks_only_a_mute_end():
    from media_core.analysis.shots import resumes_from_silence

    sr = 16000
    rng = np.random.default_rng(2)
    y = (0.05 * rng.standard_normal(4 * sr)).astype(np.float32)
    y[sr: 2 * sr] = 0.0                      # a mute from 1 s to 2 s, cutting sound at -26 dBFS
    pad = y.copy()
    pad[: 2 * sr] = 0.0                      # a clip that starts in silence (a library pad)
    on = np.array([2 * sr, 2 * sr + sr // 2, sr // 2 + 3 * sr])
    assert resumes_from_silence(y, sr, on).tolist() == [True, False, False]
    assert resumes_from_silence(pad, sr, on).tolist() == [False, False, False]
    # sound cut before this array (a streaming window's earlier audio) makes the pad a mute
    assert resumes_from_silence(pad, sr, on, cut_before_db=-30.0).tolist() == [True, False, False]
    # a sound that faded to -90 dBFS before the zeros (a noise gate closing) is not a mute
    gate = y.copy()
    gate[sr - 800: sr] = 10 ** (-90 / 20) * rng.standard_normal(800)
    assert not resumes_from_silence(gate, sr, on[:1]).any()
    # a live floor, however quiet (-100 dBFS RMS: a recording normalised far down), is not a mute
    live = y.copy()
    live[sr: 2 * sr] = 10 ** (-100 / 20) * rng.standard_normal(sr)
    assert not resumes_from_silence(live, sr, on[:1]).any()


def test_a_shot_where_audio_resumes_is_listed_as_possible_with_its_reason(tmp_path):
    """A shot whose onset is a mute's end is not lost: it is a possible shot with the reason; the
    streaming listener (small windows, the mute across a window boundary) agrees with the array."""
    y, truth = render_incident_audio(12.0, SR, [{"time_s": 6.0, "distance_m": 8.0}, {"time_s": 9.5, "distance_m": 8.0}],
                                     np.random.default_rng(11), noise_dbfs=-45.0)
    y[int(2.5 * SR): int(5.9995 * SR)] = 0.0  # digital silence that ends 0.5 ms before the first shot
    whole = detect_shots(y, SR)
    first = [s for s in whole if abs(s["time_s"] - 6.0) < 0.005]
    second = [s for s in whole if abs(s["time_s"] - 9.5) < 0.005]
    assert first and not first[0]["confident"] and first[0]["class"] != "gunshot"
    if first[0]["confidence"] >= first[0]["evidence"]["model"]["threshold_confident"]:
        assert any("resumes here out of digital silence" in n for n in first[0]["evidence"]["notes"])
    assert second and second[0]["confident"]
    p = write_media(tmp_path / "mute.wav", audio=y, sr=SR, video=False)
    streamed = _listen(p, window_s=3.0, context_s=3.0)
    assert [(s["time_s"], s["confident"]) for s in streamed["shots"]] == [(round(s["time_s"], 4), s["confident"])
                                                                         for s in whole]


def test_audio_above_48k_is_decimated_and_streams_like_the_whole_array():
    """A 176.4 kHz recording is analysed at 44.1 kHz (the model's range), by detect_shots and by
    the listener block by block alike, with onsets on the original clock and a note saying so."""
    from media_core.analysis.shot_rate import Decimator, decimate, decimation_factor
    from media_core.listeners import AudioBlock, AudioStreamInfo
    from sample_media.gunfire_b import render_scene_b

    assert [decimation_factor(s) for s in (8000, 48000, 88200, 96000, 176400, 192000)] == [1, 1, 2, 2, 4, 4]
    y48, sr, truth = render_scene_b(np.random.default_rng(5), layout="double_tap", kind="pistol", chain=False,
                                    background="room")
    assert sr == 48000
    y48 = np.clip(y48 * (0.8 / max(float(np.max(np.abs(y48))), 1e-9)), -1, 1).astype(np.float32)
    from scipy.signal import resample_poly

    y192 = resample_poly(y48, 4, 1).astype(np.float32)          # the same scene at 192 kHz
    whole = detect_shots(y192, 192000)
    conf = [s for s in whole if s["confident"]]
    want = [s["time_s"] for s in truth["shots"]]
    assert len(conf) == len(want) == 2, whole
    assert all(abs(s["time_s"] - t) <= 0.002 for s, t in zip(conf, want)), (conf, want)
    assert all(any("decimated by 4" in n for n in s["evidence"]["notes"]) for s in whole)
    # decimation in blocks equals decimation of the whole array
    d = Decimator(192000)
    rng = np.random.default_rng(1)
    parts, i = [], 0
    while i < y192.size:
        k = int(rng.integers(1, 9000))
        parts.append(d.process(y192[i: i + k]))
        i += k
    np.testing.assert_array_equal(np.concatenate(parts), decimate(y192, 192000)[0])
    # the listener, fed odd-sized blocks, reports what detect_shots does
    lis = ShotListener(window_s=0.7)
    lis.on_start(AudioStreamInfo(path="x", sr=192000, channels=1, codec="pcm", video_start_s=None,
                                 video_end_s=None, audio_start_s=0.0, duration_s=y192.size / 192000))
    i = 0
    while i < y192.size:
        k = int(rng.integers(500, 40000))
        lis.on_block(AudioBlock(start_s=i / 192000, sr=192000, y=y192[None, i: i + k]))
        i += k
    streamed = lis.finish()["shots"]
    assert [(s["time_s"], s["confidence"]) for s in streamed] == [(s["time_s"], s["confidence"]) for s in whole]
