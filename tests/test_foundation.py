"""Probe, fingerprints, case store, audit chain, CLI and bad input (issue 2)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from media_core.case.store import Case, row_hash
from media_core.cli import main as cli_main
from media_core.errors import CaseError, MediaError, ParameterError
from media_core.io.hashing import sha256_file
from media_core.io.probe import probe
from sample_media.audio import tone
from sample_media.encode import write_media


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    y = tone(440.0, 4.0, sr=48000)
    files = {
        "mp4": write_media(d / "cam A.mp4", audio=y, sr=48000, fps=30.0, size=(160, 120),
                           creation_time=dt.datetime(2026, 11, 21, 21, 14, 5, tzinfo=dt.timezone.utc)),
        "tags": write_media(d / "tags.mkv", audio=y[:48000], sr=48000, size=(160, 120),
                            metadata={"make": "Axon", "model": "Body 3", "serial": "X6039AB3F"}),
        "late": write_media(d / "late.mp4", audio=y[: 48000 * 2], sr=48000, audio_start_s=2.0,
                            duration_s=4.0, size=(160, 120)),
        "mkv": write_media(d / "clip.mkv", audio=y, sr=48000, size=(160, 120)),
        "mov": write_media(d / "clip.mov", audio=None, duration_s=3.0, size=(160, 120)),
        "avi": write_media(d / "clip.avi", audio=y, sr=48000, size=(160, 120)),
        "webm": write_media(d / "clip.webm", audio=y, sr=48000, size=(160, 120)),
        "vfr": write_media(d / "vfr.mp4", audio=None, duration_s=3.0, size=(160, 120), vfr_jitter=0.4),
        "unicode": write_media(d / "Офицер Б 警察 cam.mp4", audio=y[:48000], sr=48000, size=(160, 120)),
    }
    return files


def _bad_files(d):
    """Every kind of bad input the issue lists, made on the spot."""
    good = write_media(d / "good.mp4", audio=tone(300, 2.0), sr=48000, size=(160, 120))
    bad = {}
    (d / "empty.mp4").write_bytes(b"")
    bad["zero-byte"] = (d / "empty.mp4", "empty")
    (d / "random.mp4").write_bytes(np.random.default_rng(1).bytes(20000))
    bad["random bytes"] = (d / "random.mp4", "not a media file")
    (d / "notes.mp4").write_text("These are my notes, not a video.\n")
    bad["text named .mp4"] = (d / "notes.mp4", "text file")
    data = good.read_bytes()
    # A camera that died mid-recording: the header and media data, but the 'moov' index never written.
    moov, mdat = data.find(b"moov") - 4, data.find(b"mdat") - 4
    ftyp = data[:min(moov, mdat)]
    body = data[mdat:] if mdat > moov else data[mdat:moov]
    (d / "truncated.mp4").write_bytes(ftyp + body[: len(body) // 2])
    bad["truncated mp4"] = (d / "truncated.mp4", "moov")
    (d / "a folder.mp4").mkdir()
    bad["directory"] = (d / "a folder.mp4", "directory")
    bad["missing"] = (d / "missing.mp4", "no such file")
    (d / "huge.y4m").write_bytes(b"YUV4MPEG2 W200000 H200000 F30:1 Ip A1:1 C420jpeg\nFRAME\n" + b"\x80" * 1000)
    bad["absurd size"] = (d / "huge.y4m", "200000x200000")
    return good, bad


@pytest.fixture()
def bad_input(tmp_path):
    return _bad_files(tmp_path)


# ---------------------------------------------------------------- probe
@pytest.mark.parametrize("key", ["mp4", "mkv", "mov", "avi", "webm", "unicode"])
def test_probe_containers(media, key):
    info = probe(media[key])
    assert info["duration_s"] == pytest.approx(4.0 if key not in ("mov", "unicode") else (3.0 if key == "mov" else 1.0), abs=0.15)
    assert info["video"]["width"] == 160 and info["video"]["height"] == 120
    if key == "mov":
        assert info["audio"] is None
    else:
        assert info["audio"]["sample_rate"] == 48000 and info["audio"]["channels"] == 1


def test_probe_tags_and_creation_time(media):
    info = probe(media["mp4"])
    assert info["creation_time"] == "2026-11-21T21:14:05Z"
    tags = probe(media["tags"])
    assert (tags["make"], tags["model"], tags["serial"]) == ("Axon", "Body 3", "X6039AB3F")
    assert info["video"]["avg_fps"] == pytest.approx(30.0, rel=0.01)
    assert info["video"]["vfr"] is False


def test_probe_reads_camera_identity_from_free_text_tag(tmp_path):
    p = write_media(tmp_path / "axon.mp4", audio=tone(300, 1.0), size=(64, 48),
                    metadata={"comment": "make=Axon; model=Axon Body 3; serial=X6039AB3F"})
    info = probe(p)
    assert (info["make"], info["model"], info["serial"]) == ("Axon", "Axon Body 3", "X6039AB3F")


def test_probe_late_audio_start(media):
    info = probe(media["late"])
    assert info["audio_vs_video"]["start_delay_s"] == pytest.approx(2.0, abs=0.05)


def test_probe_flags_variable_frame_rate(media):
    assert probe(media["vfr"])["video"]["vfr"] is True


def test_probe_never_writes(media):
    p = media["mp4"]
    before = (p.stat().st_mtime_ns, sha256_file(p))
    os.chmod(p, 0o444)
    try:
        probe(p)
        sha256_file(p)
    finally:
        os.chmod(p, 0o644)
    assert (p.stat().st_mtime_ns, sha256_file(p)) == before


def test_probe_real_media_durations_within_1pct(real_media):
    import re

    import imageio_ffmpeg

    ff = imageio_ffmpeg.get_ffmpeg_exe()
    files = sorted((real_media / "video").iterdir()) + sorted((real_media / "sync").iterdir())
    for p in files:
        info = probe(p)
        out = subprocess.run([ff, "-hide_banner", "-i", str(p), "-f", "null", "-"],
                             capture_output=True, text=True).stderr
        h, m, s = re.findall(r"time=(\d+):(\d+):([\d.]+)", out)[-1]
        decoded = int(h) * 3600 + int(m) * 60 + float(s)
        m2 = re.search(r"Duration: (\d+):(\d+):([\d.]+)", out)
        ref = int(m2[1]) * 3600 + int(m2[2]) * 60 + float(m2[3]) if m2 else decoded
        assert abs(info["duration_s"] - ref) <= 0.01 * ref, (p.name, info["duration_s"], ref)
    nd = probe(real_media / "video" / "no_duration.webm")
    assert nd["duration_source"] == "scanned"


# ---------------------------------------------------------------- hashing
def test_sha256_matches_hashlib_and_streams(tmp_path):
    p = tmp_path / "blob.bin"
    data = np.random.default_rng(3).bytes(3 * (1 << 20) + 12345)
    p.write_bytes(data)
    seen = []
    assert sha256_file(p, progress=lambda f, m: seen.append((f, m))) == hashlib.sha256(data).hexdigest()
    assert len(seen) == 4 and seen[-1] == (1.0, "hashing blob.bin")
    assert [f for f, _ in seen] == sorted(f for f, _ in seen) and seen[0][0] == pytest.approx((1 << 20) / len(data))


def test_hashing_cancel_raises_cancelled(tmp_path):
    from media_core.errors import Cancelled

    p = tmp_path / "blob.bin"
    p.write_bytes(b"x" * (3 << 20))
    calls = []

    def stop():
        calls.append(1)
        return len(calls) >= 2

    with pytest.raises(Cancelled, match="blob.bin: hashing: cancelled"):
        sha256_file(p, should_stop=stop)
    assert len(calls) == 2


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("which", ["zero-byte", "random bytes", "text named .mp4", "truncated mp4",
                                   "directory", "missing", "absurd size"])
def test_bad_input_probe_names_file(bad_input, which):
    _, bad = bad_input
    path, words = bad[which]
    with pytest.raises(MediaError) as ei:
        probe(path)
    msg = str(ei.value)
    assert str(path) in msg
    if words:
        assert words in msg


def test_unreadable_file(tmp_path, monkeypatch):
    p = write_media(tmp_path / "locked.mp4", audio=tone(300, 1.0), size=(64, 48))
    real_open = open

    def fake_open(f, *a, **k):
        if os.fspath(f) == os.fspath(p):
            raise PermissionError(13, "Permission denied")
        return real_open(f, *a, **k)

    monkeypatch.setattr("builtins.open", fake_open)
    with pytest.raises(MediaError, match="permission denied") as ei:
        probe(p)
    assert str(p) in str(ei.value)


@pytest.mark.parametrize("which", ["zero-byte", "random bytes", "text named .mp4", "truncated mp4",
                                   "directory", "missing", "absurd size"])
def test_info_cli_exit_2_one_line(bad_input, which, capsys):
    _, bad = bad_input
    path, _ = bad[which]
    assert cli_main(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and "Traceback" not in err[0]


def _dump(db):
    con = sqlite3.connect(db)
    try:
        return [list(map(tuple, con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()))
                for t in ("meta", "feeds", "analyses", "sync", "annotations", "audit_log")]
    finally:
        con.close()


def test_case_add_bad_files_leaves_case_unchanged_and_adds_good(tmp_path, media, capsys):
    (tmp_path / "in").mkdir()
    good, bad = _bad_files(tmp_path / "in")
    case_dir = tmp_path / "x.evcase"
    assert cli_main(["case", "new", str(case_dir)]) == 0
    assert cli_main(["case", "add", str(case_dir), str(media["mp4"])]) == 0
    before = _dump(case_dir / "case.sqlite")
    rc = cli_main(["case", "add", str(case_dir)] + [str(p) for p, _ in bad.values()])
    assert rc == 2
    assert _dump(case_dir / "case.sqlite") == before
    err = capsys.readouterr().err
    for p, _ in bad.values():
        assert str(p) in err
    rc = cli_main(["case", "add", str(case_dir), str(bad["zero-byte"][0]), str(good), str(media["unicode"])])
    assert rc == 2
    with Case.open(case_dir) as c:
        names = sorted(f.name for f in c.feeds)
    assert names == sorted(["cam A.mp4", "good.mp4", media["unicode"].name])


# ---------------------------------------------------------------- case store
def test_case_roundtrip_undo_and_events(tmp_path, media):
    c = Case.create(tmp_path / "demo")
    assert c.path.name == "demo.evcase"
    f = c.add_feed(media["mp4"], kind="bodycam", label="Officer A body cam")
    assert c.add_feed(media["mp4"]).id == f.id  # same original twice: one feed
    assert f.sha256 == hashlib.sha256(media["mp4"].read_bytes()).hexdigest()
    fired = []
    c.events.annotations_changed.connect(lambda: fired.append("ann"))
    c.events.clock_changed.connect(lambda fid: fired.append(("clock", fid)))
    a = c.add_annotation(start_s=1.5, end_s=2.5, feed_id=f.id, category="use of force", text="push")
    c.update_annotation(a.id, text="shove")
    c.nudge(f.id, 0.033)
    assert c.clock(f.id).offset_s == pytest.approx(0.033)
    assert c.undo() and c.clock(f.id).offset_s == 0.0
    assert c.undo() and c.annotation(a.id).text == "push"
    assert c.redo() and c.annotation(a.id).text == "shove"
    c.delete_annotation(a.id)
    assert c.annotations == []
    c.undo()
    assert [x.text for x in c.annotations] == ["shove"]
    c.set_feed_label(f.id, "Officer Alpha")
    c.store_analysis(f.id, algorithm="analysis", version="t1", params={"min": 0.5}, result={"mutes": [], "shot_count": 3})
    assert ("clock", f.id) in fired and "ann" in fired
    c.close()
    with Case.open(tmp_path / "demo.evcase") as c2:
        assert c2.feed(f.id).label == "Officer Alpha"
        assert [x.text for x in c2.annotations] == ["shove"]
        assert c2.get_analysis(f.id, algorithm="analysis")["shot_count"] == 3
        assert c2.get_analysis(f.id, algorithm="analysis", params={"min": 1.0}) is None
        actions = [r["action"] for r in c2.audit_log()]
        assert actions[0] == "case.create" and "annotation.undo_delete" in actions
        assert c2.verify().ok
        with pytest.raises(ParameterError):
            c2.add_annotation(start_s=3.0, end_s=1.0)
        with pytest.raises(ParameterError):
            c2.set_feed_kind(f.id, "drone")


def test_case_open_errors(tmp_path):
    with pytest.raises(CaseError, match="not a case"):
        Case.open(tmp_path / "nothing")
    c = Case.create(tmp_path / "new")
    c.close()
    con = sqlite3.connect(tmp_path / "new.evcase" / "case.sqlite")
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    with pytest.raises(CaseError, match="newer"):
        Case.open(tmp_path / "new.evcase")


# ---------------------------------------------------------------- verify
@pytest.fixture()
def verified_case(tmp_path, media):
    src = tmp_path / "orig.mp4"
    shutil.copy(media["mp4"], src)
    c = Case.create(tmp_path / "v")
    c.add_feed(src, kind="bodycam")
    c.add_annotation(start_s=1.0, text="first")
    c.add_annotation(start_s=2.0, text="second")
    c.close()
    return tmp_path / "v.evcase", src


def test_verify_ok(verified_case, capsys):
    case, _ = verified_case
    assert cli_main(["verify", str(case)]) == 0
    assert "OK" in capsys.readouterr().out


def test_verify_detects_flipped_byte(verified_case, capsys):
    case, src = verified_case
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0x01
    src.write_bytes(bytes(data))
    assert cli_main(["verify", str(case)]) == 1
    err = capsys.readouterr().err
    assert "CHANGED" in err and str(src) in err


def _tamper(case, sql):
    con = sqlite3.connect(case / "case.sqlite")
    con.execute(sql)
    con.commit()
    con.close()


@pytest.mark.parametrize("sql, words", [
    ("UPDATE audit_log SET details_json = replace(details_json, 'first', 'FIRST') WHERE seq = 4", "edited"),
    ("DELETE FROM audit_log WHERE seq = 2", "missing"),
    ("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)", "deleted"),
])
def test_verify_detects_log_tampering(verified_case, capsys, sql, words):
    case, _ = verified_case
    _tamper(case, sql)
    assert cli_main(["verify", str(case)]) == 1
    assert words in capsys.readouterr().err


def test_audit_chain_hash_definition():
    h1 = row_hash("0" * 64, 1, "t", "me", "a", "{}")
    assert h1 == hashlib.sha256(("0" * 64 + json.dumps([1, "t", "me", "a", "{}"], separators=(",", ":"))).encode()).hexdigest()


# ---------------------------------------------------------------- CLI
def test_info_json_real_media(real_media, capsys):
    files = [str(p) for d in ("video", "sync") for p in sorted((real_media / d).iterdir())]
    assert cli_main(["info", "--json"] + files) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "evidence-audit.info/1"
    assert len(doc["files"]) == len(files)
    assert all(f["duration_s"] > 0 for f in doc["files"])


def test_every_command_has_help():
    for args in (["--help"], ["info", "--help"], ["case", "--help"], ["case", "new", "--help"],
                 ["case", "add", "--help"], ["case", "list", "--help"], ["case", "show", "--help"],
                 ["verify", "--help"]):
        r = subprocess.run([sys.executable, "-m", "media_core.cli"] + args, capture_output=True, text=True)
        assert r.returncode == 0 and "usage:" in r.stdout, args


def test_case_show_and_list(tmp_path, media, capsys):
    case = tmp_path / "s.evcase"
    cli_main(["case", "new", str(case)])
    cli_main(["case", "add", str(case), str(media["mp4"]), "--kind", "bodycam", "--label", "Officer A body cam"])
    capsys.readouterr()
    assert cli_main(["case", "show", str(case)]) == 0
    assert "Officer A body cam" in capsys.readouterr().out
    assert cli_main(["case", "show", "--json", str(case)]) == 0
    assert json.loads(capsys.readouterr().out)["feeds"][0]["kind"] == "bodycam"
    assert cli_main(["case", "list", str(tmp_path)]) == 0
    assert "s.evcase" in capsys.readouterr().out
