"""The one progress and cancel protocol for long work (decode, analysis, sync, preparation, hashing).

Every long call takes two keyword arguments:

``progress(fraction, message)``
    A :data:`Progress` callback: ``fraction`` runs 0..1 over the whole call, ``message`` says what
    is being done in plain words ("analysing Officer A"). Never required; default :func:`no_progress`.
``should_stop()``
    Polled between pieces of work; when it returns True the call raises
    :class:`media_core.errors.Cancelled` (never returns a partial result, never sets a flag).

Examples
--------
>>> seen = []
>>> part = sub_progress(lambda f, m: seen.append((round(f, 2), m)), 0.5, 1.0, "syncing")
>>> part(0.5, "")
>>> seen
[(0.75, 'syncing')]
"""
from __future__ import annotations

from collections.abc import Callable

from media_core.errors import Cancelled

Progress = Callable[[float, str], None]
ShouldStop = Callable[[], bool]


def no_progress(fraction: float, message: str = "") -> None:
    """The default :data:`Progress`: ignore it."""


def never_stop() -> bool:
    """The default ``should_stop``: never."""
    return False


def check_cancel(should_stop: ShouldStop | None, what: str) -> None:
    """Raise :class:`Cancelled` naming ``what`` when ``should_stop()`` says so."""
    if should_stop is not None and should_stop():
        raise Cancelled(what)


def sub_progress(progress: Progress | None, lo: float, hi: float, message: str | None = None) -> Progress:
    """A :data:`Progress` for one part of a larger job: its 0..1 maps to ``lo..hi`` of ``progress``.

    ``message``, when given, replaces the part's own (empty) messages.
    """
    report = progress or no_progress
    span = float(hi) - float(lo)

    def part(fraction: float, msg: str = "") -> None:
        f = min(max(float(fraction), 0.0), 1.0)
        report(lo + span * f, msg or message or "")

    return part
