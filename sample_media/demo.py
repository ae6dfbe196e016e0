"""The bundled demo incident, end to end: generate, build the case, analyse, sync, compare to truth.

``./run`` calls :func:`run_demo` (through ``evidence-audit demo``) before it opens the app.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from media_core.case.store import Case
from media_core.clock import Clock

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "sample_media" / "generated"


def ensure_sample_media(out_dir: str | os.PathLike = SAMPLE_DIR, *, seed: int = 7, fast: bool = False) -> Path:
    """Generate the demo incident if it is missing or stale; return the truth file's path."""
    from sample_media.incident import build_incident

    return Path(build_incident(Path(out_dir), seed=seed, fast=fast))


def build_case(truth_path: str | os.PathLike, case_path: str | os.PathLike) -> Case:
    """Open (or create) the demo case and add the incident's feeds with their labels and kinds.

    The demo case is derived output: when it holds feeds that are not this incident's files (the
    generator was updated and re-rendered them), it is rebuilt from scratch rather than given a
    second copy of every feed.
    """
    import shutil

    truth_path = Path(truth_path)
    truth = json.loads(truth_path.read_text())
    want = {f.get("sha256") for f in truth["feeds"]}
    if (Case.normalize_path(case_path) / "case.sqlite").is_file() and None not in want:
        with Case.open(case_path) as old:
            stale = {f.sha256 for f in old.feeds} - want
        if stale:
            shutil.rmtree(Case.normalize_path(case_path))
    case = Case.create(case_path, exist_ok=True)
    for f in truth["feeds"]:
        case.add_feed(truth_path.parent / f["file"], label=f["label"], kind=f["kind"])
    return case


def compare_with_truth(case: Case, truth: dict, incident: dict | None = None) -> dict[str, Any]:
    """Measured versus true mutes, shot counts and offsets, per feed (what the demo prints)."""
    from media_core.pipeline import ANALYSIS_ALGORITHM

    by_name = {os.path.basename(f.path): f for f in case.feeds}
    rows = []
    for t in truth["feeds"]:
        f = by_name.get(t["file"])
        if f is None:
            continue
        res = case.get_analysis(f.id, algorithm=ANALYSIS_ALGORITHM) or {}
        mutes = res.get("mutes", [])
        sync = case.sync_info(f.id)
        clock = case.clock(f.id)
        true_sync = t.get("sync") or {}
        # error of the placement at the middle of the feed, in ms
        err_ms = None
        if true_sync.get("offset_s") is not None and (sync is not None or f.id == case.reference_feed_id):
            mid = f.duration_s / 2
            true_mid = Clock(true_sync["offset_s"], true_sync.get("drift_ppm", 0.0)).to_shared(mid)
            err_ms = round((clock.to_shared(mid) - true_mid) * 1000, 1)
        rows.append({
            "feed": f.label,
            "mutes_found": [(round(m["start_s"], 3), round(m["end_s"], 3), m["kind"]) for m in mutes],
            "mutes_true": [(round(m["start_s"], 3), round(m["end_s"], 3), m["kind"]) for m in t.get("mutes", [])],
            "shots_found": res.get("shot_count"),
            "shots_true": t.get("shot_count"),
            "sync_method": sync["method"] if sync else ("reference" if f.id == case.reference_feed_id else None),
            "sync_confidence": sync["confidence"] if sync else None,
            "sync_error_ms": err_ms,
        })
    out = {"feeds": rows, "incident_shots_true": len(truth["incident"]["shots"])}
    if incident is not None:
        out["incident_shots_found"] = incident["count"]
    return out


def run_demo(out_dir: str | os.PathLike = "out", *, progress: Callable[[float, str], None] | None = None,
             sample_dir: str | os.PathLike = SAMPLE_DIR, seed: int = 7, fast: bool = False) -> dict[str, Any]:
    """Generate (first time), build, analyse and sync the demo case; write the results to ``out_dir``.

    Returns ``{"case": path, "summary": path, "comparison": {...}, "errors": [...]}``.
    """
    from media_core.pipeline import analyze_feeds, incident_shots, stored_analysis, sync_case

    report = progress or (lambda f, m: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report(0.0, "generating the demo incident (first run only)")
    truth_path = ensure_sample_media(sample_dir, seed=seed, fast=fast)
    truth = json.loads(truth_path.read_text())
    with build_case(truth_path, out / "demo.evcase") as case:
        ref = next(f for f in case.feeds if os.path.basename(f.path) == truth["incident"]["reference_feed"])
        stale = [f.id for f in case.feeds if stored_analysis(case, f.id) is None]
        _, errors = analyze_feeds(case, progress=lambda f, m: report(0.1 + 0.6 * f, m))
        never_synced = case.sync_info(next(f.id for f in case.feeds if f.id != ref.id)) is None
        if stale or never_synced:  # new shots or mutes can change the placement (flashes vs shots)
            sync_case(case, reference_feed_id=ref.id, progress=lambda f, m: report(0.7 + 0.3 * f, m))
        inc = incident_shots(case)
        comparison = compare_with_truth(case, truth, inc)
        summary = case.summary()
        summary["incident_shots"] = inc
        summary["comparison_with_truth"] = comparison
        summary_path = out / "demo_summary.json"
        summary_path.write_text(json.dumps(summary, indent=2, default=str))
    report(1.0, "demo ready")
    return {"case": str(out / "demo.evcase"), "summary": str(summary_path), "comparison": comparison,
            "incident": inc, "errors": errors}
