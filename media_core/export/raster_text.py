"""Text drawn into RGB frames (numpy arrays) with Pillow and the DejaVu Sans that matplotlib ships.

The review video draws the numbers that change every frame (shared clock, wall clock, each
tile's media time) into the picture itself; everything else is burned in by FFmpeg from the ASS
subtitles. The font is always matplotlib's copy of DejaVu Sans (``mpl-data/fonts/ttf``, inside
every install and the desktop bundle), so a frame looks the same on every machine, whatever fonts
the system has. Its digits all have the same advance, so a running clock does not jitter.

Sizes are *cap heights* in pixels: the height of a capital letter or a digit above the baseline
(0.729 em in DejaVu Sans), and positions are the left end of the baseline.

Example
-------
>>> import numpy as np
>>> img = np.zeros((40, 200, 3), np.uint8)
>>> draw_text(img, "SHOT 3", (4, 30), cap_px=20, colour=(255, 255, 255))
>>> bool(img[10:30, 4:80].any())
True
"""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

__all__ = ["font_file", "font", "text_width", "draw_text"]

CAP_EM = 0.729  # DejaVu Sans: capital and digit height per em


def font_file(*, bold: bool = False) -> str:
    """Path of matplotlib's DejaVu Sans (or its bold)."""
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf", name)


@lru_cache(maxsize=64)
def font(cap_px: float, *, bold: bool = False):
    """A Pillow FreeType font whose capitals are about ``cap_px`` pixels tall."""
    from PIL import ImageFont

    return ImageFont.truetype(font_file(bold=bold), size=max(4, int(round(float(cap_px) / CAP_EM))))


def text_width(text: str, cap_px: float, *, bold: bool = False) -> int:
    """Advance width of ``text`` in pixels at cap height ``cap_px``."""
    return int(round(font(cap_px, bold=bold).getlength(text)))


@lru_cache(maxsize=512)
def _mask(text: str, f, stroke: int) -> tuple[np.ndarray, int, int]:
    """Coverage (0..1 float32, read-only: cached) of ``text`` anchored at its baseline's left end,
    and its offset; cached, since most burned-in text repeats from frame to frame.
    """
    from PIL import Image, ImageDraw

    left, top, right, bottom = f.getbbox(text, anchor="ls", stroke_width=stroke)
    w, h = max(1, right - left), max(1, bottom - top)
    m = Image.new("L", (w, h), 0)
    ImageDraw.Draw(m).text((-left, -top), text, font=f, fill=255, anchor="ls", stroke_width=stroke, stroke_fill=255)
    cover = np.asarray(m, dtype=np.float32) * np.float32(1 / 255)
    cover.flags.writeable = False
    return cover, left, top


def _blend(img: np.ndarray, cover: np.ndarray, x: int, y: int, colour) -> None:
    H, W = img.shape[:2]
    h, w = cover.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x0 >= x1 or y0 >= y1:
        return
    a = cover[y0 - y:y1 - y, x0 - x:x1 - x, None]
    region = img[y0:y1, x0:x1]
    col = np.asarray(colour, np.float32)
    region[...] = (region * (1.0 - a) + col * a + 0.5).astype(img.dtype)


def draw_text(img: np.ndarray, text: str, org: tuple[int, int], *, cap_px: float, colour=(255, 255, 255),
              bold: bool = False, outline: int = 0, outline_colour=(0, 0, 0)) -> None:
    """Draw ``text`` into ``img`` (H, W, 3 uint8, changed in place), anti-aliased.

    Parameters
    ----------
    img : np.ndarray
        The frame, (H, W, 3) uint8; text outside it is clipped.
    org : (int, int)
        The left end of the baseline, in pixels.
    cap_px : float
        Height of capitals and digits in pixels.
    outline : int
        Width in pixels of an ``outline_colour`` border around the glyphs (0: none).
    """
    if not text:
        return
    f = font(cap_px, bold=bold)
    x, y = int(org[0]), int(org[1])
    if outline > 0:
        cover, dx, dy = _mask(text, f, int(outline))
        _blend(img, cover, x + dx, y + dy, outline_colour)
    cover, dx, dy = _mask(text, f, 0)
    _blend(img, cover, x + dx, y + dy, colour)
