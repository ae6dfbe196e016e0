"""Annotations panel: list with category filter and text search; add, edit, delete (undoable).

Every action is a call on the case (which saves and logs it at once); the list is rebuilt from
the case whenever it says its annotations changed.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from media_core.case.store import CATEGORIES
from media_core.clock import IDENTITY, Clock
from media_core.timefmt import format_time

COLUMNS = ("start", "end", "feed", "category", "text", "author", "edited")


class AnnotationDialog(QDialog):
    """Edit one annotation's fields (times in the annotation's own time base)."""

    def __init__(self, ann, feeds: list[tuple[int, str]], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Edit annotation")
        form = QFormLayout(self)
        self.category = QComboBox()
        self.category.setEditable(True)
        self.category.addItems(list(CATEGORIES))
        self.category.setCurrentText(ann.category)
        self.text = QPlainTextEdit(ann.text)
        self.start = QDoubleSpinBox()
        self.start.setRange(-1e7, 1e7)
        self.start.setDecimals(3)
        self.start.setValue(ann.start_s)
        self.is_range = QCheckBox("range")
        self.is_range.setChecked(ann.end_s is not None)
        self.end = QDoubleSpinBox()
        self.end.setRange(-1e7, 1e7)
        self.end.setDecimals(3)
        self.end.setValue(ann.end_s if ann.end_s is not None else ann.start_s)
        self.end.setEnabled(ann.end_s is not None)
        self.is_range.toggled.connect(self.end.setEnabled)
        self.feed = QComboBox()
        self.feed.addItem("shared clock", None)
        for fid, label in feeds:
            self.feed.addItem(label, fid)
        self.feed.setCurrentIndex(max(0, self.feed.findData(ann.feed_id)))
        form.addRow("Category", self.category)
        form.addRow("Text", self.text)
        form.addRow("Start (s)", self.start)
        form.addRow(self.is_range, self.end)
        form.addRow("On", self.feed)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        form.addRow(bb)

    def changes(self) -> dict:
        return {"category": self.category.currentText().strip() or "custom",
                "text": self.text.toPlainText(), "start_s": self.start.value(),
                "end_s": self.end.value() if self.is_range.isChecked() else None,
                "feed_id": self.feed.currentData()}


class QtAnnotationsPanel(QWidget):
    """The annotation list: every note on the shared clock, editable, with jump-to."""

    seek_requested = Signal(float)  # shared seconds
    add_point_requested = Signal()
    add_range_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.state = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        self.filter = QComboBox()
        self.filter.addItem("all categories", None)
        for c in CATEGORIES:
            self.filter.addItem(c, c)
        self.search = QLineEdit()
        self.search.setPlaceholderText("search text, author...")
        self.search.setClearButtonEnabled(True)
        top.addWidget(self.filter)
        top.addWidget(self.search, 1)
        lay.addLayout(top)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(COLUMNS.index("text"), QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.table, 1)
        btns = QHBoxLayout()
        self.b_point = QPushButton("Marker (M)")
        self.b_range = QPushButton("Range (I/O)")
        self.b_edit = QPushButton("Edit…")
        self.b_delete = QPushButton("Delete")
        for b in (self.b_point, self.b_range, self.b_edit, self.b_delete):
            btns.addWidget(b)
        lay.addLayout(btns)
        self.filter.currentIndexChanged.connect(self.refresh)
        self.search.textChanged.connect(self.refresh)
        self.table.cellDoubleClicked.connect(self._double_clicked)
        self.b_point.clicked.connect(self.add_point_requested.emit)
        self.b_range.clicked.connect(self.add_range_requested.emit)
        self.b_edit.clicked.connect(self.edit_selected)
        self.b_delete.clicked.connect(self.delete_selected)
        self._ids: list[str] = []

    def set_state(self, state) -> None:
        self.state = state
        if state is not None:
            state.annotations_changed.connect(self.refresh)
            state.feeds_changed.connect(self.refresh)
        self.refresh()

    def visible_annotations(self):
        if self.state is None:
            return []
        cat = self.filter.currentData()
        q = self.search.text().strip().lower()
        out = []
        for a in self.state.case.annotations:
            if cat is not None and a.category != cat:
                continue
            if q and q not in f"{a.text} {a.author} {a.category}".lower():
                continue
            out.append(a)
        return out

    def refresh(self) -> None:
        selected = self.selected_id()
        anns = self.visible_annotations()
        self.table.setRowCount(len(anns))
        self._ids = [a.id for a in anns]
        for r, a in enumerate(anns):
            s, e = self.state.annotation_shared_span(a)
            info = self.state.feed(a.feed_id) if a.feed_id is not None else None
            feed = info.label if info is not None else "shared"
            vals = (format_time(s, missing="--:--"), format_time(e, missing="--:--") if e is not None else "", feed,
                    a.category, a.text, a.author, a.edited.replace("T", " ")[:19])
            for c, v in enumerate(vals):
                it = QTableWidgetItem(v)
                if c == 0:
                    it.setData(Qt.ItemDataRole.UserRole, a.id)
                self.table.setItem(r, c, it)
        if selected in self._ids:
            self.table.selectRow(self._ids.index(selected))

    def selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        r = rows[0].row()
        return self._ids[r] if 0 <= r < len(self._ids) else None

    def select(self, ann_id: str) -> None:
        if ann_id in self._ids:
            self.table.selectRow(self._ids.index(ann_id))

    def _double_clicked(self, row: int, col: int) -> None:
        if not 0 <= row < len(self._ids):
            return
        a = self.state.case.annotation(self._ids[row])
        if col in (0, 1):
            s, e = self.state.annotation_shared_span(a)
            self.seek_requested.emit(e if col == 1 and e is not None else s)
        else:
            self.edit(a.id)

    def edit(self, ann_id: str) -> bool:
        a = self.state.case.annotation(ann_id)
        dlg = AnnotationDialog(a, [(f.id, f.label) for f in self.state.feeds], self)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return False
        ch = dlg.changes()
        if ch["feed_id"] != a.feed_id and ch["start_s"] == a.start_s and ch["end_s"] == a.end_s:
            # moved between a feed and the shared clock with the times untouched: keep the moment
            ch["start_s"], ch["end_s"] = self.convert_times(a.start_s, a.end_s, a.feed_id, ch["feed_id"])
        ch = {k: v for k, v in ch.items() if getattr(a, k) != v}
        if ch:
            self.state.case.update_annotation(ann_id, **ch)
        return True

    def convert_times(self, start_s, end_s, from_feed, to_feed):
        """Times of one moment re-expressed from one time base (feed media or shared) to another."""
        def clock(feed_id) -> Clock:   # the shared time base (no feed) has the identity
            feed = self.state.feed(feed_id) if feed_id is not None else None
            return feed.clock if feed is not None else IDENTITY

        move = clock(from_feed).relative_to(clock(to_feed))
        return tuple(None if t is None else move.to_shared(t) for t in (start_s, end_s))

    def edit_selected(self) -> None:
        i = self.selected_id()
        if i is not None:
            self.edit(i)

    def delete_selected(self) -> None:
        i = self.selected_id()
        if i is not None:
            self.state.case.delete_annotation(i)  # undoable with Ctrl+Z
