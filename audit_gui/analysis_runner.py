"""The app's background case steps: preparation, analysis and sync, and the incident count.

Every step is a :mod:`media_core.pipeline` call: the compute half runs in a worker
(:mod:`audit_gui.workers`), the store half runs here, on the GUI thread, as each piece arrives, so
a cancel keeps what was finished and the CLI and the app store identical results.

* **Preparation** (whenever the case's feeds change): a feed whose video index is missing gets a
  packet scan in a pool thread (:func:`~media_core.pipeline.compute_preparation` with
  ``analysis=False``); a feed whose analysis or envelope is missing gets its one analysis decode
  (mutes, shots, sync features and the waveform envelope) in a child process
  (:func:`~media_core.pipeline.compute_case_work`). A feed whose stored results are current
  (e.g. from ``evidence-audit analyze FILE --case CASE`` or ``case prepare``) decodes nothing.
* **Analyse and sync** (:meth:`AnalysisRunner.start_analysis`): the same child-process job over
  the feeds lacking an analysis, followed by the sync of the whole case.
* **Incident shots**: recounted off the GUI thread (:func:`~media_core.pipeline.compute_incident_shots`)
  when the stored count no longer matches the case's shots and clocks, then stored with
  :func:`~media_core.pipeline.store_incident_shots`; the timeline shows it.
"""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QObject, QThreadPool, Signal

from media_core import pipeline

from .workers import ProcessWorker, ThreadWorker


