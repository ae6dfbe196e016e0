"""Timeline: shared-clock ruler and one lane per feed (coverage, waveform, mutes, shots, notes).

Wheel zooms around the pointer, Shift+wheel (or a horizontal wheel) and middle/right drag pan,
a click seeks, a left drag selects a range. Everything drawn is read from the case's
:class:`~media_core.case.timeline.Timeline` (``CaseState.timeline``: mutes, shots, annotations and
incident shots already on the shared clock) and the feeds' cached waveform envelopes; the widget
keeps only its view window, the playhead and the selection it is told about.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from media_core.analysis.shot_counts import feed_count
from media_core.timefmt import format_time

GUTTER = 120
RULER_H = 24
LANE_H = 44
SHARED_LANE_H = 26
ENVELOPE_ARGB = 0xFF6EC8AA  # QColor(110, 200, 170), opaque

MUTE_COLORS = {  # media_core.analysis.mutes kinds
    "digital-silence": QColor(220, 50, 50, 130),
    "near-silence": QColor(230, 130, 30, 120),
    "packet-gap": QColor(160, 60, 200, 130),
    "late-audio-start": QColor(60, 120, 220, 130),
    "audio-ends-early": QColor(60, 160, 200, 130),
    "undecodable": QColor(120, 120, 120, 150),
    "truncated": QColor(70, 70, 70, 170),  # the file ends before its declared duration
    "no-audio-track": QColor(90, 90, 90, 120),
    "channel-silence": QColor(200, 90, 160, 110),
}
DEFAULT_MUTE = QColor(200, 80, 80, 110)
CATEGORY_COLORS = {
    "shot": QColor(255, 80, 80),
    "mute": QColor(240, 150, 40),
    "command": QColor(80, 180, 255),
    "use of force": QColor(255, 60, 200),
    "custom": QColor(120, 230, 120),
}


def mute_color(kind: str) -> QColor:
    for k, c in MUTE_COLORS.items():
        if k in kind:
            return c
    return DEFAULT_MUTE


def nice_step(span_s: float, px: float, min_px: float = 80.0) -> float:
    """A tick spacing from 1-2-5 series giving at least ``min_px`` between labels."""
    if px <= 0 or span_s <= 0:
        return 1.0
    raw = span_s * min_px / px
    for unit in (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300,
                 600, 900, 1800, 3600):
        if unit >= raw:
            return float(unit)
    return 3600.0 * math.ceil(raw / 3600.0)


class QtTimeline(QWidget):
    """The shared-clock ruler, the incident/notes lane and one lane per feed."""

    seek_requested = Signal(float)             # shared seconds
    selection_changed = Signal(float, float)   # shared seconds, start <= end
    feed_clicked = Signal(int)

    def __init__(self, state=None, parent=None):
        super().__init__(parent)
        self.state = state
        self.view_start = 0.0
        self.view_end = 60.0
        self.position = 0.0
        self.selection: tuple[float, float] | None = None
        self.in_point: float | None = None
        self.out_point: float | None = None
        self.selected_feed: int | None = None
        self._press = None
        self._dragging = None  # "select" | "pan"
        self.auto_fit = True  # follow the case's extent until the user zooms or pans
        self.setMouseTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(RULER_H + SHARED_LANE_H + LANE_H)

    # ------------------------------------------------------------------ model hooks
    def set_state(self, state) -> None:
        self.state = state
        if state is not None:
            state.feeds_changed.connect(self._on_model)
            state.annotations_changed.connect(self.update)
            state.incident_changed.connect(self.update)
        self._on_model()
        self.fit()

    def _on_model(self) -> None:
        n = len(self.state.feeds) if self.state is not None else 0
        self.setMinimumHeight(RULER_H + SHARED_LANE_H + max(1, n) * LANE_H + 4)
        if self.auto_fit:
            self.fit()
        self.update()

    def sizeHint(self):  # noqa: N802
        from PySide6.QtCore import QSize

        n = len(self.state.feeds) if self.state is not None else 1
        return QSize(900, RULER_H + SHARED_LANE_H + max(1, n) * LANE_H + 4)

    def fit(self) -> None:
        if self.state is None:
            return
        a, b = self.state.shared_range()
        pad = max(0.5, 0.02 * (b - a))
        self.set_view(a - pad, b + pad)
        self.auto_fit = True

    def set_view(self, start: float, end: float) -> None:
        if end - start < 0.05:
            mid = 0.5 * (start + end)
            start, end = mid - 0.025, mid + 0.025
        self.view_start, self.view_end = float(start), float(end)
        self.update()

    def set_position(self, t: float) -> None:
        old = self.position
        self.position = float(t)
        # keep the playhead visible while playing
        span = self.view_end - self.view_start
        if t > self.view_end or t < self.view_start:
            self.set_view(t - 0.1 * span, t + 0.9 * span)
        elif old != t:
            x0, x1 = self.x_of(old), self.x_of(t)
            lo, hi = min(x0, x1) - 3, max(x0, x1) + 3
            self.update(int(lo), 0, int(hi - lo) + 1, self.height())

    # ------------------------------------------------------------------ geometry
    @property
    def plot_width(self) -> float:
        return max(1.0, self.width() - GUTTER)

    def x_of(self, t: float) -> float:
        return GUTTER + (t - self.view_start) / (self.view_end - self.view_start) * self.plot_width

    def t_of(self, x: float) -> float:
        return self.view_start + (x - GUTTER) / self.plot_width * (self.view_end - self.view_start)

    def lane_rect(self, k: int) -> QRectF:
        return QRectF(GUTTER, RULER_H + SHARED_LANE_H + k * LANE_H, self.plot_width, LANE_H - 2)

    def lane_at(self, y: float) -> int | None:
        if y < RULER_H + SHARED_LANE_H:
            return None
        k = int((y - RULER_H - SHARED_LANE_H) // LANE_H)
        return k if self.state is not None and 0 <= k < len(self.state.feeds) else None

    # ------------------------------------------------------------------ painting
    def invalidate(self) -> None:
        """Drop the cached drawing (model, view or size changed) and repaint."""
        self._cache = None
        self.update()

    def update(self, *args) -> None:  # noqa: D102 - a bare update() means "content changed"
        if not args:
            self._cache = None
        super().update(*args)

    def paintEvent(self, ev):  # noqa: N802
        dpr = self.devicePixelRatioF()
        key = (self.width(), self.height(), self.view_start, self.view_end, dpr)
        if getattr(self, "_cache", None) is None or self._cache_key != key:
            img = QImage(int(self.width() * dpr), int(self.height() * dpr), QImage.Format.Format_RGB32)
            img.setDevicePixelRatio(dpr)
            cp = QPainter(img)
            self._paint_static(cp)
            cp.end()
            self._cache, self._cache_key = img, key
        p = QPainter(self)
        r = ev.rect()
        p.drawImage(QRectF(r), self._cache, QRectF(r.x() * dpr, r.y() * dpr, r.width() * dpr, r.height() * dpr))
        x = self.x_of(self.position)
        if GUTTER <= x <= self.width():
            p.setPen(QPen(QColor(255, 210, 60), 2))
            p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        p.end()

    def _paint_static(self, p: QPainter) -> None:  # noqa: C901
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), QColor(30, 31, 34))
        f = QFont(self.font())
        f.setPointSizeF(8.5)
        p.setFont(f)
        fm = p.fontMetrics()
        span = self.view_end - self.view_start
        # ruler
        p.fillRect(QRectF(0, 0, w, RULER_H), QColor(44, 45, 50))
        step = nice_step(span, self.plot_width)
        t = math.floor(self.view_start / step) * step
        p.setPen(QColor(170, 170, 170))
        decimals = 0 if step >= 1 else (1 if step >= 0.1 else (2 if step >= 0.01 else 3))
        while t <= self.view_end:
            x = self.x_of(t)
            if x >= GUTTER:
                p.drawLine(QPointF(x, RULER_H - 7), QPointF(x, RULER_H))
                p.drawText(QPointF(x + 3, RULER_H - 9), format_time(t, decimals=decimals))
                p.setPen(QColor(55, 56, 62))
                p.drawLine(QPointF(x, RULER_H), QPointF(x, h))
                p.setPen(QColor(170, 170, 170))
            t += step
        p.drawText(QRectF(4, 0, GUTTER - 8, RULER_H), Qt.AlignmentFlag.AlignVCenter, "shared clock")
        if self.state is None:
            return
        # selection / in-out
        sel = self.selection
        if sel is None and self.in_point is not None and self.out_point is not None:
            sel = (min(self.in_point, self.out_point), max(self.in_point, self.out_point))
        if sel is not None:
            x0, x1 = self.x_of(sel[0]), self.x_of(sel[1])
            p.fillRect(QRectF(x0, RULER_H, max(1.0, x1 - x0), h - RULER_H), QColor(90, 140, 255, 45))
        for tp, name in ((self.in_point, "I"), (self.out_point, "O")):
            if tp is not None:
                x = self.x_of(tp)
                p.setPen(QPen(QColor(110, 160, 255), 1))
                p.drawLine(QPointF(x, 0), QPointF(x, h))
                p.drawText(QPointF(x + 2, 10), name)
        # shared annotations lane
        y0 = RULER_H
        p.fillRect(QRectF(0, y0, GUTTER - 2, SHARED_LANE_H - 2), QColor(40, 41, 46))
        p.setPen(QColor(200, 200, 200))
        tl = self.state.timeline
        inc = tl.incident_shots
        # the incident count as a range (confident..confident+possible) when the engine gives one
        res = tl.incident or {}
        lo, hi = res.get("low", len(inc)), res.get("high", len(inc))
        lane_title = (f"shots: {lo}" if lo == hi else f"shots: {lo}-{hi}") if inc else "notes (shared)"
        if inc and not tl.incident_current:
            lane_title += " (old)"  # counted before the shots or clocks last changed; a recount is running
        p.drawText(QRectF(6, y0, GUTTER - 10, SHARED_LANE_H - 2), Qt.AlignmentFlag.AlignVCenter, lane_title)
        last_label_x = -1e9
        for shot in inc:
            x = self.x_of(shot.time_s)
            sure = shot.confident  # confident incident shots are numbered; possible ones are marked, not numbered
            if not GUTTER <= x <= w:
                continue
            p.setPen(QPen(QColor(255, 70, 70, 120 if sure else 70), 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(x, y0 + 1), QPointF(x, h))  # through every lane: where each feed should hear it
            if not sure:
                p.drawEllipse(QPointF(x, y0 + 8), 4, 4)
                continue
            if x - last_label_x < 14:  # too close to the previous number: a tick only
                p.drawLine(QPointF(x, y0 + 2), QPointF(x, y0 + 14))
                continue
            last_label_x = x
            p.setBrush(QColor(255, 70, 70))
            p.drawEllipse(QPointF(x, y0 + 8), 6, 6)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QColor("white"))
            p.drawText(QRectF(x - 6, y0 + 2, 12, 12), Qt.AlignmentFlag.AlignCenter, str(shot.number))
        anns = tl.annotations
        for a in anns:
            if a.feed_id is None:
                self._draw_annotation(p, a, QRectF(GUTTER, y0 + 2, self.plot_width, SHARED_LANE_H - 6), fm)
        # feed lanes
        for k, info in enumerate(self.state.feeds):
            lr = self.lane_rect(k)
            sel_feed = info.id == self.selected_feed
            p.fillRect(QRectF(0, lr.y(), GUTTER - 2, lr.height()),
                       QColor(70, 62, 30) if sel_feed else QColor(40, 41, 46))
            p.setPen(QColor(230, 230, 230))
            p.drawText(QRectF(6, lr.y() + 2, GUTTER - 10, 16), Qt.AlignmentFlag.AlignLeft,
                       fm.elidedText(info.label, Qt.TextElideMode.ElideRight, GUTTER - 12))
            p.setPen(QColor(150, 150, 150))
            sub = info.kind
            shots = tl.shots_of(info.id)
            if self.state.analysed(info.id):
                c = feed_count([s.evidence or {"confident": s.confident, "confidence": s.confidence} for s in shots])
                # confident shots, and the possible ones as "(+N?)": "11 shots", "11 (+1?)"
                sub += (f"  {c['low']} shot{'s' if c['low'] != 1 else ''}" if c["low"] == c["high"]
                        else f"  {c['low']} (+{c['high'] - c['low']}?)")
            p.drawText(QRectF(6, lr.y() + 18, GUTTER - 10, 16), Qt.AlignmentFlag.AlignLeft, sub)
            p.fillRect(lr, QColor(24, 25, 28))
            a_s, b_s = info.shared_range()
            xa, xb = max(GUTTER, self.x_of(a_s)), min(w, self.x_of(b_s))
            if xb > xa:
                p.fillRect(QRectF(xa, lr.y(), xb - xa, lr.height()), QColor(48, 62, 58))
            self._draw_envelope(p, info, lr)
            for m in tl.mutes_of(info.id):
                x0, x1 = self.x_of(m.start_s), self.x_of(m.end_s)
                if x1 < GUTTER or x0 > w:
                    continue
                x0 = max(x0, GUTTER)
                p.fillRect(QRectF(x0, lr.y(), max(2.0, x1 - x0), lr.height()), mute_color(m.kind))
            for s in shots:
                x = self.x_of(s.time_s)
                if GUTTER <= x <= w:
                    # a confident shot is solid red; a possible one (listed, not counted) hollow and dashed
                    sure = s.confident
                    p.setPen(QPen(QColor(255, 70, 70), 2, Qt.PenStyle.SolidLine if sure else Qt.PenStyle.DashLine))
                    p.drawLine(QPointF(x, lr.y() + 10), QPointF(x, lr.bottom()))
                    tri = QPolygonF([QPointF(x - 4, lr.y()), QPointF(x + 4, lr.y()), QPointF(x, lr.y() + 8)])
                    p.setBrush(QColor(255, 70, 70) if sure else Qt.BrushStyle.NoBrush)
                    p.drawPolygon(tri)
            p.setBrush(Qt.BrushStyle.NoBrush)
            for a in anns:
                if a.feed_id == info.id:
                    self._draw_annotation(p, a, QRectF(lr.x(), lr.bottom() - 12, lr.width(), 11), fm)

    def _draw_envelope(self, p: QPainter, info, lr: QRectF) -> None:
        env = info.envelope
        if env is None:
            return
        x0 = int(max(GUTTER, self.x_of(info.clock.to_shared(env.start_s))))
        x1 = int(min(self.width(), self.x_of(info.clock.to_shared(env.end_s))))
        n = x1 - x0
        if n <= 1:
            return
        t0 = info.clock.to_media(self.t_of(x0))
        t1 = info.clock.to_media(self.t_of(x1))
        lo, hi = env.slice(t0, t1, n)
        mid = lr.center().y()
        half = lr.height() * 0.45
        ok = ~np.isnan(lo)
        if not ok.any():
            return
        # one vertical min..max bar per pixel column, rasterised with numpy into an image (drawing
        # a QLineF per column from Python cost ~5 ms per lane on every static repaint)
        top = int(lr.top())
        h = max(1, int(lr.height()))
        ya = np.floor(mid - np.nan_to_num(hi) * half) - top
        yb = np.ceil(mid - np.nan_to_num(lo) * half + 0.75) - top
        rows = np.arange(h, dtype=np.float64)[:, None]
        on = (rows >= ya[None, :]) & (rows < np.maximum(yb, ya + 1)[None, :]) & ok[None, :]
        pix = np.where(on, np.uint32(ENVELOPE_ARGB), np.uint32(0)).astype(np.uint32)
        img = QImage(pix.data, n, h, 4 * n, QImage.Format.Format_ARGB32_Premultiplied)
        p.drawImage(QPointF(x0, top), img)  # drawn now, while `pix` is alive

    def _draw_annotation(self, p: QPainter, a, r: QRectF, fm) -> None:
        s, e = a.start_s, a.end_s  # a timeline Annotation: already on the shared clock
        col = CATEGORY_COLORS.get(a.category, QColor(200, 200, 200))
        x0 = self.x_of(s)
        if e is not None:
            x1 = self.x_of(e)
            if x1 < GUTTER or x0 > self.width():
                return
            c = QColor(col)
            c.setAlpha(110)
            p.fillRect(QRectF(max(GUTTER, x0), r.y(), max(2.0, x1 - max(GUTTER, x0)), r.height()), c)
        elif not GUTTER <= x0 <= self.width():
            return
        p.setPen(QPen(col, 2))
        p.drawLine(QPointF(x0, r.y()), QPointF(x0, r.bottom()))
        if a.text and r.height() >= 10:
            p.setPen(QColor(240, 240, 240))
            p.drawText(QPointF(x0 + 3, r.bottom() - 2), fm.elidedText(a.text, Qt.TextElideMode.ElideRight, 160))

    # ------------------------------------------------------------------ interaction
    def wheelEvent(self, ev):  # noqa: N802
        self.auto_fit = False
        dy = ev.angleDelta().y()
        dx = ev.angleDelta().x()
        span = self.view_end - self.view_start
        if dx or ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            d = (dx or dy) / 120.0 * 0.1 * span
            self.set_view(self.view_start - d, self.view_end - d)
        elif dy:
            factor = 0.8 ** (dy / 120.0)
            t = self.t_of(ev.position().x()) if ev.position().x() >= GUTTER else self.position
            new_span = min(max(span * factor, 0.05), 24 * 3600.0)
            frac = (t - self.view_start) / span
            self.set_view(t - frac * new_span, t - frac * new_span + new_span)
        ev.accept()

    def mousePressEvent(self, ev):  # noqa: N802
        self._press = (ev.position().x(), ev.position().y(), self.view_start, self.view_end)
        if ev.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton):
            self._dragging = "pan"
        elif ev.button() == Qt.MouseButton.LeftButton:
            self._dragging = None
            if ev.position().x() < GUTTER:
                k = self.lane_at(ev.position().y())
                if k is not None:
                    self.feed_clicked.emit(self.state.feeds[k].id)
                self._press = None
        ev.accept()

    def mouseMoveEvent(self, ev):  # noqa: N802
        if self._press is None:
            return
        x0, _y0, vs, ve = self._press
        x = ev.position().x()
        if self._dragging == "pan":
            self.auto_fit = False
            dt = (x - x0) / self.plot_width * (ve - vs)
            self.set_view(vs - dt, ve - dt)
        elif self._dragging == "select" or abs(x - x0) > 4:
            self._dragging = "select"
            a, b = sorted((self.t_of(x0), self.t_of(x)))
            self.selection = (a, b)
            self.update()

    def mouseReleaseEvent(self, ev):  # noqa: N802
        if self._press is None:
            return
        if self._dragging == "select" and self.selection is not None:
            self.selection_changed.emit(*self.selection)
        elif self._dragging is None and ev.button() == Qt.MouseButton.LeftButton:
            self.selection = None
            self.seek_requested.emit(self.t_of(ev.position().x()))
        self._press = None
        self._dragging = None
        ev.accept()
