"""The demo incident: files decode, timelines and truth agree, flashes show, builds are idempotent.

One incident is built (fast video, same audio and code path) for the whole module: about 20 s
on two cores.
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import av
import numpy as np
import pytest

from media_core.clock import Clock
from media_core.errors import ParameterError
from sample_media import incident as inc

SEED = 11
ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("incident")
    truth_path = inc.build_incident(out, seed=SEED, fast=True)
    return out, truth_path, json.loads(truth_path.read_text(encoding="utf-8"))


def _feed(truth, key):
    return next(f for f in truth["feeds"] if f["key"] == key)


def _decode_audio(path):
    """Mono float32 on the file's timeline (gaps left at zero), sample rate, first frame time,
    and the timestamp jumps seen between decoded frames."""
    with av.open(os.fspath(path)) as c:
        sr = c.streams.audio[0].sample_rate
        frames = []
        for fr in c.decode(audio=0):
            x = fr.to_ndarray().astype(np.float32)
            frames.append((float(fr.time), x.mean(axis=0) if x.shape[0] > 1 else x[0]))
    first = frames[0][0]
    end = frames[-1][0] + frames[-1][1].size / sr
    y = np.zeros(int(np.ceil(end * sr)) + 1, np.float32)
    jumps = []
    prev_end = None
    for t, x in frames:
        k = int(round(t * sr))
        k0 = max(k, 0)
        y[k0:k + x.size] = x[k0 - k:]
        if prev_end is not None and t - prev_end > 0.01:
            jumps.append((prev_end, t))
        prev_end = t + x.size / sr
    return y, sr, first, jumps


def test_truth_file_shape(built):
    out, truth_path, truth = built
    assert truth_path == out / inc.TRUTH_FILE
    assert truth["schema"] == "evidence-audit.truth/1"
    assert truth["generator"] == {"name": "sample_media.incident", "version": inc.GENERATOR_VERSION,
                                  "seed": SEED, "duration_s": 90.0, "fast": True}
    keys = [f["key"] for f in truth["feeds"]]
    assert keys == ["bodycam_A", "bodycam_B", "dashcam", "helicopter"]
    kinds = {f["key"]: f["kind"] for f in truth["feeds"]}
    assert kinds == {"bodycam_A": "bodycam", "bodycam_B": "bodycam", "dashcam": "dashcam",
                     "helicopter": "helicopter"}
    shots = truth["incident"]["shots"]
    assert truth["incident"]["shot_count"] == len(shots) >= 9
    assert {s["shooter"] for s in shots} == {"officer_A", "officer_B"}
    assert sum(truth["incident"]["shots_by_shooter"].values()) == len(shots)
    times = np.array([s["time_s"] for s in shots])
    assert np.all(np.diff(times) >= 0.06)
    # the two shooters overlap: some shots of different shooters 60-150 ms apart
    pairs = [(a, b) for a, b in zip(shots, shots[1:]) if a["shooter"] != b["shooter"]]
    assert any(0.06 <= b["time_s"] - a["time_s"] <= 0.15 for a, b in pairs)
    kinds = {e["kind"] for e in truth["incident"]["events"]}
    assert {"door_slam", "shouting", "speech", "passing_car"} <= kinds
    for f in truth["feeds"]:
        assert f["sha256"] == inc._sha256(out / f["file"])
        assert f["size_bytes"] == (out / f["file"]).stat().st_size < 8_000_000


def test_files_decode_with_expected_streams_and_durations(built):
    out, _, truth = built
    for f in truth["feeds"]:
        with av.open(os.fspath(out / f["file"])) as c:
            assert c.duration / 1e6 == pytest.approx(f["duration_s"], abs=0.1)
            v = c.streams.video[0]
            assert (v.codec_context.width, v.codec_context.height) == (f["video"]["width"], f["video"]["height"])
            assert v.codec_context.name == "h264"
            assert len(c.streams.audio) == (1 if f["has_audio"] else 0)
            if f["has_audio"]:
                a = c.streams.audio[0]
                assert a.codec_context.name == "aac"
                assert a.sample_rate == f["audio"]["sr"]
                assert a.codec_context.channels == 1
            serial = f["clock"]["camera_identity"]["serial"]
            assert c.metadata["title"].endswith(serial) and f"serial={serial}" in c.metadata["comment"]
            assert c.metadata["creation_time"] == f["tags"]["creation_time"]
            assert c.metadata["creation_time"][:19] == f["clock"]["start_by_camera_clock_utc"][:19]
            n = sum(1 for _ in c.decode(video=0))
            assert n == f["video"]["frames"]
    assert _feed(truth, "dashcam")["audio"]["sr"] == 16000
    assert _feed(truth, "bodycam_A")["audio"]["sr"] == 48000


def test_bodycam_A_audio_starts_30_s_after_video(built):
    out, _, truth = built
    f = _feed(truth, "bodycam_A")
    assert f["mutes"][0] == {"start_s": 0.0, "end_s": 30.0, "kind": "late-audio-start"}
    y, sr, first, _ = _decode_audio(out / f["file"])
    assert first == pytest.approx(30.0, abs=0.025)  # within one AAC frame (encoder priming)
    assert np.max(np.abs(y[int(30.1 * sr):int(31.0 * sr)])) > 1e-3  # live sound right after
    with av.open(os.fspath(out / f["file"])) as c:
        assert float(next(c.decode(video=0)).time) == pytest.approx(0.0, abs=1e-3)


def test_sync_truth_maps_every_feed_to_the_same_incident_times(built):
    _, _, truth = built
    ref = _feed(truth, "bodycam_A")
    assert ref["sync"]["offset_s"] == 0.0 and ref["sync"]["drift_ppm"] == 0.0
    ref_rate = 1 + ref["clock"]["drift_ppm_vs_incident"] * 1e-6
    by_id = {s["id"]: s for s in truth["incident"]["shots"]}
    drifts = {}
    for f in truth["feeds"]:
        clock = Clock(f["sync"]["offset_s"], f["sync"]["drift_ppm"])
        drifts[f["key"]] = f["sync"]["drift_ppm"]
        rate = 1 + f["clock"]["drift_ppm_vs_incident"] * 1e-6
        for s in f["shots"]:
            true = by_id[s["shot_id"]]
            # on the incident clock: onset = firing + sound travel
            T_on = f["clock"]["start_incident_s"] + s["onset_s"] * rate
            assert T_on == pytest.approx(true["time_s"] + s["travel_s"], abs=1e-5)
            # through the sync truth: the reference's clock, travel removed
            shared = clock.to_shared(s["onset_s"]) - s["travel_s"] / ref_rate
            assert shared == pytest.approx(true["reference_time_s"], abs=0.001)
            assert s["travel_s"] == pytest.approx(s["distance_m"] / inc.SPEED_OF_SOUND_M_S, abs=1e-5)
        for fl in f["flashes"]:  # light is instant
            assert clock.to_shared(fl["time_s"]) == pytest.approx(by_id[fl["shot_id"]]["reference_time_s"], abs=0.001)
        if f["has_audio"]:
            assert f["shot_count"] == len(f["shots"]) == truth["incident"]["shot_count"]
    heli = _feed(truth, "helicopter")
    assert len(heli["flashes"]) == truth["incident"]["shot_count"]
    # each officer's camera shows his own muzzle flash once per shot he fires
    for key, who in (("bodycam_A", "officer_A"), ("bodycam_B", "officer_B")):
        own = [fl["shot_id"] for fl in _feed(truth, key)["flashes"] if fl["own_weapon"]]
        assert sorted(own) == [s["id"] for s in truth["incident"]["shots"] if s["shooter"] == who]
    assert _feed(truth, "dashcam")["flashes"]  # the dash cam sees the officers fire
    # clocks drift tens of ppm apart; B starts 4-8 s after A
    assert 10 <= abs(drifts["bodycam_B"]) <= 100
    assert 4.0 <= _feed(truth, "bodycam_B")["sync"]["offset_s"] <= 8.0
    # sound travel: A's own shots are close, B's are several metres away
    a_shots = _feed(truth, "bodycam_A")["shots"]
    assert min(s["distance_m"] for s in a_shots if s["shooter"] == "officer_B") > 2.0
    assert max(s["distance_m"] for s in _feed(truth, "dashcam")["shots"]) > 10.0


def test_shots_are_where_the_truth_says(built):
    """The first shot of each volley (isolated) rises out of the background at its onset."""
    out, _, truth = built
    for key in ("bodycam_A", "bodycam_B", "dashcam"):
        f = _feed(truth, key)
        y, sr, _, _ = _decode_audio(out / f["file"])
        onsets = [s["onset_s"] for s in f["shots"]]
        for i, t in enumerate(onsets):
            if i and t - onsets[i - 1] < 1.0:
                continue
            k = int(round(t * sr))
            before = np.abs(y[k - int(0.2 * sr):k - int(0.003 * sr)])
            after = np.abs(y[k - int(0.001 * sr):k + int(0.004 * sr)])
            assert after.max() > 8 * np.percentile(before, 99), (key, t)
        clipped = [s["clipped"] for s in f["shots"]]
        assert all(clipped) if key != "dashcam" else not any(clipped)
        for s in f["shots"]:  # echoes 1-90 ms late, weaker than the shot
            assert s["echoes"] and all(0.0005 < e["delay_s"] < 0.09 and 0 < e["gain"] < 1 for e in s["echoes"])
    # next to the gun the ground echo is faint; 10 m away it is nearly as strong as the blast
    own = next(s for s in _feed(truth, "bodycam_A")["shots"] if s["shooter"] == "officer_A")
    far = _feed(truth, "dashcam")["shots"][0]
    ground = {id(x): next(e["gain"] for e in x["echoes"] if e["surface"] == "ground") for x in (own, far)}
    assert ground[id(own)] < 0.2 < 0.5 < ground[id(far)]


def test_mutes_gaps_and_quiet_passages(built):
    out, _, truth = built
    b = _feed(truth, "bodycam_B")
    kinds = [m["kind"] for m in b["mutes"]]
    assert kinds.count("digital-silence") == 1 and kinds.count("packet-gap") == 1
    y, sr, _, jumps = _decode_audio(out / b["file"])
    mute = next(m for m in b["mutes"] if m["kind"] == "digital-silence")
    assert 10.0 <= mute["end_s"] - mute["start_s"] <= 15.0
    inner = y[int((mute["start_s"] + 0.05) * sr):int((mute["end_s"] - 0.05) * sr)]
    assert np.max(np.abs(inner)) == 0.0
    assert np.sqrt(np.mean(y[int((mute["start_s"] - 3) * sr):int(mute["start_s"] * sr)] ** 2)) > 1e-3
    gap = next(m for m in b["mutes"] if m["kind"] == "packet-gap")
    assert len(jumps) == 1
    assert jumps[0][0] == pytest.approx(gap["start_s"], abs=0.025)
    assert jumps[0][1] == pytest.approx(gap["end_s"], abs=0.025)
    # the dash cam's closed-car passage is quiet live audio, about -70 dBFS, and no mute
    d = _feed(truth, "dashcam")
    assert d["mutes"] == []
    yd, srd, _, jd = _decode_audio(out / d["file"])
    assert jd == []
    assert sum(q["end_s"] - q["start_s"] for q in d["quiet"]) > 10.0
    for q in d["quiet"]:
        seg = yd[int(q["start_s"] * srd):int(q["end_s"] * srd)].astype(np.float64)
        rms_db = 20 * np.log10(np.sqrt(np.mean(seg ** 2)))
        assert -76.0 < rms_db < -64.0
        assert rms_db == pytest.approx(q["rms_dbfs"], abs=1.5)
        assert np.count_nonzero(seg == 0.0) < 0.01 * seg.size
    h = _feed(truth, "helicopter")
    assert h["mutes"] == [{"start_s": 0.0, "end_s": h["duration_s"], "kind": "no-audio-track"}]


def test_helicopter_flashes_are_local_spikes_at_truth_frames(built):
    out, _, truth = built
    h = _feed(truth, "helicopter")
    with av.open(os.fspath(out / h["file"])) as c:
        assert len(c.streams.audio) == 0
        frames = [fr.to_ndarray(format="gray").astype(np.float32) for fr in c.decode(video=0)]
    g = np.stack(frames)
    H, W = g.shape[1:]
    flash_frames = {fl["frame"] for fl in h["flashes"]}
    for fl in h["flashes"]:
        k, x, y = fl["frame"], int(round(fl["x_px"])), int(round(fl["y_px"]))
        assert 0 <= x < W and 0 <= y < H
        assert abs(fl["frame_time_s"] - k / h["video"]["fps"]) < 1e-6
        assert fl["frame_time_s"] <= fl["time_s"] < fl["frame_time_s"] + 1 / h["video"]["fps"]
        win = (slice(max(0, y - 4), y + 5), slice(max(0, x - 4), x + 5))
        base = np.median([g[j][win].mean() for j in range(k - 30, k)
                          if j not in flash_frames and j - 1 not in flash_frames])
        assert g[k][win].mean() - base > 60, fl
        # local: the frame as a whole barely changes
        assert abs(g[k].mean() - g[k - 3].mean()) < 4
    # no spike at the shooters' positions away from the shots
    x, y = int(round(h["flashes"][0]["x_px"])), int(round(h["flashes"][0]["y_px"]))
    k0 = h["flashes"][0]["frame"]
    local = np.array([g[j][y - 4:y + 5, x - 4:x + 5].mean() for j in range(k0 - 60, k0)])
    assert local.max() - np.median(local) < 40


def test_build_is_idempotent_and_detects_changes(built, tmp_path):
    out, truth_path, truth = built
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert inc.incident_up_to_date(out, seed=SEED, fast=True)
    assert inc.build_incident(out, seed=SEED, fast=True) == truth_path
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps
    assert not inc.incident_up_to_date(out, seed=SEED + 1, fast=True)
    assert not inc.incident_up_to_date(out, seed=SEED, fast=False)
    # a changed byte in a copy makes the copy stale
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert inc.incident_up_to_date(copy, seed=SEED, fast=True)
    p = copy / _feed(truth, "dashcam")["file"]
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))
    assert not inc.incident_up_to_date(copy, seed=SEED, fast=True)
    (copy / inc.TRUTH_FILE).unlink()
    assert not inc.incident_up_to_date(copy, seed=SEED, fast=True)


def test_generate_script_does_nothing_when_up_to_date(built):
    out, truth_path, _ = built
    before = truth_path.stat().st_mtime_ns
    r = subprocess.run([sys.executable, str(ROOT / "sample_media" / "generate.py"), "--out", str(out),
                        "--seed", str(SEED), "--fast"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "up to date" in r.stderr
    assert truth_path.stat().st_mtime_ns == before


def test_scene_is_deterministic_per_seed():
    a = inc._make_scene(SEED, 90.0)
    b = inc._make_scene(SEED, 90.0)
    c = inc._make_scene(SEED + 1, 90.0)
    assert [s["T"] for s in a.shots] == [s["T"] for s in b.shots]
    assert [s["T"] for s in a.shots] != [s["T"] for s in c.shots]
    ya = inc._render_audio(a, a.feed("dashcam"))[0]
    yb = inc._render_audio(b, b.feed("dashcam"))[0]
    assert np.array_equal(ya, yb)


@pytest.mark.parametrize("kwargs, message", [
    ({"duration_s": 30.0}, "duration_s must be between 80 and 1200 s"),
    ({"duration_s": 1e6}, "duration_s must be between 80 and 1200 s"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"seed": 1.5}, "seed must be a non-negative integer"),
])
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        inc.build_incident(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


def test_load_truth_rejects_other_json(tmp_path):
    p = tmp_path / "truth.json"
    p.write_text(json.dumps({"schema": "something/else"}), encoding="utf-8")
    with pytest.raises(ParameterError, match="not a demo-incident truth file"):
        inc.load_truth(tmp_path)
    assert not inc.incident_up_to_date(tmp_path)


def test_feed_rendering_is_deterministic_in_process(built, tmp_path):
    """The helicopter feed rendered again, in this process (the single-worker path), is
    byte-identical to the one the parallel build wrote."""
    out, _, truth = built
    h = _feed(truth, "helicopter")
    entry = inc._render_feed(SEED, 90.0, True, "helicopter", os.fspath(tmp_path))
    assert inc._sha256(tmp_path / h["file"]) == h["sha256"]
    assert entry["flashes"] == h["flashes"]


def test_true_clock_for_any_reference(built):
    _, _, truth = built
    for f in truth["feeds"]:  # against the truth's own reference: the recorded sync truth
        c = inc.true_clock(truth, f["file"])
        assert c.offset_s == pytest.approx(f["sync"]["offset_s"], abs=1e-9)
        assert c.drift_ppm == pytest.approx(f["sync"]["drift_ppm"], abs=1e-6)
    # against the dash cam: a shot heard by B maps to where the dash cam heard it, minus travel
    by_id = {s["id"]: s for s in truth["incident"]["shots"]}
    dash, b = _feed(truth, "dashcam"), _feed(truth, "bodycam_B")
    c = inc.true_clock(truth, b["file"], reference=dash["file"])
    dash_rate = 1 + dash["clock"]["drift_ppm_vs_incident"] * 1e-6
    for sb, sd in zip(b["shots"], dash["shots"]):
        assert sb["shot_id"] == sd["shot_id"] in by_id
        fired_b = c.to_shared(sb["onset_s"]) - sb["travel_s"] / dash_rate
        fired_d = sd["onset_s"] - sd["travel_s"] / dash_rate
        assert fired_b == pytest.approx(fired_d, abs=0.001)
    with pytest.raises(ParameterError, match="not a feed of this incident"):
        inc.true_clock(truth, "nope.mp4")


def test_drawing_helpers_fill_the_shapes_asked_for():
    from PIL import Image, ImageDraw

    im = Image.new("L", (60, 40), 0)
    d = ImageDraw.Draw(im)
    inc._disc(d, (20.4, 20.0), 5, 255)                    # 11 pixels across, centred on (20, 20)
    inc._oval(d, (45, 20), (12, 3), 90.0, 128)            # long axis turned upright
    a = np.asarray(im)
    disc = np.nonzero(a == 255)
    assert disc[1].min() == 15 and disc[1].max() == 25 and disc[0].min() == 15 and disc[0].max() == 25
    oval = np.nonzero(a == 128)
    tall, wide = np.ptp(oval[0]) + 1, np.ptp(oval[1]) + 1
    assert 22 <= tall <= 25 and 5 <= wide <= 7
    inc._poly(d, np.array([[0.0, 0.0], [1e9, 0.0], [0.0, 1e9]]), 7)  # far-off vertices are clamped
    assert np.asarray(im)[0, 0] == 7
