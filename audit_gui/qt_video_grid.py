"""Video grid: one tile per feed, laid out for 1 to 6 feeds.

A tile paints the last frame its decoder delivered plus overlays: label and kind, the feed's own
media time and frame number, the shared clock, "AUDIO MUTED" while a mute covers the moment, and
"NO FOOTAGE" outside the feed's coverage. Tiles hold only what they display.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from PySide6.QtWidgets import QGridLayout, QSizePolicy, QWidget

from media_core.timefmt import format_time

MUTE_BADGE = QColor(200, 30, 30, 220)
BACKGROUND = QColor(12, 12, 14)


def grid_shape(n: int) -> tuple[int, int]:
    """(rows, columns) for ``n`` tiles."""
    if n <= 1:
        return 1, 1
    if n == 2:
        return 1, 2
    if n <= 4:
        return 2, 2
    return 2, 3


class QtVideoTile(QWidget):
    """One feed's frame at the playhead with its overlays."""

    clicked = Signal(int)
    resized = Signal(int, int, int)  # feed id, width, height

    def __init__(self, feed_id: int, parent=None):
        super().__init__(parent)
        self.feed_id = feed_id
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 100)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.label = ""
        self.kind = ""
        self.image = None          # QImage
        self._pixels = None        # the array self.image points into
        self.frame_index: int | None = None
        self.frame_pts: float | None = None
        self.media_s: float = 0.0
        self.shared_s: float = 0.0
        self.fps: float = 30.0
        self.no_footage = False
        self.muted_kind: str | None = None
        self.selected = False
        self.error: str | None = None
        self.status: str | None = None  # e.g. "indexing..."
        self._font_key = None       # (height, base font) the cached font and metrics are for
        self._font = self._fm = None
        self._badges: dict = {}     # (text, colours, font key) -> pre-rendered QImage of a box

    def set_frame(self, sf, *, repaint: bool = True) -> None:
        if sf is None:
            self.image, self.frame_index, self.frame_pts, self._pixels = None, None, None, None
        else:
            # the QImage points into sf.pixels: keep both
            self.image, self.frame_index, self.frame_pts, self._pixels = sf.image, sf.index, sf.pts_s, sf.pixels
        if repaint:
            self.update()

    def resizeEvent(self, ev):  # noqa: N802
        super().resizeEvent(ev)
        self.resized.emit(self.feed_id, self.width(), self.height())

    def mousePressEvent(self, ev):  # noqa: N802
        self.clicked.emit(self.feed_id)
        super().mousePressEvent(ev)

    def paintEvent(self, _ev):  # noqa: N802
        p = QPainter(self)
        r = self.rect()
        if self.image is not None and not self.no_footage:
            iw, ih = self.image.width(), self.image.height()
            s = min(r.width() / iw, r.height() / ih)
            w, h = iw * s, ih * s
            exact = abs(s - 1.0) < 0.02  # drawn 1:1 (the decoder scales to the tile)
            if exact:
                target = QRectF(round((r.width() - iw) / 2), round((r.height() - ih) / 2), iw, ih)
            else:
                target = QRectF((r.width() - w) / 2, (r.height() - h) / 2, w, h)
            # only the letterbox bars need the background (the tile paints opaquely)
            W, H = r.width(), r.height()  # noqa: N806
            for bar in (QRectF(0, 0, W, target.top() + 1), QRectF(0, target.bottom() - 1, W, H - target.bottom() + 1),
                        QRectF(0, 0, target.left() + 1, H), QRectF(target.right() - 1, 0, W - target.right() + 1, H)):
                if bar.width() > 1 and bar.height() > 1:
                    p.fillRect(bar, BACKGROUND)
            if exact:
                p.drawImage(int(target.x()), int(target.y()), self.image)
            else:
                p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
                p.drawImage(target, self.image)
        else:
            p.fillRect(r, BACKGROUND)
        key = (r.height(), self.font().key())
        if key != self._font_key:  # the font, its metrics and the rendered badges depend on the height only
            f = QFont(self.font())
            f.setPointSizeF(max(8.0, min(11.0, r.height() / 28)))
            self._font, self._fm, self._font_key = f, QFontMetrics(f), key
            self._badges.clear()
        f, fm = self._font, self._fm
        p.setFont(f)
        lh = fm.height() + 4

        def box(x, y, text, bg=QColor(0, 0, 0, 170), fg=QColor(235, 235, 235), align_right=False):
            w = fm.horizontalAdvance(text) + 10
            if align_right:
                x = x - w
            p.fillRect(QRectF(x, y, w, lh), bg)
            p.setPen(fg)
            p.drawText(QRectF(x, y, w, lh), Qt.AlignmentFlag.AlignCenter, text)

        def badge(x, y, text, bg=QColor(0, 0, 0, 170), fg=QColor(235, 235, 235), align_right=False):
            # text that rarely changes (title, mute badge): rendered once, then only blitted
            img = self._badges.get((text, bg.rgba(), fg.rgba()))
            if img is None:
                w = fm.horizontalAdvance(text) + 10
                img = QImage(w, lh, QImage.Format.Format_ARGB32_Premultiplied)
                img.fill(0)
                bp = QPainter(img)
                bp.setFont(f)
                bp.fillRect(QRectF(0, 0, w, lh), bg)
                bp.setPen(fg)
                bp.drawText(QRectF(0, 0, w, lh), Qt.AlignmentFlag.AlignCenter, text)
                bp.end()
                if len(self._badges) > 16:
                    self._badges.clear()
                self._badges[(text, bg.rgba(), fg.rgba())] = img
            p.drawImage(int(x - img.width()) if align_right else int(x), int(y), img)

        title = self.label + (f"  [{self.kind}]" if self.kind else "")
        badge(6, 6, title)
        if self.muted_kind is not None:
            text = "NO AUDIO TRACK" if self.muted_kind == "no-audio-track" else f"AUDIO MUTED ({self.muted_kind})"
            badge(r.width() - 6, 6, text, bg=MUTE_BADGE, fg=QColor("white"), align_right=True)
        media = "media --" if self.no_footage else f"media {format_time(self.media_s, missing='--:--')}"
        if self.frame_index is not None and not self.no_footage:
            media += f"  #{self.frame_index}"
        box(6, r.height() - lh - 6, media)
        shared = format_time(self.shared_s, missing="--:--")
        box(r.width() - 6, r.height() - lh - 6, f"shared {shared}", align_right=True)
        if self.no_footage or self.error or self.status:
            msg = self.error or ("NO FOOTAGE" if self.no_footage else self.status)
            big = QFont(f)
            big.setPointSizeF(f.pointSizeF() * 1.4)
            big.setBold(True)
            p.setFont(big)
            p.setPen(QColor(200, 200, 200) if not self.error else QColor(255, 120, 120))
            p.drawText(r.adjusted(10, 0, -10, 0), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, msg)
        if self.selected:
            p.setPen(QPen(QColor(255, 200, 40), 3))
            p.drawRect(r.adjusted(1, 1, -2, -2))
        p.end()


