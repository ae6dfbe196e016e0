"""The Export dialog: the review video and clips, with the options of ``evidence-audit export``.

The dialog only collects choices and shows progress. The work is the core's: on the GUI thread
(which owns the case) :func:`~media_core.export.review_video.plan_review` /
:func:`~media_core.export.clips.plan_clips` check the originals and read the case; the rendering
(:func:`~media_core.export.review_video.render_review` / :func:`~media_core.export.clips.render_clips`,
which never touch the case) runs in a pool thread through :class:`~audit_gui.workers.ThreadWorker`
with progress (and its ETA) and cancel; the result is written to the audit log on the GUI thread
(:func:`~media_core.export.review_video.record_export`), as the CLI does.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from media_core.errors import MediaCoreError

from .workers import ThreadWorker

SIZES = [("1280x720", (1280, 720)), ("1920x1080", (1920, 1080)), ("960x540", (960, 540)), ("640x360", (640, 360))]


class QtExportDialog(QDialog):
    """Export a review video (``kind="review"``) or clips (``kind="clips"``) from the open case."""

    finished_export = Signal(object)   # the ExportResult, after it is in the audit log
    failed = Signal(str)

    def __init__(self, case, timeline, *, kind: str = "review", start_s: float | None = None,
                 end_s: float | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.case, self.timeline, self.kind = case, timeline, kind
        self.setWindowTitle("Export review video" if kind == "review" else "Export clips")
        self.worker: ThreadWorker | None = None
        self.result = None
        self.last_error: str | None = None
        a, b = timeline.shared_range()
        lay = QVBoxLayout(self)
        form = QFormLayout()
        lay.addLayout(form)

        row = QHBoxLayout()
        self.folder = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row.addWidget(self.folder)
        row.addWidget(browse)
        form.addRow("Folder", row)
        self.start = QDoubleSpinBox()
        self.end = QDoubleSpinBox()
        for w, v in ((self.start, a if start_s is None else start_s), (self.end, b if end_s is None else end_s)):
            w.setRange(-86400.0, 86400.0)
            w.setDecimals(3)
            w.setSuffix(" s")
            w.setValue(v)
        form.addRow("From (shared clock)", self.start)
        form.addRow("To (shared clock)", self.end)
        self.feeds = QListWidget()
        for f in timeline.feeds:
            it = QListWidgetItem(f"{f.id}: {f.label}")  # plain text: labels are never markup
            it.setData(Qt.ItemDataRole.UserRole, f.id)
            it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(Qt.CheckState.Checked)
            self.feeds.addItem(it)
        self.feeds.setMaximumHeight(110)
        form.addRow("Feeds", self.feeds)
        if kind == "review":
            self.layout_box = QComboBox()
            self.layout_box.addItem("Grid", "grid")
            self.layout_box.addItem("Row with a large main feed", "main")
            form.addRow("Layout", self.layout_box)
            self.main_box = QComboBox()
            for f in timeline.feeds:
                self.main_box.addItem(f.label, f.id)
            if timeline.reference_feed_id is not None:
                self.main_box.setCurrentIndex(max(0, self.main_box.findData(timeline.reference_feed_id)))
            form.addRow("Main feed", self.main_box)
            self.size_box = QComboBox()
            for name, s in SIZES:
                self.size_box.addItem(name, s)
            form.addRow("Resolution", self.size_box)
            self.fps = QDoubleSpinBox()
            self.fps.setRange(0.0, 60.0)
            self.fps.setDecimals(3)
            self.fps.setSpecialValueText("fastest feed's")
            self.fps.setValue(0.0)
            form.addRow("Frame rate", self.fps)
            self.audio_box = QComboBox()
            self.audio_box.addItem("Reference feed (default)", None)
            for f in timeline.feeds:
                if f.has_audio:
                    self.audio_box.addItem(f"Only {f.label}", [f.id])
            self.audio_box.addItem("Mix of the chosen feeds", "mix")
            self.audio_box.addItem("No audio", [])
            form.addRow("Audio", self.audio_box)
        else:
            self.mode_box = QComboBox()
            self.mode_box.addItem("Exact (frame-accurate re-encode)", "exact")
            self.mode_box.addItem("Fast (stream copy, cut at keyframes)", "fast")
            form.addRow("Mode", self.mode_box)
        self.allow_changed = QCheckBox("Export even from a changed original (recorded in the manifest)")
        form.addRow("", self.allow_changed)

        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        lay.addWidget(self.bar)
        lay.addWidget(self.status)
        self.buttons = QDialogButtonBox()
        self.b_export = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.b_cancel = self.buttons.addButton("Cancel export", QDialogButtonBox.ButtonRole.ActionRole)
        self.b_close = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.b_cancel.setEnabled(False)
        self.b_export.clicked.connect(self.start_export)
        self.b_cancel.clicked.connect(self.cancel)
        self.b_close.clicked.connect(self.close)
        lay.addWidget(self.buttons)

    # ------------------------------------------------------------------ choices
    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Export to folder (new or empty)")
        if d:
            self.folder.setText(d)

    def chosen_feeds(self) -> list[int]:
        return [self.feeds.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.feeds.count())
                if self.feeds.item(i).checkState() == Qt.CheckState.Checked]

    def options(self):
        if self.kind == "review":
            from media_core.export.review_video import ReviewOptions

            audio = self.audio_box.currentData()
            if audio == "mix":
                audio = [fid for fid in self.chosen_feeds() if self.timeline.feed(fid).has_audio]
            return ReviewOptions(feeds=self.chosen_feeds(), start_s=self.start.value(), end_s=self.end.value(),
                                 layout=self.layout_box.currentData(), main_feed=self.main_box.currentData(),
                                 size=self.size_box.currentData(), fps=self.fps.value() or None, audio=audio,
                                 allow_changed=self.allow_changed.isChecked())
        from media_core.export.clips import ClipOptions

        return ClipOptions(start_s=self.start.value(), end_s=self.end.value(), feeds=self.chosen_feeds(),
                           mode=self.mode_box.currentData(), allow_changed=self.allow_changed.isChecked())

    # ------------------------------------------------------------------ running
    def start_export(self) -> ThreadWorker | None:
        """Plan on this (the case's) thread, render in a pool thread; returns the worker."""
        if self.worker is not None:
            return self.worker
        folder = self.folder.text().strip()
        if not folder:
            self._fail("choose a folder to export to")
            return None
        try:
            if self.kind == "review":
                from media_core.export.review_video import plan_review, render_review

                plan, fn = plan_review(self.case, folder, self.options(), timeline=self.timeline), render_review
            else:
                from media_core.export.clips import plan_clips, render_clips

                plan, fn = plan_clips(self.case, folder, self.options(), timeline=self.timeline), render_clips
        except MediaCoreError as exc:
            self._fail(str(exc))
            return None
        w = ThreadWorker(fn, plan)
        w.signals.progress.connect(self._progress)
        w.signals.returned.connect(self._done)
        w.signals.errored.connect(lambda e: self._fail(str(e).split("\n\n")[0]))
        w.signals.cancelled.connect(lambda: self._end("cancelled: nothing was left in the folder"))
        self.worker = w
        self.b_export.setEnabled(False)
        self.b_cancel.setEnabled(True)
        self.status.setText("starting…")
        w.start()
        return w

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.quit()

    def _progress(self, fraction: float, message: str) -> None:
        self.bar.setValue(int(1000 * fraction))
        self.status.setText(message)

    def _done(self, result) -> None:
        from media_core.export.review_video import record_export

        try:
            record_export(self.case, result)
        except MediaCoreError as exc:
            self._fail(f"made, but not recorded in the audit log: {exc}")
            return
        self.result = result
        self.bar.setValue(1000)
        notes = "".join(f"\nnote: {n}" for n in result.notes)
        self._end(f"wrote {len(result.outputs)} file(s) and manifest.json to {result.folder}{notes}")
        self.finished_export.emit(result)

    def _fail(self, text: str) -> None:
        self.last_error = text
        self._end(f"export failed: {text}")
        self.failed.emit(text)

    def _end(self, text: str) -> None:
        self.worker = None
        self.status.setText(text)
        self.b_export.setEnabled(True)
        self.b_cancel.setEnabled(False)

    def closeEvent(self, ev):  # noqa: N802 - Qt's name
        if self.worker is not None:
            w = self.worker
            w.quit()
            from PySide6.QtCore import QThreadPool

            QThreadPool.globalInstance().waitForDone(20000)
            del w
        super().closeEvent(ev)
