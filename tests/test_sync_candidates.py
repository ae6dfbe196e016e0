"""Sync at release scale: the cheap screen of every pair, the plan of the pairs worth matching,
features read from disk only when a match needs them, and weak matches the tags contradict."""
from __future__ import annotations

import numpy as np
import pytest
from test_sync import make_scene, render_cam

from media_core.clock import Clock
from media_core.sync import SyncEstimate, features_from_array, sync_features
from media_core.sync.candidates import (
    STRONG_RATIO,
    Screen,
    ScreenFeed,
    first_pairs,
    more_pairs,
    screen_pairs,
)
from media_core.sync.features import StoredFeatures, save_features


@pytest.fixture(scope="module")
def three_feeds():
    """Two cameras of one scene (the second 7.3 s late on its own clock, 40 ppm fast) and one
    camera of another scene: 90 s each at 16 kHz."""
    cams, ev = make_scene(duration_s=110, n_cams=2, rng=5)
    cams_b, ev_b = make_scene(duration_s=110, n_cams=1, rng=6)
    clocks = [Clock(0.0, 0.0), Clock(7.3, 40.0)]
    ys = [render_cam(cams, ev, i, clock=clocks[i], duration_s=90, sr=16000, rng=10 + i) for i in range(2)]
    ys.append(render_cam(cams_b, ev_b, 0, clock=Clock(), duration_s=90, sr=16000, rng=12))
    return [features_from_array(y, 16000) for y in ys], clocks


def test_screen_finds_the_shared_lag_and_stays_low_on_unrelated_feeds(three_feeds):
    feats, clocks = three_feeds
    sf = {i: ScreenFeed.of(f) for i, f in enumerate(feats)}
    sc = screen_pairs(sf, [(0, 1), (0, 2), (1, 2)])
    # other's media time u maps onto the reference's u + offset: the second camera starts 7.3 s in
    assert sc[(0, 1)].strong and abs(sc[(0, 1)].offset_s - 7.3) < 0.04, sc[(0, 1)]
    assert sc[(0, 1)].overlap_s == pytest.approx(90 - 7.3, abs=0.5)
    assert not sc[(0, 2)].strong and not sc[(1, 2)].strong, sc
    assert sc[(0, 1)].score > sc[(0, 2)].score


def _screens(edges: dict) -> dict:
    return {p: Screen(offset_s=0.0, ratio=r, z=20.0, overlap_s=600.0) for p, r in edges.items()}


def test_first_pairs_span_every_feed_and_give_each_two_matches():
    # a chain 0-1-2-3-4 of strong pairs, strong shortcuts 0-2 and 2-4, weak pairs elsewhere
    strong = {(0, 1): 5.0, (1, 2): 4.0, (2, 3): 6.0, (3, 4): 3.0, (0, 2): 2.0, (2, 4): 1.8}
    weak = {(a, b): 1.1 for a in range(5) for b in range(a + 1, 5) if (a, b) not in strong}
    sc = _screens(strong | weak)
    got = first_pairs(sc, list(range(5)))
    assert set(got) <= set(strong)                        # weak screens are not matched first
    deg = {x: sum(x in p for p in got) for x in range(5)}
    assert min(deg.values()) >= 2, (got, deg)
    # a spanning tree: every feed reachable from 0
    seen, todo = {0}, [0]
    while todo:
        x = todo.pop()
        for a, b in got:
            for u, v in ((a, b), (b, a)):
                if u == x and v not in seen:
                    seen.add(v)
                    todo.append(v)
    assert seen == set(range(5))
    assert got[0] == (2, 3)                               # best first
    assert first_pairs(_screens(weak), list(range(5))) == []


def test_first_pairs_keep_chains_from_the_reference_short():
    # 1-2-3-4 share a lot of sound with each other (score 8), each a little less with the
    # reference 0 (score 5): four hops of 1/64 cost more than one of 1/25, so every feed is
    # linked to the reference directly; without a reference the best-scored chain is the tree
    chain = {(1, 2): 8.0, (2, 3): 8.0, (3, 4): 8.0}
    star = {(0, k): 5.0 for k in range(1, 5)}
    sc = _screens(chain | star)
    rooted = first_pairs(sc, list(range(5)), reference=0, redundancy=1)
    assert set(star) <= set(rooted), rooted
    plain = first_pairs(sc, list(range(5)), redundancy=1)
    assert set(chain) <= set(plain) and sum(p in star for p in plain) == 1, plain


