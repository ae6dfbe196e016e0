"""The case on the shared clock (media_core.case.timeline) and the incident count stored in the case."""
from __future__ import annotations

import datetime as dt
import shutil

import pytest

from media_core import pipeline
from media_core.case.store import Case
from media_core.case.timeline import build_timeline


@pytest.fixture
def case_copy(demo, tmp_path):
    """A writable copy of the demo case (the session's demo stays untouched)."""
    _, res, _ = demo
    dst = tmp_path / "copy.evcase"
    shutil.copytree(res["case"], dst)
    with Case.open(dst) as case:
        yield case


def test_every_mute_and_shot_is_on_the_shared_clock(case_copy):
    case = case_copy
    tl = build_timeline(case)
    assert [f.id for f in tl.feeds] == [f.id for f in case.feeds]
    n_mutes = n_shots = 0
    for f in case.feeds:
        res = case.get_analysis(f.id, algorithm=pipeline.ANALYSIS_ALGORITHM)
        clock = case.clock(f.id)
        mutes = tl.mutes_of(f.id)
        assert [(m.media_start_s, m.media_end_s, m.kind) for m in mutes] == \
            [(m["start_s"], m["end_s"], m["kind"]) for m in res["mutes"]]
        for m in mutes:
            assert m.start_s == pytest.approx(clock.to_shared(m.media_start_s), abs=1e-9)
            assert m.end_s == pytest.approx(clock.to_shared(m.media_end_s), abs=1e-9)
            assert m.evidence  # every mute carries its evidence
        shots = tl.shots_of(f.id)
        assert len(shots) == len(res["shots"])
        assert len(tl.shots_of(f.id, confident_only=True)) == sum(s["confident"] for s in res["shots"])
        for s in shots:
            assert s.time_s == pytest.approx(clock.to_shared(s.media_time_s), abs=1e-9)
        n_mutes += len(mutes)
        n_shots += len(shots)
    assert n_mutes > 0 and n_shots > 0
    assert tl.events("mute") == sorted(m.start_s for m in tl.mutes)
    a, b = tl.shared_range()
    assert a <= min(m.start_s for m in tl.mutes) and b >= max(m.end_s for m in tl.mutes)


def test_wall_clock_is_the_reference_camera_clock_and_says_so(case_copy):
    case = case_copy
    tl = build_timeline(case)
    ref = case.feed(case.reference_feed_id)
    assert tl.wall_clock is not None and tl.wall_clock.feed_id == ref.id
    assert ref.label in tl.wall_clock.source and "UTC" in tl.wall_clock.source
    t0 = dt.datetime.fromisoformat(ref.probe["creation_time"].replace("Z", "+00:00"))
    assert tl.wall_clock.at(0.0) == t0  # the reference's media 0 is shared 0
    m = tl.mutes[0]
    assert tl.wall(m.start_s) == m.wall_start
    assert dt.datetime.fromisoformat(m.wall_start.replace("Z", "+00:00")) - t0 == \
        pytest.approx(dt.timedelta(seconds=m.start_s), abs=dt.timedelta(milliseconds=1))


def test_feed_annotation_follows_its_feed_clock(case_copy):
    case = case_copy
    b = next(f for f in case.feeds if f.id != case.reference_feed_id and case.sync_info(f.id))
    a = case.add_annotation(start_s=10.0, end_s=12.5, feed_id=b.id, category="command", text="drop it")
    shared = case.add_annotation(start_s=30.0, category="custom", text="shared note")
    tl = build_timeline(case)
    got = {x.id: x for x in tl.annotations}
    clock = case.clock(b.id)
    assert got[a.id].start_s == pytest.approx(clock.to_shared(10.0))
    assert got[a.id].end_s == pytest.approx(clock.to_shared(12.5))
    assert (got[a.id].media_start_s, got[a.id].media_end_s) == (10.0, 12.5)
    assert got[shared.id].start_s == 30.0 and got[shared.id].media_start_s is None
    case.nudge(b.id, 0.25)
    moved = {x.id: x for x in build_timeline(case).annotations}
    assert moved[a.id].start_s == pytest.approx(got[a.id].start_s + 0.25)
    assert moved[shared.id].start_s == 30.0


def test_incident_shots_are_stored_and_go_stale_when_a_clock_moves(case_copy):
    case = case_copy
    stored = pipeline.stored_incident_shots(case)
    assert stored is not None, "the demo run stores its incident count"
    tl = build_timeline(case)
    assert tl.incident_current and tl.incident["count"] == stored["count"]
    assert sum(1 for s in tl.incident_shots if s.number is not None) == stored["count"]
    assert [s.number for s in tl.incident_shots if s.number] == list(range(1, stored["count"] + 1))
    b = next(f for f in case.feeds if f.id != case.reference_feed_id and case.sync_info(f.id) and f.has_audio)
    case.nudge(b.id, 0.5)
    assert pipeline.stored_incident_shots(case) is None
    stale = build_timeline(case)
    assert not stale.incident_current and stale.incident is not None  # the last count, flagged
    fresh = pipeline.incident_shots(case)
    assert fresh["inputs_sha256"] != stored["inputs_sha256"]
    assert build_timeline(case).incident_current
    case.nudge(b.id, -0.5)  # back where it was: the first stored count is current again
    assert pipeline.stored_incident_shots(case)["inputs_sha256"] == stored["inputs_sha256"]
