"""Feeds and sync panel: label, kind, offset, drift, method, confidence per feed; manual nudges.

Rows are read from the case's timeline (``CaseState.timeline``); label and kind edits and nudges
are case calls (saved, logged, undoable); the grid follows through the case's ``clock_changed`` event.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from media_core.case.store import KINDS

COLUMNS = ("label", "kind", "offset s", "drift ppm", "method", "conf.", "nudged s")


class QtSyncPanel(QWidget):
    """One row per feed: label, kind, clock and sync evidence; nudge and reference buttons."""

    feed_selected = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.state = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("Nudge selected feed:"))
        for text, frames, sign in (("-1 frame", 1, -1), ("+1 frame", 1, +1), ("-ms", 0, -1), ("+ms", 0, +1)):
            b = QPushButton(text)
            b.setObjectName(f"nudge_{text.replace(' frame', 'f')}")
            b.setToolTip("move the selected feed earlier/later on the shared clock (undoable)")
            b.clicked.connect(lambda _=False, fr=frames, sg=sign: self.nudge_selected(sg, fr))
            row.addWidget(b)
        self.ms = QSpinBox()
        self.ms.setRange(1, 10000)
        self.ms.setValue(10)
        self.ms.setSuffix(" ms")
        row.addWidget(self.ms)
        row.addStretch(1)
        self.ref_button = QPushButton("Make reference")
        row.addWidget(self.ref_button)
        lay.addLayout(row)
        self._ids: list[int] = []
        self._updating = False
        self.table.itemChanged.connect(self._item_changed)
        self.table.itemSelectionChanged.connect(self._selection)
        self.ref_button.clicked.connect(self._make_reference)

    def set_state(self, state) -> None:
        self.state = state
        if state is not None:
            state.feeds_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        if self.state is None:
            self.table.setRowCount(0)
            return
        self._updating = True
        try:
            feeds = self.state.timeline.feeds  # label, kind, clock and sync record of each feed
            ids = [f.id for f in feeds]
            same_rows = ids == self._ids and self.table.rowCount() == len(ids)
            self._ids = ids
            self.table.setRowCount(len(feeds))
            for r, f in enumerate(feeds):
                vals = (f.label + ("  (reference)" if f.is_reference else ""),
                        f"{f.clock.offset_s:+.4f}", f"{f.clock.drift_ppm:+.2f}", f.sync_method or "none",
                        f"{f.sync_confidence:.2f}" if f.sync_confidence is not None else "",
                        f"{f.nudge_s:+.4f}")
                kind = self.table.cellWidget(r, 1) if same_rows else None
                if isinstance(kind, QComboBox):
                    # same feeds as shown: update in place (rebuilding combos on every change costs ms each)
                    if kind.currentText() != f.kind:
                        kind.blockSignals(True)
                        kind.setCurrentText(f.kind)
                        kind.blockSignals(False)
                    label = self.table.item(r, 0)
                    if label.text() != vals[0]:
                        label.setText(vals[0])
                    label.setData(Qt.ItemDataRole.UserRole, f.label)
                    for c, v in zip((2, 3, 4, 5, 6), vals[1:]):
                        it = self.table.item(r, c)
                        if it.text() != v:
                            it.setText(v)
                    continue
                label = QTableWidgetItem(vals[0])
                label.setData(Qt.ItemDataRole.UserRole, f.label)
                label.setFlags(label.flags() | Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(r, 0, label)
                kind = QComboBox()
                kind.addItems(list(KINDS))
                kind.setCurrentText(f.kind)
                kind.currentTextChanged.connect(lambda k, fid=f.id: self._set_kind(fid, k))
                self.table.setCellWidget(r, 1, kind)
                for c, v in enumerate(vals[1:], start=2):
                    it = QTableWidgetItem(v)
                    it.setFlags(it.flags() & ~Qt.ItemFlag.ItemIsEditable)
                    self.table.setItem(r, c, it)
        finally:
            self._updating = False

    def selected_feed_id(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return self._ids[rows[0].row()] if rows and 0 <= rows[0].row() < len(self._ids) else None

    def select_feed(self, fid: int) -> None:
        if fid in self._ids and self.selected_feed_id() != fid:
            self.table.selectRow(self._ids.index(fid))

    def nudge_selected(self, sign: int, frames: int) -> None:
        fid = self.selected_feed_id()
        if fid is None:
            return
        info = self.state.feed(fid)
        self.nudge(fid, sign * (frames / info.fps if frames else self.ms.value() / 1000.0))

    def nudge(self, fid: int, delta_s: float) -> None:
        self.state.case.nudge(fid, delta_s)

    def _set_kind(self, fid: int, kind: str) -> None:
        if not self._updating and self.state.case.feed(fid).kind != kind:
            self.state.case.set_feed_kind(fid, kind)

    def _item_changed(self, it: QTableWidgetItem) -> None:
        if self._updating or it.column() != 0:
            return
        fid = self._ids[it.row()]
        text = it.text().replace("  (reference)", "").strip()
        if text and text != self.state.case.feed(fid).label:
            self.state.case.set_feed_label(fid, text)
        else:
            self.refresh()

    def _selection(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows and 0 <= rows[0].row() < len(self._ids):
            self.feed_selected.emit(self._ids[rows[0].row()])

    def _make_reference(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.state.case.reference_feed_id = self._ids[rows[0].row()]
