"""audit_gui.case_state: several case changes reach the views as one when batched."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from media_core.case.store import Case  # noqa: E402
from media_core.clock import Clock  # noqa: E402
from sample_media.encode import write_media  # noqa: E402

pytestmark = pytest.mark.gui


def test_batch_emits_once_per_kind(qapp, tmp_path):
    from audit_gui.case_state import CaseState

    rng = np.random.default_rng(2)
    paths = [write_media(tmp_path / f"f{k}.mp4", audio=(0.1 * rng.standard_normal(48000)).astype(np.float32),
                         fps=10.0, size=(64, 48), duration_s=1.0) for k in range(3)]
    case = Case.create(tmp_path / "c.evcase")
    added, errors = case.add_feeds([str(p) for p in paths])
    assert not errors
    state = CaseState(case)
    heard = {"feeds": 0, "clocks": []}
    state.feeds_changed.connect(lambda: heard.__setitem__("feeds", heard["feeds"] + 1))
    state.clock_changed.connect(lambda fid: heard["clocks"].append(fid))
    ids = [f.id for f in case.feeds]
    with state.batch():
        for k, fid in enumerate(ids[1:], start=1):
            case.set_clock(fid, Clock(0.5 * k, 10.0), method="test", confidence=0.9, evidence={})
        assert heard == {"feeds": 0, "clocks": []}           # nothing while the batch is open
        assert state.feed(ids[2]).clock == Clock(1.0, 10.0)  # but the model view is current
    assert heard["feeds"] == 1 and heard["clocks"] == ids[1:]
    case.set_clock(ids[1], Clock(0.25, 0.0), method="test", confidence=0.9, evidence={})  # unbatched: at once
    assert heard["feeds"] == 2 and heard["clocks"][-1] == ids[1]
    state.disconnect_case()
    case.close()


def test_incident_count_is_computed_off_the_gui_thread_stored_and_shown(qtbot, tmp_path):
    """The runner recounts incident shots in a worker, stores them in the case; the timeline shows them."""
    from audit_gui.analysis_runner import AnalysisRunner
    from audit_gui.case_state import CaseState
    from media_core import pipeline
    from sample_media.gunshot import render_incident_audio

    y, _ = render_incident_audio(4.0, 48000, [1.0, 2.5], np.random.default_rng(3), distance_m=8.0)
    rng = np.random.default_rng(4)
    paths = [write_media(tmp_path / f"s{k}.mp4", audio=(y + 0.002 * rng.standard_normal(y.size)).astype(np.float32),
                         fps=10.0, size=(64, 48), duration_s=4.0) for k in range(2)]  # two different files
    case = Case.create(tmp_path / "i.evcase")
    case.add_feeds([str(p) for p in paths])
    _results, errors = pipeline.analyze_feeds(case)
    assert not errors
    a, b = (f.id for f in case.feeds)
    case.reference_feed_id = a
    case.set_clock(b, Clock(0.0, 0.0), method="test", confidence=1.0, evidence={})
    assert pipeline.stored_incident_shots(case) is None
    state = CaseState(case)
    runner = AnalysisRunner(in_process=False)
    runner.set_state(state)
    heard = []
    state.incident_changed.connect(lambda: heard.append(state.timeline.incident_current))
    with qtbot.waitSignal(runner.jobs_idle, timeout=60000):
        runner.update()  # index scans and the incident count; the analyses are stored already
    doc = pipeline.stored_incident_shots(case)
    assert doc is not None and doc == pipeline.compute_incident_shots(pipeline.incident_inputs(case))
    tl = state.timeline
    assert heard and heard[-1] is True and tl.incident_current
    assert [round(s.time_s, 2) for s in tl.incident_shots if s.confident] == [
        round(s["time_s"], 2) for s in doc["shots"] if s.get("confident")]
    assert len([s for s in tl.incident_shots if s.confident]) == 2
    runner.update()  # current: nothing to recount
    assert not runner.jobs_running()
    state.disconnect_case()
    case.close()
