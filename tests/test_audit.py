"""The department-wide mute audit (issue 16): per-file records, the Parquet store, the summaries."""
from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import shutil

import pytest

from media_core.batch.audit import audit_file, run_audit
from media_core.batch.store import AuditStore
from media_core.batch.summary import summarize, summary_csv, summary_html, write_report
from media_core.cli import main


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    from sample_media.release import build_release

    d = tmp_path_factory.mktemp("audit")
    truth = build_release(d / "rel", seed=5, n_feeds=5, total_hours=5 * 4 / 3600, size=(64, 36), fps=10, n_far=0,
                          n_heli=1, event_gap_s=(1.0, 3.0), mute_share=0.7, workers=1)
    return d / "rel", truth


def test_record_has_identity_start_duration_mutes_and_shots(release):
    rel, truth = release
    for f in truth["feeds"]:
        r = audit_file(rel / f["file"])
        assert (r["make"], r["model"], r["serial"]) == (f["make"], f["model"], f["serial"])
        assert r["tags"]["unit"] == f["unit"]  # a key=value pair of the comment tag
        assert r["recording_start"] == dt.datetime.fromisoformat(f["creation_time"][:-1])
        assert r["duration_s"] == pytest.approx(f["duration_s"], abs=0.15)
        assert len(r["sha256"]) == 64 and r["has_audio"] == f["has_audio"]
        kinds = [m["kind"] for m in r["mutes"]]
        assert kinds == [m["kind"] for m in f["mutes"]]
        for got, want in zip(r["mutes"], f["mutes"]):
            assert got["start_s"] == pytest.approx(want["start_s"], abs=0.1)
            assert got["end_s"] == pytest.approx(want["end_s"], abs=0.12)
        assert r["shot_count"] == len(r["shot_times_s"])


def test_bad_file_is_a_record_of_its_error(tmp_path):
    p = tmp_path / "broken.mp4"
    p.write_bytes(b"\x00" * 3000)
    r = audit_file(p)
    assert r["path"] == str(p) and "broken.mp4" in r["error"]


def test_local_pool_store_is_incremental_and_idempotent(release, tmp_path):
    rel, truth = release
    src = tmp_path / "src"
    shutil.copytree(rel, src)
    (src / "truth.json").unlink()
    (src / "broken.mp4").write_bytes(b"junk" * 100)
    store = tmp_path / "store"
    run = run_audit([src], store, workers=2)
    assert (run.audited, run.added, len(run.errors)) == (5, 5, 1)
    st = AuditStore(store)
    assert len(st) == 5 and len(st.parts()) == 1
    first = st.records()

    run = run_audit([src], store, workers=2)  # nothing changed: skipped without reading the files
    assert (run.skipped, run.audited, run.added) == (5, 0, 0)
    shutil.copy(src / truth["feeds"][0]["file"], src / "same_bytes.mp4")
    run = run_audit([src], store, workers=1)
    assert (run.audited, run.added, run.duplicates) == (1, 0, 1)
    assert st.append(first) == 0  # the same records again: nothing added
    assert st.records() == first


def _rec(sha, serial, start, dur_s, mutes=(), shots=(), unit="u1", has_audio=True):
    return {"sha256": sha, "path": f"/x/{sha}.mp4", "name": f"{sha}.mp4", "size": 1, "mtime_ns": 1,
            "make": "Axon", "model": "Body 3", "serial": serial, "creation_time": start,
            "recording_start": dt.datetime.fromisoformat(start), "duration_s": dur_s, "has_audio": has_audio,
            "tags": {"unit": unit, "title": "=HYPERLINK(\"http://x\")"}, "shot_count": len(shots),
            "shot_times_s": list(shots),
            "mutes": [{"kind": k, "start_s": a, "end_s": b, "duration_s": b - a, "confidence": 0.99,
                       "after_shot_s": (a - max(t for t in shots if t <= a)) if any(t <= a for t in shots) else None}
                      for k, a, b in mutes],
            "muted_s": sum(b - a for _, a, b in mutes), "version": "v"}


