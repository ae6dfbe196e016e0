"""Shared fixtures. GUI tests run offscreen; real recordings are used only when present."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
REAL_MEDIA = ROOT.parent / "shared" / "real_media"


@pytest.fixture(scope="session")
def real_media() -> Path:
    """``../shared/real_media`` (skips the test cleanly on a user's clone that lacks it)."""
    if not REAL_MEDIA.is_dir():
        pytest.skip("../shared/real_media is not present")
    return REAL_MEDIA


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    """The review app's main window, shown offscreen, with settings in ``tmp_path``.

    Only GUI tests (which need PySide6 and pytest-qt) ask for it.
    """
    monkeypatch.setenv("EVIDENCE_AUDIT_SETTINGS", str(tmp_path / "settings.ini"))
    from audit_gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()
