"""One exception tree for the engine.

Every error a user can meet names the file and says what is wrong with it.
"""
from __future__ import annotations

import os


class MediaCoreError(Exception):
    """Root of every error raised by :mod:`media_core`."""


class ParameterError(MediaCoreError, ValueError):
    """A caller passed an argument that makes no sense (negative duration, unknown kind...)."""


class MediaError(MediaCoreError):
    """A media file cannot be used. ``path`` names it; ``problem`` says why in plain words."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = os.fspath(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class NotMediaError(MediaError):
    """The file exists but is not audio or video that FFmpeg can read (zero bytes, text, random data)."""


class DecodeError(MediaError):
    """FFmpeg (through PyAV) failed while decoding; wraps ``av.FFmpegError`` at the boundary."""


class Cancelled(MediaCoreError):
    """Long work (decode, analysis, sync, preparation, hashing) was stopped by its caller.

    The one cancel outcome: every long call polls its ``should_stop()`` and raises this; what was
    already stored stays stored. ``what`` names the work that stopped.
    """

    def __init__(self, what: str = "work"):
        self.what = what
        super().__init__(f"{what}: cancelled")


class CaseError(MediaCoreError):
    """A case folder or its database is missing, damaged or of an unknown schema version."""


class IntegrityError(CaseError):
    """An original or the audit log no longer matches what the case recorded."""


class ModelError(MediaCoreError):
    """A fitted model file is missing, damaged or not the one the release recorded.

    ``path`` names the file; the tool never falls back to another detector silently.
    """

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
