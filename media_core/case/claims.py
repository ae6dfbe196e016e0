"""Public claims checked against the measurements: consistent, inconsistent or not measurable.

A :class:`~media_core.case.store.Claim` states something a public source said ("officers fired
20 shots", "B muted about 12 s after the last shot"). :func:`check_claim` computes the same
quantity from the case's :class:`~media_core.case.timeline.Timeline`, with its uncertainty, and
compares. It never guesses: a claim about something the tool does not measure (who fired, a
free-text statement) is ``not measurable``, and so is a measurable claim whose evidence is
missing (no shots detected, the feed not placed on the shared clock).

Which mutes count (as in the commission report): ``digital-silence``, ``near-silence``,
``packet-gap`` and ``audio-ends-early``. A ``late-audio-start`` within the camera's pre-event
buffer, ``no-audio-track`` and damage (``undecodable``, ``truncated``) are never counted as an
officer muting.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COUNTED_MUTES = ("digital-silence", "near-silence", "packet-gap", "audio-ends-early")
DAMAGE = ("undecodable", "truncated")
DEFAULT_TOLERANCE = 0.25           # "about 12 s" -> 9..15 s unless the analyst sets the range
MUTE_EDGE_S = 0.025                # mute edges: measured within 25 ms on generated media (README)
SHOT_ONSET_S = 0.010               # shot onsets: within 10 ms
UNPLACED_S = 2.0                   # a feed placed only by metadata: camera clocks are often seconds off

CONSISTENT, INCONSISTENT, NOT_MEASURABLE = "consistent", "inconsistent", "not measurable"


@dataclass(frozen=True)
class ClaimCheck:
    """What one claim was checked against: the measured value, its uncertainty and the evidence."""

    claim_id: str
    status: str                    # consistent | inconsistent | not measurable
    measured: Any = None           # a number, a (low, high) count range, a bool
    uncertainty: float | None = None  # ± in the claim's unit (seconds), or None
    unit: str = ""
    stated_range: tuple | None = None
    reason: str = ""               # in words: why this status
    evidence: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["stated_range"] = list(self.stated_range) if self.stated_range is not None else None
        if isinstance(self.measured, tuple):
            d["measured"] = list(self.measured)
        return d


def stated_range(value: dict, *, tolerance: float = DEFAULT_TOLERANCE) -> tuple[float, float] | None:
    """The range a numeric claim asserts: ``low``/``high`` as the analyst set them, else
    ``value`` ± ``tolerance`` (25 %).
    """
    if value.get("low") is not None and value.get("high") is not None:
        lo, hi = float(value["low"]), float(value["high"])
        return (min(lo, hi), max(lo, hi))
    if value.get("value") is not None:
        v = float(value["value"])
        return (v * (1 - tolerance), v * (1 + tolerance)) if v >= 0 else (v * (1 + tolerance), v * (1 - tolerance))
    return None


def counted_mutes(timeline, feed_id: int | None = None) -> list:
    """The mutes that count as an officer muting (see the module docstring), by shared start."""
    return [m for m in timeline.mutes if m.kind in COUNTED_MUTES and (feed_id is None or m.feed_id == feed_id)]


def confident_incident_shots(timeline) -> list:
    return [s for s in timeline.incident_shots if s.confident]


def clock_uncertainty_s(feed) -> float:
    """How far the feed's placement may be off, in seconds (the reference: 0)."""
    if feed.is_reference:
        return 0.0
    ev = feed.sync_evidence or {}
    for key in ("uncertainty_ms",):
        v = ev.get(key, (ev.get("measurements") or {}).get(key))
        if isinstance(v, (int, float)):
            return float(v) / 1000.0
    if feed.sync_method in (None, "metadata"):
        return UNPLACED_S
    return 1.0 / 30.0  # audio or flash placements without a stated uncertainty: one frame


