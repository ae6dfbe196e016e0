"""Streaming SHA-256 fingerprints of originals (memory flat in file size, read-only)."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

from media_core.errors import MediaError
from media_core.io.safeio import check_readable_file
from media_core.progress import Progress, check_cancel

CHUNK = 1 << 20  # 1 MiB: large enough to reach disk speed, small enough to keep memory flat


def sha256_file(
    path: str | os.PathLike,
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> str:
    """Return the hex SHA-256 of a file, reading it once in 1 MiB chunks.

    Parameters
    ----------
    path : path-like
        The original. It is opened read-only (``"rb"``); nothing is ever written to it.
    progress : Progress, optional
        ``progress(fraction, message)`` after every chunk (see :mod:`media_core.progress`).
    should_stop : callable() -> bool, optional
        Polled after every chunk; returning True raises :class:`~media_core.errors.Cancelled`.

    Raises
    ------
    MediaError
        The path is missing, a directory or unreadable.
    """
    path = os.fspath(path)
    total = check_readable_file(path, allow_empty=True)
    name = os.path.basename(path)
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    done = 0
    try:
        with open(path, "rb", buffering=0) as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                h.update(view[:n])
                done += n
                if progress is not None:
                    progress(done / total if total else 1.0, f"hashing {name}")
                check_cancel(should_stop, f"{path}: hashing")
    except OSError as exc:
        raise MediaError(path, f"cannot be read ({exc.strerror or exc})") from exc
    return h.hexdigest()
