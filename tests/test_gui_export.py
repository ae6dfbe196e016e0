"""The Export menu and dialog: same options as the CLI, rendering off the GUI thread, progress, cancel."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("PySide6")
pytestmark = pytest.mark.gui


def test_export_menu_dialog_review_and_cancel(win, qtbot, tmp_path):
    from test_export_video import check_frames, make_case

    case, ids = make_case(tmp_path)
    path = case.path
    case.close()
    win.open_case(path)
    titles = [a.text() for a in win.export_menu().actions()]
    assert "&Review video…" in titles and "&Clips…" in titles
    dlg = win.export_dialog("review")
    qtbot.addWidget(dlg)
    dlg.folder.setText(str(tmp_path / "gui_out"))
    dlg.size_box.setCurrentIndex(dlg.size_box.findText("640x360"))
    dlg.end.setValue(1.0)
    seen = []
    w = dlg.start_export()
    w.signals.progress.connect(lambda f, m: seen.append(m))
    with qtbot.waitSignal(dlg.finished_export, timeout=60000) as blocker:
        pass
    res = blocker.args[0]
    assert res.kind == "review" and (tmp_path / "gui_out" / "manifest.json").is_file()
    assert win.case.audit_log()[-1]["action"] == "export.review"
    assert check_frames(win.case, tmp_path / "gui_out")[3] == 0
    # the same options through the core call give the same tiles
    man = json.loads((tmp_path / "gui_out" / "manifest.json").read_text())
    assert man["options"]["size"] == [640, 360] and man["options"]["feeds"] == list(ids)

    # cancel: nothing is left in the folder, nothing is logged
    n_log = len(win.case.audit_log())
    dlg.folder.setText(str(tmp_path / "gui_cancel"))
    dlg.end.setValue(4.0)
    dlg.size_box.setCurrentIndex(dlg.size_box.findText("1920x1080"))
    w = dlg.start_export()
    w.signals.progress.connect(lambda f, m: f > 0.1 and dlg.cancel())
    with qtbot.waitSignal(w.signals.finished, timeout=60000):
        pass
    qtbot.waitUntil(lambda: "cancelled" in dlg.status.text(), timeout=5000)
    assert list((tmp_path / "gui_cancel").iterdir()) == []
    assert len(win.case.audit_log()) == n_log


def test_export_dialog_refuses_changed_original(win, qtbot, tmp_path):
    from test_export_video import make_case

    case, ids = make_case(tmp_path)
    p = case.feed(ids[0]).path
    path = case.path
    case.close()
    win.open_case(path)
    with open(p, "ab") as fh:
        fh.write(b"x")
    dlg = win.export_dialog("clips")
    qtbot.addWidget(dlg)
    dlg.folder.setText(str(tmp_path / "o"))
    assert dlg.start_export() is None
    assert "CHANGED" in dlg.last_error and "feed 1" in dlg.last_error
