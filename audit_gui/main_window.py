"""The review window: video grid, timeline, annotations and sync panels, transport and jobs.

The window owns the transport (playhead, rate, in/out points) and the threads; everything the
analyst changes goes to the case (:mod:`media_core.case.store`), which saves, logs and undoes it.
"""
from __future__ import annotations


import os
import time
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QSettings, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QComboBox, QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox,
                               QProgressBar, QPushButton, QScrollArea, QToolBar, QWidget)

from media_core.case.store import Case
from media_core.clock import Clock
from media_core.errors import MediaCoreError
from media_core.io.video import fit_size

from . import jobs
from .case_state import CaseState
from .playback import FeedDecoder, MasterClock
from .qt_annotations import QtAnnotationsPanel
from .qt_sync import QtSyncPanel
from .qt_timeline import QtTimeline
from .qt_video_grid import QtVideoGrid
from .timefmt import fmt_time
from .workers import FunctionWorker, ProcessWorker

RATES = (0.25, 0.5, 1.0, 1.5, 2.0, 4.0)
SHUTTLE = (1.0, 2.0, 4.0)
MAX_RECENT = 8
MEDIA_EXT = {".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".mts", ".ts", ".wav", ".mp3", ".m4a", ".aac",
             ".flac", ".ogg", ".opus", ".3gp"}


