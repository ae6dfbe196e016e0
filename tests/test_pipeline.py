"""The demo incident end to end through the case: analyse, sync, incident shots, no re-decoding."""
from __future__ import annotations

import json

import pytest

from media_core import pipeline
from media_core.case.store import Case
from media_core.cli import main as cli_main
from sample_media.demo import run_demo


def test_demo_case_has_every_feed_analysed_and_placed(demo):
    d, res, truth = demo
    assert res["errors"] == []
    with Case.open(res["case"]) as case:
        assert sorted(f.label for f in case.feeds) == sorted(t["label"] for t in truth["feeds"])
        for f in case.feeds:
            assert pipeline.stored_analysis(case, f.id) is not None
        ref = case.feed(case.reference_feed_id)
        assert ref.path.endswith(truth["incident"]["reference_feed"])
    by_label = {r["feed"]: r for r in res["comparison"]["feeds"]}
    for t in truth["feeds"]:
        row = by_label[t["label"]]
        assert [m[2] for m in row["mutes_found"]] == [m["kind"] for m in t["mutes"]], t["label"]
        for (s, e, _), m in zip(row["mutes_found"], t["mutes"]):
            assert abs(s - m["start_s"]) <= 0.025 and abs(e - m["end_s"]) <= 0.025, (t["label"], s, e, m)
        if t["has_audio"]:
            assert row["sync_method"] in ("audio", "reference"), row
            assert row["shots_found"] == t["shot_count"], row
            assert abs(row["sync_error_ms"]) <= 33.0, row  # within one frame over the incident
        else:
            # The silent helicopter: placed by its muzzle flashes against the heard shots, or, when
            # the flash pattern is ambiguous (fast mode renders 15 fps), refused and left on the
            # low-confidence metadata guess with the reason -- never a confident wrong answer.
            with Case.open(res["case"]) as case:
                f = next(x for x in case.feeds if x.label == t["label"])
                info = case.sync_info(f.id)
            if info["method"] == "visual-flash":
                assert abs(row["sync_error_ms"]) <= 33.0, row
            else:
                assert info["method"] == "metadata" and info["confidence"] <= 0.3
                assert "flashes" in info["evidence"]["why_not_better"]
    assert res["comparison"]["incident_shots_found"] == len(truth["incident"]["shots"])


def test_second_run_decodes_nothing(demo, monkeypatch):
    d, res, _ = demo

    def boom(*a, **k):
        raise AssertionError("decoded again although the case has the results")

    monkeypatch.setattr("media_core.analysis.feed.analyze_feed", boom)
    monkeypatch.setattr("media_core.io.decode.run_listeners", boom)
    # pipeline looks sync up on the package; the package re-exports it from sync.placement
    monkeypatch.setattr("media_core.sync.sync_features", boom)
    monkeypatch.setattr("media_core.sync.placement.sync_features", boom)
    again = run_demo(d / "out", sample_dir=d / "gen", fast=True)
    assert again["comparison"] == res["comparison"]


def test_demo_summary_json_and_cli(demo, capsys):
    d, res, _ = demo
    with open(res["summary"]) as fh:
        summary = json.load(fh)
    assert len(summary["feeds"]) == 4 and "comparison_with_truth" in summary
    assert cli_main(["case", "show", res["case"]]) == 0
    out = capsys.readouterr().out
    assert "late-audio-start" in out and "digital-silence" in out


