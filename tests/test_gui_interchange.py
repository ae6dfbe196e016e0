"""Annotation interchange in the app (audit_gui.qt_interchange): the menu actions, the export and
the import preview run off the GUI thread and give what the core calls give."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QMenu  # noqa: E402

from audit_gui import qt_interchange as qi  # noqa: E402
from media_core.case.importing import preview_import, read_annotation_file  # noqa: E402
from media_core.case.store import Case  # noqa: E402
from media_core.case.timeline import build_timeline  # noqa: E402

pytestmark = pytest.mark.gui


def _case(path, n):
    with Case.create(path) as case:
        for i in range(n):
            case.add_annotation(start_s=1.0 + i, end_s=1.5 + i, category="command", text=f"note <{i}> & more")
    return path


def test_menu_actions_export_and_import_with_preview(qtbot, win, tmp_path):
    menu = QMenu(win)
    exp, imp = qi.add_actions(menu, win)
    assert [a.text() for a in menu.actions()] == [qi.EXPORT_TEXT, qi.IMPORT_TEXT]
    win.open_case(_case(tmp_path / "a.evcase", 3))
    results = []
    w = qi.start_export(win, "csv", tmp_path / "out", on_done=results.append)
    with qtbot.waitSignal(w.signals.finished, timeout=20000):
        pass
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    res = results[0]
    assert res["annotations"] == 3 and res["format"] == "csv"
    assert [r["action"] for r in win.case.audit_log()][-1] == "export.annotations"

    win.open_case(_case(tmp_path / "b.evcase", 0))
    previews = []
    path = res["files"][0]["path"]
    w = qi.start_import_preview(win, path, on_preview=previews.append)
    with qtbot.waitSignal(w.signals.finished, timeout=20000):
        pass
    qtbot.waitUntil(lambda: bool(previews), timeout=5000)
    pv = previews[0]
    sync = preview_import(build_timeline(win.case), read_annotation_file(path), case_name=win.case.name)
    assert pv.summary() == sync.summary()  # the threaded preview equals the synchronous one
    dlg = qi.QtImportPreview(win, pv)
    qtbot.addWidget(dlg)
    assert "3 annotation(s) to import" in dlg.text.toPlainText()
    assert dlg.import_button.text() == "Import 3" and not dlg.measured.isEnabled()
    dlg.import_button.click()
    assert len(dlg.added) == 3
    assert sorted(a.text for a in win.case.annotations) == [f"note <{i}> & more" for i in range(3)]


def test_actions_without_a_case_say_so(qtbot, win, tmp_path):
    assert qi.start_export(win, "eaf", tmp_path) is None
    assert qi.start_import_preview(win, tmp_path / "x.csv") is None


def test_bad_file_reports_one_line_and_imports_nothing(qtbot, win, tmp_path, monkeypatch):
    win.open_case(_case(tmp_path / "c.evcase", 0))
    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\n1,2\n")
    errors = []
    monkeypatch.setattr(qi, "_error", lambda w, title, exc: errors.append(str(exc).split("\n\n")[0]))
    w = qi.start_import_preview(win, bad, on_preview=lambda pv: pytest.fail("no preview for a bad file"))
    with qtbot.waitSignal(w.signals.finished, timeout=20000):
        pass
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert errors[0].startswith("bad.csv: the CSV lacks the column(s) category, start_s")
    assert win.case.annotations == []
