"""Shot counts with their uncertainty: the confident count, the possible shots, and the range.

A detector never knows every transient for sure, so a count is reported as a range: ``low`` is
the number of confident shots, ``high`` adds the *possible* ones (not confident, but with
``confidence >= POSSIBLE_MIN``). Weaker transients are not shots and are not counted at all.

The text reads the upper end first, then how it splits::

    "20 (18 confident, 2 possible)"     some shots are possible
    "18 (all confident)"                every counted shot is confident
    "2 (0 confident, 2 possible)"       nothing confident, some possible
    "0"                                 nothing detected

The same wording is used for one feed (:func:`feed_count`) and for the incident across synced
feeds (:func:`media_core.analysis.incident_shots.match_incident_shots`), through :func:`count_text`.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from media_core.errors import ParameterError

POSSIBLE_MIN = 0.2      # a non-confident shot at or above this confidence is a "possible" shot
CONFIDENT = 0.5         # confidence at which a shot without a ``confident`` flag counts as confident


def is_confident(shot: Any) -> bool:
    """Whether a shot counts as confident: its ``confident`` flag, else ``confidence >= 0.5``.

    A bare number (a time) is a confident shot, as older callers pass them.
    """
    if not isinstance(shot, Mapping):
        return True
    if "confident" in shot and shot["confident"] is not None:
        return bool(shot["confident"])
    return float(shot.get("confidence", 1.0)) >= CONFIDENT


def is_possible(shot: Any, *, possible_min: float = POSSIBLE_MIN) -> bool:
    """Whether a shot is a possible one: not confident, ``confidence >= possible_min``."""
    if is_confident(shot):
        return False
    return float(shot.get("confidence", 0.0)) >= possible_min


def count_text(confident: int, possible: int) -> str:
    """``"20 (18 confident, 2 possible)"``, ``"18 (all confident)"`` or ``"0"``.

    Examples
    --------
    >>> count_text(18, 2)
    '20 (18 confident, 2 possible)'
    >>> count_text(18, 0)
    '18 (all confident)'
    >>> count_text(0, 0)
    '0'
    """
    if confident < 0 or possible < 0:
        raise ParameterError(f"counts cannot be negative (got {confident} confident, {possible} possible)")
    high = confident + possible
    if high == 0:
        return "0"
    if possible == 0:
        return f"{high} (all confident)"
    return f"{high} ({confident} confident, {possible} possible)"


def counts(confident: int, possible: int) -> dict[str, Any]:
    """The count dict: ``confident``, ``possible``, ``low``, ``high``, ``text``."""
    return {"confident": int(confident), "possible": int(possible), "low": int(confident),
            "high": int(confident + possible), "text": count_text(confident, possible)}


def feed_count(shots: Sequence[Any], *, possible_min: float = POSSIBLE_MIN) -> dict[str, Any]:
    """One feed's shot count with its uncertainty.

    Parameters
    ----------
    shots : sequence of dict or float
        The feed's shots as :func:`media_core.analysis.shots.detect_shots` returns them (``confident``,
        ``confidence``); a shot without ``confident`` is confident when ``confidence >= 0.5``;
        a bare number is a confident shot.
    possible_min : float
        Lowest confidence of a non-confident shot that still counts as possible.

    Returns
    -------
    dict
        ``{"confident": int, "possible": int, "low": int, "high": int, "text": str}`` where
        ``low = confident``, ``high = confident + possible`` and ``text`` is :func:`count_text`.

    Examples
    --------
    >>> shots = [{"confidence": 0.9, "confident": True}] * 18 + [{"confidence": 0.3, "confident": False}] * 2
    >>> feed_count(shots)["text"]
    '20 (18 confident, 2 possible)'
    """
    if not 0.0 <= possible_min <= 1.0:
        raise ParameterError(f"possible_min must be within [0, 1] (got {possible_min})")
    n_conf = n_poss = 0
    for s in shots:
        if is_confident(s):
            n_conf += 1
        elif is_possible(s, possible_min=possible_min):
            n_poss += 1
    return counts(n_conf, n_poss)
