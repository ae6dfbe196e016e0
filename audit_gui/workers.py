"""The one place where work leaves the GUI thread.

:class:`FunctionWorker` runs a plain function in the global ``QThreadPool``; the function gets
``progress(fraction, message)`` and ``should_stop()`` keyword arguments, reports through
signals, and never touches widgets or the case (the GUI thread applies results).
mne-qt-browser's ``LoadThread`` and napari's ``thread_worker`` follow the same pattern.
"""
from __future__ import annotations


import os
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


# ---------------------------------------------------------------------------------------------
# Work in a child process: for CPU-heavy Python (analysis), so the GUI thread never waits for
# the GIL or for a long C call in an extension import. The pool thread only relays messages.
# ---------------------------------------------------------------------------------------------
def _child_main(fn, args, kwargs, queue, stop_event, nice=10):  # runs in the child process
    if nice and hasattr(os, "nice"):
        try:
            os.nice(nice)  # background work yields the CPU to the GUI and to playback
        except OSError:
            pass
    def progress(f, m=""):
        queue.put(("progress", float(f), str(m)))

    def partial(obj):
        queue.put(("partial", obj))

    try:
        out = fn(*args, progress=progress, should_stop=stop_event.is_set, emit_partial=partial, **kwargs)
    except InterruptedError:
        queue.put(("cancelled",))
    except Exception as exc:  # reported to the GUI
        queue.put(("error", f"{exc}\n\n{traceback.format_exc(limit=6)}"))
    else:
        queue.put(("result", out))


class ProcessWorker(FunctionWorker):
    """Like :class:`FunctionWorker`, but ``fn`` runs in a spawned child process.

    ``fn`` must be importable (module-level) and its arguments and results picklable.
    :meth:`cancel` sets an event the child's ``should_stop()`` reads; a child that does not
    stop within ``kill_after_s`` of a cancel is terminated.
    """

    kill_after_s = 10.0

    def run(self) -> None:  # pool thread
        import multiprocessing as mp
        import queue as _queue
        import time

        s = self.signals
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        stop = ctx.Event()
        proc = ctx.Process(target=_child_main, args=(self.fn, self.args, self.kwargs, q, stop), daemon=True)
        outcome = None
        cancel_at = None
        try:
            proc.start()
        except Exception:  # no child processes here (e.g. a main module without a __main__ guard)
            q.close()
            self.in_process_fallback = True
            FunctionWorker.run(self)  # same work in this pool thread
            return
        try:
            while outcome is None:
                if self._stop and not stop.is_set():
                    stop.set()
                    cancel_at = time.monotonic()
                try:
                    msg = q.get(timeout=0.1)
                except _queue.Empty:
                    if not proc.is_alive():
                        outcome = ("error", f"analysis process ended unexpectedly (exit code {proc.exitcode})")
                    elif cancel_at is not None and time.monotonic() - cancel_at > self.kill_after_s:
                        proc.terminate()
                        outcome = ("cancelled",)
                    continue
                kind = msg[0]
                if kind == "progress":
                    s.progress.emit(msg[1], msg[2])
                elif kind == "partial":
                    s.partial.emit(msg[1])
                else:
                    outcome = msg
            kind = outcome[0]
            if kind == "result" and not self._stop:
                s.result.emit(outcome[1])
            elif kind == "error":
                s.error.emit(outcome[1])
            else:
                s.cancelled.emit()
        finally:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join(2)
            q.close()
            q.join_thread()
            try:
                proc.close()  # release its sentinel file descriptor now, not at garbage collection
            except ValueError:  # still running after terminate: leave it to the OS
                pass
            self.done = True
            s.finished.emit()
