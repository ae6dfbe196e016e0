"""Visual flashes: detection on small frames and matching to shot times by interval pattern."""
from __future__ import annotations

import numpy as np
import pytest

from media_core.analysis.flashes import (
    FlashDetector,
    area_mean,
    area_weights,
    detect_flashes,
    detect_flashes_in_frames,
    match_flashes,
)
from media_core.errors import MediaError, ParameterError

FPS = 30.0


def _frames(n, flash_frames, *, rng, size=(120, 160), global_steps=(), moving=True):
    """IR-like grey frames: a static gradient, warm blobs walking, sensor noise; small flashes."""
    H, W = size
    yy, xx = np.mgrid[0:H, 0:W]
    base = 40 + 30 * np.sin(xx / 20.0) + 20 * np.cos(yy / 15.0)
    pos = {f: (rng.uniform(10, W - 10), rng.uniform(10, H - 10)) for f in flash_frames}
    for i in range(n):
        t = i / FPS
        img = base.copy()
        if moving:
            cx, cy = (20 + 6 * t) % W, H / 2 + 20 * np.sin(t)
            img += 90 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 32.0)
        img += rng.normal(0, 3, img.shape)
        for j in global_steps:          # the whole picture brightens (exposure change, cut)
            if i >= j:
                img += 50
        for f, (fx, fy) in pos.items():
            k = i - f
            if k in (0, 1):
                img += (200, 60)[k] * np.exp(-((xx - fx) ** 2 + (yy - fy) ** 2) / (2 * 1.6 ** 2))
        yield i / FPS, np.clip(img, 0, 255).astype(np.uint8)


def test_detects_short_local_flashes_at_their_frames():
    rng = np.random.default_rng(1)
    flash_frames = [40, 95, 101, 180, 260]
    ev = detect_flashes_in_frames(_frames(300, flash_frames, rng=rng), fps=FPS)
    got = [round((e["time_s"] - 0.5 / FPS) * FPS) for e in ev]
    assert got == flash_frames
    assert all(0 < e["confidence"] <= 1 and e["evidence"]["method"] == "visual-flash" for e in ev)


def test_global_brightness_change_and_steady_warm_objects_are_not_flashes():
    rng = np.random.default_rng(2)
    ev = detect_flashes_in_frames(_frames(200, [], rng=rng, global_steps=(70,)), fps=FPS)
    assert ev == []


def test_bad_fps():
    with pytest.raises(ParameterError, match="fps"):
        FlashDetector(fps=0)


def test_match_finds_offset_from_interval_pattern():
    rng = np.random.default_rng(3)
    shots = np.sort(rng.uniform(0, 60, 8))
    true_off = 12.345
    flashes = shots - true_off + rng.uniform(-0.5, 0.5, shots.size) / FPS  # frame quantisation
    flashes = np.concatenate([flashes[:6], [shots[2] - true_off + 7.7]])     # one missed, one false
    extra_shots = np.concatenate([shots, [100.0, 100.4]])                   # shots off screen
    m = match_flashes(flashes, extra_shots, fps=FPS)
    assert m["uncertain_reason"] is None
    assert abs(m["offset_s"] - true_off) <= 1.0 / FPS
    assert m["evidence"]["measurements"]["matched"] == 6
    assert m["confidence"] >= 0.5


def test_match_regular_pattern_is_ambiguous():
    shots = np.arange(10) * 0.5                 # a perfectly regular volley: any shift fits
    m = match_flashes(shots[:4] + 3.0, shots, fps=FPS)
    assert m["uncertain_reason"] is not None and "ambiguous" in m["uncertain_reason"]


def test_match_too_few():
    m = match_flashes([1.0, 2.0], [5.0, 6.0, 7.0], fps=FPS)
    assert m["offset_s"] is None and "too few" in m["uncertain_reason"]


def test_detect_flashes_in_encoded_video(tmp_path):
    from sample_media.encode import write_media

    rng = np.random.default_rng(4)
    flash_frames = [30, 77, 140]
    frames = list(_frames(180, flash_frames, rng=rng))
    p = write_media(tmp_path / "ir.mp4", audio=None, fps=FPS, size=(160, 120), duration_s=6.0,
                    frame_fn=lambda i, t: np.repeat(frames[i][1][:, :, None], 3, axis=2))
    ev = detect_flashes(p)
    got = [e["frame_pts_s"] for e in ev]
    assert np.allclose(got, np.array(flash_frames) / FPS, atol=0.5 / FPS)


def test_detect_flashes_needs_video(tmp_path):
    from sample_media.audio import tone
    from sample_media.encode import write_media

    p = write_media(tmp_path / "a.m4a", audio=tone(440, 1.0), video=False)
    with pytest.raises(MediaError, match="no video"):
        detect_flashes(p)


def test_a_moving_bright_object_is_not_a_flash_train():
    """A warm car crossing an IR picture brightens patch after patch: no muzzle flashes."""
    from media_core.analysis.flashes import detect_flashes_in_frames

    fps, h, w = 15.0, 90, 160
    rng = np.random.default_rng(5)
    frames = []
    for i in range(150):
        g = np.full((h, w), 60, np.uint8) + rng.integers(0, 3, (h, w), dtype=np.uint8)
        y = int(5 + i * 0.6) % (h - 8)  # the car drives down the street, 0.6 px per frame
        g[y:y + 6, 70:76] = 200
        if i in (100, 120):  # two real flashes at one spot
            g[20:24, 20:24] = 255
        frames.append((i / fps, g))
    found = detect_flashes_in_frames(frames, fps=fps)
    times = sorted(round(f["frame_pts_s"] * fps) for f in found)
    assert times == [100, 120], times