def _count_check(claim, timeline) -> ClaimCheck:
    inc = timeline.incident or {}
    if not timeline.incident_shots and not inc:
        return ClaimCheck(claim.id, NOT_MEASURABLE, reason="no shots were analysed in this case")
    lo, hi = int(inc.get("low", inc.get("count", 0))), int(inc.get("high", inc.get("count", 0)))
    v = claim.value.get("value")
    rng = stated_range(claim.value, tolerance=0.0)
    if v is None and rng is None:
        return ClaimCheck(claim.id, NOT_MEASURABLE, (lo, hi), reason="the claim states no number")
    a, b = (int(v), int(v)) if v is not None else (int(round(rng[0])), int(round(rng[1])))
    ok = a <= hi and b >= lo
    text = inc.get("text") or f"{lo}-{hi}"
    return ClaimCheck(claim.id, CONSISTENT if ok else INCONSISTENT, (lo, hi), None, "shots", (a, b),
                      f"measured {text} across the synced feeds" + ("" if ok else f"; the claim says {a}"
                                                                      + (f"-{b}" if b != a else "")),
                      {"incident_count": text, "numbers": [s.number for s in timeline.incident_shots if s.number]})


def _mute_after(claim, timeline, *, which: str) -> ClaimCheck:
    shots = confident_incident_shots(timeline)
    if not shots:
        return ClaimCheck(claim.id, NOT_MEASURABLE, reason="no confident shot in the case to measure from")
    ref_shot = shots[0] if which == "first" else shots[-1]
    feeds = [timeline.feed(claim.feed_id)] if claim.feed_id is not None else [f for f in timeline.feeds]
    if claim.feed_id is not None and feeds[0] is None:
        return ClaimCheck(claim.id, NOT_MEASURABLE, reason=f"feed {claim.feed_id} is not in the case")
    cands = []
    for f in feeds:
        if not f.placed:
            continue
        later = [m for m in counted_mutes(timeline, f.id) if m.start_s >= ref_shot.time_s - SHOT_ONSET_S]
        if later:
            cands.append((later[0], f))
    if not cands:
        who = feeds[0].label if claim.feed_id is not None else "any placed feed"
        return ClaimCheck(claim.id, NOT_MEASURABLE if claim.feed_id is None else INCONSISTENT, None, None, "s",
                          stated_range(claim.value), f"{who} has no mute after the {which} shot",
                          {"shot_time_s": ref_shot.time_s})
    m, f = min(cands, key=lambda x: x[0].start_s)
    delta = m.start_s - ref_shot.time_s
    unc = MUTE_EDGE_S + SHOT_ONSET_S + clock_uncertainty_s(f)
    rng = stated_range(claim.value)
    if rng is None:
        return ClaimCheck(claim.id, NOT_MEASURABLE, delta, unc, "s", None, "the claim states no time")
    ok = delta + unc >= rng[0] and delta - unc <= rng[1]
    return ClaimCheck(claim.id, CONSISTENT if ok else INCONSISTENT, round(delta, 3), round(unc, 3), "s", rng,
                      f"{f.label}'s first counted mute ({m.kind}) began {delta:.2f} s ± {unc:.2f} s after the "
                      f"{which} shot (shot {ref_shot.number})",
                      {"feed": f.label, "mute_kind": m.kind, "mute_start_shared_s": m.start_s,
                       "mute_start_media_s": m.media_start_s, "mute_wall": m.wall_start,
                       "shot_number": ref_shot.number, "shot_time_s": ref_shot.time_s,
                       "clock_uncertainty_s": clock_uncertainty_s(f)})


