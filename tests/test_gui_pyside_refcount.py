"""Guard against the Qt binding's refcount bug that aborted the app on Python 3.11.

PySide6-Essentials 6.12.0 released a reference to ``None`` on every void Qt call and to ``True``
on every signal emit; on Python 3.11 the app aborted ("deallocating None") after a few thousand
paints. We pin 6.11.3, which does not. If a future pin brings the bug back, these fail (or abort)
instead of the analyst's session.
"""
from __future__ import annotations

import sys

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QObject, QRectF, QTimer, Signal  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

pytestmark = pytest.mark.gui


def test_void_qt_calls_keep_none_alive(qapp):
    img = QImage(64, 64, QImage.Format.Format_RGB32)
    p = QPainter(img)
    before = sys.getrefcount(None)
    for _ in range(3000):
        p.fillRect(QRectF(0, 0, 8, 8), QColor(10, 20, 30))
    p.end()
    assert sys.getrefcount(None) >= before - 100  # 6.12.0 lost one reference per call
    assert img.pixelColor(1, 1) == QColor(10, 20, 30)


def test_signal_emits_and_updates_keep_true_alive(qapp):
    class Emitter(QObject):
        fired = Signal(int)

    e, got = Emitter(), []
    e.fired.connect(got.append)
    w, t = QWidget(), QTimer()
    bt, bn = sys.getrefcount(True), sys.getrefcount(None)
    for i in range(3000):
        e.fired.emit(i)
        w.update()
        t.start(1000)
        t.stop()
    assert len(got) == 3000
    assert sys.getrefcount(True) >= bt - 100 and sys.getrefcount(None) >= bn - 100
