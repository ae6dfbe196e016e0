"""Render the icon's PNGs (48, 128 and 256 px) from ``packaging/icons/evidence-audit.svg`` with Qt's QSvgRenderer.

Run by ``packaging/build.sh`` (``QT_QPA_PLATFORM=offscreen``); writes
``packaging/icons/evidence-audit-{48,128,256}.png``, transparent outside the rounded square.
"""
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

HERE = Path(__file__).resolve().parent / "icons"
SIZES = (48, 128, 256)


def render(svg: Path, size: int, out: Path) -> None:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG for Qt")
    img = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(p)
    p.end()
    if not img.save(str(out), "PNG"):
        raise SystemExit(f"could not write {out}")


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (fonts, image I/O)
    svg = HERE / "evidence-audit.svg"
    for s in SIZES:
        out = HERE / f"evidence-audit-{s}.png"
        render(svg, s, out)
        print(f"icon: {out.name} ({s}x{s})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
