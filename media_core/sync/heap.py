"""Keeping the process's resident memory near what sync really holds (glibc; nothing elsewhere).

glibc serves an allocation below its *mmap threshold* from a heap (one per thread) and keeps the
freed space there; the threshold adapts upwards to the largest block freed so far (up to 32 MB).
Sync frees whole-feed float32 temporaries (7 MB for 30 minutes) on decode and match threads: with
the adaptive threshold every later temporary of that size stays resident in some thread's heap.
:func:`pin_mmap_threshold` fixes the threshold at :data:`MMAP_THRESHOLD` (larger blocks are
mapped and returned on free; smaller ones, the many per-window arrays, stay cheap) and
:func:`release_freed_memory` hands back free heap pages (``malloc_trim``).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

MMAP_THRESHOLD = 4 << 20        # bytes; 1 MB saves a little more memory for ~15 % more CPU
_M_MMAP_THRESHOLD = -3          # mallopt parameter number (malloc.h)
_state: dict = {}


def _libc():
    if "libc" not in _state:
        lib = None
        if sys.platform.startswith("linux"):
            try:
                lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                if not (hasattr(lib, "malloc_trim") and hasattr(lib, "mallopt")):
                    lib = None
            except OSError:
                lib = None
        _state["libc"] = lib
    return _state["libc"]


def pin_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold at :data:`MMAP_THRESHOLD` for this process (once); True if set."""
    if "pinned" not in _state:
        lib = _libc()
        _state["pinned"] = bool(lib is not None and lib.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1)
    return _state["pinned"]


def release_freed_memory() -> None:
    """Return free heap pages of every thread's heap to the system (``malloc_trim(0)``)."""
    lib = _libc()
    if lib is not None:
        lib.malloc_trim(0)
