"""Evidence integrity (issue 11): the log is the truth, signed heads, read-only verify, parallel writers."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from media_core import pipeline
from media_core.case import integrity
from media_core.case.store import Case
from media_core.cli import main as cli_main
from media_core.clock import Clock
from media_core.errors import CaseError, IntegrityError, MediaError


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    from sample_media.audio import room_tone
    from sample_media.encode import write_media

    d = tmp_path_factory.mktemp("integrity_media")
    rng = np.random.default_rng(11)
    out = []
    for k in range(2):
        y = room_tone(4.0, 48000, level_dbfs=-40.0, rng=rng)
        y[48000: 2 * 48000] = 0.0
        out.append(write_media(d / f"cam{k}.mp4", audio=y, duration_s=4.0, fps=10))
    return out


@pytest.fixture
def case_path(tmp_path, media):
    """A case with two feeds (copies of the media), analysed, synced, one annotation and a label."""
    srcs = []
    for m in media:
        dst = tmp_path / m.name
        shutil.copy(m, dst)
        srcs.append(dst)
    with Case.create(tmp_path / "c") as case:
        (a, b), errors = case.add_feeds(srcs)
        assert errors == []
        pipeline.analyze_feeds(case)
        case.reference_feed_id = a.id
        case.set_clock(b.id, Clock(1.5, 0.0), method="audio", confidence=0.9, evidence={"peak": 12.0})
        case.add_annotation(start_s=1.0, text="first")
        case.set_feed_label(b.id, "Officer B")
    return tmp_path / "c.evcase"


def _sql(case: Path, *statements: str, params=()) -> None:
    con = sqlite3.connect(case / "case.sqlite")
    for s in statements:
        con.execute(s, params) if params else con.execute(s)
    con.commit()
    con.close()


def _verify(case: Path, capsys, *extra: str) -> tuple[int, str]:
    code = cli_main(["verify", str(case), *extra])
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    return code, out.out + out.err


def test_intact_case_verifies_and_names_its_signed_head(case_path, capsys):
    code, text = _verify(case_path, capsys)
    assert code == 0, text
    assert "table rows match the log" in text and "signed by SHA256:" in text
    assert "proven only up to the last signed head" in text


@pytest.mark.parametrize("what, sql, words", [
    ("B's mutes cleared", "UPDATE analyses SET result_json = json_set(result_json, '$.mutes', json('[]')) "
                          "WHERE feed_id = 2 AND algorithm = 'analysis'", "analyses entry"),
    ("sync offset moved 3 s", "UPDATE sync SET offset_s = offset_s + 3 WHERE feed_id = 2", "offset_s is 4.5"),
    ("annotation text", "UPDATE annotations SET text = 'edited'", "text is 'edited', the log says 'first'"),
    ("label", "UPDATE feeds SET label = 'Officer X' WHERE id = 2", "label is 'Officer X'"),
    ("row added", "INSERT INTO annotations VALUES ('x1', NULL, 5.0, NULL, 'custom', 'planted', 'm', 't', 't')",
     "added outside the log"),
    ("reference", "UPDATE meta SET value = '2' WHERE key = 'reference_feed_id'", "reference feed is 2"),
])
def test_edited_tables_are_named(case_path, capsys, what, sql, words):
    _sql(case_path, sql)
    code, text = _verify(case_path, capsys)
    assert code == 1, what
    assert words in text, (what, text)


def test_replaced_original_with_matching_feeds_row_is_caught(case_path, capsys):
    with Case.open(case_path) as c:
        f = c.feeds[0]
    data = bytearray(Path(f.path).read_bytes())
    data[-100] ^= 0xFF
    Path(f.path).write_bytes(bytes(data))
    new = hashlib.sha256(bytes(data)).hexdigest()
    _sql(case_path, "UPDATE feeds SET sha256 = ? WHERE id = 1", params=(new,))
    code, text = _verify(case_path, capsys)
    assert code == 1
    assert f"sha256 is '{new}', the log says '{f.sha256}'" in text  # the feeds row vs the chained feed.add
    assert "has CHANGED" in text  # the original against the logged hash


def _rewrite_chain(case: Path, mutate) -> None:
    """An adversary who rewrites the log consistently: every hash and the head recomputed."""
    con = sqlite3.connect(case / "case.sqlite")
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("SELECT * FROM audit_log ORDER BY seq")]
    rows = mutate(rows)
    con.execute("DELETE FROM audit_log")
    prev = integrity.GENESIS
    for seq, r in enumerate(rows, 1):
        h = integrity.row_hash(prev, seq, r["at"], r["who"], r["action"], r["details_json"])
        con.execute("INSERT INTO audit_log VALUES (?,?,?,?,?,?,?)",
                    (seq, r["at"], r["who"], r["action"], r["details_json"], prev, h))
        prev = h
    con.execute("UPDATE meta SET value = ? WHERE key = 'log_head'", (f"{len(rows)}:{prev}",))
    con.commit()
    con.close()


def _mallory(rows):
    rows[3]["who"] = "mallory"
    del rows[4]
    return rows


def test_consistent_chain_rewrite_is_caught_by_the_signatures(case_path, capsys):
    _rewrite_chain(case_path, _mallory)
    code, text = _verify(case_path, capsys)
    assert code == 1 and "rewritten" in text, text
    _sql(case_path, "DELETE FROM signatures")  # ... and with the signatures removed it says so
    code, text = _verify(case_path, capsys)
    assert code == 1 and "no valid signature covers the log" in text, text


def test_forged_signatures_are_refused(case_path, capsys, tmp_path, monkeypatch):
    _sql(case_path, "UPDATE signatures SET signature = 'AAAA' || substr(signature, 5)")
    code, text = _verify(case_path, capsys)
    assert code == 1 and "INVALID" in text


def test_rewrite_resigned_with_another_key_fails_against_the_trusted_key(case_path, capsys, tmp_path, monkeypatch):
    from media_core.case.signing import head_message, load_signer

    with Case.open(case_path) as c:
        case_id = c.case_id
        honest = c.signer.fingerprint
    _rewrite_chain(case_path, _mallory)
    evil = load_signer(tmp_path / "evil_keys")
    con = sqlite3.connect(case_path / "case.sqlite")
    con.execute("DELETE FROM signatures")
    con.execute("DELETE FROM signers")
    con.execute("INSERT INTO signers VALUES (?,?,?,?,?)", (evil.fingerprint, evil.public_b64, "alice", "pc", "t"))
    for seq, h in con.execute("SELECT seq, hash FROM audit_log").fetchall():
        con.execute("INSERT INTO signatures VALUES (?,?,?,?,?)",
                    (seq, h, evil.fingerprint, evil.sign(head_message(case_id, seq, h)), "t"))
    con.commit()
    con.close()
    # on another workstation (no journal of this case), only the trusted fingerprint can tell
    monkeypatch.setenv("EVIDENCE_AUDIT_KEY_DIR", str(tmp_path / "other_workstation"))
    code, text = _verify(case_path, capsys, "--trust", honest)
    assert code == 1 and "not a trusted key" in text, text
    assert "cannot be ruled out here" in text


def test_rollback_is_caught_by_the_signature_then_by_the_journal(case_path, capsys, tmp_path, monkeypatch):
    last = "(SELECT max(seq) FROM audit_log)"
    con = sqlite3.connect(case_path / "case.sqlite")
    n = con.execute("SELECT max(seq) FROM audit_log").fetchone()[0]
    prev = con.execute(f"SELECT seq || ':' || hash FROM audit_log WHERE seq = {n - 1}").fetchone()[0]
    assert con.execute(f"SELECT action FROM audit_log WHERE seq = {last}").fetchone()[0] == "feed.label"
    con.execute(f"DELETE FROM audit_log WHERE seq = {last}")
    con.execute("UPDATE feeds SET label = 'cam1' WHERE id = 2")  # the change undone too: a clean rollback
    con.execute("UPDATE meta SET value = ? WHERE key = 'log_head'", (prev,))
    con.commit()
    con.close()
    code, text = _verify(case_path, capsys)
    assert code == 1 and "no longer has that row" in text, text
    _sql(case_path, f"DELETE FROM signatures WHERE seq = {n}")  # the signature removed too
    code, text = _verify(case_path, capsys)
    assert code == 1 and f"signed row {n}" in text and "rolled back" in text, text
    monkeypatch.setenv("EVIDENCE_AUDIT_KEY_DIR", str(tmp_path / "elsewhere"))  # without the journal: says so
    code, text = _verify(case_path, capsys)
    assert code == 0 and "cannot be ruled out here" in text


def test_who_is_the_os_account_never_the_environment(tmp_path, monkeypatch):
    import pwd

    monkeypatch.setenv("LOGNAME", "someone-else")
    monkeypatch.setenv("USER", "someone-else")
    with Case.create(tmp_path / "w") as c:
        c.add_annotation(start_s=0.0, text="x")
        rows = c.audit_log()
        fp = c.signer.fingerprint
    me = pwd.getpwuid(os.getuid()).pw_name
    assert all(r["who"] == f"{me} ({fp})" for r in rows)


def _folder_digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_verify_writes_nothing_and_sees_uncheckpointed_wal(case_path, capsys):
    writer = Case.open(case_path)  # stays open: its last change lives only in the -wal file
    try:
        writer._conn.execute("PRAGMA wal_autocheckpoint = 0")
        writer.add_annotation(start_s=2.0, text="in the wal")
        assert (case_path / "case.sqlite-wal").stat().st_size > 0
        before = _folder_digest(case_path)
        code = cli_main(["verify", str(case_path), "--json"])
        rep = json.loads(capsys.readouterr().out)
        assert code == 0, rep["problems"]
        assert _folder_digest(case_path) == before  # nothing written, not even -shm
        with Case.open_readonly(case_path) as ro:
            assert "in the wal" in [a.text for a in ro.annotations]
            with pytest.raises(CaseError, match="read-only"):
                ro.add_annotation(start_s=0.0, text="nope")
    finally:
        writer.close()


def test_busy_case_gives_one_line_with_the_pid(case_path, monkeypatch, capsys):
    import media_core.case.store as store

    monkeypatch.setattr(store, "BUSY_TIMEOUT_S", 0.2)
    other = sqlite3.connect(case_path / "case.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    (case_path / store.LOCK_FILE).write_text("4242\n")
    try:
        with Case.open(case_path) as c:
            with pytest.raises(CaseError, match=r"in use by another process \(pid 4242\)"):
                c.add_annotation(start_s=0.0, text="x")
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_same_bytes_at_a_new_path_become_an_alias(case_path, tmp_path):
    with Case.open(case_path) as c:
        f = c.feeds[0]
        copy = tmp_path / "copy_of_cam0.mp4"
        shutil.copy(f.path, copy)
        again = c.add_feed(copy)
        assert again.id == f.id and len(c.feeds) == 2
        assert c.aliases(f.id) == [str(copy)] and c.last_alias == (f.id, str(copy))
        assert c.audit_log()[-1]["action"] == "feed.alias"
        assert c.verify().ok
        with pytest.raises(Exception, match="whitespace"):
            c.add_feed(copy, label="   ")


def test_changed_original_is_refused_before_anything_is_stored(case_path):
    with Case.open(case_path) as c:
        f = c.feeds[1]
        fa = pipeline.compute_feed_analysis(f)
        data = bytearray(Path(f.path).read_bytes())
        data[len(data) // 2] ^= 1
        Path(f.path).write_bytes(bytes(data))
        n = len(c.audit_log())
        with pytest.raises(IntegrityError, match="CHANGED since it was added"):
            pipeline.store_feed_analysis(c, fa)
        with pytest.raises(IntegrityError):
            pipeline.apply_sync_document(c, {"reference": c.feeds[0].path, "feeds": [
                {"path": f.path, "offset_s": 2.0, "drift_ppm": 0.0, "method": "audio", "confidence": 1.0}]})
        with pytest.raises(MediaError, match="not the file the case fingerprinted"):
            pipeline.compute_feed_analysis(f)
        assert len(c.audit_log()) == n


def test_parallel_add_and_analyze_leave_no_duplicates(media, tmp_path):
    case = tmp_path / "par.evcase"
    assert cli_main(["case", "new", str(case)]) == 0
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    cmds = [[sys.executable, "-m", "media_core.cli", "case", "add", str(case), *map(str, media)],
            [sys.executable, "-m", "media_core.cli", "analyze", *map(str, media), "--case", str(case)],
            [sys.executable, "-m", "media_core.cli", "case", "add", str(case), *map(str, media)]]
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in cmds]
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()
        assert b"Traceback" not in err
    with Case.open_readonly(case) as c:
        assert sorted(f.sha256 for f in c.feeds) == sorted({f.sha256 for f in c.feeds})
        assert len(c.feeds) == 2
        rep = c.verify()
        assert rep.ok, rep.problems
        for f in c.feeds:
            assert pipeline.stored_analysis(c, f.id) is not None


def test_a_format_1_case_is_upgraded_with_a_snapshot_and_verifies(tmp_path, media):
    import media_core.case.store as store

    db_dir = tmp_path / "old.evcase"
    db_dir.mkdir()
    con = sqlite3.connect(db_dir / "case.sqlite", isolation_level=None)
    con.executescript(f"BEGIN; {store.MIGRATIONS[1]}; PRAGMA user_version = 1; COMMIT;")
    con.execute("INSERT INTO meta VALUES ('case_id', 'old1')")
    con.execute("INSERT INTO meta VALUES ('reference_feed_id', '')")
    p = str(media[0])
    con.execute("INSERT INTO feeds (path,size,mtime,sha256,probe_json,label,kind,added_at) VALUES (?,?,?,?,?,?,?,?)",
                (p, os.path.getsize(p), os.path.getmtime(p), hashlib.sha256(Path(p).read_bytes()).hexdigest(),
                 "{}", "old cam", "other", "t"))
    dj = json.dumps({"name": "old"})
    h = integrity.row_hash(integrity.GENESIS, 1, "t", "someone", "case.create", dj)
    con.execute("INSERT INTO audit_log VALUES (1,'t','someone','case.create',?,?,?)", (dj, integrity.GENESIS, h))
    con.execute("INSERT INTO meta VALUES ('log_head', ?)", (f"1:{h}",))
    con.close()
    with Case.open(db_dir) as c:  # upgraded: a signed snapshot every later row builds on
        assert [r["action"] for r in c.audit_log()][1:3] == ["case.migrate", "signer.add"]
        c.set_feed_label(c.feeds[0].id, "renamed")
        rep = c.verify()
    assert rep.ok, rep.problems
    _sql(db_dir, "UPDATE feeds SET label = 'forged'")
    with Case.open_readonly(db_dir) as c:
        rep = c.verify()
    assert not rep.ok and any("label is 'forged'" in p for p in rep.problems)


@pytest.mark.parametrize("sql, code, words", [
    ("UPDATE meta SET value = 'abc' WHERE key = 'log_head'", 1, "chain head says 'abc'"),
    ("DROP TABLE audit_log", 1, "the audit_log table is missing"),
    ("DROP TABLE signatures", 1, "the signatures table is missing"),
])
def test_smashed_log_records_are_reported_not_raised(case_path, capsys, sql, code, words):
    _sql(case_path, sql)
    got, text = _verify(case_path, capsys)
    assert got == code and words in text, text


def test_unreadable_case_exits_2(tmp_path, capsys):
    (tmp_path / "x.evcase").mkdir()
    (tmp_path / "x.evcase" / "case.sqlite").write_bytes(b"this is not sqlite" * 100)
    got, text = _verify(tmp_path / "x.evcase", capsys)
    assert got == 2 and "x.evcase" in text


def test_claims_imports_and_exports_are_logged_and_replayed(case_path, capsys):
    with Case.open(case_path) as c:
        b = c.feeds[1]
        cl = c.add_claim(source="Press release 3", quote="Officers fired 20 shots.", kind="shot_count",
                         value={"value": 20})
        c.add_claim(source="News", quote="B muted about 12 s after the last shot", kind="mute_after_last_shot_s",
                    value={"low": 9.0, "high": 15.0, "stated": "about 12 s"}, feed_id=b.id)
        c.update_claim(cl.id, value={"value": 19})
        c.undo()
        assert c.claim(cl.id).value == {"value": 20}
        with pytest.raises(Exception, match="unknown claim kind"):
            c.add_claim(source="x", quote="y", kind="nonsense")
        added = c.add_annotations([{"start_s": 1.0, "text": "from ELAN", "category": "command"},
                                   {"start_s": 2.0, "end_s": 3.0, "feed_id": b.id, "text": "range"}],
                                  source_name="notes.eaf", source_sha256="ab" * 32)
        assert len(added) == 2 and c.audit_log()[-1]["details"]["source_sha256"] == "ab" * 32
        c.record_event("export.review", {"out": "review.mp4", "sha256": "cd" * 32})
        head = c.signed_head()
        assert head["seq"] == c.audit_log()[-1]["seq"] and head["fingerprint"] == c.signer.fingerprint
        with pytest.raises(Exception, match="record_event"):
            c.record_event("feed.add", {})
        rep = c.verify()
        assert rep.ok, rep.problems
    _sql(case_path, "UPDATE claims SET quote = 'Officers fired 11 shots.' WHERE kind = 'shot_count'")
    code, text = _verify(case_path, capsys)
    assert code == 1 and "claims id" in text and "Officers fired 11 shots." in text


def test_mute_findings_are_logged_undoable_and_replayed(case_path, capsys):
    with Case.open(case_path) as c:
        b = c.feeds[1]
        m = c.get_analysis(b.id, algorithm="analysis")["mutes"][0]
        with pytest.raises(Exception, match="needs its text"):
            c.set_mute_finding(b.id, kind=m["kind"], start_s=m["start_s"], end_s=m["end_s"], finding="reason-stated")
        c.set_mute_finding(b.id, kind=m["kind"], start_s=m["start_s"], end_s=m["end_s"], finding="no-reason")
        c.set_mute_finding(b.id, kind=m["kind"], start_s=m["start_s"], end_s=m["end_s"], finding="reason-stated",
                           text="muting for a medical privacy call")
        assert c.mute_findings(b.id)[0]["finding"] == "reason-stated"
        c.undo()
        assert [f["finding"] for f in c.mute_findings(b.id)] == ["no-reason"]
        rep = c.verify()
        assert rep.ok, rep.problems
    _sql(case_path, "UPDATE mute_findings SET finding = 'reason-stated', text = 'forged'")
    code, text = _verify(case_path, capsys)
    assert code == 1 and "mute_findings" in text
