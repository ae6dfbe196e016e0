"""The one time formatter: seconds as ``[-]H:MM:SS.mmm`` for tables, reports and the app.

Examples
--------
>>> format_time(3723.4567)
'1:02:03.457'
>>> format_time(59.9996)
'01:00.000'
>>> format_time(-5.25, decimals=1)
'-00:05.2'
>>> format_time(5.0, hours=True)
'00:00:05.000'
>>> format_time(None)
'-'
"""
from __future__ import annotations

import math


def format_time(seconds: float | None, *, decimals: int = 3, hours: bool | None = None,
                missing: str = "-") -> str:
    """Format ``seconds`` (rounded half to even at ``decimals``, carried through minutes and hours).

    ``hours``: True always shows two-digit hours (``HH:MM:SS``), None shows them only when
    needed (``H:MM:SS``, else ``MM:SS``). ``missing`` is returned for None and non-finite values.
    """
    if seconds is None or not math.isfinite(seconds):
        return missing
    sign = "-" if seconds < 0 else ""
    scale = 10 ** decimals
    units = int(round(abs(seconds) * scale))
    whole, frac = divmod(units, scale)
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    tail = f"{s:02d}" + (f".{frac:0{decimals}d}" if decimals else "")
    if hours:
        return f"{sign}{h:02d}:{m:02d}:{tail}"
    return f"{sign}{h}:{m:02d}:{tail}" if h else f"{sign}{m:02d}:{tail}"