def settings() -> QSettings:
    path = os.environ.get("EVIDENCE_AUDIT_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("EvidenceAudit", "evidence-audit-gui")


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
    frames_settled = Signal(int, float)  # seek generation, ms from seek to every tile showing its frame
    jobs_idle = Signal()                 # no background job left
    analysis_done = Signal(object)       # the analyze_feeds result (or None when cancelled)

    def __init__(self, *, audio: bool = True, analysis_in_process: bool = True):
        super().__init__()
        #: run mute/shot analysis and sync in a child process (the GUI never waits for the GIL)
        self.analysis_in_process = analysis_in_process
        self.setWindowTitle("Evidence Audit")
        self.resize(1500, 950)
        self.setAcceptDrops(True)
        self.case: Case | None = None
        self.state: CaseState | None = None
        self.clock = MasterClock()
        self.position = 0.0
        self.rate = 1.0
        self.in_point: float | None = None
        self.out_point: float | None = None
        self.selected_feed: int | None = None
        self.decoders: dict[int, FeedDecoder] = {}
        self._gen = 0
        self._pending: set[int] = set()
        self._seek_timer = QElapsedTimer()
        self.last_seek_ms: float | None = None
        self._workers: list[FunctionWorker] = []
        self._retired: list[FunctionWorker] = []  # analysis workers whose outcome is in, still winding down
        self._analysis: FunctionWorker | None = None
        self._play_start: dict[int, float] = {}
        self._shown: dict[int, set[int]] = {}
        self._reverse_busy = False
        self._last_overlay_ns = 0
        self.pool = QThreadPool.globalInstance()

        self.grid = QtVideoGrid()
        self.grid.tile_clicked.connect(self.select_feed)
        self.grid.tile_resized.connect(self._tile_resized)
        self.setCentralWidget(self.grid)
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
        self.resizeDocks([self.findChild(QDockWidget, "Timeline")], [300], Qt.Orientation.Vertical)
        self.resizeDocks([d_ann], [600], Qt.Orientation.Horizontal)
        self.resizeDocks([d_ann, d_sync], [330, 230], Qt.Orientation.Vertical)

        self.audio = None
        self.audio_available = False
        self.audio_choice: int | str | None = "selected"  # "selected" (follow the selected tile), None (off), feed id
        self.audio_notices: list[str] = []
        self._audio_src = None
        self._audio_rate_note = None
        self._build_actions()
        self._build_status()
        self.tick = QTimer(self)
        self.tick.setTimerType(Qt.TimerType.PreciseTimer)
        self.tick.setInterval(8)  # < 1/4 frame at 30 fps; 5 ms cost 60 % more wake-ups for nothing seen
        self.tick.timeout.connect(self._on_tick)
        self.monitor = LoopMonitor(self)
        self.monitor.start()
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(80)
        self._resize_timer.timeout.connect(self._apply_tile_sizes)
        if audio:
            self._init_audio()
        self._update_actions()

    # ================================================================== construction
    def _dock(self, w: QWidget, title: str, area) -> QDockWidget:
        d = QDockWidget(title, self)
        d.setObjectName(title)
        d.setWidget(w)
        d.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
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
        if self.audio is None or not self.audio.available:
            return
        fid = self.audio_feed_id()
        info = self.state.feed(fid) if fid is not None else None
        src = (info.path, info.clock) if info is not None else None
        if src != self._audio_src:
            self._audio_src = src
            self.audio.set_source(*(src if src is not None else (None, None)))
            self._follow_audio()

    def _follow_audio(self) -> None:
        """Start, re-seek or stop the audio to match the transport (audio plays at 1x only)."""
        if self.audio is None or not self.audio.available:
            return
        if self.clock.playing and self.rate == 1.0 and self._audio_src is not None:
            self._audio_rate_note = None
            self.audio.play(self.clock.now())
            return
        self.audio.stop()
        if self.clock.playing and self.rate != 1.0 and self._audio_rate_note != self.rate:
            self._audio_rate_note = self.rate
            self.statusBar().showMessage(f"audio muted at {self.rate:g}x (it plays at 1x only)", 5000)

    def _update_actions(self) -> None:
        has = self.case is not None
        self.a_add.setEnabled(has)
        self.a_analyze.setEnabled(has and self._analysis is None)
        self.a_cancel.setEnabled(bool(self._workers) or self._analysis is not None)
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
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
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
        self._incident_key = None
        self.timeline.set_state(self.state)
        self.annotations.set_state(self.state)
        self.sync_panel.set_state(self.state)
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
        self.cancel_jobs(wait=True)
        self._stop_decoders()
        for w in (self.timeline, self.annotations, self.sync_panel):
            w.state = None
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

    # ================================================================== feeds, decoders, jobs
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
        self._sync_decoders()
        self._start_prepare_jobs()
        self._start_incident_job()
        self._update_actions()
        self.seek(self.position, force=True)

    def _fit_timeline_dock(self) -> None:
        dock = self.findChild(QDockWidget, "Timeline")
        want = self.timeline.sizeHint().height() + 34
        self.resizeDocks([dock], [int(min(want, 0.45 * self.height()))], Qt.Orientation.Vertical)

    def _sync_decoders(self) -> None:
        want = {f.id: f for f in self.state.feeds if f.index is not None and len(f.index)}
        for fid in list(self.decoders):
            d = self.decoders[fid]
            if fid not in want or d.index is not want[fid].index:
                self.decoders.pop(fid).stop()
        was_playing = self.clock.playing
        for fid, f in want.items():
            if fid not in self.decoders:
                tile = self.grid.tiles[fid]
                size = fit_size(f.index.width, f.index.height, tile.width(), tile.height())
                d = FeedDecoder(fid, f.path, f.index, size=size)
                d.frame_ready.connect(lambda sf, gen, fid=fid: self._frame_ready(fid, sf, gen))
                d.failed.connect(lambda msg, fid=fid: self._decoder_failed(fid, msg))
                d.start()
                self.decoders[fid] = d
                tile.set_frame(None)
        if was_playing:
            self._restart_play()

    def _stop_decoders(self) -> None:
        for d in self.decoders.values():
            d.stop()
        self.decoders.clear()

    def _tile_resized(self, fid: int, w: int, h: int) -> None:
        self._resize_timer.start()

    def _apply_tile_sizes(self) -> None:
        changed = False
        for fid, d in self.decoders.items():
            tile = self.grid.tiles.get(fid)
            if tile is None:
                continue
            size = fit_size(d.index.width, d.index.height, tile.width(), tile.height())
            if size != d._size:
                d.set_output_size(size)
                changed = True
        if changed and not self.clock.playing:
            self.seek(self.position, force=True)

    def _decoder_failed(self, fid: int, msg: str) -> None:
        t = self.grid.tiles.get(fid)
        if t is not None:
            t.error = msg
            t.update()
        self._pending.discard(fid)
        self.statusBar().showMessage(msg, 10000)

    def _start_prepare_jobs(self) -> None:
        busy = {getattr(w, "feed_id", None) for w in self._workers}
        for f in self.state.feeds:
            if f.prepared or f.id in busy:
                continue
            w = FunctionWorker(jobs.prepare_feed, f.path)
            w.feed_id = f.id
            w.signals.result.connect(lambda res, fid=f.id: self._prepared(fid, res))
            w.signals.error.connect(lambda msg, fid=f.id: self._job_error(fid, msg))
            w.signals.finished.connect(lambda w=w: self._job_finished(w))
            self._workers.append(w)
            self.pool.start(w)
        self._update_progress()

    def _start_incident_job(self) -> None:
        """Recount incident-level shots (off the GUI thread: the matching imports scipy)."""
        shots, clocks = self.state.incident_inputs()
        key = repr((sorted((k, [s["time_s"] for s in v]) for k, v in shots.items()),
                    sorted((k, c.offset_s, c.drift_ppm) for k, c in clocks.items())))
        if key == getattr(self, "_incident_key", None):
            return
        self._incident_key = key
        if len(shots) == 0:
            self.state.set_incident(None)
            return
        w = FunctionWorker(jobs.incident_shots_job, shots, clocks)
        state = self.state
        w.signals.result.connect(lambda res, st=state, k=key: st.set_incident(res)
                                 if st is self.state and k == self._incident_key else None)
        w.signals.error.connect(lambda msg: self.statusBar().showMessage(f"incident shots: {msg.splitlines()[0]}", 8000))
        w.signals.finished.connect(lambda w=w: self._job_finished(w))
        self._workers.append(w)
        self.pool.start(w)

    def _prepared(self, fid: int, res: dict) -> None:
        if self.case is None or self.state is None or self.state.feed(fid) is None:
            return
        from media_core.analysis.envelope import ALGORITHM_VERSION as EV
        from media_core.io.video import ALGORITHM_VERSION as IV

        ix = res.get("video_index") or {"schema": None, "error": res.get("video_index_error", "no video")}
        with self.state.batch():
            self.case.store_analysis(fid, algorithm=jobs.ENVELOPE_ALGO, version=EV, params=jobs.ENVELOPE_PARAMS,
                                     result=res.get("envelope") or {"schema": None, "error": "no audio"})
            self.case.store_analysis(fid, algorithm=jobs.INDEX_ALGO, version=IV, params={}, result=ix)

    def _job_error(self, fid, msg: str) -> None:
        self.statusBar().showMessage(f"feed {fid}: {msg.splitlines()[0]}", 15000)

    def _job_finished(self, w: FunctionWorker) -> None:
        if w in self._workers:
            self._workers.remove(w)
        if w in self._retired:
            self._retired.remove(w)
        if w is self._analysis:
            self._analysis = None
        self._update_progress()
        self._update_actions()
        if not self.jobs_running():
            self.jobs_idle.emit()

    def preparing(self) -> bool:
        """Whether any feed is still being indexed (video index, waveform)."""
        return any(getattr(w, "feed_id", None) is not None for w in self._workers)

    def jobs_running(self) -> bool:
        return bool(self._workers) or self._analysis is not None or bool(self._retired)

    def _update_progress(self) -> None:
        busy = self.preparing() or self._analysis is not None  # short helper jobs show nothing
        self.progress.setVisible(busy)
        self.b_cancel.setVisible(busy)
        if busy and self._analysis is None:
            self.progress.setRange(0, 0)  # indeterminate: preparing feeds
            self.progress.setFormat("preparing feeds")
        elif self._analysis is not None:
            self.progress.setRange(0, 1000)

    # ---------------------------------------------------------------- analysis
    def start_analysis(self, *, only_missing: bool = True, force: bool = False) -> FunctionWorker | None:
        """Analyse (mutes, shots) the feeds lacking a current analysis and sync the case, in the background.

        Returns the worker, or None when there is nothing to do (or a run is already going).
        """
        if self.case is None or self._analysis is not None or not self.state.feeds:
            return None
        from media_core import pipeline

        feeds = self.case.feeds
        todo = [f for f in feeds if force or pipeline.stored_analysis(self.case, f.id) is None]
        synced = all(self.case.sync_info(f.id) is not None or f.id == self.case.reference_feed_id for f in feeds)
        need_sync = len(feeds) > 1 and (force or not synced or not only_missing)
        if only_missing and not todo and not need_sync:
            self.statusBar().showMessage("every feed is analysed and synced already", 5000)
            return None
        sync_inputs = None
        if need_sync:
            sync_inputs = []
            for f in feeds:
                stored = self.case.get_analysis(f.id, algorithm=pipeline.ANALYSIS_ALGORITHM)
                sync_inputs.append({
                    "feed_id": f.id, "path": f.path, "probe": f.probe, "has_audio": f.has_audio,
                    "features": pipeline.load_sync_features(self.case, f) if f.has_audio and f not in todo else None,
                    "shots": (stored or {}).get("shots") if stored else None})
        ref = self.case.reference_feed_id
        ref_path = self.case.feed(ref).path if ref is not None else None
        worker_cls = ProcessWorker if self.analysis_in_process else FunctionWorker
        w = worker_cls(jobs.analyze_feeds, todo, sync_inputs=sync_inputs, reference=ref_path)
        w.signals.progress.connect(self._analysis_progress)
        w.signals.partial.connect(self._analysis_partial)
        w.signals.result.connect(self._analysis_result)
        w.signals.cancelled.connect(self._analysis_cancelled)
        w.signals.error.connect(self._analysis_error)
        w.signals.finished.connect(lambda w=w: self._job_finished(w))
        self._analysis = w
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self._last_progress_msg = None
        self._update_progress()
        self._update_actions()
        self.pool.start(w)
        return w

    def _analysis_over(self) -> None:
        """The analysis reported its outcome: the GUI is free now, though the child may still be exiting."""
        if self._analysis is not None:
            self._retired.append(self._analysis)  # keep the runnable alive until its `finished`
            self._analysis = None
        self._update_progress()
        self._update_actions()

    def _analysis_cancelled(self) -> None:
        self._analysis_over()
        self.statusBar().showMessage("analysis cancelled; the feeds already finished are kept", 8000)
        self.analysis_done.emit(None)

    def _analysis_error(self, msg: str) -> None:
        self._analysis_over()
        self.statusBar().showMessage(f"analysis failed: {msg.splitlines()[0]}", 30000)
        self.analysis_done.emit(None)

    def _analysis_progress(self, frac: float, msg: str) -> None:
        # the child reports often; repaint the bar only for a visible change (0.5 %) or a new message
        v = int(1000 * frac)
        if msg == getattr(self, "_last_progress_msg", None) and abs(v - self.progress.value()) < 5:
            return
        self._last_progress_msg = msg
        self.progress.setRange(0, 1000)
        self.progress.setValue(v)
        self.progress.setFormat(f"{msg} %p%")
        self.statusBar().showMessage(msg)

    def _analysis_partial(self, item) -> None:
        """Store a finished piece in the case (GUI thread), exactly as media_core.pipeline does."""
        if self.case is None:
            return
        what, fid, res = item
        from media_core import pipeline

        with self.state.batch():
            if what == "analysis" and self.state.feed(fid) is not None:
                pipeline.store_feed_analysis(self.case, res)
            elif what == "features" and self.state.feed(fid) is not None:
                pipeline.save_sync_features(self.case, self.case.feed(fid), res)
            elif what == "sync":
                self.apply_sync(res)

    def apply_sync(self, doc: dict) -> None:
        """Put the feeds on the clocks of an ``evidence-audit.sync/1`` document (mirrors pipeline.sync_case)."""
        with self.state.batch():
            self._apply_sync(doc)

    def _apply_sync(self, doc: dict) -> None:
        from media_core import pipeline

        by_path = {os.path.abspath(f.path): f for f in self.state.feeds}
        ref = by_path.get(os.path.abspath(doc["reference"])) if doc.get("reference") else None
        if ref is not None and self.case.reference_feed_id != ref.id:
            self.case.reference_feed_id = ref.id
        for entry in doc.get("feeds", []):
            f = by_path.get(os.path.abspath(entry["path"]))
            if f is None or entry.get("offset_s") is None:
                continue
            self.case.set_clock(f.id, Clock(entry["offset_s"], entry.get("drift_ppm") or 0.0),
                                method=entry.get("method") or "sync",
                                confidence=float(entry.get("confidence") or 0.0),
                                evidence=dict(entry.get("evidence") or {}))
        if ref is not None:
            self.case.store_analysis(ref.id, algorithm=pipeline.SYNC_ALGORITHM, version=doc.get("schema", ""),
                                     params={}, result=doc)

    def _analysis_result(self, out: dict) -> None:
        self._analysis_over()
        errs = out.get("errors") or []
        self.statusBar().showMessage("analysis finished" + (f" ({'; '.join(errs)})" if errs else ""), 15000)
        self.analysis_done.emit(out)

    def cancel_jobs(self, wait: bool = False) -> None:
        for w in list(self._workers) + ([self._analysis] if self._analysis else []):
            w.cancel()
        if wait:
            self.pool.waitForDone(30000)
            from PySide6.QtCore import QCoreApplication

            QCoreApplication.processEvents()

    # ================================================================== transport
    @property
    def tiles(self):
        return self.grid.tiles

    def select_feed(self, fid: int) -> None:
        self.selected_feed = fid
        self.sync_panel.select_feed(fid)
        for k, t in self.grid.tiles.items():
            t.selected = k == fid
            t.update()
        self.timeline.selected_feed = fid
        self.timeline.update()
        self._update_audio_source()

    def _update_tile_overlay(self, fid: int, t: float) -> tuple[float, bool]:
        info = self.state.feed(fid)
        tile = self.grid.tiles[fid]
        media = info.clock.to_media(t)
        tile.media_s, tile.shared_s = media, t
        m = info.mute_at(media)
        tile.muted_kind = m.kind if m is not None else None
        covered = info.index is not None and info.index.index_at(media) is not None
        tile.no_footage = info.prepared and info.index is not None and not covered
        return media, covered

    def seek(self, t: float, *, force: bool = False) -> int:
        """Show every feed at shared time ``t``. Returns the seek generation."""
        self.position = float(t)
        self.clock.set(self.position)
        self._gen += 1
        gen = self._gen
        self._seek_timer.start()
        self._pending = set()
        if self.state is not None:
            for fid, tile in self.grid.tiles.items():
                media, covered = self._update_tile_overlay(fid, self.position)
                d = self.decoders.get(fid)
                if d is None or not covered:
                    if tile.no_footage:
                        tile.set_frame(None)
                    tile.update()
                    continue
                i = d.index.index_at(media)
                if not force and tile.frame_index == i and tile.image is not None and not self.clock.playing:
                    tile.update()
                    continue
                if not self.clock.playing:
                    d.request_seek(media, gen)
                    self._pending.add(fid)
        if self.clock.playing:
            self._restart_play()
        self._after_move()
        if not self._pending:
            self.last_seek_ms = self._seek_timer.nsecsElapsed() / 1e6
            QTimer.singleShot(0, lambda g=gen, ms=self.last_seek_ms: self._emit_settled(g, ms))
        return gen

    def _emit_settled(self, gen: int, ms: float) -> None:
        if gen == self._gen:
            self.frames_settled.emit(gen, ms)

    def _frame_ready(self, fid: int, sf, gen: int) -> None:
        if gen != self._gen or (self.clock.playing and self.rate > 0):
            return
        tile = self.grid.tiles.get(fid)
        if tile is None:
            return
        tile.set_frame(sf)
        if fid in self._pending:
            self._pending.discard(fid)
            if not self._pending:
                self.last_seek_ms = self._seek_timer.nsecsElapsed() / 1e6
                self.frames_settled.emit(gen, self.last_seek_ms)

    def _after_move(self) -> None:
        self.timeline.set_position(self.position)
        end = self.state.shared_range()[1] if self.state else 0.0
        sel = ""
        if self.in_point is not None or self.out_point is not None:
            sel = f"  in {fmt_time(self.in_point)} out {fmt_time(self.out_point)}"
        self.time_label.setText(f"{fmt_time(self.position)} / {fmt_time(end)}  {self.rate:g}x{sel}")

    def _feed_for_step(self):
        if self.state is None:
            return None
        info = self.state.feed(self.selected_feed) if self.selected_feed is not None else None
        if info is None or info.index is None:
            info = next((f for f in self.state.feeds if f.index is not None and len(f.index)), None)
        return info

    def step_frames(self, n: int) -> None:
        """Move the playhead ``n`` frames of the selected feed (its exact frame times)."""
        self.pause()
        info = self._feed_for_step()
        if info is None:
            return
        ix = info.index
        media = info.clock.to_media(self.position)
        i = ix.index_at(media)
        if i is None:
            i = ix.nearest_index(media) if media > ix.start_s else -1
            j = i + n if n > 0 else i + n + 1
        else:
            j = i + n
        j = min(max(j, 0), len(ix) - 1)
        target_media = ix.times_s[j] + min(1e-4, 0.25 * ix.durations_s[j])
        self.seek(info.clock.to_shared(target_media))

    def step_seconds(self, s: float) -> None:
        self.pause()
        self.seek(self.position + s)

    def toggle_play(self) -> None:
        if self.clock.playing:
            self.pause()
        else:
            self.play()

    def play(self, rate: float | None = None) -> None:
        if self.state is None or not self.state.feeds:
            return
        if rate is not None:
            self.rate = float(rate)
        a, b = self.state.shared_range()
        if self.rate > 0 and self.position >= b - 1e-3:
            self.seek(a)
        self.clock.set(self.position)
        self.clock.play(self.rate)
        self._restart_play()
        self._shown = {fid: set() for fid in self.decoders}
        self._play_start = {fid: self.state.feed(fid).clock.to_media(self.position) for fid in self.decoders}
        self._play_start_shared = self.position
        self.tick.start()
        self.b_play.setText("❚❚ Pause")

    def _restart_play(self) -> None:
        self._gen += 1
        self._pending = set()
        self._follow_audio()
        if self.clock.rate < 0:
            for d in self.decoders.values():
                d.stop_playing()
            return
        for fid, d in self.decoders.items():
            info = self.state.feed(fid)
            d.start_playing(info.clock.to_media(self.clock.now()), self._gen,
                            media_now=lambda info=info: info.clock.to_media(self.clock.now()))

    def pause(self) -> None:
        if not self.clock.playing:
            return
        t = self.clock.pause()
        self.tick.stop()
        self._follow_audio()
        self._play_end_shared = t
        for d in self.decoders.values():
            d.stop_playing()
        self.b_play.setText("▶ Play")
        self.seek(t)

    def set_rate(self, rate: float) -> None:
        self.rate = float(rate)
        if self.clock.playing:
            self.clock.set_rate(self.rate)
            self._restart_play()
        i = self.rate_box.findData(abs(self.rate))
        if i >= 0 and self.rate_box.currentIndex() != i:
            self.rate_box.blockSignals(True)
            self.rate_box.setCurrentIndex(i)
            self.rate_box.blockSignals(False)
        self._after_move()

    def shuttle_forward(self) -> None:
        if self.clock.playing and self.rate > 0:
            nxt = [r for r in SHUTTLE if r > self.rate]
            self.set_rate(nxt[0] if nxt else SHUTTLE[-1])
        elif self.clock.playing and self.rate < 0:
            self.pause()
        else:
            self.play(1.0)

    def shuttle_back(self) -> None:
        if self.clock.playing and self.rate < 0:
            nxt = [r for r in SHUTTLE if r > -self.rate]
            self.set_rate(-(nxt[0] if nxt else SHUTTLE[-1]))
        elif self.clock.playing:
            self.pause()
        else:
            self.play(-1.0)

    def _on_tick(self) -> None:
        if not self.clock.playing or self.state is None:
            return
        t = self.clock.now()
        a, b = self.state.shared_range()
        if (self.rate > 0 and t >= b) or (self.rate < 0 and t <= a):
            self.clock.set(min(max(t, a), b))
            self.pause()
            return
        self.position = t
        now_ns = self._seek_timer.nsecsElapsed()
        overlay = now_ns - self._last_overlay_ns > 40_000_000
        if self.rate < 0:
            # backwards: repeated exact seeks, shown as they arrive (decoders only play forward)
            if overlay:
                self._last_overlay_ns = now_ns
                for fid, d in self.decoders.items():
                    media, covered = self._update_tile_overlay(fid, t)
                    if covered:
                        d.request_seek(media, self._gen)
                self._after_move()
            return
        for fid, tile in self.grid.tiles.items():
            info = self.state.feed(fid)
            media = info.clock.to_media(t)
            d = self.decoders.get(fid)
            changed = False
            if d is not None:
                sf = d.take_due(media)
                if sf is not None and sf.index != tile.frame_index and sf.pts_s <= media:
                    tile.set_frame(sf, repaint=False)
                    self._shown.setdefault(fid, set()).add(sf.index)
                    changed = True
            if changed or overlay:
                self._update_tile_overlay(fid, t)
                if tile.no_footage and tile.image is not None:
                    tile.set_frame(None)
                tile.update()
        if overlay:
            self._last_overlay_ns = now_ns
            self._after_move()

    def play_stats(self) -> dict[int, tuple[int, int]]:
        """Per feed ``(frames due, frames shown)`` over the last playback (1x drop accounting)."""
        out = {}
        end_shared = getattr(self, "_play_end_shared", self.position)
        for fid, shown in self._shown.items():
            info = self.state.feed(fid)
            if info is None or info.index is None:
                continue
            ix = info.index
            m0, m1 = self._play_start.get(fid, 0.0), info.clock.to_media(end_shared)
            i0 = ix.index_at(m0)
            i0 = i0 if i0 is not None else int(__import__("numpy").searchsorted(ix.times_s, m0))
            i1 = ix.nearest_index(m1)
            due = max(0, i1 - i0 + 1) if m1 > ix.start_s and m0 < ix.end_s else 0
            out[fid] = (due, len(shown))
        return out

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
        info = self._feed_for_step()
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
