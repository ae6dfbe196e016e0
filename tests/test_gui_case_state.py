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
