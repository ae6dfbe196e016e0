"""The commission report as data: everything the PDF shows, as one schema-versioned document.

:func:`build_report` reads a case (its :class:`~media_core.case.timeline.Timeline`, claims and
signed head) and returns the ``evidence-audit.report/1`` dict that ``report.json`` holds and the
PDF, ``mutes.csv``, ``shots.csv`` and ``claims.csv`` are rendered from. Pure: it writes nothing.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any

from media_core.case.claims import COUNTED_MUTES, DAMAGE, check_claims, clock_uncertainty_s

SCHEMA = "evidence-audit.report/1"
DEFAULT_PRE_EVENT_BUFFER_S = 30.0  # Axon's default; set per camera model with pre_event_buffers

METHOD_AND_LIMITS = [
    ("Muted spans", "The audio of each feed is decoded once, pts-true. A span counts as muted when the decoded "
     "samples are exactly zero on every channel (digital silence), when a dead electrical floor replaces room "
     "tone (near silence: RMS <= -80 dBFS, steady, white), when packets are missing (packet gap) or when the "
     "audio ends before the video. Edges are measured within 25 ms on generated media (AAC 64-192 kb/s). Quiet "
     "live sound is never called muted; it is listed apart in the case."),
    ("Pre-event buffer", "A camera records video without sound before its button is pressed. An audio start "
     "later than the video but within the camera's buffer is shown as the buffer, not as a mute."),
    ("Shots", "Impulsive onsets are found on 1-ms frame energies and scored by a fitted tree model (shots-2.1.2, "
     "its SHA-256 in each shot's evidence). Counts are ranges: confident shots, plus possible ones. A sound "
     "that resumes out of a mute's silence is at most a possible shot. Across "
     "feeds, a shot heard at consistent arrival times is counted once. Held out from training, exact counts "
     "were reached on 67-77 % (renderer a), 49-52 % (renderer b) and 44 % (a third renderer never fitted on) of "
     "generated volleys; audio above 48 kHz is analysed at 48 kHz or less; real distractors (doors, "
     "claps, fireworks) still give some confident false shots. Treat counts as measurements with that error."),
    ("Shared clock", "Each feed is placed on the reference feed's clock by audio cross-correlation with drift, "
     "by muzzle flashes for feeds without sound, or by metadata (camera clocks; often seconds off). Sound "
     "travels 343 m/s: cameras d metres apart hear a source up to d/343 s apart, an inherent bias."),
    ("Wall clock", "Wall-clock times come from one camera's own clock (its creation_time tag) and are only as "
     "good as that clock."),
    ("Claims", "Each public claim is compared with the measured value and its uncertainty: consistent when "
     "they overlap, inconsistent when they do not, not measurable when the tool does not measure it or the "
     "evidence is missing. Nothing is guessed."),
    ("Integrity", "Originals are fingerprinted with SHA-256 and never written. Every change to the case is "
     "in a hash-chained, signed audit log; this report names the signed head it was made from. "
     "`evidence-audit verify` checks the case and this folder's manifest."),
]


def _camera(probe: dict) -> dict:
    return {k: probe.get(k) for k in ("make", "model", "serial") if probe.get(k)}


def mute_class(m, buffer_s: float) -> str:
    """``counted``, ``pre-event buffer``, ``late start beyond buffer``, ``no audio`` or ``damage``."""
    if m.kind in COUNTED_MUTES:
        return "counted"
    if m.kind == "late-audio-start":
        return "pre-event buffer" if m.duration_s <= buffer_s + 0.05 else "late start beyond buffer"
    if m.kind == "no-audio-track":
        return "no audio"
    if m.kind in DAMAGE:
        return "damage"
    return "other"


def build_report(case, *, date: str | None = None, pre_event_buffers: dict[str, float] | None = None,
                 default_buffer_s: float = DEFAULT_PRE_EVENT_BUFFER_S, timeline=None) -> dict[str, Any]:
    """The ``evidence-audit.report/1`` document of ``case``.

    Parameters
    ----------
    date : str, optional
        The report's date (ISO, ``YYYY-MM-DD``); default today (UTC). Fix it for reproducible bytes.
    pre_event_buffers : dict, optional
        Camera model -> pre-event buffer in seconds (e.g. ``{"Axon Body 3": 30}``); others get
        ``default_buffer_s``.
    """
    from media_core import __version__, pipeline
    from media_core.case.timeline import build_timeline

    tl = timeline if timeline is not None else build_timeline(case)
    buffers = dict(pre_event_buffers or {})
    head = case.signed_head()
    feeds_by_id = {f.id: f for f in case.feeds}
    shots = [s for s in tl.incident_shots if s.confident]
    first, last = (shots[0].time_s, shots[-1].time_s) if shots else (None, None)
    from media_core.analysis.incident_shots import ALGORITHM_VERSION as INCIDENT_VERSION
    from media_core.sync import SCHEMA as SYNC_SCHEMA

    versions = {"analysis": pipeline.analysis_version(), "sync": SYNC_SCHEMA, "incident_shots": INCIDENT_VERSION}

    feeds = []
    for f in tl.feeds:
        probe = feeds_by_id[f.id].probe
        a, b = f.shared_range()
        feeds.append({
            "id": f.id, "label": f.label, "kind": f.kind, "camera": _camera(probe), "sha256": f.sha256,
            "path": f.path, "duration_s": round(f.duration_s, 3), "start_shared_s": round(a, 3),
            "end_shared_s": round(b, 3), "start_wall": tl.wall(a), "has_audio": f.has_audio,
            "sync_method": "reference" if f.is_reference else f.sync_method,
            "sync_confidence": f.sync_confidence, "clock_offset_s": f.clock.offset_s,
            "clock_drift_ppm": f.clock.drift_ppm,
            "sync_uncertainty_ms": round(clock_uncertainty_s(f) * 1000.0, 1),
        })

    # the analyst's findings on spoken reasons (never the speech leads: leads are not findings)
    findings = {(r["feed_id"], r["mute_key"]): r for r in case.mute_findings()}
    mutes = []
    for m in tl.mutes:
        f = tl.feed(m.feed_id)
        buf = buffers.get((_camera(feeds_by_id[m.feed_id].probe) or {}).get("model", ""), default_buffer_s)
        cls = mute_class(m, buf)
        meas = (m.evidence or {}).get("measurements") or {}
        mutes.append({
            "feed": m.feed_label, "feed_id": m.feed_id, "kind": m.kind, "class": cls,
            "start_shared_s": round(m.start_s, 3), "end_shared_s": round(m.end_s, 3),
            "start_media_s": round(m.media_start_s, 3), "end_media_s": round(m.media_end_s, 3),
            "start_wall": m.wall_start, "end_wall": m.wall_end, "duration_s": round(m.duration_s, 3),
            "confidence": m.confidence,
            "after_first_shot_s": None if first is None else round(m.start_s - first, 3),
            "after_last_shot_s": None if last is None else round(m.start_s - last, 3),
            "evidence": {k: meas[k] for k in sorted(meas) if isinstance(meas[k], (int, float, str))},
            "method": (m.evidence or {}).get("method"),
            "spoken_reason": _spoken_reason(findings.get((m.feed_id, case.mute_key(m.kind, m.media_start_s)))),
            "note": (f"audio began {m.duration_s:.1f} s after video, longer than a pre-event buffer "
                     f"({buf:.0f} s)") if cls == "late start beyond buffer" else "",
            "uncertainty_s": round(0.025 + clock_uncertainty_s(f), 3) if f is not None else None,
        })

    counted = [m for m in mutes if m["class"] == "counted"]
    recorded_h = sum(f["duration_s"] for f in feeds if f["has_audio"]) / 3600.0
    per_feed_after = {}
    for m in counted:
        if first is not None and m["end_shared_s"] > first:
            overlap = m["end_shared_s"] - max(m["start_shared_s"], first)
            per_feed_after[m["feed"]] = round(per_feed_after.get(m["feed"], 0.0) + overlap, 3)
    first_after = {}
    for m in sorted(counted, key=lambda x: x["start_shared_s"]):
        f = next(x for x in feeds if x["id"] == m["feed_id"])
        if first is not None and m["start_shared_s"] >= first and f["kind"] == "bodycam":
            first_after.setdefault(m["feed"], {"kind": m["kind"], "start_shared_s": m["start_shared_s"],
                                               "after_first_shot_s": m["after_first_shot_s"],
                                               "after_last_shot_s": m["after_last_shot_s"],
                                               "start_wall": m["start_wall"]})
    summary = {
        "feeds": len(feeds), "feeds_with_mutes": len({m["feed"] for m in counted}),
        "muted_minutes_per_recorded_hour": round(sum(m["duration_s"] for m in counted) / 60.0 / recorded_h, 2)
        if recorded_h > 0 else None,
        "recorded_hours": round(recorded_h, 3),
        "muted_after_first_shot_s": per_feed_after,
        "muted_after_first_shot_total_s": round(sum(per_feed_after.values()), 3),
        "first_mute_after_shooting": first_after,
        "mutes_with_stated_reason": {
            "stated": sum(1 for m in counted if m["spoken_reason"].startswith("reason stated")),
            "reviewed": sum(1 for m in counted if not m["spoken_reason"].startswith("not reviewed")),
            "counted": len(counted)},
    }

    inc = tl.incident or {}
    shots_doc = {
        "incident": {"text": inc.get("text"), "confident": inc.get("confident", inc.get("count")),
                     "possible": inc.get("possible", 0), "low": inc.get("low"), "high": inc.get("high"),
                     "current": tl.incident_current},
        "per_feed": inc.get("feed_counts", {}),
        "shots": [{"number": s.number, "time_shared_s": round(s.time_s, 4), "wall": s.wall, "status": s.status,
                   "confident": s.confident, "confidence": round(s.confidence, 3), "feeds": list(s.feeds)}
                  for s in tl.incident_shots],
        "volleys": _volleys(shots),
    }

    checks = {c.claim_id: c for c in check_claims(case.claims, tl)}
    claims = []
    for c in case.claims:
        ck = checks[c.id]
        claims.append({"id": c.id, "source": c.source, "quote": c.quote, "kind": c.kind,
                       "feed": tl.feed(c.feed_id).label if c.feed_id is not None and tl.feed(c.feed_id) else None,
                       "stated": c.value, **{k: v for k, v in ck.to_dict().items() if k != "claim_id"}})

    annotations = [{"start_shared_s": round(a.start_s, 3),
                    "end_shared_s": None if a.end_s is None else round(a.end_s, 3),
                    "feed": tl.feed(a.feed_id).label if a.feed_id is not None and tl.feed(a.feed_id) else None,
                    "category": a.category, "text": a.text, "author": a.author, "wall": a.wall_start}
                   for a in tl.annotations]

    return {
        "schema": SCHEMA,
        "header": {
            "case": case.name, "case_id": case.case_id,
            "date": date or _dt.datetime.now(_dt.timezone.utc).date().isoformat(),
            "analyst": case.user, "tool_version": __version__, "analysis_versions": versions,
            "signed_head": head, "wall_clock": tl.wall_clock.source if tl.wall_clock else None,
            "reference_feed": next((f.label for f in tl.feeds if f.is_reference), None),
            "pre_event_buffers_s": {"default": default_buffer_s, **buffers},
        },
        "feeds": feeds, "mutes": mutes, "summary": summary, "shots": shots_doc, "claims": claims,
        "annotations": annotations,
        "method_and_limits": [{"topic": t, "text": x} for t, x in METHOD_AND_LIMITS],
    }


def _spoken_reason(row: dict | None) -> str:
    """The analyst's finding on a mute as the report shows it: ``reason stated: "..."``, ``no reason``,
    ``inaudible`` or ``not reviewed`` (with the text as heard when there is one).
    """
    if row is None:
        return "not reviewed"
    label = str(row.get("finding", "not-reviewed")).replace("-", " ")
    text = str(row.get("text") or "").strip()
    return f'{label}: "{text}"' if text else label


def _volleys(shots, gap_s: float = 2.0) -> list[dict]:
    """Confident incident shots grouped into volleys (a gap of more than ``gap_s`` ends one)."""
    out: list[dict] = []
    for s in shots:
        if out and s.time_s - out[-1]["end_shared_s"] <= gap_s:
            out[-1]["end_shared_s"] = round(s.time_s, 4)
            out[-1]["shots"] += 1
        else:
            out.append({"start_shared_s": round(s.time_s, 4), "end_shared_s": round(s.time_s, 4), "shots": 1})
    return out
