"""The spoken-reasons panel: each mute with the speech leads around it and the analyst's finding.

Every action is a core call: :func:`media_core.analysis.speech.compute_many` runs off the GUI
thread (a :class:`~audit_gui.workers.ThreadWorker`; the inputs are read from the case on the GUI
thread first), :func:`~media_core.analysis.speech.store_speech_leads` stores its documents on the
GUI thread, and :meth:`Case.set_mute_finding` records a finding (audit-logged with its author,
undoable with the case's undo). Leads are pointers for listening, never findings: the panel never
sets a finding by itself.

``make_dock(window)`` returns the panel in a :class:`QDockWidget`; it follows the window's case
(``window.state``), and jumps with ``window.seek(shared_time)``.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from media_core.case.store import FINDINGS
from media_core.timefmt import format_time

from .workers import ThreadWorker

_ROLE = Qt.ItemDataRole.UserRole


def _t(s: float | None) -> str:
    return format_time(s, hours=True) if s is not None else "—"


class QtSpeechPanel(QWidget):
    """Mutes (top rows) with their leads (child rows); the finding of the selected mute below."""

    seek_requested = Signal(float)
    play_requested = Signal(float)
    leads_stored = Signal()

    HEADERS = ["mute / lead", "start (shared)", "feed time", "score", "finding / context"]

    def __init__(self, state=None, parent=None):
        super().__init__(parent)
        self.state = None
        self.worker: ThreadWorker | None = None
        self.overview: list[dict] = []
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(self.HEADERS))
        self.tree.setHeaderLabels(self.HEADERS)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.itemDoubleClicked.connect(lambda *_: self.jump())
        self.tree.currentItemChanged.connect(lambda *_: self._show_selected())
        self.b_find = QPushButton("Find speech leads")
        self.b_cancel = QPushButton("Cancel")
        self.b_cancel.setEnabled(False)
        self.b_jump = QPushButton("Jump")
        self.b_play = QPushButton("Play")
        self.b_find.clicked.connect(self.start_leads)
        self.b_cancel.clicked.connect(self.cancel)
        self.b_jump.clicked.connect(self.jump)
        self.b_play.clicked.connect(self.play)
        self.finding = QComboBox()
        self.finding.addItems(FINDINGS)
        self.text = QLineEdit()
        self.text.setPlaceholderText("the reason as heard")
        self.b_set = QPushButton("Set finding")
        self.b_set.clicked.connect(self.set_finding)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        top = QHBoxLayout()
        for b in (self.b_find, self.b_cancel, self.b_jump, self.b_play):
            top.addWidget(b)
        top.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Finding:"))
        bottom.addWidget(self.finding)
        bottom.addWidget(self.text, 1)
        bottom.addWidget(self.b_set)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(top)
        lay.addWidget(self.tree, 1)
        lay.addLayout(bottom)
        lay.addWidget(self.status)
        self.set_state(state)

    # ------------------------------------------------------------------ the case
    def set_state(self, state) -> None:
        if state is self.state:
            return
        self.cancel(wait=True)
        if self.state is not None:
            try:
                self.state.feeds_changed.disconnect(self.refresh)
            except (RuntimeError, TypeError):
                pass
        self.state = state
        if state is not None:
            state.feeds_changed.connect(self.refresh)  # analyses, findings and clocks change with it
        self.refresh()

    def refresh(self) -> None:
        from media_core.analysis.speech import mute_overview

        sel = self._selected()
        sel_key = (sel["mute"]["ref"], sel.get("lead_index")) if sel else None
        self.tree.clear()
        self.overview = []
        has = self.state is not None
        for w in (self.b_find, self.b_set, self.b_jump, self.b_play):
            w.setEnabled(has and (w is not self.b_find or self.worker is None))
        if not has:
            self.status.setText("")
            return
        self.overview = mute_overview(self.state.case, timeline=self.state.timeline)
        current = None
        for m in self.overview:
            fd = m["finding"]
            ftxt = fd["finding"] + (f': "{fd["text"]}"' if fd["text"] else "")
            nleads = (f"{len(m['leads'])} lead(s)" if m["leads_computed"] else "leads not computed")
            top = QTreeWidgetItem([f"#{m['number']} {m['feed']}: {m['kind']} ({_t(m['duration_s'])}; {nleads})",
                                   _t(m["shared_start_s"]), _t(m["start_s"]), "", ftxt])
            top.setData(0, _ROLE, {"mute": m, "lead_index": None})
            top.setToolTip(4, ftxt)
            for side in ("before", "after"):
                note = ((m["windows"] or {}).get(side) or {}).get("note")
                if note:
                    it = QTreeWidgetItem([f"{side}: {note}", "", "", "", ""])
                    it.setData(0, _ROLE, {"mute": m, "lead_index": None})
                    top.addChild(it)
            for i, ld in enumerate(m["leads"]):
                where = (f"{ld['before_mute_s']:.1f} s before" if ld["side"] == "before"
                         else f"{ld['after_mute_s']:.1f} s after")
                ctx = (ld.get("context") or {}).get("text") or ""
                it = QTreeWidgetItem([f'"{ld["keyword"]}" ({where})', _t(ld["shared_start_s"]), _t(ld["start_s"]),
                                      f"{ld['score']:.1f}", ctx])
                it.setToolTip(4, ctx)
                it.setData(0, _ROLE, {"mute": m, "lead_index": i})
                top.addChild(it)
                if sel_key == (m["ref"], i):
                    current = it
            self.tree.addTopLevelItem(top)
            top.setExpanded(True)
            if sel_key == (m["ref"], None):
                current = current or top
        for c in range(len(self.HEADERS)):
            self.tree.resizeColumnToContents(c)
        if current is not None:
            self.tree.setCurrentItem(current)
        if not self.overview:
            self.status.setText("no mutes in this case: nothing to review")
        elif self.worker is None:
            n = sum(1 for m in self.overview if m["finding"]["finding"] == "reason-stated")
            self.status.setText(f"{len(self.overview)} mute(s), {n} with a stated reason (the analyst's findings; "
                                "leads are only where to listen)")

    # ------------------------------------------------------------------ selection, jump, play
    def _selected(self) -> dict | None:
        it = self.tree.currentItem()
        return it.data(0, _ROLE) if it is not None else None

    def selected_time(self) -> float | None:
        """Shared time of the selected lead (its start), or of the selected mute's start."""
        sel = self._selected()
        if sel is None:
            return None
        m = sel["mute"]
        if sel["lead_index"] is not None:
            return float(m["leads"][sel["lead_index"]]["shared_start_s"])
        return float(m["shared_start_s"])

    def select(self, number: int, lead_index: int | None = None) -> None:
        """Select mute ``number`` (as in ``mute list``), or one of its leads."""
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            d = top.data(0, _ROLE)
            if d["mute"]["number"] != number:
                continue
            if lead_index is None:
                self.tree.setCurrentItem(top)
                return
            for j in range(top.childCount()):
                if top.child(j).data(0, _ROLE)["lead_index"] == lead_index:
                    self.tree.setCurrentItem(top.child(j))
                    return

    def _show_selected(self) -> None:
        sel = self._selected()
        if sel is None:
            return
        fd = sel["mute"]["finding"]
        self.finding.setCurrentText(fd["finding"])
        self.text.setText(fd["text"] or "")

    def jump(self) -> None:
        t = self.selected_time()
        if t is not None:
            self.seek_requested.emit(t)

    def play(self) -> None:
        """Jump to a little before the selected lead (so its words are heard whole) and play."""
        t = self.selected_time()
        if t is not None:
            sel = self._selected()
            self.play_requested.emit(t - (1.0 if sel and sel["lead_index"] is not None else 0.0))

    # ------------------------------------------------------------------ the finding
    def set_finding(self) -> None:
        sel = self._selected()
        if sel is None or self.state is None:
            self.status.setText("select a mute first")
            return
        m = sel["mute"]
        from media_core.errors import ParameterError

        try:
            self.state.case.set_mute_finding(m["feed_id"], kind=m["kind"], start_s=m["start_s"], end_s=m["end_s"],
                                             finding=self.finding.currentText(), text=self.text.text())
        except ParameterError as exc:
            self.status.setText(str(exc))
            return
        self.refresh()

    # ------------------------------------------------------------------ leads off the GUI thread
    def start_leads(self, *, keywords=None, before_s: float | None = None, after_s: float | None = None) -> None:
        """Compute every feed's leads in a pool thread; store them on the GUI thread when done."""
        from media_core.analysis import speech

        if self.state is None or self.worker is not None:
            return
        case = self.state.case
        inputs = [speech.leads_inputs(case, f.id) for f in case.feeds]
        if not any(i["mutes"] for i in inputs):
            self.status.setText("no mutes: nothing to do")
            return
        kw = {"keywords": keywords, "before_s": speech.DEFAULT_BEFORE_S if before_s is None else before_s,
              "after_s": speech.DEFAULT_AFTER_S if after_s is None else after_s}
        w = ThreadWorker(speech.compute_many, inputs, **kw)
        w.signals.progress.connect(lambda f, msg: self.status.setText(f"{f:.0%} {msg}"))
        w.signals.returned.connect(lambda docs, inputs=inputs: self._store(inputs, docs))
        w.signals.errored.connect(lambda e: self.status.setText(str(e).split("\n\n", 1)[0]))
        w.signals.cancelled.connect(lambda: self.status.setText("speech leads cancelled"))
        w.signals.finished.connect(self._done)
        self.worker = w
        self.b_find.setEnabled(False)
        self.b_cancel.setEnabled(True)
        self.status.setText("finding speech leads…")
        w.start()

    def _store(self, inputs, docs) -> None:
        from media_core.analysis import speech

        if self.state is None:
            return
        known = {f.id for f in self.state.case.feeds}
        for inp, doc in zip(inputs, docs):
            if inp["analysed"] and inp["feed_id"] in known:
                speech.store_speech_leads(self.state.case, inp["feed_id"], doc)
        n = sum(d["lead_count"] for d in docs)
        self.worker_result = docs
        self.refresh()
        self.status.setText(f"{n} speech lead(s) stored (where to listen; not findings)")
        self.leads_stored.emit()

    def _done(self) -> None:
        self.worker = None
        self.b_cancel.setEnabled(False)
        self.b_find.setEnabled(self.state is not None)

    def cancel(self, *, wait: bool = False) -> None:
        w = self.worker
        if w is None:
            return
        w.quit()
        if wait:
            from PySide6.QtCore import QThreadPool

            QThreadPool.globalInstance().waitForDone(30000)
            self.worker = None
            self.b_cancel.setEnabled(False)


