"""analyze_file and the ``analyze`` command: the JSON contract, tables, bad files, the case."""
from __future__ import annotations

import hashlib
import json
import re

import pytest

from media_core.analysis.feed import SCHEMA, analyze_feed, analyze_file, default_listeners
from media_core.cli import main
from media_core.errors import NotMediaError, ParameterError
from sample_media import room_tone, speech_like, write_media

SR = 48000
FEED_KEYS = {"path", "sha256", "duration_s", "has_audio", "mutes", "quiet", "shots", "shot_count", "volleys"}


@pytest.fixture(scope="module")
def feeds(tmp_path_factory):
    d = tmp_path_factory.mktemp("feeds")
    y = speech_like(8.0, SR, level_dbfs=-20, rng=1) + room_tone(8.0, SR, -60, 2)
    y[3 * SR:5 * SR] = 0
    a = write_media(d / "unit1.mp4", audio=y, audio_start_s=1.0, duration_s=9.0, fps=10)
    b = write_media(d / "unit2.mp4", audio=None, duration_s=3.0, fps=10)
    bad = d / "notes.mp4"
    bad.write_text("not a video\n")
    return a, b, bad


def test_contract_for_one_feed(feeds):
    a, _, _ = feeds
    doc = analyze_file(a, shots=False)
    assert set(doc) == {"schema", "feeds"} and doc["schema"] == SCHEMA
    (feed,) = doc["feeds"]
    assert set(feed) == FEED_KEYS
    assert feed["sha256"] == hashlib.sha256(a.read_bytes()).hexdigest()
    assert feed["duration_s"] == pytest.approx(9.0, abs=0.01) and feed["has_audio"] is True
    kinds = [(m["kind"], round(m["start_s"], 1), round(m["end_s"], 1)) for m in feed["mutes"]]
    assert kinds == [("late-audio-start", 0.0, 1.0), ("digital-silence", 4.0, 6.0)]
    assert feed["shots"] == [] and feed["shot_count"] == 0 and feed["volleys"] == []
    json.dumps(doc)  # JSON-ready


def test_no_audio_feed(feeds):
    feed = analyze_feed(feeds[1], shots=False)
    assert feed["has_audio"] is False
    assert [m["kind"] for m in feed["mutes"]] == ["no-audio-track"]


def test_bad_inputs(feeds):
    with pytest.raises(NotMediaError, match="notes.mp4"):
        analyze_feed(feeds[2])
    with pytest.raises(ParameterError, match="min_mute_s"):
        analyze_feed(feeds[0], min_mute_s=0)


def test_default_listeners_include_mutes_and_shots_when_available():
    names = [li.name for li in default_listeners()]
    assert names[0] == "mutes"
    assert [li.name for li in default_listeners(shots=False)] == ["mutes"]


def test_cli_json_is_only_the_contract(feeds, capsys):
    a, b, _ = feeds
    code = main(["analyze", "--json", "--mutes-only", str(a), str(b)])
    out, err = capsys.readouterr()
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == SCHEMA and [f["path"] for f in doc["feeds"]] == [str(a), str(b)]
    assert all(set(f) == FEED_KEYS for f in doc["feeds"])


def test_cli_table_and_bad_file_exit_2(feeds, capsys):
    a, _, bad = feeds
    code = main(["analyze", "--mutes-only", str(bad), str(a)])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.strip().splitlines() == [l for l in err.strip().splitlines() if "notes.mp4" in l]
    assert "late-audio-start" in out and "digital-silence" in out
    row = next(l for l in out.splitlines() if "digital-silence" in l).split()
    start, end, dur = row[:3]
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", start)
    h, m, sec = start.split(":")
    assert abs(int(h) * 3600 + int(m) * 60 + float(sec) - 4.0) <= 0.025  # the cut is at 4 s
    assert abs(float(dur[-6:]) - 2.0) < 0.05 and float(row[4]) > 0.9


def test_cli_min_mute(feeds, capsys):
    code = main(["analyze", "--mutes-only", "--json", "--min-mute", "3", str(feeds[0])])
    doc = json.loads(capsys.readouterr()[0])
    assert code == 0 and doc["feeds"][0]["mutes"] == []
    assert main(["analyze", "--min-mute", "0", str(feeds[0])]) == 2


def test_cli_stores_in_case(feeds, tmp_path, capsys):
    case_mod = pytest.importorskip("media_core.case.store")
    c = case_mod.Case.create(tmp_path / "incident")
    c.close()
    code = main(["analyze", "--mutes-only", "--json", "--case", str(tmp_path / "incident"), str(feeds[0])])
    doc = json.loads(capsys.readouterr()[0])
    assert code == 0
    with case_mod.Case.open(tmp_path / "incident") as c:
        f = c.feed_by_sha256(doc["feeds"][0]["sha256"])
        stored = c.get_analysis(f.id, algorithm="analysis")
    assert stored == doc["feeds"][0]


def test_real_media_does_not_crash(real_media):
    files = sorted((real_media / "video").glob("*.mp4")) + sorted((real_media / "video").glob("*.webm"))
    assert files
    for p in files:
        feed = analyze_feed(p, shots=False)
        assert feed["duration_s"] > 0 and feed["has_audio"]
        for m in feed["mutes"]:
            assert 0 <= m["start_s"] < m["end_s"] <= feed["duration_s"] + 1e-6
        # real camera audio with sound: at most part of it is muted
        assert sum(m["end_s"] - m["start_s"] for m in feed["mutes"]) < feed["duration_s"]
