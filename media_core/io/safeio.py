"""Checks done before any original is opened, so bad input gets a plain-words error."""
from __future__ import annotations

import os
import stat

from media_core.errors import MediaError, NotMediaError


def check_readable_file(path: str | os.PathLike, *, allow_empty: bool = False) -> int:
    """Return the size in bytes of ``path`` or raise :class:`MediaError` saying what is wrong.

    Never opens the file for writing. Missing paths, directories, devices, unreadable and
    (unless ``allow_empty``) zero-byte files are refused with a message naming the file.
    """
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise MediaError(path, "no such file") from None
    except PermissionError:
        raise MediaError(path, "cannot be read (permission denied)") from None
    except OSError as exc:
        raise MediaError(path, f"cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise MediaError(path, "is a directory, not a media file")
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(path, "is not a regular file")
    if st.st_size == 0 and not allow_empty:
        raise NotMediaError(path, "is empty (0 bytes)")
    try:
        with open(path, "rb") as f:
            f.read(1)
    except PermissionError:
        raise MediaError(path, "cannot be read (permission denied)") from None
    except OSError as exc:
        raise MediaError(path, f"cannot be read ({exc.strerror or exc})") from None
    return st.st_size
