"""The one place where work leaves the GUI thread, built on superqt's thread workers.

:class:`ThreadWorker` runs a core call in the global ``QThreadPool``; :class:`ProcessWorker` runs
it in a spawned child process (CPU-heavy Python such as the analysis decode: the GUI thread never
waits for the GIL) and relays the child's messages from a pool thread. Both are superqt
:class:`~superqt.utils.WorkerBase` subclasses (napari's ``thread_worker`` machinery): the same
``started``/``returned``/``errored``/``finished`` signals, ``quit()`` and ``abort_requested``.

The call follows :mod:`media_core.progress`: it gets ``progress(fraction, message)`` and
``should_stop()`` (True once :meth:`~superqt.utils.WorkerBase.quit` was called), and a cancel makes
the core raise :class:`media_core.errors.Cancelled`, which the worker reports as ``cancelled``.
With ``emits=True`` it also gets ``emit(item)`` for pieces finished on the way (``partial``).
Workers never touch widgets or the case; the GUI thread stores what they report.

``run()`` is overridden (superqt asks subclasses not to, "except with good reason"): superqt's
``run()`` wraps the work in ``warnings.catch_warnings()`` and replaces ``warnings.showwarning``
from the worker thread. That state is process-global and ``catch_warnings`` is not thread-safe:
two workers ending out of order restore each other's state, leaving an ``"always"`` filter and
a finished worker's ``showwarning`` installed for the whole process (the app runs several
workers at once: one index job per feed, the incident count, the analysis relay). Warnings in a
worker therefore go through the normal warnings machinery here.
"""
from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal
from superqt.utils import WorkerBase

from media_core.errors import Cancelled


class CoreWorkerSignals(QObject):
    """The signals of a worker: superqt's, plus progress, partial results and cancelled."""

    # superqt's WorkerBaseSignals (not exported by superqt.utils), plus the core protocol's own
    started = Signal()
    finished = Signal()
    _finished = Signal(object)      # superqt's worker set drops the worker on it
    returned = Signal(object)
    errored = Signal(object)        # a WorkerError whose message has the traceback
    warned = Signal(tuple)
    progress = Signal(float, str)   # fraction 0..1, message
    partial = Signal(object)        # a piece finished on the way (``emit(item)``)
    cancelled = Signal()            # the core raised Cancelled after quit()


class WorkerError(Exception):
    """A job failed; the message carries the job's own traceback (from a thread or a child)."""


class ThreadWorker(WorkerBase):
    """Run ``fn(*args, progress=..., should_stop=..., [emit=...], **kwargs)`` in a pool thread.

    ``protocol=False`` calls ``fn(*args, **kwargs)`` only (a short call without progress or
    cancel, e.g. :func:`media_core.pipeline.compute_incident_shots`).
    """

    def __init__(self, fn: Callable[..., Any], *args, emits: bool = False, protocol: bool = True, **kwargs):
        super().__init__(SignalsClass=CoreWorkerSignals)
        self.setAutoDelete(False)  # the owner keeps it until `finished`, then drops it
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.emits, self.protocol = emits, protocol
        self.done = False

    def should_stop(self) -> bool:
        return self.abort_requested

    def start(self, pool: QThreadPool | None = None) -> ThreadWorker:
        """Queue the worker in ``pool`` (default: the global pool) now, not on the next event loop
        turn as superqt's ``start`` does, so a cancel-and-join right after sees it.
        """
        (pool or QThreadPool.globalInstance()).start(self)
        return self

    def _call_kwargs(self) -> dict[str, Any]:
        if not self.protocol:
            return dict(self.kwargs)
        kw = {"progress": lambda f, m="": self.signals.progress.emit(float(f), str(m)),
              "should_stop": self.should_stop, **self.kwargs}
        if self.emits:
            kw["emit"] = self.signals.partial.emit
        return kw

    def work(self) -> Any:
        return self.fn(*self.args, **self._call_kwargs())

    def run(self) -> None:  # pool thread; see the module docstring for why run() is overridden
        s = self.signals
        s.started.emit()
        self._running = True
        try:
            if self.abort_requested:
                raise Cancelled("job")
            result = self.work()
        except Cancelled:
            self.quit()
            s.cancelled.emit()
        except WorkerError as exc:
            s.errored.emit(exc)
        except Exception as exc:  # reported to the GUI, which shows it
            s.errored.emit(WorkerError(f"{exc}\n\n{traceback.format_exc(limit=6)}"))
        else:
            if self.abort_requested:
                s.cancelled.emit()  # finished anyway, but nobody wants the result any more
            else:
                s.returned.emit(result)
        finally:
            self._running = False
            self.done = True
            s.finished.emit()
            s._finished.emit(self)


# ---------------------------------------------------------------------------------------------
# Work in a child process: for CPU-heavy Python (analysis), so the GUI thread never waits for
# the GIL or for a long C call in an extension import. The pool thread only relays messages.
# ---------------------------------------------------------------------------------------------
def _child_main(fn, args, kwargs, emits, queue, stop_event, nice=10):  # runs in the child process
    if nice and hasattr(os, "nice"):
        try:
            os.nice(nice)  # background work yields the CPU to the GUI and to playback
        except OSError:
            pass
    kw = {"progress": lambda f, m="": queue.put(("progress", float(f), str(m))),
          "should_stop": stop_event.is_set, **kwargs}
    if emits:
        kw["emit"] = lambda item: queue.put(("partial", item))
    try:
        out = fn(*args, **kw)
    except Cancelled:
        queue.put(("cancelled",))
    except Exception as exc:  # reported to the GUI
        queue.put(("error", f"{exc}\n\n{traceback.format_exc(limit=6)}"))
    else:
        queue.put(("result", out))


class ProcessWorker(ThreadWorker):
    """Like :class:`ThreadWorker`, but ``fn`` runs in a spawned child process.

    ``fn`` must be importable (module-level) and its arguments and results picklable.
    ``quit()`` sets an event the child's ``should_stop()`` reads; a child that does not stop
    within ``kill_after_s`` of it is terminated.
    """

    kill_after_s = 10.0

    def work(self) -> Any:  # pool thread: start the child, relay its messages
        import multiprocessing as mp
        import queue as _queue
        import time

        s = self.signals
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        stop = ctx.Event()
        proc = ctx.Process(target=_child_main, args=(self.fn, self.args, self.kwargs, self.emits, q, stop),
                           daemon=True)
        outcome = None
        cancel_at = None
        try:
            proc.start()
            while outcome is None:
                if self.abort_requested and not stop.is_set():
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
                if msg[0] == "progress":
                    s.progress.emit(msg[1], msg[2])
                elif msg[0] == "partial":
                    s.partial.emit(msg[1])
                else:
                    outcome = msg
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
        if outcome[0] == "result":
            return outcome[1]
        if outcome[0] == "error":
            raise WorkerError(outcome[1])
        raise Cancelled("analysis")
