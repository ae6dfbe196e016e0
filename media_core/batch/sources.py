"""Every media file under some folders (recursively), in a stable order.

A file counts as media by its extension (:data:`MEDIA_EXTENSIONS`, case-insensitive): what is
under an evidence folder besides the videos (checksums, PDFs, ``truth.json``) is left alone,
while a damaged ``.mp4`` is kept, so the step that reads it reports it by name.
"""
from __future__ import annotations

import os
from collections.abc import Iterable

from media_core.errors import MediaError

MEDIA_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mts", ".m2ts", ".ts", ".mpg", ".mpeg", ".3gp", ".wmv",
    ".flv", ".asf", ".m4a", ".mka", ".wav", ".mp3", ".ogg", ".opus", ".flac", ".aac",
})


def is_media_name(name: str) -> bool:
    """Whether a file name has a media extension (and is not a hidden or partial file)."""
    if name.startswith(".") or ".part." in name:
        return False
    return os.path.splitext(name)[1].lower() in MEDIA_EXTENSIONS


def media_files(sources: Iterable[str | os.PathLike]) -> list[str]:
    """Absolute paths of the media files named or found (recursively) under ``sources``.

    Sorted by path, each once (a file named twice, or under two given folders, is listed once).
    A file named explicitly is kept whatever its extension. Symlinked folders are not followed.

    Raises
    ------
    MediaError
        A source does not exist.
    """
    out: set[str] = set()
    for src in sources:
        p = os.path.abspath(os.fspath(src))
        if os.path.isfile(p):
            out.add(p)
        elif os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not d.endswith(".evcase"))
                out.update(os.path.join(root, f) for f in files if is_media_name(f))
        else:
            raise MediaError(p, "no such file or folder")
    return sorted(out)
