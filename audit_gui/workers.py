"""The one place where work leaves the GUI thread.

:class:`FunctionWorker` runs a plain function in the global ``QThreadPool``; the function gets
``progress(fraction, message)`` and ``should_stop()`` keyword arguments, reports through
signals, and never touches widgets or the case (the GUI thread applies results).
mne-qt-browser's ``LoadThread`` and napari's ``thread_worker`` follow the same pattern.
"""
from __future__ import annotations

from . import _compat  # noqa: F401  (before any Qt call)

import traceback

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class WorkerSignals(QObject):
    progress = Signal(float, str)      # fraction 0..1, message
    partial = Signal(object)           # intermediate results (e.g. one feed done)
    result = Signal(object)
    error = Signal(str)
    cancelled = Signal()
    finished = Signal()


class FunctionWorker(QRunnable):
    """Run ``fn(*args, progress=..., should_stop=..., emit_partial=..., **kwargs)`` in a pool thread."""

    def __init__(self, fn, *args, **kwargs):
        super().__init__()
        self.setAutoDelete(False)  # the owner keeps a reference until `finished`
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = WorkerSignals()
        self._stop = False
        self.done = False

    def cancel(self) -> None:
        self._stop = True

    def should_stop(self) -> bool:
        return self._stop

    def run(self) -> None:  # pool thread
        s = self.signals
        try:
            out = self.fn(*self.args, progress=lambda f, m="": s.progress.emit(float(f), str(m)),
                          should_stop=self.should_stop, emit_partial=s.partial.emit, **self.kwargs)
        except InterruptedError:
            s.cancelled.emit()
        except Exception as exc:  # reported to the GUI, which shows it
            s.error.emit(f"{exc}\n\n{traceback.format_exc(limit=6)}")
        else:
            if self._stop:
                s.cancelled.emit()
            else:
                s.result.emit(out)
        finally:
            self.done = True
            s.finished.emit()


def start(worker: FunctionWorker, pool: QThreadPool | None = None) -> FunctionWorker:
    (pool or QThreadPool.globalInstance()).start(worker)
    return worker
