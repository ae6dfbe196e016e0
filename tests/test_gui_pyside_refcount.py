"""The PySide6 6.12 refcount work-around (audit_gui._compat) keeps long painting sessions alive."""
from __future__ import annotations

import sys

import pytest

pytest.importorskip("PySide6")

import audit_gui._compat  # noqa: E402,F401
from PySide6.QtCore import QRectF  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter  # noqa: E402

pytestmark = pytest.mark.gui


def test_many_void_qt_calls_do_not_free_none(qapp):
    img = QImage(64, 64, QImage.Format.Format_RGB32)
    p = QPainter(img)
    for _ in range(20000):  # without the work-around, Python 3.11 aborts ("deallocating None") well before
        p.fillRect(QRectF(0, 0, 8, 8), QColor(10, 20, 30))
    p.end()
    assert sys.getrefcount(None) > 1000
    assert img.pixelColor(1, 1) == QColor(10, 20, 30)
