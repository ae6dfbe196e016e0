"""Work-arounds for the Qt binding in use; imported first by every audit_gui module."""
from __future__ import annotations

import sys


def _pin_singletons() -> None:
    """Work around a refcount bug of PySide6-Essentials 6.12.0 on Python < 3.12.

    Measured here (tests/test_gui_pyside_refcount.py): every call of a ``void`` Qt method
    (``QPainter.fillRect``, ``QWidget.update``, ``QTimer.start``...) releases one reference to
    ``None`` it never took, and every signal emit one reference to ``True``. On Python 3.12+
    these objects are immortal and nothing happens; on 3.11 the app aborts with
    "none_dealloc: deallocating None" after a few thousand paints. Giving the singletons a huge
    reference count makes them immortal in practice (what 3.12 does by design). Remove this when
    the project moves to Python >= 3.12 or a fixed PySide6.
    """
    if sys.version_info >= (3, 12):
        return
    import ctypes

    for obj in (None, True, False, NotImplemented, Ellipsis):
        ref = ctypes.c_ssize_t.from_address(id(obj))
        if ref.value < (1 << 40):
            ref.value += 1 << 60


_pin_singletons()
