"""Text drawn into frames with Pillow (the review video's clocks and media times)."""
from __future__ import annotations

import os

import numpy as np

from media_core.export.raster_text import draw_text, font, font_file, text_width


def test_font_is_matplotlibs_dejavu_sans():
    assert os.path.isfile(font_file()) and os.path.basename(font_file()) == "DejaVuSans.ttf"
    assert os.path.basename(font_file(bold=True)) == "DejaVuSans-Bold.ttf"
    assert font(20) is font(20)  # cached per size


def test_text_sits_on_its_baseline_with_the_asked_cap_height():
    img = np.zeros((60, 300, 3), np.uint8)
    draw_text(img, "SHOT 12", (10, 40), cap_px=20, colour=(255, 0, 0))
    rows = np.nonzero(img[..., 0].max(axis=1) > 128)[0]
    cols = np.nonzero(img[..., 0].max(axis=0) > 128)[0]
    assert 38 <= rows.max() <= 40 and 19 <= rows.max() - rows.min() + 1 <= 22
    assert 10 <= cols.min() <= 13 and abs(cols.max() + 1 - 10 - text_width("SHOT 12", 20)) <= 3
    assert img[..., 1].max() == 0 and img[..., 2].max() == 0  # only the colour asked for


def test_digits_have_one_width_so_a_running_clock_stays_put():
    widths = {text_width(f"00:00:{d}{d}.{d}{d}{d}", 14) for d in "0123456789"}
    assert len(widths) == 1


def test_outline_surrounds_the_glyphs_and_text_off_the_frame_is_clipped():
    img = np.full((40, 120, 3), 128, np.uint8)
    draw_text(img, "REC", (4, 30), cap_px=18, colour=(255, 255, 255), outline=1)
    assert (img == 0).all(axis=2).any() and (img == 255).all(axis=2).any()
    edge = img.copy()
    draw_text(edge, "WALL CLOCK 0000", (100, 8), cap_px=18)   # runs off the right and the top
    draw_text(edge, "x", (-50, -50), cap_px=18)               # wholly outside: nothing happens
    assert edge.shape == img.shape and (edge[:8, 100:] != img[:8, 100:]).any()
