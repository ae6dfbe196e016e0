"""Shared fixtures. GUI tests run offscreen; real recordings are used only when present."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session", autouse=True)
def _signing_key_dir(tmp_path_factory):
    """Tests sign with a key of their own, never the user's (media_core.case.signing)."""
    d = tmp_path_factory.mktemp("keys")
    old = os.environ.get("EVIDENCE_AUDIT_KEY_DIR")
    os.environ["EVIDENCE_AUDIT_KEY_DIR"] = str(d)
    yield d
    if old is None:
        os.environ.pop("EVIDENCE_AUDIT_KEY_DIR", None)
    else:
        os.environ["EVIDENCE_AUDIT_KEY_DIR"] = old

ROOT = Path(__file__).resolve().parents[1]
REAL_MEDIA = ROOT.parent / "shared" / "real_media"


@pytest.fixture(scope="session")
def real_media() -> Path:
    """``../shared/real_media`` (skips the test cleanly on a user's clone that lacks it)."""
    if not REAL_MEDIA.is_dir():
        pytest.skip("../shared/real_media is not present")
    return REAL_MEDIA


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The demo incident (fast render) built, analysed and synced once per session:
    ``(folder, run_demo result, truth)``."""
    import json

    from sample_media.demo import run_demo

    d = tmp_path_factory.mktemp("demo")
    res = run_demo(d / "out", sample_dir=d / "gen", fast=True)
    truth = json.loads((d / "gen" / "truth.json").read_text())
    return d, res, truth


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
