"""A silent feed placed by the flashes another video saw: a dash cam placed by its audio sees the
muzzle flashes of a volley nobody's microphone heard, and so does the helicopter."""
from __future__ import annotations

import numpy as np
import pytest

from media_core.clock import Clock
from media_core.io.probe import probe
from media_core.sync import features_from_array, sync_features
from sample_media.encode import write_media
from sample_media.sync_scenes import flash_frame_fn, helicopter_scene, placement_error_s

DUR = 30.0
HELI_FPS, DASH_FPS = 10.0, 15.0


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    d = tmp_path_factory.mktemp("flash_on_flash")
    # the volley is silent for the microphones (fired far off): no shot, no onset of it in any audio
    sc = helicopter_scene(1, n_shots=7, duration_s=DUR, heli_fps=HELI_FPS, shot_level=0.0, shot_gap_s=(0.2, 0.9))
    dash_clock = sc["feeds"][1]["clock"]
    dash_flashes = [dash_clock.to_media(t) for t in sc["shots_incident_s"]]
    dash = write_media(d / "dash.mp4", audio=None, fps=DASH_FPS, size=(96, 64), duration_s=DUR,
                       frame_fn=flash_frame_fn(dash_flashes, fps=DASH_FPS, seed=11))
    heli = write_media(d / "heli.mp4", audio=None, fps=HELI_FPS, size=(96, 64), duration_s=DUR,
                       frame_fn=flash_frame_fn(sc["flash_media_s"], fps=HELI_FPS, seed=12, one_spot=True))
    return sc, str(dash), str(heli)


def _inputs(sc, dash, heli, *, dash_video=True):
    cam0, cam1 = sc["feeds"]
    dash_probe = {"duration_s": DUR, "audio": {"sr": cam1["sr"]},
                  "video": probe(dash)["video"] if dash_video else None}
    return [{"path": "cam0", "features": features_from_array(cam0["audio"], cam0["sr"]), "shots": [],
             "probe": {"duration_s": DUR, "audio": {"sr": cam0["sr"]}, "video": None}},
            {"path": dash, "features": features_from_array(cam1["audio"], cam1["sr"]), "shots": [],
             "probe": dash_probe},
            {"path": heli, "features": None, "probe": probe(heli)}]


def test_a_silent_helicopter_is_placed_on_the_flashes_a_placed_dash_cam_saw(scene):
    sc, dash, heli = scene
    heard: dict[int, list] = {}
    doc = sync_features(_inputs(sc, dash, heli), reference="cam0", on_flashes=lambda i, fl: heard.setdefault(i, fl))
    d, h = doc["feeds"][1], doc["feeds"][2]
    assert d["method"] == "audio", d
    assert h["method"] == "visual-flash", h
    m = h["evidence"]["measurements"]
    assert m["matched_against"] == "flashes seen by placed videos" and m["flash_sources"] == ["dash.mp4"]
    assert "flashes on audio" in h["evidence"]["audio"]          # the audio had nothing to offer
    assert m["matched"] == 7 and "runner_up_matched" in m
    # the dash cam's flashes were looked for because the helicopter needed them, and kept
    assert sorted(heard) == [1, 2] and len(heard[1]) == 7
    err = placement_error_s(Clock(h["offset_s"], h["drift_ppm"]), {"clock": sc["heli_clock"], "duration_s": DUR},
                            sc["feeds"][0])
    assert err <= 1 / HELI_FPS, (err, h)
    # compounded along the chain: the dash cam's placement, then the flashes
    assert h["chain"] == ["cam0", dash, heli]
    assert h["uncertainty_ms"] > d["uncertainty_ms"]
    assert h["uncertainty_ms"] >= err * 1e3


def test_without_the_dash_cams_video_the_flashes_have_nothing_to_land_on(scene):
    sc, dash, heli = scene
    h = sync_features(_inputs(sc, dash, heli, dash_video=False), reference="cam0")["feeds"][2]
    assert h["method"] != "visual-flash", h
    assert np.isfinite(DUR)