def test_more_pairs_link_groups_to_the_reference_then_stop():
    ids = list(range(5))
    sc = _screens({(0, 1): 5.0, (0, 2): 4.0, (1, 2): 3.0, (3, 4): 1.2, (0, 3): 1.1, (1, 4): 1.05, (2, 3): 1.01})
    tried = {(0, 1), (0, 2), (1, 2)}
    accepted = list(tried)
    extra: dict = {}
    # 3 and 4 are each their own group, not linked to the reference 0: each tries its best pair out
    nxt = more_pairs(sc, ids, 0, tried, accepted, extra, extra_tries=2)
    assert set(nxt) == {(3, 4), (0, 3)} or set(nxt) == {(3, 4), (1, 4)}, nxt
    # nothing links them: each tries again until its extra tries are spent, then stops
    rounds = 1
    while nxt:
        tried |= set(nxt)
        nxt = more_pairs(sc, ids, 0, tried, accepted, extra, extra_tries=2)
        rounds += 1
        assert rounds < 10
    assert extra[3] <= 2 and extra[4] <= 2
    # a feed linked once asks for a second match
    extra2: dict = {}
    nxt = more_pairs(sc, ids, 0, {(0, 1), (0, 2), (1, 2), (0, 3)}, [(0, 1), (0, 2), (0, 3)], extra2)
    assert any(3 in p for p in nxt), nxt


def _estimate(ratio: float, offset_s: float, *, dense: bool = False) -> SyncEstimate:
    ev = {"method": "audio", "measurements": {"coarse_peak_ratio": ratio, "dense_sound": dense,
                                              "line_from": "windows" if dense else "events", "events_used": 7}}
    return SyncEstimate(offset_s=offset_s, drift_ppm=0.0, confidence=0.8, evidence=ev, p_correct=0.9)


@pytest.mark.parametrize("ratio, dense, offset_s, refused", [
    (1.05, False, 8.0, True),      # a weak event line 49 s from where the tags put the feed
    (1.05, False, -38.0, False),   # the same line near the tags: kept
    (3.00, False, 8.0, False),     # a distinct whole-feed peak stands against the tags
    (1.05, True, 8.0, False),      # so does a dense window line
])
def test_a_weak_match_the_tags_contradict_is_refused(ratio, dense, offset_s, refused):
    from media_core.sync.placement import _check_against_tags

    pa = {"creation_time": "2026-11-21T21:10:39Z"}
    pb = {"creation_time": "2026-11-21T21:09:58Z"}   # 41 s earlier: ref = other - 41 s
    e = _estimate(ratio, offset_s, dense=dense)
    _check_against_tags(e, pa, pb)
    assert e.uncertain is refused, e.uncertain_reason
    assert e.evidence["measurements"]["audio_minus_tags_s"] == pytest.approx(offset_s + 41.0)
    if refused:
        assert "+49 s" in e.uncertain_reason and "creation_time" in e.uncertain_reason, e.uncertain_reason
        assert e.confidence == 0.0


def _inputs(feats, features):
    return [{"path": f"cam{i}", "probe": {"duration_s": f.duration_s, "audio": {"sr": 16000}, "video": None},
             "features": features[i]} for i, f in enumerate(feats)]


def _stored(feats, folder) -> list[StoredFeatures]:
    out = []
    for i, f in enumerate(feats):
        save_features(folder / f"{i}.npz", f)
        out.append(StoredFeatures(str(folder / f"{i}.npz"), f"cam{i}"))
    return out


def test_stored_features_give_the_same_placement(three_feeds, tmp_path):
    feats, clocks = three_feeds
    stored = _stored(feats, tmp_path)
    a = sync_features(_inputs(feats, feats), reference="cam0")
    b = sync_features(_inputs(feats, stored), reference="cam0")
    assert a == b
    e1 = a["feeds"][1]
    assert e1["method"] == "audio" and abs(e1["offset_s"] - 7.3) < 0.005
    assert a["feeds"][2]["offset_s"] is None        # the unrelated camera is not placed by audio
    m = a["feeds"][0]["evidence"]["measurements"]["matching"]
    assert m == {"feeds": 3, "pairs": 3, "candidate_pairs": 3, "screened": 0, "matched": 3}


def test_planned_matching_in_worker_processes_equals_threads(three_feeds, tmp_path, monkeypatch):
    """Above the plan threshold, stored features are matched in spawned worker processes that read
    them themselves; the placement is the one threads make from features in memory."""
    import media_core.sync.candidates as cand

    monkeypatch.setattr(cand, "PLAN_ABOVE_PAIRS", 0)
    feats, _ = three_feeds
    stored = _stored(feats, tmp_path)
    a = sync_features(_inputs(feats, feats), reference="cam0")
    b = sync_features(_inputs(feats, stored), reference="cam0")
    ma = a["feeds"][0]["evidence"]["measurements"].pop("matching")
    mb = b["feeds"][0]["evidence"]["measurements"].pop("matching")
    assert a == b
    assert ma["processes"] == 0 and mb["processes"] == 2 and "processes_failed" not in mb
    assert ma["screened"] == 3 and mb["matched"] == ma["matched"]
    # the strong pair went first; the unrelated camera spent its extra tries, then stopped
    pairs = a["feeds"][1]["evidence"]["measurements"]["pairs"]
    assert any(p["with"] == "cam0" and p["uncertain_reason"] is None and p["screen"]["peak_ratio"] >= STRONG_RATIO
               for p in pairs), pairs
    assert np.isfinite(a["feeds"][1]["uncertainty_ms"])
