"""Evidence Audit review app (PySide6). The engine lives in :mod:`media_core` and never imports this."""
from __future__ import annotations