class _Follow(QObject):
    """Keeps a panel on its window's case (``window.state``) and cancels its worker when the window closes."""

    def __init__(self, window, panel: QtSpeechPanel):
        super().__init__(panel)
        self.window, self.panel = window, panel
        self.timer = QTimer(self)
        self.timer.setInterval(300)
        self.timer.timeout.connect(self.check)
        self.timer.start()
        window.installEventFilter(self)

    def check(self) -> None:
        st = getattr(self.window, "state", None)
        if st is not self.panel.state:
            self.panel.set_state(st)

    def eventFilter(self, obj, ev):  # noqa: N802 - Qt's name
        if obj is self.window and ev.type() == QEvent.Type.Close:
            self.timer.stop()
            self.panel.cancel(wait=True)
        return False


def make_dock(window) -> QDockWidget:
    """The panel in a dock widget for ``window`` (the main window adds it): it follows the window's
    case, jumps with ``window.seek(t)`` and plays with ``window.play()``.
    """
    panel = QtSpeechPanel(getattr(window, "state", None))
    panel.seek_requested.connect(lambda t: window.seek(t))

    def play(t: float) -> None:
        window.seek(t)
        if hasattr(window, "play"):
            window.play()

    panel.play_requested.connect(play)
    panel.follower = _Follow(window, panel)
    dock = QDockWidget("Spoken reasons", window)
    dock.setObjectName("dock_spoken_reasons")
    dock.setWidget(panel)
    return dock
