"""The review window: menus, docks and the case that is open; the grid, timeline and panels.

The window is the shell. It delegates the playhead to :class:`~audit_gui.transport.Transport`
(seek, play, step, shuttle, rate, the decoders) and the background case steps to
:class:`~audit_gui.analysis_runner.AnalysisRunner` (preparation, analysis, sync, the incident
count); everything the analyst changes goes to the case (:mod:`media_core.case.store`), which
saves, logs and undoes it.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QToolBar,
    QWidget,
)

from media_core.case.store import Case
from media_core.errors import MediaCoreError
from media_core.timefmt import format_time

from .analysis_runner import AnalysisRunner
from .case_state import CaseState
from .qt_annotations import QtAnnotationsPanel
from .qt_sync import QtSyncPanel
from .qt_timeline import QtTimeline
from .qt_video_grid import QtVideoGrid
from .transport import Transport

RATES = (0.25, 0.5, 1.0, 1.5, 2.0, 4.0)
MAX_RECENT = 8


def settings() -> QSettings:
    path = os.environ.get("EVIDENCE_AUDIT_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("EvidenceAudit", "evidence-audit-gui")


def _clock_label(t: float | None) -> str:
    return format_time(t, missing="--:--")


class LoopMonitor:
    """Measures how long the event loop is blocked: a 10 ms timer that notes its own lateness.

    ``max_block_cpu_ms`` is the GUI thread's own CPU time during the longest block: near the
    block's length means the GUI thread was working; near zero means it was waiting (for the CPU,
    which other processes had, or for the GIL).
    """

    def __init__(self, parent, interval_ms: int = 10):
        self.interval = interval_ms
        self.timer = QTimer(parent)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.clock = QElapsedTimer()
        self.max_block_ms = 0.0
        self.max_block_cpu_ms = 0.0
        self._cpu = 0.0
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.reset()
        self.timer.start()

    def reset(self) -> None:
        self.max_block_ms = 0.0
        self.max_block_cpu_ms = 0.0
        self._cpu = time.thread_time()
        self.clock.start()

    def _tick(self) -> None:
        dt = self.clock.nsecsElapsed() / 1e6
        self.clock.restart()
        cpu = time.thread_time()
        if dt - self.interval > self.max_block_ms:
            self.max_block_ms = dt - self.interval
            self.max_block_cpu_ms = (cpu - self._cpu) * 1000.0
        self._cpu = cpu


class MainWindow(QMainWindow):
    """The review window (see the module docstring)."""

    frames_settled = Signal(int, float)  # seek generation, ms from seek to every tile showing its frame
    jobs_idle = Signal()                 # no background job left
    analysis_done = Signal(object)       # a start_analysis result (compute_case_work's), or None when cancelled

    def __init__(self, *, audio: bool = True, analysis_in_process: bool = True):
        super().__init__()
        self.setWindowTitle("Evidence Audit")
        self.resize(1500, 950)
        self.setAcceptDrops(True)
        self.case: Case | None = None
        self.state: CaseState | None = None
        self.in_point: float | None = None
        self.out_point: float | None = None
        self.selected_feed: int | None = None

        self.grid = QtVideoGrid()
        self.grid.tile_clicked.connect(self.select_feed)
        self.setCentralWidget(self.grid)
        self.transport = Transport(self.grid, self)
        self.transport.frames_settled.connect(self.frames_settled)
        self.transport.moved.connect(self._after_move)
        self.transport.message.connect(lambda m, ms: self.statusBar().showMessage(m, ms))
        self.transport.playing_changed.connect(lambda on: self.b_play.setText("❚❚ Pause" if on else "▶ Play"))
        self.transport.rate_changed.connect(self._show_rate)
        #: the background case steps; ``analysis_in_process``: analysis in a child process
        self.runner = AnalysisRunner(in_process=analysis_in_process, parent=self)
        self.runner.analysis_done.connect(self.analysis_done)
        self.runner.jobs_idle.connect(self.jobs_idle)
        self.runner.busy_changed.connect(self._update_progress)
        self.runner.progress.connect(self._analysis_progress)
        self.runner.message.connect(lambda m, ms: self.statusBar().showMessage(m, ms))
        self._last_progress_msg = None

        self.timeline = QtTimeline()
        self.timeline.seek_requested.connect(self.seek)
        self.timeline.selection_changed.connect(self._timeline_selection)
        self.timeline.feed_clicked.connect(self.select_feed)
        scroll = QScrollArea()
        scroll.setWidget(self.timeline)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._dock(scroll, "Timeline", Qt.DockWidgetArea.BottomDockWidgetArea)
        self.annotations = QtAnnotationsPanel()
        self.annotations.seek_requested.connect(self.seek)
        self.annotations.add_point_requested.connect(self.add_marker)
        self.annotations.add_range_requested.connect(self.add_range)
        d_ann = self._dock(self.annotations, "Annotations", Qt.DockWidgetArea.RightDockWidgetArea)
        self.sync_panel = QtSyncPanel()
        self.sync_panel.feed_selected.connect(self.select_feed)
        d_sync = self._dock(self.sync_panel, "Feeds and sync", Qt.DockWidgetArea.RightDockWidgetArea)
        from .qt_claims import QtClaimsPanel

        self.claims_panel = QtClaimsPanel()
        d_claims = self._dock(self.claims_panel, "Claims", Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(d_sync, d_claims)
        from .qt_speech import make_dock as make_speech_dock

        d_speech = make_speech_dock(self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, d_speech)
        self.tabifyDockWidget(d_claims, d_speech)
        self.speech_panel = d_speech.widget()
        d_sync.raise_()
        self.resizeDocks([self.findChild(QDockWidget, "Timeline")], [300], Qt.Orientation.Vertical)
        self.resizeDocks([d_ann], [600], Qt.Orientation.Horizontal)
        self.resizeDocks([d_ann, d_sync], [330, 230], Qt.Orientation.Vertical)

        self.audio = None
        self.audio_available = False
        self.audio_choice: int | str | None = "selected"  # "selected" (follow the selected tile), None (off), feed id
        self.audio_notices: list[str] = []
        self._build_actions()
        self._build_status()
        self.monitor = LoopMonitor(self)
        self.monitor.start()
        if audio:
            self._init_audio()
        self._update_actions()

    # ================================================================== the transport (delegated)
    @property
    def clock(self):
        return self.transport.clock

    @property
    def position(self) -> float:
        return self.transport.position

    @property
    def rate(self) -> float:
        return self.transport.rate

    @property
    def decoders(self):
        return self.transport.decoders

    @property
    def last_seek_ms(self) -> float | None:
        return self.transport.last_seek_ms

    @property
    def _gen(self) -> int:  # the seek generation (tests and benchmarks wait on it)
        return self.transport.gen

    @property
    def _pending(self) -> set[int]:  # feeds whose frame for the last seek has not arrived
        return self.transport.pending

    @property
    def tiles(self):
        return self.grid.tiles

    def seek(self, t: float, *, force: bool = False) -> int:
        """Show every feed at shared time ``t``. Returns the seek generation."""
        return self.transport.seek(t, force=force)

    def step_frames(self, n: int) -> None:
        """Move the playhead ``n`` frames of the selected feed (its exact frame times)."""
        self.transport.step_frames(n, self.selected_feed)

    def step_seconds(self, s: float) -> None:
        self.transport.step_seconds(s)

    def play(self, rate: float | None = None) -> None:
        self.transport.play(rate)

    def pause(self) -> None:
        self.transport.pause()

    def toggle_play(self) -> None:
        self.transport.toggle_play()

    def set_rate(self, rate: float) -> None:
        self.transport.set_rate(rate)

    def shuttle_forward(self) -> None:
        self.transport.shuttle_forward()

    def shuttle_back(self) -> None:
        self.transport.shuttle_back()

    def play_stats(self) -> dict[int, tuple[int, int]]:
        """Per feed ``(frames due, frames shown)`` over the last playback (1x drop accounting)."""
        return self.transport.play_stats()

    def _show_rate(self, rate: float) -> None:
        i = self.rate_box.findData(abs(rate))
        if i >= 0 and self.rate_box.currentIndex() != i:
            self.rate_box.blockSignals(True)
            self.rate_box.setCurrentIndex(i)
            self.rate_box.blockSignals(False)

    def _after_move(self, _t: float | None = None) -> None:
        self.timeline.set_position(self.position)
        end = self.state.shared_range()[1] if self.state else 0.0
        sel = ""
        if self.in_point is not None or self.out_point is not None:
            sel = f"  in {_clock_label(self.in_point)} out {_clock_label(self.out_point)}"
        self.time_label.setText(f"{_clock_label(self.position)} / {_clock_label(end)}  {self.rate:g}x{sel}")

    # ================================================================== background work (delegated)
    def start_analysis(self, *, only_missing: bool = True, force: bool = False):
        """Analyse (mutes, shots) the feeds lacking a current analysis and sync the case, in the
        background (:meth:`AnalysisRunner.start_analysis`). Returns the worker, or None.
        """
        return self.runner.start_analysis(only_missing=only_missing, force=force)

    def cancel_jobs(self, wait: bool = False) -> None:
        self.runner.cancel(wait=wait)

    def jobs_running(self) -> bool:
        return self.runner.jobs_running()

    def preparing(self) -> bool:
        """Whether any feed is still being prepared (video index, or its analysis decode)."""
        return self.runner.preparing()

    def _update_progress(self) -> None:
        analysing = self.runner.analysing()
        busy = self.runner.preparing() or analysing  # short helper jobs show nothing
        self.progress.setVisible(busy)
        self.b_cancel.setVisible(busy)
        if analysing:
            self.progress.setRange(0, 1000)
        elif busy:
            self.progress.setRange(0, 0)  # indeterminate: indexing video
            self.progress.setFormat("preparing feeds")
        if not analysing:
            self._last_progress_msg = None
        self._update_actions()

    def _analysis_progress(self, frac: float, msg: str) -> None:
        # the child reports often; repaint the bar only for a visible change (0.5 %) or a new message
        v = int(1000 * frac)
        if msg == self._last_progress_msg and abs(v - self.progress.value()) < 5:
            return
        self._last_progress_msg = msg
        self.progress.setRange(0, 1000)
        self.progress.setValue(v)
        self.progress.setFormat(f"{msg} %p%")
        self.statusBar().showMessage(msg)

    # ================================================================== construction
    def _dock(self, w: QWidget, title: str, area) -> QDockWidget:
        d = QDockWidget(title, self)
        d.setObjectName(title)
        d.setWidget(w)
        feat = QDockWidget.DockWidgetFeature
        d.setFeatures(feat.DockWidgetMovable | feat.DockWidgetFloatable)
        self.addDockWidget(area, d)
        return d

    def _act(self, menu, text, slot, shortcut=None, *, tip=None) -> QAction:
        a = QAction(text, self)
        if shortcut:
            if isinstance(shortcut, (list, tuple)):
                a.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(lambda _=False: slot())
        menu.addAction(a)
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&Case")
        self._act(m, "&New case…", self.new_case_dialog, QKeySequence.StandardKey.New)
        self._act(m, "&Open case…", self.open_case_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = m.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        m.addSeparator()
        self.a_add = self._act(m, "&Add feeds…", self.add_feeds_dialog, "Ctrl+Shift+A")
        self.a_analyze = self._act(m, "Analyse and &sync", self.start_analysis, "Ctrl+R",
                                   tip="find mutes and shots in every feed and sync them, in the background")
        self.a_cancel = self._act(m, "&Cancel background work", self.cancel_jobs, "Ctrl+.")
        m.addSeparator()
        self._act(m, "&Close case", self.close_case, QKeySequence.StandardKey.Close)
        self._act(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        m = mb.addMenu("&Edit")
        self.a_undo = self._act(m, "&Undo", self.undo, "Ctrl+Z")
        self.a_redo = self._act(m, "&Redo", self.redo, ["Ctrl+Shift+Z", "Ctrl+Y"])

        m = mb.addMenu("&Playback")
        self._act(m, "Play / pause", self.toggle_play, "Space")
        self._act(m, "Shuttle back (J)", self.shuttle_back, "J")
        self._act(m, "Pause (K)", self.pause, "K")
        self._act(m, "Shuttle forward (L)", self.shuttle_forward, "L")
        m.addSeparator()
        self._act(m, "Previous frame", lambda: self.step_frames(-1), "Left")
        self._act(m, "Next frame", lambda: self.step_frames(1), "Right")
        self._act(m, "Back 1 s", lambda: self.step_seconds(-1.0), "Shift+Left")
        self._act(m, "Forward 1 s", lambda: self.step_seconds(1.0), "Shift+Right")
        m.addSeparator()
        self._act(m, "Mark in (I)", self.mark_in, "I")
        self._act(m, "Mark out (O)", self.mark_out, "O")
        self._act(m, "Add marker (M)", self.add_marker, "M")
        self._act(m, "Add range annotation from in/out", self.add_range, "Shift+M")
        self._act(m, "Add marker on the selected feed", self.add_feed_marker, "Ctrl+M")

        m = mb.addMenu("&Navigate")
        self._act(m, "Next shot", lambda: self.jump("shot", +1), "Ctrl+Right")
        self._act(m, "Previous shot", lambda: self.jump("shot", -1), "Ctrl+Left")
        self._act(m, "Next mute", lambda: self.jump("mute", +1), "Alt+Right")
        self._act(m, "Previous mute", lambda: self.jump("mute", -1), "Alt+Left")
        self._act(m, "Next annotation", lambda: self.jump("annotation", +1), "Down")
        self._act(m, "Previous annotation", lambda: self.jump("annotation", -1), "Up")
        self._act(m, "Zoom timeline to fit", self.timeline.fit, "Ctrl+0")

        # ---- Export menu: the review video and clips (media_core.export). Other exports (annotations,
        # report) add their actions to export_menu() after the separator below.
        self._export_menu = mb.addMenu("E&xport")
        self.a_export_review = self._act(self._export_menu, "&Review video…", lambda: self.export_dialog("review"),
                                         tip="the chosen feeds side by side on the shared clock, signed manifest")
        self.a_export_clips = self._act(self._export_menu, "&Clips…", lambda: self.export_dialog("clips"),
                                        tip="a shared-clock range of one or every feed, fast or frame-exact")
        self._export_menu.addSeparator()  # annotation and report exports
        from .qt_claims import add_report_action
        from .qt_interchange import add_actions as add_interchange_actions

        add_interchange_actions(self._export_menu, self)
        add_report_action(self._export_menu, self)

        tb = QToolBar("Transport")
        tb.setObjectName("transport")
        self.addToolBar(tb)
        self.b_play = QPushButton("▶ Play")
        self.b_play.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.b_play.clicked.connect(self.toggle_play)
        tb.addWidget(self.b_play)
        self.rate_box = QComboBox()
        self.rate_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for r in RATES:
            self.rate_box.addItem(f"{r:g}x", r)
        self.rate_box.setCurrentIndex(RATES.index(1.0))
        self.rate_box.currentIndexChanged.connect(lambda i: self.set_rate(RATES[i]))
        tb.addWidget(self.rate_box)
        self.audio_box = QComboBox()
        self.audio_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.audio_box.setToolTip("whose audio plays (1x only)")
        self.audio_box.currentIndexChanged.connect(self._audio_box_changed)
        tb.addWidget(self.audio_box)
        self._fill_audio_box()
        self.time_label = QLabel()
        self.time_label.setMinimumWidth(320)
        self.time_label.setStyleSheet("font-family: monospace; padding-left: 8px")
        tb.addWidget(self.time_label)

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.b_cancel = QPushButton("Cancel")
        self.b_cancel.setVisible(False)
        self.b_cancel.clicked.connect(self.cancel_jobs)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.b_cancel)

    # ================================================================== audio
    def _init_audio(self) -> None:
        from .qt_audio import QtAudioOutput

        self.audio = QtAudioOutput(self.clock, self)
        self.transport.audio = self.audio
        self.audio_available = self.audio.available
        if self.audio.available:
            self.audio.message.connect(lambda m: self.statusBar().showMessage(m, 10000))
        else:
            self._audio_notice(f"No audio output: {self.audio.reason}. Review works silently.")

    def _audio_notice(self, text: str) -> None:
        self.audio_notices.append(text)
        self.statusBar().showMessage(text, 15000)

    def _fill_audio_box(self) -> None:
        box = self.audio_box
        box.blockSignals(True)
        box.clear()
        box.addItem("Audio: selected feed", "selected")
        box.addItem("Audio: off", "off")
        for f in (self.state.feeds if self.state is not None else []):
            box.addItem(f"Audio: {f.label}", f.id)
        i = box.findData("off" if self.audio_choice is None else self.audio_choice)
        if i < 0:
            self.audio_choice = "selected"
            i = 0
        box.setCurrentIndex(i)
        box.blockSignals(False)

    def _audio_box_changed(self, i: int) -> None:
        if i >= 0:
            data = self.audio_box.itemData(i)
            self.set_audio_feed(None if data == "off" else data)

    def set_audio_feed(self, choice: int | str | None) -> None:
        """Whose audio plays: a feed id, ``"selected"`` (the selected tile's feed) or None (off)."""
        self.audio_choice = choice
        i = self.audio_box.findData("off" if choice is None else choice)
        if i >= 0 and self.audio_box.currentIndex() != i:
            self.audio_box.blockSignals(True)
            self.audio_box.setCurrentIndex(i)
            self.audio_box.blockSignals(False)
        fid = self.audio_feed_id()
        if choice is not None and not self.audio_available:
            who = self.state.feed(fid).label if self.state is not None and fid is not None else "the chosen feed"
            reason = self.audio.reason if self.audio is not None else "audio is off in this window"
            self.statusBar().showMessage(f"{who}: audio not played ({reason}); review works silently", 10000)
        self._update_audio_source()

    def audio_feed_id(self) -> int | None:
        """The feed whose audio plays (None: none)."""
        if self.state is None or self.audio_choice is None:
            return None
        fid = self.selected_feed if self.audio_choice == "selected" else self.audio_choice
        return fid if self.state.feed(fid) is not None else None

    def _update_audio_source(self) -> None:
        fid = self.audio_feed_id()
        info = self.state.feed(fid) if fid is not None else None
        self.transport.set_audio_source((info.path, info.clock) if info is not None else None)

    # ================================================================== exports
    def export_menu(self):
        """The Export menu (a QMenu): exports other than the review video and clips add their actions here."""
        return self._export_menu

    def export_dialog(self, kind: str = "review"):
        """Open the export dialog for the open case (in/out points, when set, give the range)."""
        if self.case is None:
            return None
        from media_core.case.timeline import build_timeline

        from .qt_export import QtExportDialog

        dlg = QtExportDialog(self.case, build_timeline(self.case), kind=kind, start_s=self.in_point,
                             end_s=self.out_point, parent=self)
        dlg.finished_export.connect(lambda r: self.statusBar().showMessage(f"export written to {r.folder}", 15000))
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.last_export_dialog = dlg
        dlg.open()
        return dlg

    def _update_actions(self) -> None:
        has = self.case is not None
        self.a_add.setEnabled(has)
        self.a_export_review.setEnabled(has)
        self.a_export_clips.setEnabled(has)
        self.a_analyze.setEnabled(has and not self.runner.analysing())
        self.a_cancel.setEnabled(self.runner.jobs_running())
        self.a_undo.setEnabled(has and self.case.can_undo)
        self.a_redo.setEnabled(has and self.case.can_redo)
        if has and self.case.undo_label:
            self.a_undo.setText(f"&Undo {self.case.undo_label}")
        else:
            self.a_undo.setText("&Undo")

    # ================================================================== case handling
    def _warn(self, title: str, text: str) -> None:
        """Tell the user without blocking the event loop (window-modal, opened, not exec'd)."""
        self.statusBar().showMessage(f"{title}: {text.splitlines()[0] if text else ''}", 15000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)  # file names and labels are text, never markup
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.last_warning_box = box
        box.open()
        self.last_warning = (title, text)

    def new_case_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New case", str(Path.home() / "untitled.evcase"),
                                              "Evidence Audit case (*.evcase)")
        if path:
            self.new_case(path)

    def open_case_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open case folder (NAME.evcase)")
        if path:
            self.open_case(path)

    def add_feeds_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add feeds", "", "Media (*.mp4 *.mov *.mkv *.avi *.m4v *.webm "
                                                "*.mts *.ts *.wav *.mp3 *.m4a);;All files (*)")
        if paths:
            self.add_feeds(paths)

    def new_case(self, path) -> Case | None:
        try:
            case = Case.create(path)
        except MediaCoreError as exc:
            self._warn("Cannot create case", str(exc))
            return None
        self.set_case(case)
        return case

    def open_case(self, path) -> Case | None:
        try:
            case = Case.open(path)
        except MediaCoreError as exc:
            self._warn("Cannot open case", str(exc))
            return None
        self.set_case(case)
        return case

    def _remember_recent(self, path: str) -> None:
        s = settings()
        rec = [p for p in (s.value("recent_cases", []) or []) if p != path]
        s.setValue("recent_cases", [path] + rec[: MAX_RECENT - 1])
        s.sync()

    def recent_cases(self) -> list[str]:
        v = settings().value("recent_cases", []) or []
        return [v] if isinstance(v, str) else list(v)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.recent_cases():
            a = self.recent_menu.addAction(p)
            a.triggered.connect(lambda _=False, p=p: self.open_case(p))
        if not self.recent_menu.actions():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def set_case(self, case: Case) -> None:
        self.close_case()
        self.case = case
        self.state = CaseState(case, self)
        self.state.feeds_changed.connect(self._on_feeds_changed)
        self.state.clock_changed.connect(self._clock_changed)
        self.state.undo_state_changed.connect(self._update_actions)
        self.transport.set_state(self.state)
        self.runner.set_state(self.state)
        self.timeline.set_state(self.state)
        self.annotations.set_state(self.state)
        self.sync_panel.set_state(self.state)
        self.claims_panel.set_state(self.state)
        self.setWindowTitle(f"Evidence Audit — {case.name}")
        self._remember_recent(str(case.path))
        self._on_feeds_changed()
        a, _b = self.state.shared_range()
        self.seek(a)
        self.timeline.fit()
        self._update_actions()

    def _clock_changed(self, _fid) -> None:
        self._update_audio_source()
        self.seek(self.position)

    def close_case(self) -> None:
        if self.case is None:
            return
        self.pause()
        self.runner.cancel(wait=True)
        self.runner.set_state(None)
        self.transport.set_state(None)
        for w in (self.timeline, self.annotations, self.sync_panel):
            w.state = None
        self.claims_panel.set_state(None)
        self.state.disconnect_case()
        self.state.deleteLater()
        self.state = None
        self.case.close()
        self.case = None
        self.grid.set_feeds([])
        self._fill_audio_box()
        self._update_audio_source()
        self.timeline.update()
        self.annotations.refresh()
        self.sync_panel.refresh()
        self.setWindowTitle("Evidence Audit")
        self._update_actions()

    def add_feeds(self, paths, *, kind: str = "other") -> list:
        if self.case is None:
            return []
        self.statusBar().showMessage(f"adding {len(paths)} feed(s): probing and fingerprinting…")
        self.setCursor(Qt.CursorShape.BusyCursor)
        try:
            added, errors = self.case.add_feeds([os.fspath(p) for p in paths], kind=kind)
        finally:
            self.unsetCursor()
        if errors:
            self._warn("Some files were not added", "\n".join(str(e) for e in errors))
        self.statusBar().showMessage(f"added {len(added)} feed(s)", 5000)
        return added

    # drag and drop: media files become feeds, a case folder opens
    def dragEnterEvent(self, ev):  # noqa: N802
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev):  # noqa: N802
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        self.handle_dropped(paths)
        ev.acceptProposedAction()

    def handle_dropped(self, paths: list[str]) -> None:
        cases = [p for p in paths if p.rstrip("/").endswith(".evcase") or os.path.basename(p) == "case.sqlite"]
        media = [p for p in paths if p not in cases]
        if cases:
            self.open_case(cases[0])
        if media:
            if self.case is None:
                self._warn("No case open", "Create or open a case first, then drop feeds on it.")
                return
            self.add_feeds(media)

    # ================================================================== feeds
    def select_feed(self, fid: int) -> None:
        self.selected_feed = fid
        self.sync_panel.select_feed(fid)
        for k, t in self.grid.tiles.items():
            t.selected = k == fid
            t.update()
        self.timeline.selected_feed = fid
        self.timeline.update()
        self._update_audio_source()

    def _on_feeds_changed(self) -> None:
        if self.state is None:
            return
        feeds = self.state.feeds
        ids = [f.id for f in feeds]
        self.grid.set_feeds(ids)
        for f in feeds:
            t = self.grid.tiles[f.id]
            t.label, t.kind, t.fps = f.label, f.kind, f.fps
            t.status = None if f.prepared else "indexing…"
            if f.prepared and f.index is None:
                t.status = "no video (audio only)"
            t.selected = f.id == self.selected_feed
            t.update()
        if self.selected_feed not in ids:
            self.selected_feed = ids[0] if ids else None
        self.timeline.selected_feed = self.selected_feed
        self._fill_audio_box()
        self._update_audio_source()
        self._fit_timeline_dock()
        self.transport.sync_decoders()
        self.runner.update()
        self._update_actions()
        self.seek(self.position, force=True)

    def _fit_timeline_dock(self) -> None:
        dock = self.findChild(QDockWidget, "Timeline")
        want = self.timeline.sizeHint().height() + 34
        self.resizeDocks([dock], [int(min(want, 0.45 * self.height()))], Qt.Orientation.Vertical)

    # ================================================================== marks and annotations
    def mark_in(self) -> None:
        self.in_point = self.position
        self.timeline.in_point = self.position
        self.timeline.update()
        self._after_move()

    def mark_out(self) -> None:
        self.out_point = self.position
        self.timeline.out_point = self.position
        self.timeline.update()
        self._after_move()

    def _timeline_selection(self, a: float, b: float) -> None:
        self.in_point, self.out_point = a, b
        self.timeline.in_point, self.timeline.out_point = a, b
        self.timeline.selection = None
        self.timeline.update()
        self._after_move()

    def add_marker(self, text: str = "", category: str = "custom"):
        if self.case is None:
            return None
        a = self.case.add_annotation(start_s=self.position, category=category, text=text)
        self.annotations.select(a.id)
        return a

    def add_feed_marker(self, text: str = "", category: str = "custom"):
        """A point annotation on the selected feed, at its media time (follows the feed's sync)."""
        info = self.transport.feed_for_step(self.selected_feed)
        if self.case is None or info is None:
            return None
        a = self.case.add_annotation(start_s=info.clock.to_media(self.position), feed_id=info.id,
                                     category=category, text=text)
        self.annotations.select(a.id)
        return a

    def add_range(self, text: str = "", category: str = "custom"):
        if self.case is None:
            return None
        if self.in_point is None or self.out_point is None:
            self.statusBar().showMessage("set an in point (I) and an out point (O) first", 5000)
            return None
        a, b = sorted((self.in_point, self.out_point))
        ann = self.case.add_annotation(start_s=a, end_s=b, category=category, text=text)
        self.annotations.select(ann.id)
        return ann

    def undo(self) -> None:
        if self.case is not None and self.case.undo():
            self.statusBar().showMessage("undone", 3000)
        self._update_actions()

    def redo(self) -> None:
        if self.case is not None and self.case.redo():
            self.statusBar().showMessage("redone", 3000)
        self._update_actions()

    def jump(self, kind: str, direction: int) -> None:
        if self.state is None:
            return
        times = self.state.events_shared(kind)
        eps = 1e-3
        if direction > 0:
            nxt = [t for t in times if t > self.position + eps]
            target = nxt[0] if nxt else None
        else:
            prv = [t for t in times if t < self.position - eps]
            target = prv[-1] if prv else None
        if target is None:
            self.statusBar().showMessage(f"no {'next' if direction > 0 else 'previous'} {kind}", 3000)
            return
        self.pause()
        self.seek(target)

    # ================================================================== shutdown
    def closeEvent(self, ev):  # noqa: N802
        self.close_case()
        if self.audio is not None:
            self.audio.close()
        self.monitor.timer.stop()
        super().closeEvent(ev)