def test_silent_helicopter_placed_by_flashes_on_audio_onsets_without_confident_shots(tmp_path):
    """A volley the shot detector is not sure of (no confident shots at all are given): the
    helicopter's flashes are matched against every impulsive onset the body cams heard."""
    from media_core.clock import Clock
    from media_core.io.probe import probe
    from media_core.sync import features_from_array, sync_features
    from sample_media.encode import write_media
    from sample_media.sync_scenes import SPEED_OF_SOUND_M_S, flash_frame_fn, helicopter_scene, placement_error_s

    sc = helicopter_scene(3, n_shots=8, duration_s=40.0)
    fps = sc["heli_fps"]
    heli = write_media(tmp_path / "heli.mp4", audio=None, fps=fps, size=(96, 64), duration_s=40.0,
                       frame_fn=flash_frame_fn(sc["flash_media_s"], fps=fps, seed=3))
    inputs = [{"path": f["name"], "features": features_from_array(f["audio"], f["sr"]), "shots": [],
               "probe": {"duration_s": f["duration_s"], "audio": {"sr": f["sr"]}, "video": None}}
              for f in sc["feeds"]]
    inputs.append({"path": str(heli), "features": None, "probe": probe(heli)})
    doc = sync_features(inputs, reference="cam0")
    h = doc["feeds"][2]
    assert h["method"] == "visual-flash", h
    assert h["evidence"]["measurements"]["matched_against"] == "audio onsets of placed feeds"
    heli_feed = {"clock": sc["heli_clock"], "duration_s": 40.0}
    err = placement_error_s(Clock(h["offset_s"], h["drift_ppm"]), heli_feed, sc["feeds"][0])
    travel = float(min(((sc["cams"] - sc["shooter"]) ** 2).sum(axis=1) ** 0.5)) / SPEED_OF_SOUND_M_S
    assert err <= 1 / fps + travel, (err, h)
    assert h["uncertainty_ms"] > 0 and "runner_up_matched" in h["evidence"]["measurements"]


@pytest.mark.parametrize("shape_in, shape_out", [((120, 160), (30, 40)), ((90, 160), (22, 40)),
                                                 ((7, 5), (1, 1)), ((270, 480), (67, 120))])
def test_area_mean_is_the_mean_over_each_covered_area(shape_in, shape_out):
    # reference: repeat every pixel so both sizes divide (n_out times), then plain block means --
    # one axis at a time (the same means; both axes at once would be an 8 GB array for the last case)
    (H, W), (h, w) = shape_in, shape_out
    g = np.random.default_rng(4).integers(0, 256, shape_in).astype(np.uint8)
    rows = np.repeat(g.astype(np.float64), h, axis=0).reshape(h, H, W).mean(axis=1)
    ref = np.repeat(rows, w, axis=1).reshape(h, w, W).mean(axis=2)
    got = area_mean(g, shape_out)
    assert got.shape == shape_out and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, atol=1e-3)


def test_area_weights_rows_sum_to_one_and_cover_their_span():
    w = area_weights(10, 4)   # spans of 2.5 input pixels
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    np.testing.assert_allclose(w[1, :5], [0, 0, 0.2, 0.4, 0.4])
    with pytest.raises(ParameterError, match="sizes"):
        area_weights(0, 3)


def test_a_volley_at_one_spot_at_10_fps_is_found_flash_by_flash_and_places_the_feed(tmp_path):
    """At 10 fps a shooter's flashes 0.25-0.4 s apart (2-4 frames) at one spot: each is measured
    against the scene, not against the flash before it (which beat every one of the 4 frames
    before it); all 8 are found, and the helicopter is placed by them on the body cams' onsets."""
    from media_core.clock import Clock
    from media_core.io.probe import probe
    from media_core.sync import features_from_array, sync_features
    from sample_media.encode import write_media
    from sample_media.sync_scenes import SPEED_OF_SOUND_M_S, flash_frame_fn, helicopter_scene, placement_error_s

    fps, dur = 10.0, 30.0
    sc = helicopter_scene(0, n_shots=8, duration_s=dur, heli_fps=fps, shot_gap_s=(0.25, 0.4))
    gaps = np.diff(sc["shots_incident_s"])
    assert gaps.min() >= 0.25 and gaps.max() <= 0.4
    heli = write_media(tmp_path / "heli10.mp4", audio=None, fps=fps, size=(96, 64), duration_s=dur,
                       frame_fn=flash_frame_fn(sc["flash_media_s"], fps=fps, seed=0, one_spot=True))
    found = detect_flashes(heli)
    assert [round(f["frame_pts_s"] * fps) for f in found] == [int(t * fps) for t in sc["flash_media_s"]]
    assert len({(f["evidence"]["measurements"]["x"], f["evidence"]["measurements"]["y"]) for f in found}) == 1
    inputs = [{"path": f["name"], "features": features_from_array(f["audio"], f["sr"]), "shots": [],
               "probe": {"duration_s": f["duration_s"], "audio": {"sr": f["sr"]}, "video": None}}
              for f in sc["feeds"]]
    inputs.append({"path": str(heli), "features": None, "probe": probe(heli), "flashes": found})
    h = sync_features(inputs, reference="cam0")["feeds"][2]
    assert h["method"] == "visual-flash", h
    err = placement_error_s(Clock(h["offset_s"], h["drift_ppm"]), {"clock": sc["heli_clock"], "duration_s": dur},
                            sc["feeds"][0])
    travel = float(min(((sc["cams"] - sc["shooter"]) ** 2).sum(axis=1) ** 0.5)) / SPEED_OF_SOUND_M_S
    assert err <= 1 / fps + travel, (err, h)
    assert h["evidence"]["measurements"]["matched"] == 8
