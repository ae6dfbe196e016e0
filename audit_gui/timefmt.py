"""Time labels."""
from __future__ import annotations

import math


def fmt_time(t: float | None, *, decimals: int = 3) -> str:
    """``[-]H:MM:SS.mmm`` (hours only when needed)."""
    if t is None or not math.isfinite(t):
        return "--:--"
    sign = "-" if t < 0 else ""
    t = abs(t)
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    sec = f"{s:0{3 + decimals if decimals else 2}.{decimals}f}"
    if sec.startswith("60"):  # rounding up
        sec = f"{0:0{3 + decimals if decimals else 2}.{decimals}f}"
        m += 1
    return f"{sign}{int(h)}:{int(m):02d}:{sec}" if h else f"{sign}{int(m):02d}:{sec}"
