"""The spoken-reasons panel (audit_gui/qt_speech.py): mutes with their leads, jump/play, findings."""
from __future__ import annotations

import shutil

import pytest

pytest.importorskip("PySide6")
pytestmark = [pytest.mark.gui,
              pytest.mark.skipif(shutil.which("flite") is None, reason="flite is not installed")]


@pytest.fixture
def case(tmp_path):
    from media_core import pipeline
    from media_core.case.store import Case
    from media_core.clock import Clock
    from sample_media import speech as gen

    v = gen.Voice("flite", "slt", 1.0)
    gen.render_feed(tmp_path / "a.mp4", [gen.Phrase(3.0, "I am turning off my camera.", v, ("camera",))],
                    duration_s=16.0, mutes=[(7.0, 12.0)], snr_db=20.0, video=True)
    c = Case.create(tmp_path / "c.evcase")
    f = c.add_feed(tmp_path / "a.mp4")
    pipeline.analyze_feeds(c)
    c.set_clock(f.id, Clock(2.0, 0.0), method="audio", confidence=0.9)
    yield c
    c.close()


def test_leads_off_the_gui_thread_equal_the_synchronous_ones_then_jump_and_finding(qtbot, case):
    from PySide6.QtWidgets import QMainWindow

    from audit_gui.case_state import CaseState
    from audit_gui.qt_speech import QtSpeechPanel, make_dock
    from media_core.analysis import speech

    state = CaseState(case)
    panel = QtSpeechPanel(state)
    qtbot.addWidget(panel)
    assert panel.tree.topLevelItemCount() == 1
    assert "leads not computed" in panel.tree.topLevelItem(0).text(0)
    with qtbot.waitSignal(panel.leads_stored, timeout=60000):
        panel.start_leads()
    sync = speech.compute_many([speech.leads_inputs(case, f.id) for f in case.feeds])
    assert [m["leads"] for m in panel.worker_result[0]["mutes"]] == [m["leads"] for m in sync[0]["mutes"]]
    ov = panel.overview[0]
    assert ov["leads"] and ov["leads"][0]["side"] == "before"
    top = panel.tree.topLevelItem(0)
    assert top.childCount() >= len(ov["leads"])
    panel.select(1, 0)
    with qtbot.waitSignal(panel.seek_requested) as sig:
        panel.b_jump.click()
    assert sig.args == [pytest.approx(ov["leads"][0]["shared_start_s"])]
    assert sig.args[0] == pytest.approx(2.0 + ov["leads"][0]["start_s"], abs=1e-3)
    # a finding from the panel is the case's (audit-logged, undoable)
    panel.select(1)
    panel.finding.setCurrentText("reason-stated")
    panel.b_set.click()
    assert "needs its text" in panel.status.text() and case.mute_findings() == []
    panel.text.setText("turning off my camera")
    panel.b_set.click()
    rows = case.mute_findings()
    assert [(r["finding"], r["text"]) for r in rows] == [("reason-stated", "turning off my camera")]
    assert "reason-stated" in panel.tree.topLevelItem(0).text(4)
    assert case.undo() and case.mute_findings() == []

    # make_dock: jump is window.seek(shared time); the panel follows the window's case
    class Win(QMainWindow):
        def __init__(self):
            super().__init__()
            self.state, self.seeks, self.played = None, [], 0

        def seek(self, t, force=False):
            self.seeks.append(t)

        def play(self, rate=None):
            self.played += 1

    win = Win()
    qtbot.addWidget(win)
    dock = make_dock(win)
    p2 = dock.widget()
    assert p2.state is None and p2.tree.topLevelItemCount() == 0
    win.state = state
    qtbot.waitUntil(lambda: p2.state is state and p2.tree.topLevelItemCount() == 1, timeout=3000)
    p2.select(1, 0)
    p2.b_jump.click()
    p2.b_play.click()
    assert win.seeks[0] == pytest.approx(ov["leads"][0]["shared_start_s"])
    assert win.seeks[1] == pytest.approx(ov["leads"][0]["shared_start_s"] - 1.0) and win.played == 1
    win.close()
    state.disconnect_case()
