"""Evidence Audit review app (PySide6). The engine lives in :mod:`media_core` and never imports this."""
from __future__ import annotations

from . import _compat  # noqa: F401  (PySide6 6.12 refcount work-around, before any Qt call)