def test_one_decode_feeds_sync_and_timeline(demo, monkeypatch):
    """Re-syncing uses the features kept from the analysis decode; the timeline's envelope is stored."""
    from media_core.analysis.envelope import Envelope

    d, res, _ = demo

    def boom(*a, **k):
        raise AssertionError("sync decoded a feed again")

    monkeypatch.setattr("media_core.sync.features_from_file", boom)
    monkeypatch.setattr("media_core.sync.features.features_from_file", boom)
    monkeypatch.setattr("media_core.sync.sync_files", boom)
    monkeypatch.setattr("media_core.sync.placement.sync_files", boom)
    # the helicopter's flashes were looked for once (the first sync) and kept in the case
    monkeypatch.setattr("media_core.analysis.flashes.detect_flashes", boom)
    with Case.open(res["case"]) as case:
        heli = [f for f in case.feeds if not f.has_audio]
        assert heli and all(pipeline.stored_flashes(case, f.id)["flashes"] is not None for f in heli)
        inputs = pipeline.sync_inputs(case)
        # features are handed over as references to the case's cache, read when a match needs them
        assert all(isinstance(e["features"], pipeline.CachedSyncFeatures) for e in inputs if e["has_audio"])
        assert all("flashes" in e for e in inputs if not e["has_audio"])
        before = {f.id: case.clock(f.id) for f in case.feeds}
        doc = pipeline.sync_case(case)
        after = {f.id: case.clock(f.id) for f in case.feeds}
        assert doc["schema"] == "evidence-audit.sync/1"
        for fid, c in before.items():
            assert abs(after[fid].offset_s - c.offset_s) < 1e-6
        for f in case.feeds:
            env = case.get_analysis(f.id, algorithm=pipeline.ENVELOPE_ALGORITHM)
            if f.has_audio:
                assert len(Envelope.from_dict(env)) > 0.9 * f.duration_s / pipeline.ENVELOPE_PARAMS["step_s"]


def test_verify_after_pipeline(demo):
    _, res, _ = demo
    with Case.open(res["case"]) as case:
        rep = case.verify()
        actions = {r["action"] for r in case.audit_log()}
    assert rep.ok, rep.problems
    assert {"feed.add", "analysis.store", "sync.set", "sync.reference"} <= actions


# ---------------------------------------------------------------- one core path, one cancel protocol
@pytest.fixture(scope="module")
def two_feeds(tmp_path_factory):
    import numpy as np

    from sample_media.audio import room_tone
    from sample_media.encode import write_media

    d = tmp_path_factory.mktemp("two")
    rng = np.random.default_rng(5)
    y = room_tone(6.0, 48000, level_dbfs=-40.0, rng=rng)
    y[2 * 48000: 3 * 48000] = 0.0  # a digital-silence mute
    a = write_media(d / "unit_a.mp4", audio=y, duration_s=6.0, fps=10)
    b = write_media(d / "unit_b.mp4", audio=y[::-1].copy(), duration_s=6.0, fps=10)
    return [str(a), str(b)]


def test_analyze_case_result_is_what_the_pipeline_looks_up(two_feeds, tmp_path, capsys, monkeypatch):
    """`analyze --case` stores under the pipeline's key: preparing the case decodes no audio."""
    case_path = tmp_path / "c.evcase"
    assert cli_main(["case", "new", str(case_path)]) == 0
    capsys.readouterr()
    assert cli_main(["analyze", *two_feeds, "--case", str(case_path), "--json"]) == 0
    cli_doc = json.loads(capsys.readouterr().out)
    assert cli_main(["analyze", *two_feeds, "--json"]) == 0
    plain_doc = json.loads(capsys.readouterr().out)
    assert cli_doc == plain_doc  # the same document with or without a case

    def boom(*a, **k):
        raise AssertionError("decoded again although `analyze --case` stored the analysis")

    monkeypatch.setattr("media_core.analysis.feed.analyze_feed", boom)
    monkeypatch.setattr("media_core.io.decode.run_listeners", boom)
    with Case.open(case_path) as case:
        for f, entry in zip(case.feeds, cli_doc["feeds"]):
            stored = pipeline.stored_analysis(case, f.id)
            assert stored is not None and stored["mutes"] == entry["mutes"] and stored["shots"] == entry["shots"]
            assert pipeline.preparation_needed(case, f) == (True, False)  # only the video index is missing
        assert pipeline.prepare_case(case) == []
        for f in case.feeds:
            assert pipeline.stored_video_index(case, f.id)["schema"]
            assert pipeline.preparation_needed(case, f) == (False, False)