def test_summaries_by_serial_month_and_tag(tmp_path):
    st = AuditStore(tmp_path / "s")
    recs = [
        _rec("a" * 64, "S1", "2026-10-03T08:00:00", 3600.0, [("digital-silence", 100.0, 160.0),
                                                              ("packet-gap", 1000.0, 1002.0)], shots=[50.0]),
        _rec("b" * 64, "S1", "2026-11-03T08:00:00", 1800.0, [("digital-silence", 900.0, 1020.0)], shots=[100.0],
             unit="<script>alert(1)</script>"),
        _rec("c" * 64, "S2", "2026-11-09T08:00:00", 7200.0),
        _rec("d" * 64, "H1", "2026-11-09T09:00:00", 600.0, [("no-audio-track", 0.0, 600.0)], has_audio=False),
    ]
    assert st.append(recs[:2]) == 2 and st.append(recs) == 2 and st.append(recs) == 0
    rows = {r["group"]: r for r in summarize(st, "serial")}
    s1 = rows["S1"]
    assert (s1["files"], s1["recorded_h"], s1["files_with_mute"], s1["mutes"]) == (2, 1.5, 2, 3)
    assert s1["muted_min"] == pytest.approx(182 / 60, abs=1e-3)
    assert s1["muted_min_per_recorded_h"] == pytest.approx(182 / 60 / 1.5, abs=1e-3)
    assert s1["median_mute_s"] == 60.0
    # 50 s after a shot: yes; 950 s (15.8 min) after it: no; 800 s after the other file's shot: no
    assert s1["mutes_after_shot"] == 1
    assert rows["H1"]["files_with_mute"] == 0 and rows["H1"]["files_without_audio"] == 1  # not a muted mic
    assert rows["S2"]["muted_min_per_recorded_h"] == 0.0 and rows["S2"]["median_mute_s"] is None
    total = rows["(all)"]
    assert (total["files"], total["files_with_mute"], total["mutes"]) == (4, 2, 3)
    months = {r["group"]: r["files"] for r in summarize(st, "month")}
    assert months == {"2026-10": 1, "2026-11": 3, "(all)": 4}
    units = {r["group"]: r["files"] for r in summarize(st, "tag:unit")}
    assert units == {"u1": 3, "<script>alert(1)</script>": 1, "(all)": 4}
    assert {r["group"] for r in summarize(st, "nosuchtag")} == {"(no nosuchtag)", "(all)"}
    assert summarize(st, "serial", exclude_kinds=())[-1]["files_with_mute"] == 3

    by_title = summarize(st, "title")
    cells = list(csv.reader(io.StringIO(summary_csv(by_title).lstrip("\ufeff"))))
    assert cells[1][0].startswith("'=HYPERLINK")  # a spreadsheet would run it: guarded
    page = summary_html([("unit", summarize(st, "unit"))], store="s")
    assert "<script>" not in page and "&lt;script&gt;" in page and "<svg" in page


def test_cli_run_and_report(release, tmp_path, capsys):
    rel, _ = release
    store = tmp_path / "store"
    assert main(["audit", "run", str(rel), "--store", str(store), "--workers", "1"]) == 0
    assert "audited 5 of 5 file(s)" in capsys.readouterr().out
    assert main(["audit", "report", "--store", str(store), "--by", "serial", "--by", "month", "--by", "tag:unit"]) == 0
    out = capsys.readouterr().out
    assert "By serial:" in out and "By tag:unit:" in out and "(all)" in out
    for name in ("by_serial.csv", "by_month.csv", "by_tag_unit.csv", "report.html"):
        assert (store / "report" / name).is_file()
    res = write_report(store, tmp_path / "r", groupings=["camera"])
    assert res["sections"]["camera"][-1]["files"] == 5
    assert main(["audit", "report", "--store", str(tmp_path / "nothing")]) == 2


@pytest.mark.skipif(importlib.util.find_spec("distributed") is not None, reason="Dask is installed here")
def test_scheduler_without_dask_says_which_extra(release, tmp_path, capsys):
    rel, _ = release
    assert main(["audit", "run", str(rel), "--store", str(tmp_path / "s"), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "'cluster' extra" in capsys.readouterr().err
