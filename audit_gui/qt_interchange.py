"""Annotation interchange in the app: "Annotations (ELAN, OTIO, WebVTT, CSV, JSON)..." export and
"Import annotations..." with its preview, added to a menu by :func:`add_actions`.

Every action is a core call (:mod:`media_core.export.interchange`, :mod:`media_core.case.importing`):
the files are written and read in a pool thread (:class:`~audit_gui.workers.ThreadWorker`) from a
timeline built on the GUI thread; the GUI thread logs the export and applies the import (one
transaction), as it owns the case.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from audit_gui.workers import ThreadWorker

EXPORT_TEXT = "Annotations (ELAN, OTIO, WebVTT, CSV, JSON)…"
IMPORT_TEXT = "Import annotations…"
FORMAT_NAMES = {"eaf": "ELAN (.eaf, EAF 3.0)", "otio": "OpenTimelineIO (.otio: Resolve, Premiere)",
                "vtt": "WebVTT (one per feed + shared clock)", "csv": "CSV table", "json": "JSON table"}


def add_actions(menu, window) -> tuple[QAction, QAction]:
    """Add the export and import actions to ``menu`` (a QMenu) for ``window`` (the MainWindow)."""
    exp = menu.addAction(EXPORT_TEXT)
    exp.triggered.connect(lambda: export_dialog(window))
    imp = menu.addAction(IMPORT_TEXT)
    imp.triggered.connect(lambda: import_dialog(window))
    return exp, imp


def _keep(window, worker: ThreadWorker) -> ThreadWorker:
    jobs = window.__dict__.setdefault("_interchange_jobs", [])
    jobs.append(worker)
    worker.signals.finished.connect(lambda: jobs.remove(worker) if worker in jobs else None)
    return worker


def _error(window, title: str, exc) -> None:
    text = str(exc).split("\n\n", 1)[0]
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, window)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.open()


def _status(window, text: str) -> None:
    bar = window.statusBar() if hasattr(window, "statusBar") else None
    if bar is not None:
        bar.showMessage(text, 10000)


# ---------------------------------------------------------------------------------- export
def start_export(window, fmt: str, out_dir, *, on_done=None) -> ThreadWorker | None:
    """Write ``fmt`` into ``out_dir`` off the GUI thread; the GUI thread logs it in the case."""
    from media_core.export.interchange import export_context, record_export, write_files

    if window.case is None:
        _error(window, "Export annotations", "Open a case first.")
        return None
    case = window.case
    tl = window.state.timeline if window.state is not None else None
    if tl is None:
        from media_core.case.timeline import build_timeline

        tl = build_timeline(case)
    w = ThreadWorker(write_files, tl, fmt=fmt, out_dir=str(out_dir), **export_context(case))

    def done(res):
        record_export(case, res)
        _status(window, f"Exported {res['rows']} item(s) as {fmt} to {out_dir}")
        if on_done:
            on_done(res)

    w.signals.returned.connect(done)
    w.signals.errored.connect(lambda e: _error(window, "Export annotations", e))
    return _keep(window, w).start()


class QtExportAnnotations(QDialog):
    """Choose a format and a folder."""

    def __init__(self, window, parent: QWidget | None = None):
        super().__init__(parent or window)
        self.setWindowTitle("Export annotations")
        self.fmt = QComboBox()
        for k, v in FORMAT_NAMES.items():
            self.fmt.addItem(v, k)
        self.folder = QLineEdit(str(Path(window.case.path).parent / "exports") if window.case else "")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Format", self.fmt)
        form.addRow("Folder", row)
        note = QLabel("Body-cam video is often variable frame rate: in an editor the alignment is exact to a frame "
                      "at best. Mutes and shots go along as their own tiers, markers or cues.")
        note.setWordWrap(True)
        note.setTextFormat(Qt.TextFormat.PlainText)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addWidget(bb)

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Export into folder", self.folder.text())
        if d:
            self.folder.setText(d)


def export_dialog(window) -> None:
    if window.case is None:
        _error(window, "Export annotations", "Open a case first.")
        return
    dlg = QtExportAnnotations(window)
    if dlg.exec() == QDialog.DialogCode.Accepted and dlg.folder.text().strip():
        start_export(window, dlg.fmt.currentData(), dlg.folder.text().strip())


# ---------------------------------------------------------------------------------- import
def _read_and_preview(path: str, tl, include_measured: bool, case_name: str, *, progress=None, should_stop=None):
    from media_core.case.importing import preview_import, read_annotation_file

    return preview_import(tl, read_annotation_file(path), include_measured=include_measured, case_name=case_name)


def start_import_preview(window, path, *, include_measured: bool = False, on_preview=None) -> ThreadWorker | None:
    """Read and preview ``path`` off the GUI thread; ``on_preview(preview)`` runs on the GUI thread."""
    from media_core.case.timeline import build_timeline

    if window.case is None:
        _error(window, "Import annotations", "Open a case first.")
        return None
    tl = window.state.timeline if window.state is not None else build_timeline(window.case)
    w = ThreadWorker(_read_and_preview, str(path), tl, include_measured, window.case.name)
    if on_preview is not None:
        w.signals.returned.connect(on_preview)
    w.signals.errored.connect(lambda e: _error(window, "Import annotations", e))
    return _keep(window, w).start()


class QtImportPreview(QDialog):
    """What an import will add and skip; Import applies it in one transaction."""

    def __init__(self, window, preview, parent: QWidget | None = None):
        super().__init__(parent or window)
        self.window_, self.preview = window, preview
        self.added: list = []
        self.setWindowTitle(f"Import annotations from {preview.name}")
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setPlainText("\n".join(preview.lines()))
        self.measured = QCheckBox("Also import mutes and shots as annotations (they are measurements)")
        self.measured.setChecked(preview.include_measured)
        self.measured.setEnabled(bool(preview.measured))
        self.measured.toggled.connect(self._remeasure)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.import_button = self.buttons.addButton(f"Import {len(preview.items)}",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setEnabled(bool(preview.items))
        self.buttons.accepted.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text)
        lay.addWidget(self.measured)
        lay.addWidget(self.buttons)
        self.resize(640, 420)

    def _remeasure(self, on: bool) -> None:
        self.import_button.setEnabled(False)

        def show(pv):
            self.preview = pv
            self.text.setPlainText("\n".join(pv.lines()))
            self.import_button.setText(f"Import {len(pv.items)}")
            self.import_button.setEnabled(bool(pv.items))

        start_import_preview(self.window_, self.preview.source, include_measured=on, on_preview=show)

    def apply(self) -> None:
        from media_core.case.importing import apply_import
        from media_core.errors import MediaCoreError

        try:
            self.added = apply_import(self.window_.case, self.preview)
        except MediaCoreError as exc:
            _error(self, "Import annotations", exc)
            return
        _status(self.window_, f"Imported {len(self.added)} annotation(s) from {self.preview.name}")
        self.accept()


def import_dialog(window) -> None:
    if window.case is None:
        _error(window, "Import annotations", "Open a case first.")
        return
    path, _ = QFileDialog.getOpenFileName(window, "Import annotations", "",
                                          "Annotations (*.eaf *.csv *.tsv *.txt *.vtt *.otio *.json);;All files (*)")
    if path:
        start_import_preview(window, path, on_preview=lambda pv: QtImportPreview(window, pv).open())
