"""Release-scale placement: a dozen feeds from officers arriving over 20 minutes, most never
overlapping the first two, one recorded far away with nothing in common with the others."""
from __future__ import annotations

import pytest

from media_core.clock import Clock
from media_core.sync import features_from_array, sync_features
from sample_media.sync_scenes import SPEED_OF_SOUND_M_S, placement_error_s, release


@pytest.fixture(scope="module")
def placed():
    sc = release(0)
    inputs = []
    for f in sc["feeds"]:
        probe = {"duration_s": f["duration_s"], "audio": {"sr": f["sr"]}, "video": None,
                 "creation_time": f["creation_time"].isoformat().replace("+00:00", "Z")}
        inputs.append({"path": f["name"], "probe": probe, "features": features_from_array(f["audio"], f["sr"])})
        del f["audio"]
    return sc, sync_features(inputs, reference="officer00")


def test_chained_feeds_are_placed_within_a_frame_with_compounded_uncertainty(placed):
    sc, doc = placed
    feeds, ref = sc["feeds"], sc["feeds"][0]
    chained = 0
    for f, e in zip(feeds, doc["feeds"]):
        if e["method"] not in ("audio", "reference"):
            continue
        err = placement_error_s(Clock(e["offset_s"], e["drift_ppm"]), f, ref)
        d = float(((sc["cams"][f["cam"]] - sc["cams"][0]) ** 2).sum() ** 0.5)
        assert err <= 1 / 30 + d / SPEED_OF_SOUND_M_S, (f["name"], err)
        if len(e["chain"]) > 2:
            chained += 1
            # every link adds to the uncertainty
            link = [x for x in doc["feeds"] if x["path"] == e["chain"][-2]][0]
            assert e["uncertainty_ms"] >= link["uncertainty_ms"]
    assert chained >= 3, [(e["path"], e["method"], e.get("chain")) for e in doc["feeds"]]


def test_a_feed_with_no_link_is_placed_by_its_tags_and_says_so(placed):
    sc, doc = placed
    iso = doc["feeds"][sc["isolated"]]
    assert iso["method"] == "metadata" and "tags" in iso["label"]
    assert iso["uncertainty_ms"] >= 5000 and iso["confidence"] < 0.05
    err = placement_error_s(Clock(iso["offset_s"], iso["drift_ppm"]), sc["feeds"][sc["isolated"]], sc["feeds"][0])
    assert err * 1e3 <= iso["uncertainty_ms"]


def test_never_a_silent_wrong_answer(placed):
    """Whatever the method, a feed given >= 0.5 is within a frame; the others say how far off they may be."""
    sc, doc = placed
    for f, e in zip(sc["feeds"], doc["feeds"]):
        assert e["offset_s"] is not None, e
        err = placement_error_s(Clock(e["offset_s"], e["drift_ppm"]), f, sc["feeds"][0])
        if e["confidence"] >= 0.5:
            assert err <= 1 / 30 + 0.05, (f["name"], e["method"], err)
        else:
            assert err * 1e3 <= e["uncertainty_ms"] * 1.5, (f["name"], e["method"], err, e["uncertainty_ms"])