def test_case_prepare_cli_prepares_everything_once(two_feeds, tmp_path, capsys, monkeypatch):
    case_path = tmp_path / "p.evcase"
    with Case.create(case_path) as case:
        assert case.add_feeds(two_feeds)[1] == []
    assert cli_main(["case", "prepare", str(case_path), "--no-sync"]) == 0
    assert "prepared 2 of 2 feed(s)" in capsys.readouterr().out
    with Case.open(case_path) as case:
        for f in case.feeds:
            assert pipeline.preparation_needed(case, f) == (False, False)
            assert pipeline.load_sync_features(case, f) is not None  # kept from the same decode
            assert case.get_analysis(f.id, algorithm=pipeline.ENVELOPE_ALGORITHM)["schema"]

    def boom(*a, **k):
        raise AssertionError("prepared twice")

    monkeypatch.setattr("media_core.pipeline.compute_feed_analysis", boom)
    monkeypatch.setattr("media_core.io.video.build_index", boom)
    assert cli_main(["case", "prepare", str(case_path), "--no-sync"]) == 0


def test_damaged_feature_cache_is_decoded_again_not_trusted(two_feeds, tmp_path):
    case_path = tmp_path / "d.evcase"
    with Case.create(case_path) as case:
        case.add_feeds(two_feeds)
        assert pipeline.prepare_case(case) == []
        first = pipeline.sync_case(case)
        f0 = case.feeds[0]
        cached = pipeline.cached_sync_features(case, f0)
        with open(cached.path, "r+b") as fh:     # a torn write: the archive's directory is gone
            fh.truncate(100)
        assert pipeline.load_sync_features(case, f0) is None
        again = pipeline.sync_case(case)
    assert [e["offset_s"] for e in again["feeds"]] == [e["offset_s"] for e in first["feeds"]]


def test_cancelled_analysis_keeps_the_feeds_already_done(two_feeds, tmp_path):
    from media_core.errors import Cancelled

    seen = []

    def progress(fraction, message):
        seen.append((fraction, message))

    with Case.create(tmp_path / "x.evcase") as case:
        (a, b), _ = case.add_feeds(two_feeds)
        # stop as soon as the second feed's decode reports progress
        stop = lambda: any(b.label in m for _, m in seen)  # noqa: E731
        with pytest.raises(Cancelled, match="cancelled"):
            pipeline.analyze_feeds(case, progress=progress, should_stop=stop)
        assert pipeline.stored_analysis(case, a.id) is not None
        assert pipeline.stored_analysis(case, b.id) is None
        fr = [f for f, _ in seen]
        assert fr == sorted(fr) and 0.0 <= fr[0] and fr[-1] <= 1.0
        assert all(isinstance(m, str) and m for _, m in seen)


def test_cancelled_preparation_stores_nothing(two_feeds, tmp_path):
    from media_core.errors import Cancelled

    with Case.create(tmp_path / "y.evcase") as case:
        (a,), _ = case.add_feeds(two_feeds[:1])
        with pytest.raises(Cancelled):
            pipeline.prepare_feed(case, a.id, should_stop=lambda: True)
        assert pipeline.preparation_needed(case, a) == (True, True)
        with pytest.raises(Cancelled):
            case.verify(should_stop=lambda: True)


def test_demo_case_is_rebuilt_when_the_incident_was_regenerated(demo, tmp_path):
    """A demo case holding feeds that are not the incident's files is rebuilt, never doubled."""
    from sample_media.demo import build_case

    d, res, truth = demo
    gen = d / "gen"
    t2 = json.loads((gen / "truth.json").read_text())
    with build_case(gen / "truth.json", tmp_path / "demo.evcase") as case:
        first_id = case.case_id
        assert len(case.feeds) == len(t2["feeds"])
    t2["feeds"][0]["sha256"] = "0" * 64  # as if the generator had re-rendered this file
    (tmp_path / "truth.json").write_text(json.dumps(t2))
    for f in t2["feeds"]:
        (tmp_path / f["file"]).symlink_to(gen / f["file"])
    with build_case(tmp_path / "truth.json", tmp_path / "demo.evcase") as case:
        assert case.case_id != first_id and len(case.feeds) == len(t2["feeds"])