class AnalysisRunner(QObject):
    """Starts, cancels and reports the background case steps of one open case at a time."""

    analysis_done = Signal(object)  # a start_analysis run: compute_case_work's result, or None (cancelled/failed)
    jobs_idle = Signal()            # no job left
    busy_changed = Signal()         # preparation or analysis started or ended
    progress = Signal(float, str)   # of the analysis job (fraction 0..1, message)
    message = Signal(str, int)      # a status line and how long to show it (ms)

    def __init__(self, *, in_process: bool = True, parent=None):
        super().__init__(parent)
        #: run the analysis decode and sync in a child process (the GUI never waits for the GIL)
        self.in_process = in_process
        self.state = None
        self.pool = QThreadPool.globalInstance()
        self._index_jobs: dict[int, ThreadWorker] = {}   # feed id -> packet scan
        self._analysis: ThreadWorker | None = None       # the one analysis job (preparation or a run)
        self._helpers: list[ThreadWorker] = []           # incident counts
        self._winding: list[ThreadWorker] = []           # outcome reported, worker not finished yet
        self._incident_key: str | None = None
        self._skip: set[int] = set()                     # feeds whose automatic decode failed or was cancelled

    # ------------------------------------------------------------------ state
    def set_state(self, state) -> None:
        """Follow another open case (None: none). Call :meth:`cancel` with ``wait=True`` first."""
        self.state = state
        self._incident_key = None
        self._skip.clear()

    @property
    def case(self):
        return self.state.case if self.state is not None else None

    def jobs_running(self) -> bool:
        return bool(self._index_jobs or self._analysis or self._helpers or self._winding)

    def preparing(self) -> bool:
        """Whether a feed is still being prepared (its video index, or its analysis decode)."""
        return bool(self._index_jobs) or getattr(self._analysis, "kind", None) == "prepare"

    def analysing(self) -> bool:
        """Whether an analysis job (preparation's decode or an "analyse and sync" run) is running."""
        return self._analysis is not None

    def _track(self, w: ThreadWorker, kind: str) -> ThreadWorker:
        w.kind, w.case = kind, self.case
        w.signals.finished.connect(lambda w=w: self._finished(w))
        return w

    def _current(self, w: ThreadWorker) -> bool:
        """Whether the worker's case is the open one (results of a closed case are dropped)."""
        return self.state is not None and w.case is self.state.case

    # ------------------------------------------------------------------ preparation
    def update(self) -> None:
        """Start what the case's feeds lack: index scans, the analysis decode, the incident count."""
        case = self.case
        if case is None:
            return
        decode = []
        for f in case.feeds:
            need_index, need_analysis = pipeline.preparation_needed(case, f)
            if need_index and f.id not in self._index_jobs:
                self._start_index(f)
            if need_analysis and f.id not in self._skip:
                decode.append(f)
        if decode and self._analysis is None:
            self._start_work(decode, kind="prepare")
        self.update_incident()
        self.busy_changed.emit()

    def _start_index(self, feed) -> None:
        w = self._track(ThreadWorker(pipeline.compute_preparation, feed, video_index=True, analysis=False), "index")
        w.feed_id = feed.id
        w.signals.returned.connect(lambda prep, w=w: self._store(w, [("preparation", prep.feed_id, prep)]))
        w.signals.errored.connect(lambda exc, f=feed: self.message.emit(f"{f.label}: {_first_line(exc)}", 15000))
        self._index_jobs[feed.id] = w
        w.start(self.pool)

    def _store(self, w: ThreadWorker, items) -> None:
        """Store finished pieces in the case (GUI thread), exactly as the pipeline's whole-case calls do."""
        if not self._current(w):
            return
        case = self.case
        ids = {f.id for f in case.feeds}
        with self.state.batch():
            for what, fid, obj in items:
                if what == "preparation" and fid in ids:
                    pipeline.store_preparation(case, obj)
                elif what == "features" and fid in ids:
                    pipeline.save_sync_features(case, case.feed(fid), obj)
                elif what == "sync":
                    pipeline.apply_sync_document(case, obj)

    # ------------------------------------------------------------------ analysis and sync
    def start_analysis(self, *, only_missing: bool = True, force: bool = False) -> ThreadWorker | None:
        """Analyse (mutes, shots: one decode each) the feeds lacking a current analysis, or every
        feed with ``force``, then sync the case; in the background.

        Returns the worker, or None when there is nothing to do (or an analysis is running).
        """
        case = self.case
        if case is None or not case.feeds:
            return None
        if self._analysis is not None:
            self.message.emit("analysis is running already", 5000)
            return None
        self._skip.clear()
        feeds = case.feeds
        todo = [f for f in feeds if force or pipeline.preparation_needed(case, f)[1]]
        ref = case.reference_feed_id
        synced = all(case.sync_info(f.id) is not None or f.id == ref for f in feeds)
        need_sync = len(feeds) > 1 and (force or not synced or not only_missing)
        if only_missing and not todo and not need_sync:
            self.message.emit("every feed is analysed and synced already", 5000)
            return None
        sync = pipeline.sync_inputs(case) if need_sync else None
        ref_path = case.feed(ref).path if ref is not None else None
        return self._start_work(todo, kind="run", sync=sync, reference=ref_path)

    def _start_work(self, feeds, *, kind: str, sync=None, reference=None) -> ThreadWorker:
        case = self.case
        index = [f.id for f in feeds if f.id not in self._index_jobs and pipeline.preparation_needed(case, f)[0]]
        cls = ProcessWorker if self.in_process else ThreadWorker
        w = self._track(cls(pipeline.compute_case_work, feeds, sync=sync, reference=reference, video_index=index,
                            emits=True), kind)
        w.feed_ids = [f.id for f in feeds]
        w.signals.progress.connect(lambda f, m, w=w: self.progress.emit(f, m) if w is self._analysis else None)
        w.signals.partial.connect(lambda item, w=w: self._store(w, [item]))
        w.signals.returned.connect(lambda out, w=w: self._work_over(w, out))
        w.signals.cancelled.connect(lambda w=w: self._work_over(w, None, why="cancelled"))
        w.signals.errored.connect(lambda exc, w=w: self._work_over(w, None, why=f"failed: {_first_line(exc)}"))
        self._analysis = w
        self.busy_changed.emit()
        w.start(self.pool)
        return w

    def _work_over(self, w: ThreadWorker, out: dict | None, *, why: str = "") -> None:
        """The job reported its outcome: the GUI is free now, though a child may still be exiting."""
        if w is self._analysis:
            self._analysis = None
            self._winding.append(w)  # kept until its `finished`
        current = self._current(w)
        if current:  # a feed that failed or was cancelled is not decoded again until asked (start_analysis)
            done = set(out["preparation"]) if out is not None else set()
            self._skip.update(fid for fid in w.feed_ids if fid not in done)
        what = "analysis" if w.kind == "run" else "preparing feeds"
        if out is not None:
            errs = out.get("errors") or []
            self.message.emit(f"{what} finished" + (f" ({'; '.join(errs)})" if errs else ""), 15000)
        elif why == "cancelled":
            self.message.emit(f"{what} cancelled; the feeds already finished are kept", 8000)
        else:
            self.message.emit(f"{what} {why}", 30000)
        self.busy_changed.emit()
        if w.kind == "run":
            self.analysis_done.emit(out)
        if current:
            self.update()  # feeds added meanwhile, or a sync that changed the incident count

    # ------------------------------------------------------------------ incident shots
    def update_incident(self) -> None:
        """Recount incident-level shots when the stored count is not made from the present case."""
        case = self.case
        inputs = pipeline.incident_inputs(case)
        if not inputs["shots_by_feed"]:
            return
        key = pipeline.incident_key(inputs)
        if key == self._incident_key:
            return  # counting already, or counted
        self._incident_key = key
        if pipeline.stored_incident_shots(case, inputs=inputs) is not None:
            return
        w = self._track(ThreadWorker(pipeline.compute_incident_shots, inputs, protocol=False), "incident")
        w.signals.returned.connect(lambda doc, w=w, k=key: self._incident_counted(w, k, doc))
        w.signals.errored.connect(lambda exc: self.message.emit(f"incident shots: {_first_line(exc)}", 8000))
        self._helpers.append(w)
        w.start(self.pool)

    def _incident_counted(self, w: ThreadWorker, key: str, doc: dict) -> None:
        if self._current(w) and key == self._incident_key:
            pipeline.store_incident_shots(self.case, doc)

    # ------------------------------------------------------------------ endings
    def _finished(self, w: ThreadWorker) -> None:
        if self._index_jobs.get(getattr(w, "feed_id", None)) is w:
            del self._index_jobs[w.feed_id]
        for lst in (self._helpers, self._winding):
            if w in lst:
                lst.remove(w)
        if w is self._analysis:  # finished without reporting (never: run() always reports)
            self._analysis = None
        self.busy_changed.emit()
        if not self.jobs_running():
            self.jobs_idle.emit()

    def cancel(self, wait: bool = False) -> None:
        """Ask every job to stop (the core raises Cancelled at its next check); ``wait``: join them."""
        for w in [*self._index_jobs.values(), *self._helpers, *([self._analysis] if self._analysis else [])]:
            w.quit()
        if wait:
            self.pool.waitForDone(30000)
            QCoreApplication.processEvents()  # deliver their last signals now


def _first_line(exc) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]