def _first_sight(claim, timeline) -> ClaimCheck:
    shots = confident_incident_shots(timeline)
    ann = next((a for a in timeline.annotations if a.id == claim.annotation_id), None)
    if ann is None:
        return ClaimCheck(claim.id, NOT_MEASURABLE, reason="the claim is not tied to an annotation marking first sight")
    if not shots:
        return ClaimCheck(claim.id, NOT_MEASURABLE, reason="no confident shot in the case")
    delta = shots[0].time_s - ann.start_s
    feed = timeline.feed(ann.feed_id) if ann.feed_id is not None else None
    unc = SHOT_ONSET_S + 1.0 / 30.0 + (clock_uncertainty_s(feed) if feed is not None else 0.0)
    rng = stated_range(claim.value)
    if rng is None:
        return ClaimCheck(claim.id, NOT_MEASURABLE, delta, unc, "s", None, "the claim states no time")
    ok = delta + unc >= rng[0] and delta - unc <= rng[1]
    return ClaimCheck(claim.id, CONSISTENT if ok else INCONSISTENT, round(delta, 3), round(unc, 3), "s", rng,
                      f"the first shot came {delta:.2f} s ± {unc:.2f} s after the annotation '{ann.text}'",
                      {"annotation_id": ann.id, "shot_time_s": shots[0].time_s})


def _duration(claim, timeline) -> ClaimCheck:
    shots = confident_incident_shots(timeline)
    if len(shots) < 2:
        return ClaimCheck(claim.id, NOT_MEASURABLE, reason="fewer than two confident shots in the case")
    d = shots[-1].time_s - shots[0].time_s
    unc = 2 * SHOT_ONSET_S
    rng = stated_range(claim.value)
    if rng is None:
        return ClaimCheck(claim.id, NOT_MEASURABLE, d, unc, "s", None, "the claim states no time")
    ok = d + unc >= rng[0] and d - unc <= rng[1]
    return ClaimCheck(claim.id, CONSISTENT if ok else INCONSISTENT, round(d, 3), unc, "s", rng,
                      f"first to last confident shot: {d:.2f} s ± {unc:.2f} s ({len(shots)} shots)",
                      {"first_shot_s": shots[0].time_s, "last_shot_s": shots[-1].time_s})


def _mute_exists(claim, timeline) -> ClaimCheck:
    f = timeline.feed(claim.feed_id) if claim.feed_id is not None else None
    if f is None:
        return ClaimCheck(claim.id, NOT_MEASURABLE, reason="the claim names no feed of the case")
    if not f.analysed:
        return ClaimCheck(claim.id, NOT_MEASURABLE, reason=f"{f.label} has not been analysed")
    mutes = counted_mutes(timeline, f.id)
    want = bool(claim.value.get("value", True))
    ok = bool(mutes) == want
    return ClaimCheck(claim.id, CONSISTENT if ok else INCONSISTENT, bool(mutes), None, "", None,
                      f"{f.label} has {len(mutes)} counted mute(s)" + (
                          f": {', '.join(m.kind for m in mutes)}" if mutes else ""),
                      {"mutes": [[m.kind, m.start_s, m.end_s] for m in mutes]})


def check_claim(claim, timeline) -> ClaimCheck:
    """Check one :class:`~media_core.case.store.Claim` against a :class:`Timeline`."""
    k = claim.kind
    if k == "shot_count":
        return _count_check(claim, timeline)
    if k == "mute_after_first_shot_s":
        return _mute_after(claim, timeline, which="first")
    if k == "mute_after_last_shot_s":
        return _mute_after(claim, timeline, which="last")
    if k == "time_first_sight_to_first_shot_s":
        return _first_sight(claim, timeline)
    if k == "shots_duration_s":
        return _duration(claim, timeline)
    if k == "mute_exists":
        return _mute_exists(claim, timeline)
    if k == "shooters":
        return ClaimCheck(claim.id, NOT_MEASURABLE, reason="the tool counts shots; it does not tell who fired them")
    return ClaimCheck(claim.id, NOT_MEASURABLE, reason="a statement the tool cannot measure")


def check_claims(claims, timeline) -> list[ClaimCheck]:
    """:func:`check_claim` for each claim, in order."""
    return [check_claim(c, timeline) for c in claims]
