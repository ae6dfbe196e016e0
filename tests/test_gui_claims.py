"""The Claims panel and the report export in the app (issue 14): core calls, off the GUI thread."""
from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("PySide6")


def test_claims_panel_checks_and_report_export_from_the_menu(qtbot, win, demo, tmp_path):
    _, res, _ = demo
    case_path = tmp_path / "demo.evcase"
    shutil.copytree(res["case"], case_path)
    win.open_case(case_path)
    qtbot.waitUntil(lambda: not win.jobs_running(), timeout=60000)
    panel = win.claims_panel
    assert panel.add_claim(source="Police", quote="20 shots were fired", kind="shot_count", value={"value": 20})
    assert panel.add_claim(source="Press", quote="11 shots", kind="shot_count", value={"value": 11})
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=5000)
    statuses = [panel.table.item(r, 4).text() for r in range(2)]
    assert statuses == ["inconsistent", "consistent"]
    win.case.undo()  # claims are undoable through the case
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=5000)
    names = [a.text() for a in win.export_menu().actions()]
    assert any("Commission report" in n for n in names) and any("Annotations" in n for n in names)

    from audit_gui.qt_claims import export_report_dialog

    out = tmp_path / "report"
    w = export_report_dialog(win, str(out))
    with qtbot.waitSignal(w.signals.finished, timeout=60000):
        pass
    qtbot.waitUntil(lambda: getattr(win, "last_report", None) is not None, timeout=5000)
    doc = json.loads((out / "report.json").read_text())
    assert [c["status"] for c in doc["claims"]] == ["inconsistent"]
    assert win.case.audit_log()[-1]["action"] == "export.report"  # recorded on the GUI thread
    assert (out / "manifest.json").is_file() and (out / "report.pdf").stat().st_size > 10000
