"""Qt dialogs show file names as plain text: markup in a name is never rendered (issue 11)."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6")


def test_warning_dialog_shows_markup_in_a_file_name_literally(win, tmp_path):
    from PySide6.QtCore import Qt

    bad = tmp_path / "<b>bold<i>x<img src=x>.mp4"
    bad.write_bytes(b"not media at all")
    win.new_case(tmp_path / "c.evcase")
    win.add_feeds([str(bad)])
    box = win.last_warning_box
    assert box.textFormat() == Qt.TextFormat.PlainText
    assert "<b>bold<i>x<img src=x>.mp4" in box.text()
    assert win.case.feeds == []  # the bad file was refused, the case intact
