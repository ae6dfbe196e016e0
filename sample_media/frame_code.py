"""Frames that carry their own number, readable back after scaling and lossy encoding.

:func:`coded_frame` draws frame ``i`` with a binary strip along its top: two rows of 16 cells,
the first the bits of ``i`` (most significant first), the second the bits of its complement,
black for 0 and white for 1. :func:`read_code` reads the number back from any picture showing the
frame (a tile of an exported review video, a clip), scaled to any size: it samples the middle
of each cell and checks the second row against the first, so a cell misread gives ``None``, never a
wrong number. :func:`write_coded_feed` writes such a feed with :func:`sample_media.encode.write_media`.

>>> img = coded_frame(1234, (320, 180))
>>> read_code(img)
1234
>>> import numpy as np
>>> read_code(np.zeros((90, 160, 3), np.uint8)) is None
True
"""
from __future__ import annotations

import numpy as np

BITS = 16
STRIP = 0.25  # the code occupies the top quarter of the picture (two rows)


def coded_frame(i: int, size: tuple[int, int], *, tint: tuple[int, int, int] = (40, 90, 160)) -> np.ndarray:
    """Frame ``i`` (RGB ``(h, w, 3)`` uint8): the code strip on top, a tinted gradient below."""
    w, h = size
    img = np.empty((h, w, 3), np.uint8)
    x = np.linspace(0.4, 1.0, w, dtype=np.float32)[None, :, None]
    y = np.linspace(0.5, 1.0, h, dtype=np.float32)[:, None, None]
    img[:] = (np.asarray(tint, np.float32)[None, None, :] * x * y).astype(np.uint8)
    row_h = int(h * STRIP) // 2
    v = int(i) & 0xFFFF
    for r, word in enumerate((v, ~v & 0xFFFF)):
        for b in range(BITS):
            x0, x1 = (b * w) // BITS, ((b + 1) * w) // BITS
            img[r * row_h:(r + 1) * row_h, x0:x1] = 255 if (word >> (BITS - 1 - b)) & 1 else 0
    # a moving bar, so motion compensation has something to do
    bx = (i * 7) % max(1, w - 20)
    img[h // 2:h // 2 + max(2, h // 12), bx:bx + 20] = (230, 230, 60)
    return img


def read_code(img: np.ndarray) -> int | None:
    """The frame number drawn by :func:`coded_frame` in ``img`` (the picture only, any size), or None."""
    h, w = img.shape[:2]
    lum = img[..., :3].astype(np.float32).mean(axis=2) if img.ndim == 3 else img.astype(np.float32)
    row_h = h * STRIP / 2
    words = []
    for r in range(2):
        y0, y1 = int(r * row_h + row_h * 0.3), int(r * row_h + row_h * 0.7) + 1
        v = 0
        for b in range(BITS):
            cx0, cx1 = (b + 0.3) * w / BITS, (b + 0.7) * w / BITS
            m = float(lum[y0:y1, int(cx0):int(cx1) + 1].mean())
            if 70 < m < 185:  # neither black nor white: not a code cell
                return None
            v = (v << 1) | int(m >= 128)
        words.append(v)
    if words[0] ^ words[1] != 0xFFFF:
        return None
    return words[0]


def write_coded_feed(path, *, fps: float = 30.0, duration_s: float = 4.0, size: tuple[int, int] = (320, 180),
                     tint: tuple[int, int, int] = (40, 90, 160), audio=None, sr: int = 48000, **kw):
    """A feed whose frame ``i`` shows code ``i`` (see :func:`coded_frame`); other options as ``write_media``."""
    from sample_media.encode import write_media

    return write_media(path, video=True, fps=fps, size=size, duration_s=duration_s, audio=audio, sr=sr,
                       frame_fn=lambda i, t: coded_frame(i, size, tint=tint), **kw)
