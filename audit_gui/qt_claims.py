"""The claims panel: public claims beside the measurements, and the commission-report export.

Every action is a core call: :meth:`Case.add_claim` / :meth:`Case.delete_claim` (audit-logged,
undoable with the case's undo), :func:`media_core.case.claims.check_claims` against the case's
timeline, and :func:`media_core.export.report.export_report` run off the GUI thread (the export
is recorded in the case's log on the GUI thread when it returns).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from media_core.case.claims import check_claims
from media_core.case.store import CLAIM_KINDS

STATUS_COLORS = {"consistent": QColor(205, 235, 205), "inconsistent": QColor(245, 200, 200),
                 "not measurable": QColor(230, 230, 230)}
_TIME_KINDS = ("mute_after_first_shot_s", "mute_after_last_shot_s", "time_first_sight_to_first_shot_s",
               "shots_duration_s")


class ClaimDialog(QDialog):
    """Source, quote, kind and the stated value (a number, or a low..high range) of a new claim."""

    def __init__(self, feeds: list[tuple[int, str]], annotations: list[tuple[str, str]], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Add claim")
        form = QFormLayout(self)
        self.source = QLineEdit()
        self.quote = QLineEdit()
        self.kind = QComboBox()
        self.kind.addItems(CLAIM_KINDS)
        self.value = QDoubleSpinBox(decimals=2, maximum=1e6)
        self.low = QDoubleSpinBox(decimals=2, maximum=1e6)
        self.high = QDoubleSpinBox(decimals=2, maximum=1e6)
        self.feed = QComboBox()
        self.feed.addItem("(no feed)", None)
        for fid, label in feeds:
            self.feed.addItem(label, fid)
        self.annotation = QComboBox()
        self.annotation.addItem("(none)", None)
        for aid, text in annotations:
            self.annotation.addItem(text, aid)
        for label, w in (("Source document", self.source), ("Quoted sentence", self.quote), ("Claim", self.kind),
                         ("Stated value", self.value), ("or range from", self.low), ("to", self.high),
                         ("Feed", self.feed), ("First sight (annotation)", self.annotation)):
            form.addRow(label, w)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def claim_args(self) -> dict:
        """The keyword arguments of :meth:`Case.add_claim` for what was entered."""
        kind = self.kind.currentText()
        value: dict = {}
        if self.high.value() > self.low.value():
            value = {"low": self.low.value(), "high": self.high.value()}
        elif kind == "mute_exists":
            value = {"value": True}
        elif kind != "free_text":
            value = {"value": self.value.value()}
        return {"source": self.source.text(), "quote": self.quote.text(), "kind": kind, "value": value,
                "feed_id": self.feed.currentData(), "annotation_id": self.annotation.currentData()}


class QtClaimsPanel(QWidget):
    """Every claim of the case with its check: measured value ± uncertainty, status, why."""

    seek_requested = Signal(float)

    HEADERS = ["source", "quote", "claim", "measured", "status", "why"]

    def __init__(self, state=None, parent=None):
        super().__init__(parent)
        self.state = state
        self.table = QTableWidget(0, len(self.HEADERS))
        self.table.setHorizontalHeaderLabels(self.HEADERS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.b_add = QPushButton("Add claim…")
        self.b_del = QPushButton("Delete")
        self.b_add.clicked.connect(self.add_dialog)
        self.b_del.clicked.connect(self.delete_selected)
        row = QHBoxLayout()
        row.addWidget(self.b_add)
        row.addWidget(self.b_del)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.table)
        lay.addLayout(row)
        self._ids: list[str] = []
        self.checks: list = []

    def set_state(self, state) -> None:
        if self.state is not None:
            for sig in (self.state.annotations_changed, self.state.feeds_changed, self.state.incident_changed):
                try:
                    sig.disconnect(self.refresh)
                except (RuntimeError, TypeError):
                    pass
        self.state = state
        if state is not None:
            state.annotations_changed.connect(self.refresh)  # the case emits it for claims too
            state.feeds_changed.connect(self.refresh)
            state.incident_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        if self.state is None:
            self.table.setRowCount(0)
            self._ids, self.checks = [], []
            return
        claims = self.state.case.claims
        self.checks = check_claims(claims, self.state.timeline)
        self._ids = [c.id for c in claims]
        self.table.setRowCount(len(claims))
        for r, (c, k) in enumerate(zip(claims, self.checks)):
            meas = "—" if k.measured is None else (
                (f"{k.measured[0]}" if k.measured[0] == k.measured[1] else f"{k.measured[0]}–{k.measured[1]}")
                if isinstance(k.measured, tuple) else str(k.measured))
            if k.uncertainty is not None and k.measured is not None:
                meas += f" ± {k.uncertainty:g}"
            if k.unit and k.measured is not None:
                meas += f" {k.unit}"
            for col, v in enumerate((c.source, c.quote, c.kind, meas, k.status, k.reason)):
                it = QTableWidgetItem(v)  # plain text: never rich text
                it.setToolTip(v)
                if col == 4:
                    it.setBackground(STATUS_COLORS.get(k.status, QColor(255, 255, 255)))
                    it.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(r, col, it)
        self.table.resizeColumnsToContents()
        for col in range(self.table.columnCount() - 1):  # long quotes stay readable in their tooltip
            self.table.setColumnWidth(col, min(self.table.columnWidth(col), 220))

    def add_dialog(self) -> None:
        if self.state is None:
            return
        dlg = ClaimDialog([(f.id, f.label) for f in self.state.timeline.feeds],
                          [(a.id, a.text or a.category) for a in self.state.timeline.annotations], self)
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.add_claim(**dlg.claim_args())

    def add_claim(self, **kwargs):
        """Record a claim in the case (a core call; errors go to the window's warning)."""
        from media_core.errors import MediaCoreError

        try:
            return self.state.case.add_claim(**kwargs)
        except MediaCoreError as exc:
            win = self.window()
            if hasattr(win, "_warn"):
                win._warn("Claim not recorded", str(exc))
            return None

    def delete_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        for r in rows:
            self.state.case.delete_claim(self._ids[r])  # undoable with Ctrl+Z


def add_report_action(menu, window) -> None:
    """Add "Commission report (PDF/A, CSV, JSON)…" to ``menu`` (the window's Export menu)."""
    menu.addAction("Commission report (PDF/A, CSV, JSON)…", lambda: export_report_dialog(window))


def export_report_dialog(window, out_dir: str | None = None):
    """Ask for a folder (unless given) and export the report off the GUI thread; returns the worker."""
    from PySide6.QtWidgets import QFileDialog

    from media_core.export.report import export_report

    from .workers import ThreadWorker

    if window.case is None:
        return None
    if out_dir is None:
        out_dir = QFileDialog.getExistingDirectory(window, "Folder for the report")
        if not out_dir:
            return None
    case = window.case
    w = ThreadWorker(export_report, case, out_dir, record=False)

    def done(res):
        if window.case is case:
            case.record_event("export.report", res["log"])  # on the GUI thread, which owns the case
        extra = f" ({'; '.join(res['warnings'])})" if res["warnings"] else ""
        window.statusBar().showMessage(f"report written to {res['out']}{extra}", 15000)
        window.last_report = res

    w.signals.returned.connect(done)
    w.signals.errored.connect(lambda exc: window._warn("Report not written", str(exc).split("\n\n")[0]))
    w.signals.progress.connect(lambda f, m: window.statusBar().showMessage(f"report: {m} ({f:.0%})"))
    window._report_worker = w
    w.start()
    return w