class QtVideoGrid(QWidget):
    """Holds the tiles; the main window drives them."""

    tile_clicked = Signal(int)
    tile_resized = Signal(int, int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self._layout.setSpacing(3)
        self.tiles: dict[int, QtVideoTile] = {}
        self.setAcceptDrops(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_feeds(self, feed_ids: list[int]) -> None:
        for fid in list(self.tiles):
            if fid not in feed_ids:
                t = self.tiles.pop(fid)
                self._layout.removeWidget(t)
                t.deleteLater()
        for fid in feed_ids:
            if fid not in self.tiles:
                t = QtVideoTile(fid, self)
                t.clicked.connect(self.tile_clicked.emit)
                t.resized.connect(self.tile_resized.emit)
                self.tiles[fid] = t
        for fid in feed_ids:
            self._layout.removeWidget(self.tiles[fid])
        rows, cols = grid_shape(len(feed_ids))
        for k, fid in enumerate(feed_ids[:6]):
            self._layout.addWidget(self.tiles[fid], k // cols, k % cols)
            self.tiles[fid].setVisible(True)
        for fid in feed_ids[6:]:
            self.tiles[fid].setVisible(False)  # more than six: listed in the timeline only
        for r in range(3):
            self._layout.setRowStretch(r, 1 if r < rows else 0)
        for c in range(3):
            self._layout.setColumnStretch(c, 1 if c < cols else 0)
