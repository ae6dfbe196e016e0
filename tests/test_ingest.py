"""Release ingest (issue 16): every media file under folders into one case, in parallel, resumable."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from media_core.batch.ingest import ingest, ingest_summary
from media_core.case.store import Case
from media_core.cli import main


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """Seven tiny feeds (64x36, 3-7 s): body cams, a dash cam, a helicopter, a far officer."""
    from sample_media.release import build_release

    d = tmp_path_factory.mktemp("release")
    truth = build_release(d / "rel", n_feeds=7, total_hours=7 * 5 / 3600, size=(64, 36), fps=10, n_far=1, n_heli=1,
                          event_gap_s=(1.0, 3.0), mute_share=0.6, workers=1)
    return d / "rel", truth


def _state(case_dir: Path) -> dict:
    """Everything an ingest stores, minus the audit log's timing (and the rows' own timestamps)."""
    con = sqlite3.connect(case_dir / "case.sqlite")
    q = {
        "feeds": "SELECT id, path, size, sha256, probe_json, label, kind FROM feeds ORDER BY id",
        "aliases": "SELECT feed_id, path FROM feed_aliases ORDER BY feed_id, path",
        "analyses": "SELECT feed_id, sha256, algorithm, version, params_json, result_json FROM analyses "
                    "ORDER BY feed_id, algorithm, version, params_json",
        "sync": "SELECT feed_id, offset_s, drift_ppm, method, confidence, evidence_json, nudge_s FROM sync "
                "ORDER BY feed_id",
        "annotations": "SELECT id, feed_id, start_s, end_s, category, text FROM annotations ORDER BY id",
        "reference": "SELECT value FROM meta WHERE key='reference_feed_id'",
    }
    out = {k: con.execute(v).fetchall() for k, v in q.items()}
    con.close()
    out["cache"] = sorted(p.name for p in (case_dir / "cache").glob("*.npz"))
    return out


def test_ingest_cli_parallel_bad_file_alias_and_summary(release, tmp_path, capsys):
    rel, truth = release
    src = tmp_path / "drop"
    shutil.copytree(rel, src / "release")
    (src / "release" / "truth.json").unlink()
    (src / "notes.txt").write_text("not media, not reported")
    (src / "bad").mkdir()
    (src / "bad" / "broken_bodycam.mp4").write_bytes(os.urandom(4000))
    first = truth["feeds"][0]["file"]
    (src / "zz_copies").mkdir()
    shutil.copy(src / "release" / first, src / "zz_copies" / "copy_of_first.mp4")  # same bytes, another path

    code = main(["case", "ingest", str(tmp_path / "c"), str(src), "--workers", "2"])
    out, err = capsys.readouterr()
    assert code == 2  # one file failed
    assert "broken_bodycam.mp4: not a media file" in err
    assert "notes.txt" not in err + out
    assert "ingest: 9/9 files" in err  # the progress display: files, MB, ETA, failures
    assert "1 failed" in err

    with Case.open(tmp_path / "c") as case:
        feeds = case.feeds
        assert [f.name for f in feeds] == sorted(f["file"] for f in truth["feeds"])  # ids in path order
        assert len(case.aliases(case.feed_by_path(src / "release" / first).id)) == 1
        for f in feeds:
            assert case.get_analysis(f.id, algorithm="analysis") is not None
            assert case.get_analysis(f.id, algorithm="video_index") is not None
        s = ingest_summary(case)
    by_file = {f["file"]: f for f in truth["feeds"]}
    muted = {f.name for f in feeds if by_file[f.name]["mutes"]}
    assert {x["label"].split(" ")[0] + ".mp4" for x in s["feeds_with_mutes"]} == muted
    silences = [m for m in s["mutes"] if m["kind"] == "digital-silence"]
    assert silences and all(m["wall_start"] for m in silences)  # on the shared clock and the wall clock
    assert "Feeds with mutes" in out and "Placed only by metadata" in out and "Incident shots" in out
    assert "same bytes at another path 1" in out and "failed 1" in out
    far = [f["file"] for f in truth["feeds"] if f["placed_by"] == "metadata"]
    meta = {x["label"].split(" ")[0] + ".mp4" for x in s["metadata_only"]} | {
        x["label"].split(" ")[0] + ".mp4" for x in s["unplaced"]}
    assert set(far) <= meta  # a far feed cannot be placed by sound


def _prepared_count(case_dir: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{case_dir / 'case.sqlite'}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT count(*) FROM analyses WHERE algorithm='analysis'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_killed_ingest_resumes_to_the_same_case(release, tmp_path):
    rel, truth = release
    n = len(truth["feeds"])
    with Case.create(tmp_path / "ref") as case:  # the uninterrupted run (in this process)
        rep = ingest(case, [rel], workers=0)
    assert rep.prepared == n and not rep.failures

    killed = tmp_path / "killed.evcase"
    proc = subprocess.Popen([sys.executable, "-m", "media_core.cli", "case", "ingest", str(killed), str(rel),
                             "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    t0 = time.monotonic()
    try:
        while _prepared_count(killed) < 2 and proc.poll() is None and time.monotonic() - t0 < 60:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)  # the ingest and its worker, mid-run
    finally:
        proc.wait(timeout=30)
    done_at_kill = _prepared_count(killed)
    assert 2 <= done_at_kill < n, "the kill must land mid-run"

    with Case.open(killed) as case:  # started again: skips what is stored
        rep = ingest(case, [rel], workers=0)
    assert rep.prepared == n - done_at_kill and rep.already_prepared == done_at_kill
    assert _state(killed) == _state(tmp_path / "ref.evcase")

    with Case.open(killed) as case:  # once more: nothing to do, nothing hashed again
        rep = ingest(case, [rel], workers=0, sync=False)
    assert rep.prepared == 0 and rep.known == n and rep.bytes_hashed == 0
